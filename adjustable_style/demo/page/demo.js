"use strict";
const $ = (id) => document.getElementById(id);
const S = {
  client: Array.from(crypto.getRandomValues(new Uint8Array(12)), b => b.toString(16).padStart(2, "0")).join(""),
  info: null, model: null, layers: [], adjustable: true, values: [],
  contentId: null, seq: 0, shownSeq: 0,
  previewInFlight: false, previewPending: false,
  fullTimer: null, fullController: null, fullInFlight: false,
  resultUrl: null, downloadUrl: null, loading: 0, camera: false,
  region: [0.5, 0.5],  // The preview region's centre, as fractions of the picture.
  seed: "",  // The last valid seed: what requests use while the box holds a typo.
  fullAfterPreview: false,
  brush: null,  // brush.js, while brush mode is on: {mapBlob() -> Promise of the map's PNG}.
};

// Plain words for a style layer, by its place among the model's layers.
function layerWords(i, n) {
  if (n < 2) return "style";
  const at = i / (n - 1);
  return at < 0.34 ? "fine texture" : at < 0.67 ? "strokes" : "large shapes";
}
function step(value) { return String(Math.round(parseFloat(value) * 100) / 100); }
function fieldError(id, message) {
  const field = $(id), note = $(`${id}-error`);
  if (message) { field.setAttribute("aria-invalid", "true"); note.textContent = message; note.hidden = false; }
  else { field.removeAttribute("aria-invalid"); note.textContent = ""; note.hidden = true; }
}
function showError(message) { $("error").textContent = message; $("error").hidden = false; }
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
function setStatus(text) { $("status").textContent = text; }
function updateBusy() {
  const busy = S.loading > 0 || S.previewInFlight || S.previewPending || S.fullTimer !== null || S.fullInFlight || S.fullAfterPreview;
  document.body.dataset.busy = busy ? "1" : "0";
  if (!busy && !S.camera) setStatus(!S.model ? "no model to run (see the note above)" : S.contentId ? "ready" : "pick a photo");
}
async function errorOf(response) {
  try { const data = await response.json(); return data; }
  catch (e) { return {error: `the server answered ${response.status} ${response.statusText}`}; }
}
async function api(path, options) {
  S.loading++; updateBusy();
  try {
    const response = await fetch(path, options);
    if (!response.ok) { const data = await errorOf(response); throw new Error(data.error || "request failed"); }
    return await response.json();
  } catch (e) {
    if (e instanceof TypeError) throw new Error("cannot reach the demo server (is demo.py still running?)");
    throw e;
  } finally { S.loading--; updateBusy(); }
}
function newSeed() { return String(crypto.getRandomValues(new Uint32Array(1))[0] & 0x7fffffff); }
function alphaText() { return S.layers.map((name, i) => `${name}=${S.values[i]}`).join(","); }

function buildSliders() {
  const box = $("sliders"); box.textContent = "";
  if (!S.adjustable) { box.textContent = "This is a base model: its style weights are fixed."; return; }
  S.layers.forEach((name, i) => {
    const wrap = document.createElement("div"); wrap.className = "slider";
    const row = document.createElement("label"); row.className = "row"; row.htmlFor = `alpha-${name}`;
    const title = document.createElement("span");
    const words = document.createElement("b"); words.textContent = layerWords(i, S.layers.length);
    const layer = document.createElement("span"); layer.className = "layer"; layer.textContent = ` ${name}`;
    title.append(words, layer);
    const value = document.createElement("span"); value.id = `value-${name}`; value.textContent = step(S.values[i]);
    row.append(title, value);
    const input = document.createElement("input");
    Object.assign(input, {type: "range", min: "0", max: "1", step: "0.01", id: `alpha-${name}`, value: S.values[i]});
    input.dataset.layer = name;
    // In brush mode the painted map sets the picture's alphas; the sliders
    // only set what the brush paints with (brush.js).
    input.setAttribute("aria-label", `${layerWords(i, S.layers.length)} (${name}), alpha`);
    input.addEventListener("input", () => { S.values[i] = input.value; value.textContent = step(input.value); if (!S.brush) requestPreview(); });
    input.addEventListener("change", () => { S.values[i] = input.value; value.textContent = step(input.value); if (!S.brush) requestFull(); });
    wrap.append(row, input); box.append(wrap);
  });
}
function setValues(values) {
  S.values = values.slice();
  S.layers.forEach((name, i) => {
    const input = $(`alpha-${name}`); if (input) input.value = values[i];
    const value = $(`value-${name}`); if (value) value.textContent = step(values[i]);
  });
}

