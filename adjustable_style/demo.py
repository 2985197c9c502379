"""The interactive demo behind `demo.py`: a small local web server and page.

A person picks a photo (a bundled example or an upload) and a model, moves
one slider per style layer (alpha in [0, 1]) and watches the stylized picture
follow: a small live preview (`preview_size`) while a slider moves, the full
picture (long side `max_size`, 1024 by default as in stylize.py) when it is
released. "Randomize" draws alphas the way `stylize.py --random_alpha` does,
the content-noise mask can be toggled, and the page shows the alphas behind
the picture as a ready-to-copy `python stylize.py ...` line that makes the
same full-size picture. The full-size result downloads as PNG.

Why a hand-made server and not Gradio: this needs nothing beyond the base
dependencies (Python's `http.server` and one hand-written HTML/JS page with
no external assets), so it works fully offline. Gradio brings a large
dependency tree (FastAPI, uvicorn, pandas, a ~100 MB front end) and, in the
versions commonly installed, loads its theme fonts from Google Fonts and
sends analytics unless told not to. The page also carries a
Content-Security-Policy that forbids every non-local resource.

Design:
- `DemoApp.handle(method, path, query, body)` does all the work and returns a
  `Response`; the HTTP layer (`make_server`) only moves bytes, so tests call
  handlers in process without sockets.
- One lock serializes TensorFlow: every stylize request runs the model once,
  under the lock. Loaded models are cached for the whole server (they are
  read-only); each browser page is a session (`client` id) holding its
  decoded photo (full size and preview size, plus the last noisy version)
  and the number of its newest request.
- Stale work is dropped, never queued: the page sends at most one preview at
  a time (the newest slider position wins), and a request that is no longer
  its session's newest when it gets the lock is answered 409 "superseded"
  without running the model.
- Every error is JSON `{"error": "one line"}` with a 4xx status (5xx only for
  bugs); the page shows it and the server keeps serving.
"""

import collections
import dataclasses
import http.server
import io
import json
import os
import re
import secrets
import shlex
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
from typing import Callable, Dict, Optional

import numpy as np

from adjustable_style import alpha as alpha_lib
from adjustable_style import images
from adjustable_style import model_files, stylize_options
from adjustable_style import noise as noise_lib
from adjustable_style.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_PREVIEW_SIZE = 256
DEFAULT_MAX_SIZE = stylize_options.DEFAULT_MAX_SIZE  # 1024, as stylize.py.
EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
EXAMPLE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# Uploads bigger than this are refused before they are read.
MAX_UPLOAD_BYTES = 64 << 20
# Browser pages whose photo stays decoded in memory (least recently used go).
MAX_SESSIONS = 16
# What the copied command line writes.
COMMAND_OUTPUT = "stylized.png"
MAX_SEED = 2**63 - 2  # stylize.py accepts 0 .. 2**63 - 1 - num_samples.

_CLIENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DemoError(UserError):
    """A request the server refuses, with an HTTP status and a one-line message."""

    def __init__(self, status, message, **extra):
        super().__init__(message)
        self.status = status
        self.message = " ".join(str(message).split())
        self.extra = extra


@dataclasses.dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


def json_response(obj, status=200):
    return Response(status, json.dumps(obj).encode("utf-8"))


def error_response(status, message, **extra):
    return json_response({"error": " ".join(str(message).split()), **extra}, status)


@dataclasses.dataclass
class Config:
    """What `demo.py`'s flags set."""

    model: Optional[str] = None
    preview_size: int = DEFAULT_PREVIEW_SIZE
    max_size: int = DEFAULT_MAX_SIZE
    max_pixels: int = images.DEFAULT_MAX_PIXELS


def example_files():
    """{name: path} of the bundled example photos, sorted by name."""
    if not os.path.isdir(EXAMPLES_DIR):
        return {}
    return {name: os.path.join(EXAMPLES_DIR, name)
            for name in sorted(os.listdir(EXAMPLES_DIR))
            if name.lower().endswith(EXAMPLE_EXTENSIONS) and not name.startswith(".")}


