// The page of `adjustable-style-export web`: the stylizer runs here, in
// onnxruntime-web (WebGPU where the browser has it, WebAssembly otherwise),
// on photos and on the camera. Nothing is sent anywhere: the page loads only
// the files of its own folder.
import * as ort from "./runtime/ort.min.mjs";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// BT.601 luma weights (JPEG's YCbCr), as adjustable_style/color.py uses.
const LUMA = [0.299, 0.587, 0.114];
// WebAssembly on a CPU is several times slower than WebGPU: it starts
// smaller so that the sliders stay live.
const WASM_START_SIZE = 256;

const S = {
  info: null, session: null, backend: "", inputNames: [],
  values: [],
  photo: null,      // {source: ImageBitmap, name}
  content: null,    // {floats, width, height} of the photo at the chosen size
  camera: null,     // {stream} while the camera runs
  wanted: false,    // a newer picture is asked for than the one in flight
  running: false,   // one inference at most in flight
  frames: 0, frameTimes: [], lastImage: null,
};

function showError(message) { $("error").textContent = message; $("error").hidden = false; }
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
function setStatus(text) { if ($("status").textContent !== text) $("status").textContent = text; }
function updateBusy() {
  const busy = !S.session || S.running || S.wanted;
  document.body.dataset.busy = busy ? "1" : "0";
  if (!S.session) return;
  if (S.camera) setStatus("camera: stylizing live");
  else if (busy) setStatus("stylizing…");
  else setStatus(S.photo ? "ready" : "pick a photo, or start the camera");
}

// A value on the slider's grid, as text: 0.3 rather than 0.30000000000000004.
function onStep(value) {
  const step = S.info.alpha_step || 0.01;
  const digits = Math.max(0, Math.ceil(-Math.log10(step)));
  return Number((Math.round(value / step) * step).toFixed(digits));
}

// ---------------------------------------------------------------------------
// The model.
// ---------------------------------------------------------------------------