function stylizeUrl(size, seq) {
  const q = new URLSearchParams({client: S.client, seq: String(seq), content: S.contentId,
    model: S.model, size, noise: $("noise").checked ? "1" : "0", seed: S.seed,
    region: S.region.map(v => v.toFixed(4)).join(","),
    preserve_color: $("preserve-color").checked ? "1" : "0"});
  if (S.adjustable && !S.brush) q.set("alpha", alphaText());
  return "/api/stylize?" + q.toString();
}
// Brush mode POSTs the painted map (PNG) with the request; otherwise a GET.
async function stylizeRequest(size, seq, signal) {
  const url = stylizeUrl(size, seq);
  if (!S.brush) return fetch(url, {signal});
  const map = await S.brush.mapBlob();
  return fetch(url, {method: "POST", body: map, signal});
}
async function render(size, controller) {
  const seq = ++S.seq;
  const started = performance.now();
  let response;
  try {
    response = await stylizeRequest(size, seq, controller ? controller.signal : undefined);
  } catch (e) {
    if (e.name !== "AbortError") showError("cannot reach the demo server (is demo.py still running?)");
    return;
  }
  if (!response.ok) {
    const data = await errorOf(response);
    if (!data.superseded) showError(data.error || "stylizing failed");
    return;
  }
  const blob = await response.blob();
  if (seq <= S.shownSeq) return;  // A newer picture is already shown.
  S.shownSeq = seq;
  const url = URL.createObjectURL(blob);
  const region = response.headers.get("X-Region");
  if (region) { showRegion(url, region, response.headers.get("X-Full-Size"), seq, response, started); return; }
  hideRegion();
  const img = $("result");
  if (S.resultUrl && S.resultUrl !== S.downloadUrl) URL.revokeObjectURL(S.resultUrl);
  S.resultUrl = url;
  img.src = url;
  img.hidden = false;
  img.dataset.kind = size;
  img.dataset.seq = String(seq);
  const alpha = decodeURIComponent(response.headers.get("X-Alpha") || "");
  const map = response.headers.get("X-Alpha-Map");
  img.dataset.alpha = alpha;
  img.dataset.map = map ? "1" : "0";
  $("alpha-text").textContent = alpha ? `--alpha=${alpha}`
    : map ? `--alpha_map=${map} (the painted map: Download map saves it as ${map})` : "(base model: no alpha)";
  $("command").value = decodeURIComponent(response.headers.get("X-Command") || "");
  const ms = Math.round(performance.now() - started);
  $("timing").textContent = `${size} ${response.headers.get("X-Size")}: ${ms} ms ` +
    `(model ${Math.round(1000 * parseFloat(response.headers.get("X-Model-Seconds")))} ms)`;
  clearError();
  const link = $("download");
  if (size === "full") {
    if (S.downloadUrl && S.downloadUrl !== url) URL.revokeObjectURL(S.downloadUrl);
    S.downloadUrl = url; link.href = url; link.setAttribute("aria-disabled", "false");
    const stem = (S.contentName || "stylized").replace(/\.[^.]*$/, "");
    link.download = `${stem}_stylized.png`;
  }
}
// A preview is a region of the full picture at 1:1: shown in its place over
// the picture (the rest is the last full picture, or the photo).
function showRegion(url, region, fullSize, seq, response, started) {
  const [left, top, width, height] = region.split(",").map(Number);
  const [fullWidth, fullHeight] = fullSize.split("x").map(Number);
  const img = $("preview"), box = $("preview-box");
  if (img.src && img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = url; img.dataset.seq = String(seq); img.dataset.region = region;
  Object.assign(box.style, {left: `${100 * left / fullWidth}%`, top: `${100 * top / fullHeight}%`,
    width: `${100 * width / fullWidth}%`, height: `${100 * height / fullHeight}%`});
  box.hidden = false;
  const result = $("result");
  if (result.hidden) {
    result.src = $("original").src; result.hidden = false; result.dataset.kind = "photo";
  }
  const alpha = decodeURIComponent(response.headers.get("X-Alpha") || "");
  $("alpha-text").textContent = alpha ? `--alpha=${alpha}` : "(base model: no alpha)";
  $("command").value = decodeURIComponent(response.headers.get("X-Command") || "");
  $("timing").textContent = `preview: a ${width}x${height} region of the ${fullSize} picture at full scale, ` +
    `${Math.round(performance.now() - started)} ms`;
  clearError();
}
function hideRegion() { $("preview-box").hidden = true; }
function invalidateDownload() { $("download").setAttribute("aria-disabled", "true"); }
function cancelFull() {
  S.fullAfterPreview = false;
  if (S.fullTimer !== null) { clearTimeout(S.fullTimer); S.fullTimer = null; }
  if (S.fullController) { S.fullController.abort(); S.fullController = null; }
}
// While sliding: at most one preview in flight; the newest position waits.
async function requestPreview() {
  if (S.camera || !S.contentId || !S.model) return;  // camera.js shows the camera instead.
  invalidateDownload(); cancelFull();
  if (S.previewInFlight) { S.previewPending = true; updateBusy(); return; }
  S.previewInFlight = true; S.previewPending = false; updateBusy(); setStatus("previewing\u2026");
  try { await render("preview"); }
  finally {
    S.previewInFlight = false;
    if (S.previewPending) requestPreview();
    else if (S.fullAfterPreview) { S.fullAfterPreview = false; requestFull(0); }
    else updateBusy();
  }
}
// On release (and after any other change): the full-size picture.
function requestFull(delay = 120) {
  if (S.camera || !S.contentId || !S.model) return;
  invalidateDownload(); cancelFull();
  S.previewPending = false;
  S.fullTimer = setTimeout(async () => {
    S.fullTimer = null;
    // Preview first: the full picture waits for the preview in flight, so
    // neither is answered "superseded".
    if (S.previewInFlight) { S.fullAfterPreview = true; S.previewPending = false; return; }
    S.previewPending = false;
    const controller = new AbortController();
    S.fullController = controller; S.fullInFlight = true; updateBusy(); setStatus("rendering full size\u2026");
    try { await render("full", controller); }
    finally {
      if (S.fullController === controller) S.fullController = null;
      S.fullInFlight = S.fullController !== null; updateBusy();
    }
  }, delay);
  updateBusy();
}
function refresh() { requestPreview(); requestFull(0); }

async function loadContent(query, body, name) {
  try {
    const data = await api("/api/content?" + new URLSearchParams({client: S.client, ...query}).toString(),
                           {method: "POST", body: body || ""});
    S.contentId = data.content_id; S.contentName = data.name; clearError();
    // A new photo: no full picture of it yet, and the region back to the centre.
    $("result").hidden = true; hideRegion(); S.region = [0.5, 0.5];
    const original = $("original");
    original.src = "/api/original?" + new URLSearchParams({client: S.client, content: data.content_id});
    original.hidden = false;
    document.dispatchEvent(new CustomEvent("demo:content", {detail: data}));
    refresh();
  } catch (e) { showError(e.message); }
}
async function selectModel(key) {
  try {
    setStatus("loading the model\u2026");
    const data = await api("/api/model?" + new URLSearchParams({name: key}).toString());
    const old = {}; S.layers.forEach((n, i) => { old[n] = S.values[i]; });
    S.model = key; S.layers = data.style_layers; S.adjustable = data.adjustable;
    S.values = S.layers.map(n => old[n] !== undefined ? old[n] : "1");
    $("model-summary").textContent = data.summary;
    $("randomize").disabled = $("from-seed").disabled = $("reset").disabled = !S.adjustable;
    buildSliders(); clearError();
    document.dispatchEvent(new CustomEvent("demo:model", {detail: data}));
    refresh();
  } catch (e) { S.model = null; showError(e.message); updateBusy(); }
}
async function randomAlphas(seed) {
  if (!S.model || !S.adjustable) return;
  try {
    const data = await api("/api/random_alpha?" + new URLSearchParams({model: S.model, seed}).toString());
    $("seed").value = S.seed = data.seed; fieldError("seed", ""); setValues(data.values); refresh();
  } catch (e) { showError(e.message); }
}

$("example").addEventListener("change", () => {
  const name = $("example").value; if (name) { $("upload").value = ""; loadContent({example: name}); }
});
$("upload").addEventListener("change", () => {
  const file = $("upload").files[0]; if (!file) return;
  if (S.info && file.size > S.info.max_upload_bytes) {
    showError(`${file.name}: ${(file.size / 1048576).toFixed(1)} MiB is over the demo's upload limit of ${S.info.max_upload_bytes / 1048576} MiB`);
    return;
  }
  $("example").value = "";
  loadContent({name: file.name}, file);
});
$("model").addEventListener("change", () => selectModel($("model").value));
$("noise").addEventListener("change", refresh);
$("preserve-color").addEventListener("change", refresh);
// A bad seed is marked beside its box; requests keep the last good one.
$("seed").addEventListener("input", () => {
  const text = $("seed").value.trim();
  fieldError("seed", /^\d{1,19}$/.test(text) ? "" :
    `"${text}" is not a seed: type a whole number (0, 1, 2, \u2026). The picture keeps seed ${S.seed}.`);
});
$("seed").addEventListener("change", () => {
  const text = $("seed").value.trim();
  if (!/^\d{1,19}$/.test(text)) return;
  S.seed = text; refresh();
});
$("randomize").addEventListener("click", () => randomAlphas(newSeed()));
$("from-seed").addEventListener("click", () => {
  const text = $("seed").value.trim();
  if (!/^\d{1,19}$/.test(text)) { $("seed").focus(); return; }
  S.seed = text; randomAlphas(text);
});
// Click the picture to preview another region of it.
$("result").addEventListener("click", (event) => {
  if (S.brush || S.camera) return;
  const rect = $("result").getBoundingClientRect();
  S.region = [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height]
    .map(v => Math.max(0, Math.min(1, v)));
  requestPreview();
});
$("reset").addEventListener("click", () => { setValues(S.layers.map(() => "1")); refresh(); });
$("copy").addEventListener("click", async () => {
  const text = $("command").value;
  try { await navigator.clipboard.writeText(text); setStatus("command copied"); }
  catch (e) { $("command").select(); document.execCommand("copy"); }
});

(async function start() {
  $("seed").value = S.seed = newSeed();
  try { S.info = await api("/api/info"); } catch (e) { showError(e.message); return; }
  if (S.info.notice) { $("notice").textContent = S.info.notice; $("notice").hidden = false; }
  const examples = $("example");
  examples.append(new Option("\u2014 uploaded photo \u2014", ""));
  for (const name of S.info.examples) examples.append(new Option(name, name));
  const models = $("model");
  for (const m of S.info.models) { const option = new Option(m.label, m.key); option.title = m.key; models.append(option); }
  if (S.info.default_model) { models.value = S.info.default_model; await selectModel(S.info.default_model); }
  else { $("randomize").disabled = $("from-seed").disabled = $("reset").disabled = true; }
  if (S.info.examples.length) { examples.value = S.info.examples[0]; await loadContent({example: S.info.examples[0]}); }
  updateBusy();
})();
