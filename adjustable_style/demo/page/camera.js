"use strict";
// Camera mode: the browser's camera (getUserMedia), stylized live by the
// local server while the sliders move. Builds on demo.js (S, $, alphaText,
// showError, ...). One frame is in flight at a time: the next one is grabbed
// only when the previous answer is back, so frames the server cannot keep
// up with are dropped, never queued. Frames go to this page's server only.
const Cam = {stream: null, video: null, canvas: null, shownUrl: null, times: [], frames: 0};

function cameraMessage(e) {
  const name = e && e.name;
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError")
    return "No camera found: connect one (or pick a photo instead).";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
    return "The browser did not allow the camera: allow it for this page, then press Camera again.";
  if (name === "NotReadableError" || name === "TrackStartError")
    return "The camera is busy (another program is using it).";
  return `The camera could not start (${name || "error"}: ${(e && e.message) || e}).`;
}

function showCameraFrame(blob, response) {
  const img = $("result");
  const url = URL.createObjectURL(blob);
  if (Cam.shownUrl) URL.revokeObjectURL(Cam.shownUrl);
  Cam.shownUrl = url;
  img.src = url; img.hidden = false;
  img.dataset.kind = "camera";
  img.dataset.frames = String(++Cam.frames);
  const alpha = decodeURIComponent(response.headers.get("X-Alpha") || "");
  img.dataset.alpha = alpha;
  $("alpha-text").textContent = alpha ? `--alpha=${alpha}` : "(base model: no alpha)";
  $("command").value = "(camera: no command line; stylize.py stylizes photos and videos, not a live camera)";
  // Frames per second over the last two seconds of answers.
  const now = performance.now();
  Cam.times.push(now);
  while (Cam.times.length > 2 && now - Cam.times[0] > 2000) Cam.times.shift();
  const span = (now - Cam.times[0]) / 1000;
  const fps = span > 0 ? (Cam.times.length - 1) / span : 0;
  const modelMs = Math.round(1000 * parseFloat(response.headers.get("X-Model-Seconds")));
  $("camera-fps").textContent =
    `camera ${response.headers.get("X-Size")}: ${fps.toFixed(1)} fps (model ${modelMs} ms a frame)`;
  $("camera-fps").dataset.fps = fps.toFixed(2);
}

async function cameraLoop() {
  const ctx = Cam.canvas.getContext("2d");
  while (S.camera) {
    const video = Cam.video;
    if (video.readyState < 2 || !video.videoWidth) { await new Promise(r => setTimeout(r, 30)); continue; }
    const long = Math.max(video.videoWidth, video.videoHeight);
    const scale = Math.min(1, (S.info ? S.info.preview_size : 256) / long);
    Cam.canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
    Cam.canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
    ctx.drawImage(video, 0, 0, Cam.canvas.width, Cam.canvas.height);
    const frame = await new Promise(r => Cam.canvas.toBlob(r, "image/jpeg", 0.9));
    const q = new URLSearchParams({model: S.model, noise: $("noise").checked ? "1" : "0",
                                   seed: $("seed").value.trim(),
                                   preserve_color: $("preserve-color").checked ? "1" : "0"});
    if (S.adjustable) q.set("alpha", alphaText());
    let response;
    try { response = await fetch("/api/camera?" + q.toString(), {method: "POST", body: frame}); }
    catch (e) { showError("cannot reach the demo server (is demo.py still running?)"); stopCamera(); return; }
    if (!response.ok) { const data = await errorOf(response); showError(data.error || "stylizing failed"); stopCamera(); return; }
    const blob = await response.blob();
    if (!S.camera) return;
    showCameraFrame(blob, response);
    clearError();
  }
}

async function startCamera() {
  if (!S.model) { showError("no model to run (see the note above)"); return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser offers the page no camera (open the demo at http://127.0.0.1 or http://localhost).");
    return;
  }
  let stream;
  try { stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false}); }
  catch (e) { showError(cameraMessage(e)); return; }
  Cam.stream = stream; Cam.video.srcObject = stream;
  try { await Cam.video.play(); } catch (e) { /* muted autoplay: frames still arrive */ }
  S.camera = true; Cam.times = [];
  cancelFull(); invalidateDownload(); clearError();
  $("camera").textContent = "Stop camera"; $("camera").setAttribute("aria-pressed", "true");
  $("camera-fps").hidden = false; setStatus("camera: streaming live"); $("timing").textContent = "";
  hideRegion(); $("original").hidden = true;
  cameraLoop();
}

function stopCamera() {
  if (!S.camera && !Cam.stream) return;
  S.camera = false;
  if (Cam.stream) Cam.stream.getTracks().forEach(t => t.stop());
  Cam.stream = null; Cam.video.srcObject = null;
  $("camera").textContent = "Camera"; $("camera").setAttribute("aria-pressed", "false");
  $("camera-fps").hidden = true;
  $("original").hidden = !S.contentId;
  refresh();  // The photo again.
}

(function setUpCamera() {
  Cam.video = Object.assign(document.createElement("video"), {muted: true, playsInline: true, hidden: true});
  Cam.canvas = document.createElement("canvas");
  const button = Object.assign(document.createElement("button"),
    {id: "camera", type: "button", textContent: "Camera", title: "Stylize your camera live (frames stay on this machine)"});
  button.setAttribute("aria-pressed", "false");
  const row = document.createElement("div"); row.className = "buttons"; row.append(button);
  $("example").closest("fieldset").append(row, Cam.video);
  const fps = Object.assign(document.createElement("div"), {id: "camera-fps", className: "meta", hidden: true});
  $("status").parentElement.after(fps);
  button.addEventListener("click", () => (S.camera ? stopCamera() : startCamera()));
  $("example").addEventListener("change", stopCamera);
  $("upload").addEventListener("change", stopCamera);
})();
