"use strict";
// Brush mode: paint an alpha map over the picture. Builds on demo.js (S, $,
// refresh, requestPreview, requestFull, ...). The map is a canvas at the
// preview's size whose red, green and blue are the alphas of style layers
// 1, 2 and 3 (0..255 = alpha 0..1), sent with each stylize request as
// the RGB PNG stylize.py's --alpha_map reads. Strokes are
// opaque fills (globalAlpha 1, no blending), so a painted pixel holds the
// brush's alphas; only stroke edges are antialiased, to alphas between the
// two sides. A second canvas over the picture shows the strokes.
const Brush = {
  map: null,  // The alpha map (not on the page): what is sent and downloaded.
  overlay: null,  // #brush-canvas: the strokes, drawn over the picture.
  content: null,  // {id, width, height} of the photo the page shows.
  mapContent: null,  // The photo id the map was made for.
  base: [255, 255, 255],  // The map's colour where nothing is painted.
  strokes: [],  // {color, radius, points: [[x, y], ...]} or {color, fill: true}, for Undo.
  stroke: null,  // The stroke being painted.
  downloadUrl: null,
};

// Why the model cannot take a painted map, or "".
function modelUnavailable() {
  if (!S.model) return "no model to run (see the note above)";
  if (!S.adjustable) return "Brush mode needs an adjustable model: this is a base model with fixed style weights.";
  if (S.layers.length !== 3)
    return `Brush mode paints three style layers (red, green, blue); this model has ${S.layers.length}.`;
  return "";
}
// Why brush mode cannot start now, or "".
function brushUnavailable() { return modelUnavailable() || (Brush.content ? "" : "Pick a photo first."); }
function toByte(value) { return Math.max(0, Math.min(255, Math.round(parseFloat(value) * 255))); }
function cssColor(rgb) { return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`; }
function sliderColor() { return S.values.slice(0, 3).map(toByte); }
function brushColor() {
  const kind = $("brush-alpha").value;
  return kind === "more" ? [255, 255, 255] : kind === "less" ? [0, 0, 0] : sliderColor();
}
// The brush's diameter is a share of the map's long side, so it looks the
// same at any --preview_size.
function brushRadius() {
  return Math.max(0.5, parseFloat($("brush-size").value) / 100 * Math.max(Brush.map.width, Brush.map.height) / 2);
}

// The map has the preview's size (long side --preview_size, as the server
// shrinks the photo); stylize.py stretches it to any picture size.
function mapSize() {
  const {width, height} = Brush.content;
  const scale = Math.min(1, (S.info ? S.info.preview_size : 256) / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}
function resetMap() {
  const [width, height] = mapSize();
  for (const canvas of [Brush.map, Brush.overlay]) { canvas.width = width; canvas.height = height; }
  Brush.mapContent = Brush.content.id;
  Brush.base = sliderColor(); Brush.strokes = []; Brush.stroke = null;
  redraw();
}

function context(canvas) {
  const ctx = canvas.getContext("2d");
  // Opaque paint only: nothing may mix two alphas but a stroke's edge.
  ctx.globalAlpha = 1; ctx.globalCompositeOperation = "source-over";
  ctx.lineCap = "round"; ctx.lineJoin = "round";
  return ctx;
}
// Draws points `from` onwards of `stroke` (so a stroke grows a segment at a time).
// On the overlay a stroke is a light tint by what it paints (blue: more
// style, orange: less, green: the sliders'), not its alphas as grey.
function tint(rgb) {
  const sum = rgb[0] + rgb[1] + rgb[2];
  return sum >= 765 ? "rgb(47, 111, 222)" : sum === 0 ? "rgb(230, 120, 0)" : "rgb(30, 160, 80)";
}
function paint(ctx, stroke, from, overlay) {
  const color = overlay ? tint(stroke.color) : cssColor(stroke.color);
  if (stroke.fill) {
    // On the overlay a fill is a new start: what was painted before is gone.
    if (overlay) ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    else { ctx.fillStyle = color; ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height); }
    return;
  }
  ctx.fillStyle = ctx.strokeStyle = color; ctx.lineWidth = 2 * stroke.radius;
  const points = stroke.points;
  for (let i = from; i < points.length; i++) {
    ctx.beginPath();
    if (i === 0) {
      ctx.arc(points[0][0], points[0][1], stroke.radius, 0, 2 * Math.PI); ctx.fill();
    } else {
      ctx.moveTo(points[i - 1][0], points[i - 1][1]); ctx.lineTo(points[i][0], points[i][1]); ctx.stroke();
    }
  }
}
function redraw() {
  const map = context(Brush.map), overlay = context(Brush.overlay);
  map.fillStyle = cssColor(Brush.base); map.fillRect(0, 0, Brush.map.width, Brush.map.height);
  overlay.clearRect(0, 0, Brush.overlay.width, Brush.overlay.height);
  for (const stroke of Brush.strokes) { paint(map, stroke, 0, false); paint(overlay, stroke, 0, true); }
  $("brush-undo").disabled = Brush.strokes.length === 0;
}

// An RGB PNG of the map. Not canvas.toBlob: that writes RGBA (a canvas has
// transparency), which an alpha map must not have. The pixels are read at
// once, so the PNG is the map as it is when this is called.
const CRC_TABLE = Uint32Array.from({length: 256}, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const chunk = new Uint8Array(12 + data.length), view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) chunk[4 + i] = type.charCodeAt(i);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  return chunk;
}
async function mapBlob() {
  const {width, height} = Brush.map;
  const rgba = context(Brush.map).getImageData(0, 0, width, height).data;
  const rows = new Uint8Array(height * (1 + 3 * width));  // Each row: filter 0, then R, G, B.
  for (let y = 0, o = 0; y < height; y++) {
    rows[o++] = 0;
    for (let i = 4 * y * width, end = i + 4 * width; i < end; i += 4) {
      rows[o++] = rgba[i]; rows[o++] = rgba[i + 1]; rows[o++] = rgba[i + 2];
    }
  }
  // "deflate" is the zlib stream PNG's IDAT holds.
  const stream = new Blob([rows]).stream().pipeThrough(new CompressionStream("deflate"));
  const data = new Uint8Array(await new Response(stream).arrayBuffer());
  const header = new Uint8Array(13), view = new DataView(header.buffer);
  view.setUint32(0, width); view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8);  // 8 bits, RGB, deflate, no filter, no interlace.
  const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Blob([signature, pngChunk("IHDR", header), pngChunk("IDAT", data),
                   pngChunk("IEND", new Uint8Array(0))], {type: "image/png"});
}
async function updateMapDownload() {
  const blob = await mapBlob();
  if (Brush.downloadUrl) URL.revokeObjectURL(Brush.downloadUrl);
  Brush.downloadUrl = URL.createObjectURL(blob);
  const link = $("brush-download");
  link.href = Brush.downloadUrl; link.setAttribute("aria-disabled", "false");
}
// After a whole change (a stroke ends, Undo, Clear, Fill): the map to
// download and the full-size picture.
function mapChanged(render) {
  $("brush-undo").disabled = Brush.strokes.length === 0;
  updateMapDownload();
  if (render === "full") requestFull(); else refresh();
}

function mapPoint(event) {
  const rect = Brush.overlay.getBoundingClientRect();
  return [(event.clientX - rect.left) / rect.width * Brush.map.width,
          (event.clientY - rect.top) / rect.height * Brush.map.height];
}
function strokeStart(event) {
  if (!S.brush || event.button !== 0) return;
  event.preventDefault();
  Brush.overlay.setPointerCapture(event.pointerId);
  Brush.stroke = {color: brushColor(), radius: brushRadius(), points: [mapPoint(event)]};
  Brush.strokes.push(Brush.stroke);
  paint(context(Brush.map), Brush.stroke, 0, false); paint(context(Brush.overlay), Brush.stroke, 0, true);
  requestPreview();
}
// While painting the preview follows: requestPreview keeps one request in
// flight and sends the newest map when it is back.
function strokeMove(event) {
  if (!Brush.stroke) return;
  const points = Brush.stroke.points;
  points.push(mapPoint(event));
  paint(context(Brush.map), Brush.stroke, points.length - 1, false);
  paint(context(Brush.overlay), Brush.stroke, points.length - 1, true);
  requestPreview();
}
function strokeEnd() {
  if (!Brush.stroke) return;
  Brush.stroke = null;
  mapChanged("full");
}

function startBrush() {
  const why = brushUnavailable();
  if (why) { showError(why); return; }
  // A map with strokes for this photo is kept from the last time; otherwise
  // the map starts as the sliders' alphas.
  if (Brush.mapContent !== Brush.content.id || Brush.strokes.length === 0) resetMap();
  S.brush = {mapBlob};
  Brush.overlay.hidden = false; $("brush-controls").hidden = false;
  $("brush-controls").scrollIntoView({block: "nearest"});
  $("brush").textContent = "Stop brush"; $("brush").setAttribute("aria-pressed", "true");
  updateMapDownload();
  if (S.camera) stopCamera(); else refresh();  // stopCamera refreshes.
}
function stopBrush(render = true) {
  if (!S.brush) return;
  S.brush = null; Brush.stroke = null;
  Brush.overlay.hidden = true; $("brush-controls").hidden = true;
  $("brush").textContent = "Brush"; $("brush").setAttribute("aria-pressed", "false");
  if (render) refresh();
}
function updateBrushAvailability() {
  const why = S.model ? modelUnavailable() : "";
  $("brush").disabled = !S.model || Boolean(why);
  $("brush-note").textContent = why; $("brush-note").hidden = !why;
  if (why) stopBrush(false);  // demo.js renders next.
}

(function setUpBrush() {
  Brush.map = document.createElement("canvas");
  Brush.map.getContext("2d", {willReadFrequently: true});  // Read for every request.
  Brush.overlay = $("brush-canvas");
  $("brush").disabled = true;
  $("brush").addEventListener("click", () => (S.brush ? stopBrush() : startBrush()));
  const size = () => { $("brush-size-value").textContent = `${$("brush-size").value}% of the picture`; };
  $("brush-size").addEventListener("input", size); size();
  Brush.overlay.addEventListener("pointerdown", strokeStart);
  Brush.overlay.addEventListener("pointermove", strokeMove);
  Brush.overlay.addEventListener("pointerup", strokeEnd);
  Brush.overlay.addEventListener("pointercancel", strokeEnd);
  $("brush-undo").addEventListener("click", () => {
    if (!Brush.strokes.length) return;
    Brush.strokes.pop(); Brush.stroke = null; redraw(); mapChanged();
  });
  $("brush-clear").addEventListener("click", () => { Brush.base = sliderColor(); Brush.strokes = []; redraw(); mapChanged(); });
  $("brush-fill").addEventListener("click", () => {
    const fill = {color: brushColor(), fill: true};
    Brush.strokes.push(fill);
    paint(context(Brush.map), fill, 0, false); paint(context(Brush.overlay), fill, 0, true);
    mapChanged();
  });
  // demo.js says when the photo or the model changes, before it renders.
  document.addEventListener("demo:content", (event) => {
    const {content_id: id, width, height} = event.detail;
    Brush.content = {id, width, height};
    if (S.brush) resetMap();
    updateBrushAvailability();
  });
  document.addEventListener("demo:model", updateBrushAvailability);
  // The camera shows frames, not the photo the map is for.
  $("camera").addEventListener("click", () => { if (S.brush) stopBrush(); });
})();