def encode_png(pixels, compress_level=6):
    """uint8 or float [0, 1] (H, W, 3) -> PNG bytes."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = images.to_uint8(pixels)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def _fit(array, long_side):
    """`array` shrunk (never grown) so its long side is at most `long_side`."""
    height, width = array.shape[:2]
    if not long_side or max(height, width) <= long_side:
        return array
    scale = long_side / max(height, width)
    return images.resize_image(array, max(1, round(height * scale)),
                               max(1, round(width * scale)))


def _display_name(name):
    """A file name fit to show and to put on a command line."""
    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload.png"


def _command_path(path):
    """`path` relative to the working directory when it lies below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


@dataclasses.dataclass
class Content:
    """A decoded photo: full size (what stylize.py would use) and preview size."""

    content_id: str
    name: str          # What the page shows.
    command_path: str  # What the command line's --content says.
    full: np.ndarray
    preview: np.ndarray
    # (seed, size) -> noisy content; only the newest seed is kept.
    noisy: Dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Session:
    content: Optional[Content] = None
    latest_seq: int = -1


class DemoApp:
    """All the demo's logic; `handle` answers one request."""

    def __init__(self, config: Config, loader: Callable = None):
        self.config = config
        self._loader = loader or model_files.load_model
        self._models = {}  # key -> loaded model_files.Model
        self._model_lock = threading.Lock()
        self._tf_lock = threading.Lock()
        self._sessions = collections.OrderedDict()
        self._sessions_lock = threading.Lock()
        self.examples = example_files()
        self.model_specs, self.default_model, self.notice = self._model_choices()

    # -- Models -------------------------------------------------------------

    def _model_choices(self):
        """({key: spec}, default key or None, notice or None)."""
        specs = collections.OrderedDict()
        if self.config.model:
            specs[self.config.model] = self.config.model
        for name in model_files.shipped_models():
            specs.setdefault(name, name)
        notice = None
        if self.config.model:
            default = self.config.model
        elif model_files.DEFAULT_MODEL in specs:
            default = model_files.DEFAULT_MODEL
        else:
            default = next(iter(specs), None)
            notice = (f"The default shipped model {model_files.DEFAULT_MODEL!r} is "
                      "not installed yet. Restart the demo with --model=MODEL (a "
                      "train.py --model_dir folder, a .keras file or an exported "
                      "SavedModel folder).")
        return specs, default, notice

    def _model_label(self, key):
        if key in model_files.shipped_models():
            try:
                record = model_files.read_record(model_files.resolve_model_path(key))
            except (ValueError, OSError):
                record = {}
            style = record.get("style_image")
            return f"{key} (shipped" + (f", style {os.path.basename(style)})" if style else ")")
        return key

    def model(self, key):
        """The loaded model for a key of `model_specs` (loaded once, cached)."""
        if key not in self.model_specs:
            known = ", ".join(self.model_specs) or "none"
            raise DemoError(404, f"unknown model {key!r}; this demo serves: {known}")
        with self._model_lock:
            if key not in self._models:
                try:
                    self._models[key] = self._loader(self.model_specs[key])
                except (ValueError, OSError) as error:
                    raise DemoError(422, f"could not load model {key!r}: {error}") from None
            return self._models[key]

    def preload(self):
        """Loads the default model and traces it once (for a fast first picture)."""
        if not self.default_model:
            return
        try:
            model = self.model(self.default_model)
            size = min(self.config.preview_size, 64)
            alpha = np.ones((1, model.num_layers), np.float32) if model.adjustable else None
            with self._tf_lock:
                model.stylize(np.zeros((1, size, size, 3), np.float32), alpha)
        except DemoError as error:
            print(f"demo.py: {error.message}", file=sys.stderr)

    # -- Sessions and photos ------------------------------------------------

    def _session(self, query, create=True):
        client = query.get("client", "")
        if not _CLIENT_RE.match(client):
            raise DemoError(400, "missing or bad 'client' parameter (letters, digits, _ "
                                 "and -, at most 64)")
        with self._sessions_lock:
            session = self._sessions.get(client)
            if session is None:
                if not create:
                    raise DemoError(410, "this page's photo is no longer in the server's "
                                         "memory; pick the photo again")
                session = self._sessions[client] = Session()
                while len(self._sessions) > MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(client)
            return session

    def _decode(self, data, name, command_path):
        full = images.decode_image_bytes(data, name, self.config.max_pixels or None,
                                         self.config.max_size)
        preview = _fit(full, self.config.preview_size)
        return Content(secrets.token_hex(8), name, command_path, full, preview)

    def load_content(self, query, body):
        """POST /api/content: an example (`example=NAME`) or an upload (the body)."""
        session = self._session(query)
        example = query.get("example")
        if example is not None:
            if example not in self.examples:
                raise DemoError(404, f"unknown example {example!r}; examples: "
                                     f"{', '.join(self.examples) or 'none'}")
            path = self.examples[example]
            with open(path, "rb") as f:
                data = f.read()
            content = self._decode(data, example, _command_path(path))
        else:
            name = _display_name(query.get("name"))
            if not body:
                raise DemoError(400, f"{name}: the upload is empty (0 bytes)")
            content = self._decode(body, name, name)
        session.content = content
        height, width = content.full.shape[:2]
        return json_response({"content_id": content.content_id, "name": content.name,
                              "width": width, "height": height})

    def original(self, query):
        """GET /api/original: the photo at preview size, as PNG."""
        content = self._current_content(self._session(query, create=False), query)
        return Response(200, encode_png(content.preview, 1), "image/png")

    def _current_content(self, session, query):
        content = session.content
        if content is None:
            raise DemoError(409, "no photo yet; pick an example or upload a photo")
        wanted = query.get("content")
        if wanted and wanted != content.content_id:
            raise DemoError(409, "superseded: the page has picked another photo",
                            superseded=True)
        return content

    # -- Parameters ---------------------------------------------------------

    @staticmethod
    def _seed(query):
        text = query.get("seed", "").strip()
        if not text:
            return None
        if not re.fullmatch(r"\d{1,19}", text) or int(text) > MAX_SEED:
            raise DemoError(400, f"seed {text!r} must be a whole number in 0..{MAX_SEED}")
        return int(text)

    def _alpha(self, model, query):
        text = query.get("alpha")
        if not model.adjustable:
            if text:
                raise DemoError(400, "this model has no alpha (it is a base model with "
                                     "fixed style weights)")
            return None
        if text is None:
            return np.ones(model.num_layers, np.float32)
        try:
            return alpha_lib.parse_alpha(text, model.style_layers, default=1.0)
        except alpha_lib.AlphaError as error:
            raise DemoError(400, str(error)) from None

    def model_info(self, query):
        """GET /api/model?name=KEY: loads the model, returns its style layers."""
        key = query.get("name", "")
        model = self.model(key)
        return json_response({"name": key, "adjustable": model.adjustable,
                              "style_layers": model.style_layers,
                              "summary": model_files.record_summary(model.record)})

    def random_alpha(self, query):
        """GET /api/random_alpha?model=KEY&seed=S: what `--random_alpha --seed=S` draws."""
        model = self.model(query.get("model", ""))
        if not model.adjustable:
            raise DemoError(400, "this model has no alpha (it is a base model)")
        seed = self._seed(query)
        if seed is None:
            raise DemoError(400, "random alpha needs a seed")
        # The stream stylize.py uses for sample 0's alpha.
        alpha = alpha_lib.sample_alpha(1, model.num_layers, [seed, 0])[0]
        text = alpha_lib.format_alpha(alpha, model.style_layers)
        values = [part.split("=", 1)[1] for part in text.split(",")]
        return json_response({"seed": str(seed), "alpha": text, "values": values})

    def info(self):
        """GET /api/info: models, examples and sizes for the page."""
        return json_response({
            "models": [{"key": key, "label": self._model_label(key)}
                       for key in self.model_specs],
            "default_model": self.default_model,
            "notice": self.notice,
            "examples": list(self.examples),
            "preview_size": self.config.preview_size,
            "max_size": self.config.max_size,
            "max_pixels": self.config.max_pixels,
            "max_upload_bytes": MAX_UPLOAD_BYTES,
        })

    # -- Stylizing ----------------------------------------------------------

    def command_line(self, content, model_key, alpha_text, noise, seed):
        """The `python stylize.py ...` line that makes the full-size picture."""
        parts = ["python", "stylize.py", f"--model={self.model_specs[model_key]}",
                 f"--content={content.command_path}", f"--output={COMMAND_OUTPUT}"]
        if self.config.max_size != stylize_options.DEFAULT_MAX_SIZE:
            parts.append(f"--max_size={self.config.max_size}")
        if alpha_text:
            parts.append(f"--alpha={alpha_text}")
        if noise:
            parts.append("--content_noise")
        if seed is not None:
            parts.append(f"--seed={seed}")
        return " ".join(shlex.quote(p) for p in parts)

    def _content_for(self, content, noise, seed, size):
        if not noise:
            return content.full if size == "full" else content.preview
        key = (seed, size)
        if key not in content.noisy:
            if (seed, "full") in content.noisy:
                noisy_full = content.noisy[(seed, "full")]
            else:
                # Exactly what stylize.py's --content_noise --seed=S does to
                # sample 0; the preview is that picture made small.
                height, width = content.full.shape[:2]
                mask = noise_lib.noise_mask(height, width, [seed, 1])
                noisy_full = noise_lib.apply_noise_mask(content.full, mask)
            kept = {k: v for k, v in content.noisy.items() if k[0] == seed}
            kept[(seed, "full")] = noisy_full
            if size == "preview":
                kept[key] = _fit(noisy_full, self.config.preview_size)
            content.noisy = kept
        return content.noisy[key]

    def stylize(self, query):
        """GET /api/stylize: one picture, as PNG; metadata in X- headers."""
        started = time.perf_counter()
        session = self._session(query, create=False)
        try:
            seq = int(query.get("seq", "0"))
        except ValueError:
            raise DemoError(400, "'seq' must be an integer") from None
        size = query.get("size", "full")
        if size not in ("preview", "full"):
            raise DemoError(400, f"size must be 'preview' or 'full', got {size!r}")
        model_key = query.get("model", "")
        noise = query.get("noise", "0") in ("1", "true", "on")
        seed = self._seed(query)
        if noise and seed is None:
            raise DemoError(400, "the content-noise mask needs a seed")
        session.latest_seq = max(session.latest_seq, seq)
        content = self._current_content(session, query)
        model = self.model(model_key)
        alpha = self._alpha(model, query)
        alpha_text = (alpha_lib.format_alpha(alpha, model.style_layers)
                      if alpha is not None else "")
        pixels = self._content_for(content, noise, seed, size)
        with self._tf_lock:
            if seq < session.latest_seq:
                raise DemoError(409, "superseded by a newer request", superseded=True)
            model_started = time.perf_counter()
            out = model.stylize(pixels[None], None if alpha is None else alpha[None])[0]
            model_seconds = time.perf_counter() - model_started
        # Fast compression: at 1024 px, level 6 takes ~350 ms, level 1 ~80 ms
        # for a file ~15% bigger, which costs nothing on a local connection.
        png = encode_png(out, compress_level=1)
        height, width = out.shape[:2]
        command = self.command_line(content, model_key, alpha_text, noise, seed)
        quote = lambda text: urllib.parse.quote(text, safe="")
        return Response(200, png, "image/png", {
            "X-Seq": str(seq),
            "X-Size": f"{width}x{height}",
            "X-Alpha": quote(alpha_text),
            "X-Command": quote(command),
            "X-Model-Seconds": f"{model_seconds:.4f}",
            "X-Server-Seconds": f"{time.perf_counter() - started:.4f}",
            "Cache-Control": "no-store",
        })

    # -- Routing ------------------------------------------------------------

    def handle(self, method, path, query="", body=b""):
        """Answers one request; never raises."""
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(
            query, keep_blank_values=True).items()}
        routes = {
            ("GET", "/"): lambda: Response(200, PAGE.encode("utf-8"),
                                           "text/html; charset=utf-8"),
            ("GET", "/api/info"): self.info,
            ("GET", "/api/model"): lambda: self.model_info(params),
            ("GET", "/api/random_alpha"): lambda: self.random_alpha(params),
            ("POST", "/api/content"): lambda: self.load_content(params, body),
            ("GET", "/api/original"): lambda: self.original(params),
            ("GET", "/api/stylize"): lambda: self.stylize(params),
            ("GET", "/favicon.ico"): lambda: Response(204, b"", "image/x-icon"),
        }
        route = routes.get((method, path))
        if route is None:
            if any(p == path for _, p in routes):
                return error_response(405, f"{method} is not allowed on {path}")
            return error_response(404, f"no such page: {path}")
        try:
            return route()
        except DemoError as error:
            return error_response(error.status, error.message, **error.extra)
        except UserError as error:  # A bad photo, alpha or model: the page says so.
            return error_response(400, str(error))
        except Exception as error:  # A bug: say so, log it, keep serving.
            traceback.print_exc()
            return error_response(500, f"internal error: {type(error).__name__}: {error}")