async function fetchBytes(name) {
  const response = await fetch(name);
  if (!response.ok) throw new Error(`${name}: the server answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function hasWebGpu() {
  if (!navigator.gpu) return false;
  try { return !!(await navigator.gpu.requestAdapter()); } catch (e) { return false; }
}

// WebGPU if the browser offers an adapter (and ?backend=wasm does not say
// otherwise), else WebAssembly: on as many threads as the page may use
// (threads need a cross-origin isolated page) and in a worker, so that the
// sliders move while a frame is computed.
async function createSession(model) {
  const forced = params.get("backend");
  const threads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.numThreads = threads;
  let why = "";
  if (forced !== "wasm" && await hasWebGpu()) {
    try {
      const session = await ort.InferenceSession.create(model, {executionProviders: ["webgpu", "wasm"]});
      return {session, backend: "WebGPU"};
    } catch (e) { why = ` (WebGPU failed: ${e.message || e})`; }
  } else {
    ort.env.wasm.proxy = true;
  }
  const session = await ort.InferenceSession.create(model, {executionProviders: ["wasm"]});
  return {session, backend: `WebAssembly, ${threads} thread${threads > 1 ? "s" : ""}${why}`};
}

// Float32 RGB in [0, 1], height x width x 3, from RGBA bytes.
function toFloats(rgba, width, height) {
  const floats = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < floats.length; i += 3, j += 4) {
    floats[i] = rgba[j] / 255; floats[i + 1] = rgba[j + 1] / 255; floats[i + 2] = rgba[j + 2] / 255;
  }
  return floats;
}

// The picture at the chosen size: its long side at most that, never enlarged.
const grabCanvas = document.createElement("canvas");
function grab(source, sourceWidth, sourceHeight) {
  const size = Number($("size").value);
  const scale = Math.min(1, size / Math.max(sourceWidth, sourceHeight));
  const width = Math.max(1, Math.round(sourceWidth * scale));
  const height = Math.max(1, Math.round(sourceHeight * scale));
  grabCanvas.width = width; grabCanvas.height = height;
  const context = grabCanvas.getContext("2d", {willReadFrequently: true});
  context.drawImage(source, 0, 0, width, height);
  return {floats: toFloats(context.getImageData(0, 0, width, height).data, width, height), width, height};
}

async function stylize(content) {
  const {width, height} = content;
  // A copy: the worker takes the buffer it is given, and keep-colours needs the photo's.
  const feeds = {content: new ort.Tensor("float32", content.floats.slice(), [1, height, width, 3])};
  if (S.inputNames.includes("alpha"))
    feeds.alpha = new ort.Tensor("float32", Float32Array.from(S.values), [1, S.values.length]);
  const start = performance.now();
  const outputs = await S.session.run(feeds);
  return {pixels: outputs.stylized.data, ms: performance.now() - start};
}

// The stylized floats as RGBA bytes; with keep-colours, the photo's colours
// under the stylized luminance: photo + (Y(stylized) - Y(photo)) on every
// channel, clipped (adjustable_style/color.py).
function toImage(pixels, content, keepColours) {
  const {width, height, floats} = content;
  const image = new ImageData(width, height);
  const bytes = image.data;
  for (let i = 0, j = 0; i < pixels.length; i += 3, j += 4) {
    let r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
    if (keepColours) {
      const shift = LUMA[0] * r + LUMA[1] * g + LUMA[2] * b
        - (LUMA[0] * floats[i] + LUMA[1] * floats[i + 1] + LUMA[2] * floats[i + 2]);
      r = floats[i] + shift; g = floats[i + 1] + shift; b = floats[i + 2] + shift;
    }
    // Rounded to the nearest level after clipping, as images.to_uint8 does.
    bytes[j] = Math.floor(Math.min(1, Math.max(0, r)) * 255 + 0.5);
    bytes[j + 1] = Math.floor(Math.min(1, Math.max(0, g)) * 255 + 0.5);
    bytes[j + 2] = Math.floor(Math.min(1, Math.max(0, b)) * 255 + 0.5);
    bytes[j + 3] = 255;
  }
  return image;
}

function show(image, ms, kind) {
  const canvas = $("result");
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width; canvas.height = image.height;
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
  canvas.hidden = false; $("placeholder").hidden = true;
  canvas.dataset.frames = String(++S.frames);
  canvas.dataset.kind = kind;
  canvas.dataset.alpha = S.values.join(",");
  canvas.dataset.keepColours = $("keep-colours").checked ? "1" : "0";
  canvas.dataset.ms = ms.toFixed(1);
  $("download").disabled = false;
  const now = performance.now();
  S.frameTimes.push(now);
  while (S.frameTimes.length > 2 && now - S.frameTimes[0] > 3000) S.frameTimes.shift();
  const span = (now - S.frameTimes[0]) / 1000;
  let text = `${image.width}×${image.height}: ${Math.round(ms)} ms a frame`;
  if (kind === "camera" && span > 0) {
    const fps = (S.frameTimes.length - 1) / span;
    text += `, ${fps.toFixed(1)} fps`;
    $("timing").dataset.fps = fps.toFixed(2);
  }
  $("timing").textContent = text;
}

// The only loop that runs the model, so that one inference at most is in
// flight. A slider moved while a frame is computed asks for one more
// picture, at the values it has when that picture starts: the positions
// in between are never computed. The camera runs frame after frame, each
// at the newest values.
async function pump() {
  if (S.running || !S.session) return;
  S.running = true; updateBusy();
  try {
    while (S.camera || (S.wanted && S.content)) {
      let content, kind;
      if (S.camera) {
        const video = $("video");
        if (video.readyState < 2 || !video.videoWidth) { await new Promise(r => setTimeout(r, 30)); continue; }
        content = grab(video, video.videoWidth, video.videoHeight); kind = "camera";
      } else {
        content = S.content; kind = "photo";
      }
      S.wanted = false;
      const keep = $("keep-colours").checked;
      const {pixels, ms} = await stylize(content);
      if (kind === "camera" && !S.camera) continue;  // Stopped meanwhile: show the photo instead.
      show(toImage(pixels, content, keep), ms, kind);
      S.lastImage = {pixels, content, ms, kind};
      updateBusy();
    }
  } catch (e) {
    showError(`stylizing failed: ${e.message || e}`);
    stopCamera();
    S.wanted = false;  // Not again on its own: the next move or photo tries again.
  } finally {
    S.running = false; updateBusy();
  }
}

function request() { S.wanted = true; updateBusy(); pump(); }

// ---------------------------------------------------------------------------
// The controls.
// ---------------------------------------------------------------------------

function buildSliders() {
  const box = $("sliders"); box.textContent = "";
  if (!S.info.adjustable) { box.textContent = "This is a base model: its style weights are fixed."; return; }
  S.info.style_layers.forEach((layer, i) => {
    const id = `alpha-${layer.name}`;
    const wrap = document.createElement("div"); wrap.className = "slider";
    const row = document.createElement("label"); row.className = "row"; row.htmlFor = id;
    const title = document.createElement("span");
    const words = document.createElement("b"); words.textContent = layer.words;
    const name = document.createElement("span"); name.className = "layer"; name.textContent = ` ${layer.name}`;
    title.append(words, name);
    const value = document.createElement("output"); value.id = `${id}-value`; value.htmlFor = id;
    row.append(title, value);
    const input = Object.assign(document.createElement("input"),
      {type: "range", id, min: "0", max: "1", step: String(S.info.alpha_step || 0.01)});
    input.setAttribute("aria-label", `${layer.words} (${layer.name}), alpha`);
    input.addEventListener("input", () => { setValue(i, Number(input.value)); request(); });
    wrap.append(row, input); box.append(wrap);
  });
}

function setValue(i, value) {
  const layer = S.info.style_layers[i];
  S.values[i] = onStep(value);
  $(`alpha-${layer.name}`).value = String(S.values[i]);
  $(`alpha-${layer.name}-value`).textContent = String(S.values[i]);
}

function setValues(values) { values.forEach((v, i) => setValue(i, v)); request(); }

function buildSizes() {
  const select = $("size");
  const wasm = S.backend.startsWith("WebAssembly");
  const asked = Number(params.get("size"));
  const start = S.info.sizes.includes(asked) ? asked
    : wasm ? Math.min(S.info.default_size, WASM_START_SIZE) : S.info.default_size;
  for (const size of S.info.sizes) select.append(new Option(`${size} px`, String(size), false, size === start));
  if (!S.info.sizes.includes(start)) select.append(new Option(`${start} px`, String(start), true, true));
}

async function loadPhoto(file, name) {
  if (!file) return;
  let source;
  try { source = await createImageBitmap(file); }
  catch (e) { showError(`${name || file.name || "that file"}: not an image this browser can read`); return; }
  clearError();
  stopCamera();
  if (S.photo) S.photo.source.close();
  S.photo = {source, name: name || file.name || "photo"};
  const original = $("original");
  if (original.src.startsWith("blob:")) URL.revokeObjectURL(original.src);
  original.src = URL.createObjectURL(file); original.hidden = false;
  S.content = grab(source, source.width, source.height);
  request();
}

function cameraMessage(e) {
  const name = e && e.name;
  if (name === "NotFoundError" || name === "OverconstrainedError")
    return "No camera found: connect one (or pick a photo instead).";
  if (name === "NotAllowedError" || name === "SecurityError")
    return "The browser did not allow the camera: allow it for this page, then press Camera again.";
  if (name === "NotReadableError") return "The camera is busy (another program is using it).";
  return `The camera could not start (${name || "error"}: ${(e && e.message) || e}).`;
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser offers the page no camera here: open the page at http://localhost or over https.");
    return;
  }
  let stream;
  try { stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false}); }
  catch (e) { showError(cameraMessage(e)); return; }
  clearError();
  const video = $("video");
  video.srcObject = stream;
  try { await video.play(); } catch (e) { /* Muted autoplay: frames arrive all the same. */ }
  S.camera = {stream}; S.frameTimes = [];
  $("camera").textContent = "Stop camera"; $("camera").setAttribute("aria-pressed", "true");
  pump();
}

function stopCamera() {
  if (!S.camera) return;
  S.camera.stream.getTracks().forEach(t => t.stop());
  S.camera = null; $("video").srcObject = null;
  $("camera").textContent = "Camera"; $("camera").setAttribute("aria-pressed", "false");
  delete $("timing").dataset.fps;
  if (S.content) request(); else updateBusy();
}

function download() {
  $("result").toBlob((blob) => {
    const link = Object.assign(document.createElement("a"),
      {href: URL.createObjectURL(blob), download: "stylized.png"});
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }, "image/png");
}

function wire() {
  $("upload").addEventListener("change", (e) => loadPhoto(e.target.files[0]));
  const zone = $("drop-zone");
  // Dropped anywhere, a file is taken as the photo (not opened by the browser in place of the page).
  document.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) zone.classList.remove("dragging"); });
  document.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("dragging");
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) loadPhoto(file);
  });
  $("size").addEventListener("change", () => {
    if (S.photo) { S.content = grab(S.photo.source, S.photo.source.width, S.photo.source.height); request(); }
  });
  $("randomize").addEventListener("click", () => setValues(S.values.map(() => Math.random())));
  $("reset").addEventListener("click", () => setValues(S.info.default_alpha));
  $("keep-colours").addEventListener("change", () => {
    // The last frame's output again, with or without the photo's colours: no new inference.
    const last = S.lastImage;
    if (last && !S.running && !S.wanted) show(toImage(last.pixels, last.content, $("keep-colours").checked), last.ms, last.kind);
    else if (S.content && !S.camera) request();
  });
  $("camera").addEventListener("click", () => (S.camera ? stopCamera() : startCamera()));
  $("download").addEventListener("click", download);
}

async function main() {
  wire();
  try {
    const response = await fetch("stylizer.json");
    if (!response.ok) throw new Error(`stylizer.json: the server answered ${response.status}`);
    S.info = await response.json();
    $("model-name").textContent = S.info.name; document.title = `${S.info.name}: adjustable style transfer`;
    $("summary").textContent = `${S.info.summary}. Runtime: ${S.info.runtime.package} ${S.info.runtime.version || ""}.`;
    if (S.info.style_image) { $("style-image").src = S.info.style_image; $("style-image").hidden = false; }
    S.values = S.info.default_alpha.slice();
    buildSliders();
    S.values.forEach((v, i) => setValue(i, v));
    const {session, backend} = await createSession(await fetchBytes(S.info.model));
    S.session = session; S.backend = backend; S.inputNames = session.inputNames;
    $("backend").textContent = backend; document.body.dataset.backend = backend;
    buildSizes();
  } catch (e) {
    setStatus("the model could not be loaded");
    showError(location.protocol === "file:"
      ? "Open this page through a web server (for example python -m http.server in its folder), not as a file."
      : `the model could not be loaded: ${e.message || e}`);
    document.body.dataset.busy = "0";
    return;
  }
  updateBusy();
  if (params.get("example") !== "0") {
    try { loadPhoto(new Blob([await fetchBytes("example.png")], {type: "image/png"}), "example.png"); }
    catch (e) { /* No example in the folder: the page waits for a photo. */ }
  }
}

main();