# ---------------------------------------------------------------------------
# HTTP.
# ---------------------------------------------------------------------------

# Nothing but this server: no fonts, scripts, images or analytics from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self' blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'")


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "AdjustableStyleDemo/1.0"
    protocol_version = "HTTP/1.1"
    app: DemoApp = None  # Set on the subclass make_server builds.

    def _answer(self, method):
        url = urllib.parse.urlsplit(self.path)
        body = b""
        length = self.headers.get("Content-Length")
        try:
            length = int(length or 0)
        except ValueError:
            length = -1
        if length < 0:
            response = error_response(400, "bad Content-Length")
            self.close_connection = True
        elif length > MAX_UPLOAD_BYTES:
            response = error_response(
                413, f"the upload is {length / 2**20:.1f} MiB, over the demo's limit "
                     f"of {MAX_UPLOAD_BYTES / 2**20:g} MiB")
            self.close_connection = True  # The body is left unread.
        else:
            if length:
                body = self.rfile.read(length)
            response = self.app.handle(method, url.path, url.query, body)
        self._send(response)

    def _send(self, response):
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in response.headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The page gave up on this answer (it was superseded).

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # Slider previews would flood the terminal; errors go to the page.


class DemoServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Browsers open several connections at once.
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A dropped connection is normal when the page aborts a request.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(app, host=DEFAULT_HOST, port=DEFAULT_PORT):
    """An HTTP server for `app` bound to (host, port); port 0 picks a free one."""
    handler = type("Handler", (_Handler,), {"app": app})
    return DemoServer((host, port), handler)


def server_url(server):
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


# ---------------------------------------------------------------------------
# The page: one hand-written HTML file, no external assets.
# ---------------------------------------------------------------------------

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Adjustable style transfer</title>
<style>
  :root { color-scheme: light dark; --accent: #2f6fde; --bad: #b3261e; }
  body { font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         margin: 0; padding: 16px 20px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { opacity: .75; margin: 0 0 12px; }
  main { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
  .controls { flex: 0 0 330px; display: flex; flex-direction: column; gap: 14px; }
  fieldset { border: 1px solid #8884; border-radius: 8px; padding: 10px 12px; margin: 0; }
  legend { font-weight: 600; padding: 0 4px; }
  label { display: block; }
  select, input[type=text] { font: inherit; width: 100%; box-sizing: border-box; }
  .slider { margin: 6px 0; }
  .slider .row { display: flex; justify-content: space-between; font-family: ui-monospace, monospace; font-size: 13px; }
  .slider input { width: 100%; }
  .buttons { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 8px; }
  button, a.button { font: inherit; padding: 5px 12px; border-radius: 6px; border: 1px solid #8886;
           background: #8881; color: inherit; cursor: pointer; text-decoration: none; }
  a.button[aria-disabled=true] { opacity: .45; pointer-events: none; }
  .output { flex: 1 1 480px; min-width: 300px; }
  .pictures { display: flex; gap: 12px; align-items: flex-start; }
  #result { width: 100%; max-width: 768px; image-rendering: auto; background: #8882;
            border-radius: 6px; min-height: 120px; display: block; }
  #original { width: 140px; border-radius: 4px; }
  .msg { padding: 8px 12px; border-radius: 6px; margin: 0 0 12px; }
  #error { background: #b3261e22; border: 1px solid var(--bad); }
  #notice { background: #e6a70022; border: 1px solid #c98a00; }
  code, textarea { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
  textarea { width: 100%; box-sizing: border-box; resize: vertical; }
  .meta { font-size: 13px; opacity: .8; margin: 6px 0; }
  [hidden] { display: none !important; }
</style>
</head>
<body data-busy="1">
<h1>Adjustable real-time style transfer</h1>
<p class="sub">Move a slider to change how much each VGG style layer counts (alpha, 0&ndash;1).
The small preview follows while you slide; the full-size picture comes when you let go.</p>
<div id="notice" class="msg" hidden></div>
<div id="error" class="msg" role="alert" hidden></div>
<main>
  <div class="controls">
    <fieldset>
      <legend>Photo</legend>
      <label>Example <select id="example"></select></label>
      <label style="margin-top:8px">or upload <input id="upload" type="file" accept="image/*"></label>
      <img id="original" alt="the photo" hidden>
    </fieldset>
    <fieldset>
      <legend>Model</legend>
      <select id="model"></select>
      <div id="model-summary" class="meta"></div>
    </fieldset>
    <fieldset>
      <legend>Style weights (alpha)</legend>
      <div id="sliders"></div>
      <div class="buttons">
        <button id="randomize" type="button" title="New seed, alphas drawn from it as stylize.py --random_alpha does">Randomize</button>
        <button id="from-seed" type="button" title="Draw the alphas from the seed below">Alphas from seed</button>
        <button id="reset" type="button">All 1</button>
      </div>
    </fieldset>
    <fieldset>
      <legend>Randomness</legend>
      <label><input id="noise" type="checkbox"> content-noise mask (a few soft dark spots)</label>
      <label style="margin-top:8px">Seed <input id="seed" type="text" inputmode="numeric" autocomplete="off"></label>
    </fieldset>
  </div>
  <div class="output">
    <div class="pictures"><img id="result" alt="the stylized picture" hidden></div>
    <div class="meta"><span id="status">loading&hellip;</span> <span id="timing"></span></div>
    <div class="buttons" style="margin:6px 0 10px">
      <a id="download" class="button" download="stylized.png" aria-disabled="true">Download PNG (full size)</a>
      <button id="copy" type="button">Copy command</button>
    </div>
    <div class="meta">Alphas of this picture:</div>
    <code id="alpha-text"></code>
    <div class="meta">Make the same full-size picture from the command line:</div>
    <textarea id="command" rows="3" readonly></textarea>
  </div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const S = {
  client: Array.from(crypto.getRandomValues(new Uint8Array(12)), b => b.toString(16).padStart(2, "0")).join(""),
  info: null, model: null, layers: [], adjustable: true, values: [],
  contentId: null, seq: 0, shownSeq: 0,
  previewInFlight: false, previewPending: false,
  fullTimer: null, fullController: null, fullInFlight: false,
  resultUrl: null, downloadUrl: null, loading: 0,
};

function showError(message) { $("error").textContent = message; $("error").hidden = false; }
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
function setStatus(text) { $("status").textContent = text; }
function updateBusy() {
  const busy = S.loading > 0 || S.previewInFlight || S.previewPending || S.fullTimer !== null || S.fullInFlight;
  document.body.dataset.busy = busy ? "1" : "0";
  if (!busy) setStatus(!S.model ? "no model to run (see the note above)" : S.contentId ? "ready" : "pick a photo");
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
    const title = document.createElement("span"); title.textContent = name;
    const value = document.createElement("span"); value.id = `value-${name}`; value.textContent = S.values[i];
    row.append(title, value);
    const input = document.createElement("input");
    Object.assign(input, {type: "range", min: "0", max: "1", step: "0.01", id: `alpha-${name}`, value: S.values[i]});
    input.dataset.layer = name;
    input.addEventListener("input", () => { S.values[i] = input.value; value.textContent = input.value; requestPreview(); });
    input.addEventListener("change", () => { S.values[i] = input.value; value.textContent = input.value; requestFull(); });
    wrap.append(row, input); box.append(wrap);
  });
}
function setValues(values) {
  S.values = values.slice();
  S.layers.forEach((name, i) => {
    const input = $(`alpha-${name}`); if (input) input.value = values[i];
    const value = $(`value-${name}`); if (value) value.textContent = values[i];
  });
}

function stylizeUrl(size, seq) {
  const q = new URLSearchParams({client: S.client, seq: String(seq), content: S.contentId,
    model: S.model, size, noise: $("noise").checked ? "1" : "0", seed: $("seed").value.trim()});
  if (S.adjustable) q.set("alpha", alphaText());
  return "/api/stylize?" + q.toString();
}
async function render(size, controller) {
  const seq = ++S.seq;
  const started = performance.now();
  let response;
  try {
    response = await fetch(stylizeUrl(size, seq), {signal: controller ? controller.signal : undefined});
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
  const img = $("result");
  if (S.resultUrl && S.resultUrl !== S.downloadUrl) URL.revokeObjectURL(S.resultUrl);
  S.resultUrl = url;
  img.src = url;
  img.hidden = false;
  img.dataset.kind = size;
  img.dataset.seq = String(seq);
  const alpha = decodeURIComponent(response.headers.get("X-Alpha") || "");
  img.dataset.alpha = alpha;
  $("alpha-text").textContent = alpha ? `--alpha=${alpha}` : "(base model: no alpha)";
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
function invalidateDownload() { $("download").setAttribute("aria-disabled", "true"); }
function cancelFull() {
  if (S.fullTimer !== null) { clearTimeout(S.fullTimer); S.fullTimer = null; }
  if (S.fullController) { S.fullController.abort(); S.fullController = null; }
}
// While sliding: at most one preview in flight; the newest position waits.
async function requestPreview() {
  if (!S.contentId || !S.model) return;
  invalidateDownload(); cancelFull();
  if (S.previewInFlight) { S.previewPending = true; updateBusy(); return; }
  S.previewInFlight = true; S.previewPending = false; updateBusy(); setStatus("previewing\u2026");
  try { await render("preview"); }
  finally {
    S.previewInFlight = false;
    if (S.previewPending) requestPreview(); else updateBusy();
  }
}
// On release (and after any other change): the full-size picture.
function requestFull(delay = 120) {
  if (!S.contentId || !S.model) return;
  invalidateDownload(); cancelFull();
  S.previewPending = false;
  S.fullTimer = setTimeout(async () => {
    S.fullTimer = null; S.previewPending = false;
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
    const original = $("original");
    original.src = "/api/original?" + new URLSearchParams({client: S.client, content: data.content_id});
    original.hidden = false;
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
    buildSliders(); clearError(); refresh();
  } catch (e) { S.model = null; showError(e.message); updateBusy(); }
}
async function randomAlphas(seed) {
  if (!S.model || !S.adjustable) return;
  try {
    const data = await api("/api/random_alpha?" + new URLSearchParams({model: S.model, seed}).toString());
    $("seed").value = data.seed; setValues(data.values); refresh();
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
$("seed").addEventListener("change", () => {
  const text = $("seed").value.trim();
  if (!/^\d{1,19}$/.test(text)) { showError(`seed ${JSON.stringify(text)} must be a whole number`); return; }
  refresh();
});
$("randomize").addEventListener("click", () => randomAlphas(newSeed()));
$("from-seed").addEventListener("click", () => randomAlphas($("seed").value.trim()));
$("reset").addEventListener("click", () => { setValues(S.layers.map(() => "1")); refresh(); });
$("copy").addEventListener("click", async () => {
  const text = $("command").value;
  try { await navigator.clipboard.writeText(text); setStatus("command copied"); }
  catch (e) { $("command").select(); document.execCommand("copy"); }
});

(async function start() {
  $("seed").value = newSeed();
  try { S.info = await api("/api/info"); } catch (e) { showError(e.message); return; }
  if (S.info.notice) { $("notice").textContent = S.info.notice; $("notice").hidden = false; }
  const examples = $("example");
  examples.append(new Option("\u2014 uploaded photo \u2014", ""));
  for (const name of S.info.examples) examples.append(new Option(name, name));
  const models = $("model");
  for (const m of S.info.models) models.append(new Option(m.label, m.key));
  if (S.info.default_model) { models.value = S.info.default_model; await selectModel(S.info.default_model); }
  else { $("randomize").disabled = $("from-seed").disabled = $("reset").disabled = true; }
  if (S.info.examples.length) { examples.value = S.info.examples[0]; await loadContent({example: S.info.examples[0]}); }
  updateBusy();
})();
</script>
</body>
</html>
"""
