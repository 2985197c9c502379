"""The demo's work: sessions, photos, models and stylizing, one `handle` per request.

Everything the page asks for goes through `DemoApp.handle`, which returns a
`Response` and never raises; `server` only carries bytes to and from it.
The page itself is the three files of `page/`, served as they are.
"""

import collections
import dataclasses
import io
import os
import sys
import threading
import time
import traceback
import urllib.parse
from typing import Optional

import numpy as np

from adjustable_style import alpha_maps, alpha_vectors, color, dataclass_flags, images, model_files
from adjustable_style.demo import camera, page_files, photos, requests
from adjustable_style.demo.requests import DemoError, Response, error_response, is_on, json_response
from adjustable_style.errors import UserError
from adjustable_style.inference import runtime
from adjustable_style.stylize import options as stylize_options

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_PREVIEW_SIZE = 256
DEFAULT_MAX_SIZE = stylize_options.DEFAULT_MAX_SIZE  # 1024, as stylize.py.
# Uploads bigger than this are refused before they are read.
MAX_UPLOAD_BYTES = 64 << 20
# What the copied command line writes.
COMMAND_OUTPUT = "stylized.png"
# Where the page's "Download map" saves a painted alpha map, and so the
# name the copied command line gives --alpha_map.
MAP_FILE = "alpha_map.png"


@dataclasses.dataclass
class Config:
    """What `demo.py`'s flags set."""

    model: Optional[str] = None
    preview_size: int = DEFAULT_PREVIEW_SIZE
    max_size: int = DEFAULT_MAX_SIZE
    max_pixels: int = images.DEFAULT_MAX_PIXELS


class DemoApp:
    """All the demo's logic; `handle` answers one request."""

    def __init__(self, config, loader=None):
        self.config = config
        self._loader = loader or runtime.load_model
        self._models = {}  # key -> loaded runtime.Model
        self._model_lock = threading.Lock()
        self.tf_lock = threading.Lock()
        self._sessions = photos.Sessions()
        self.examples = page_files.example_files()
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
            notice = (
                f"The default shipped model {model_files.DEFAULT_MODEL!r} is "
                "not installed yet. Restart the demo with --model=MODEL (a "
                "train.py --model_dir folder, a .keras file or an exported "
                "SavedModel folder)."
            )
        return specs, default, notice

    def _model_label(self, key):
        """What the model menu shows: short, so that the menu never cuts it off.

        The style and the rest of the training record are in the summary
        below the menu; a --model path shows as its last part (the whole
        path is the option's tooltip and in the command line).
        """
        if key in model_files.shipped_models():
            return f"{key} (shipped)"
        return os.path.basename(key.rstrip("/\\")) or key

    def _model_menu(self):
        """[{key, label}] for the page's menu; labels are unique (else the key)."""
        labels = {key: self._model_label(key) for key in self.model_specs}
        counts = collections.Counter(labels.values())
        return [
            {"key": key, "label": label if counts[label] == 1 else key}
            for key, label in labels.items()
        ]

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
        """Loads the default model and traces it once (for a fast first picture).

        The region preview's two compiled functions (`regions.statistics`
        and `regions.stylize_region`) and the brush's (`stylize_map`) are
        traced too: each trace takes seconds (a minute or more on a busy
        two-core machine), which the first preview or brush stroke would
        otherwise wait for. The lock is let go between traces, so that the
        page's first requests are not all behind them.
        """
        from adjustable_style.demo import regions  # TensorFlow: imported on first use

        if not self.default_model:
            return
        try:
            model = self.model(self.default_model)
            size = min(self.config.preview_size, 64)
            alpha = np.ones((1, model.num_layers), np.float32) if model.adjustable else None
            pixels = np.zeros((size, size, 3), np.float32)
            fast = getattr(model, "fast_stylizer", None)
            with self.tf_lock:
                model.stylize(pixels[None], alpha)
            if fast is not None and fast.adjustable:
                with self.tf_lock:
                    params = fast.norm_parameters(alpha)
                    stats = regions.statistics(fast, pixels, params)
                with self.tf_lock:
                    regions.stylize_region(fast, pixels, params, (0, 0, size, size), stats)
                with self.tf_lock:
                    model.stylize_map(
                        pixels[None], np.ones((size, size, model.num_layers), np.float32)
                    )
        except DemoError as error:
            print(f"demo.py: {error.message}", file=sys.stderr)

    # -- Sessions and photos ------------------------------------------------

    def _session(self, query, create=True):
        return self._sessions.get(query.get("client", ""), create)

    def _decode(self, data, name, path):
        config = self.config
        return photos.decode_content(
            data, name, path, config.max_pixels, config.max_size, config.preview_size
        )

    def load_content(self, query, body):
        """POST /api/content: an example (`example=NAME`) or an upload (the body)."""
        session = self._session(query)
        example = query.get("example")
        if example is not None:
            if example not in self.examples:
                raise DemoError(
                    404,
                    f"unknown example {example!r}; examples: {', '.join(self.examples) or 'none'}",
                )
            path = self.examples[example]
            with open(path, "rb") as f:
                data = f.read()
            content = self._decode(data, example, photos.command_path(path))
        else:
            name = photos.display_name(query.get("name"))
            if not body:
                raise DemoError(400, f"{name}: the upload is empty (0 bytes)")
            content = self._decode(body, name, name)
        session.content = content
        height, width = content.full.shape[:2]
        return json_response(
            {
                "content_id": content.content_id,
                "name": content.name,
                "width": width,
                "height": height,
            }
        )

    def original(self, query):
        """GET /api/original: the photo at preview size, as PNG."""
        content = self._current_content(self._session(query, create=False), query)
        return Response(200, photos.encode_png(content.preview, 1), "image/png")

    def _current_content(self, session, query):
        return session.current_content(query.get("content"))

    # -- Parameters ---------------------------------------------------------

    def model_info(self, query):
        """GET /api/model?name=KEY: loads the model, returns its style layers."""
        key = query.get("name", "")
        model = self.model(key)
        return json_response(
            {
                "name": key,
                "adjustable": model.adjustable,
                "style_layers": model.style_layers,
                "summary": model_files.record_summary(model.record),
            }
        )

    def random_alpha(self, query):
        """GET /api/random_alpha?model=KEY&seed=S: what `--random_alpha --seed=S` draws."""
        model = self.model(query.get("model", ""))
        if not model.adjustable:
            raise DemoError(400, "this model has no alpha (it is a base model)")
        seed = requests.parse_seed(query)
        if seed is None:
            raise DemoError(400, "random alpha needs a seed")
        # The stream stylize.py uses for sample 0's alpha.
        alpha = alpha_vectors.sample_alpha(1, model.num_layers, [seed, 0])[0]
        text = alpha_vectors.format_alpha(alpha, model.style_layers)
        values = [part.split("=", 1)[1] for part in text.split(",")]
        return json_response({"seed": str(seed), "alpha": text, "values": values})

    def info(self):
        """GET /api/info: models, examples and sizes for the page."""
        return json_response(
            {
                "models": self._model_menu(),
                "default_model": self.default_model,
                "notice": self.notice,
                "examples": list(self.examples),
                "preview_size": self.config.preview_size,
                "max_size": self.config.max_size,
                "max_pixels": self.config.max_pixels,
                "max_upload_bytes": MAX_UPLOAD_BYTES,
            }
        )

    # -- Stylizing ----------------------------------------------------------

    def command_line(
        self, content, model_key, alpha_text, noise, seed, preserve=False, mapped=False
    ):
        """The `python stylize.py ...` line that makes the full-size picture.

        With `mapped`, the alphas are the painted map, which the page saves
        as MAP_FILE.
        """
        options = stylize_options.Options(
            model=self.model_specs[model_key],
            content=content.command_path,
            output=COMMAND_OUTPUT,
            max_size=self.config.max_size,
            alpha=None if mapped else alpha_text or None,
            alpha_map=MAP_FILE if mapped else None,
            content_noise=noise,
            seed=seed,
            preserve_color=preserve,
        )
        flags = dataclass_flags.to_flags(
            options,
            ("model", "content", "output", "max_size", "alpha_map", "alpha")
            + ("content_noise", "seed", "preserve_color"),
            # Flags at their defaults are left out.
            max_size=None
            if self.config.max_size == stylize_options.DEFAULT_MAX_SIZE
            else self.config.max_size,
            content_noise=noise or None,
            preserve_color=preserve or None,
        )
        return dataclass_flags.command_line("python", "stylize.py", flags)

    def _alpha_map(self, model, query, body):
        """The (H, W, L) alphas of a painted map: the PNG body of a POST."""
        if not model.adjustable:
            raise DemoError(
                400, "this model has no alpha (it is a base model), so an alpha map cannot apply"
            )
        if query.get("alpha"):
            # As stylize.py: --alpha_map sets alpha itself.
            raise DemoError(400, "an alpha map sets alpha per pixel; leave out 'alpha'")
        if not body:
            raise DemoError(400, "no alpha map in the request (POST the map as PNG bytes)")
        try:
            return alpha_maps.read_alpha_map(
                io.BytesIO(body), MAP_FILE, model.style_layers, self.config.max_pixels or None
            )
        except alpha_maps.AlphaMapError as error:
            raise DemoError(400, str(error)) from None

    def stylize(self, query, body=None):
        """GET /api/stylize: one picture, as PNG; metadata in X- headers.

        POST /api/stylize takes the same query and an alpha map (PNG) as the
        body, in place of `alpha`: the page's brush mode.
        """
        from adjustable_style.demo import regions  # TensorFlow: imported on first use

        started = time.perf_counter()
        session = self._session(query, create=False)
        seq = requests.parse_seq(query)
        size = query.get("size", "full")
        if size not in ("preview", "full"):
            raise DemoError(400, f"size must be 'preview' or 'full', got {size!r}")
        model_key = query.get("model", "")
        noise = is_on(query, "noise")
        preserve = is_on(query, "preserve_color")
        seed = requests.parse_seed(query)
        if noise and seed is None:
            raise DemoError(400, "the content-noise mask needs a seed")
        session.latest_seq = max(session.latest_seq, seq)
        content = self._current_content(session, query)
        model = self.model(model_key)
        mapped = body is not None
        if mapped:
            alpha, alpha_map = None, self._alpha_map(model, query, body)
        else:
            alpha, alpha_map = requests.parse_alpha(model, query), None
        alpha_text = (
            alpha_vectors.format_alpha(alpha, model.style_layers) if alpha is not None else ""
        )
        fast = getattr(model, "fast_stylizer", None)
        # A brush map, a base model, or a model without the in-process
        # stylizer (a SavedModel), has no region preview: its preview is the
        # full picture.
        region = size == "preview" and not mapped and fast is not None and fast.adjustable
        centre = regions.parse_region(query)
        pixels = content.pixels(noise, seed, "full")
        stats_key = (content.content_id, model_key, noise, seed)
        box = None
        with self.tf_lock:
            if seq < session.latest_seq:
                raise DemoError(409, "superseded by a newer request", superseded=True)
            model_started = time.perf_counter()
            if region:
                params = fast.norm_parameters(alpha[None] if alpha is not None else None)
                small = content.pixels(noise, seed, "preview")
                stats = regions.statistics(fast, small, params)
                correction = session.correction if session.stats_key == stats_key else None
                stats = regions.corrected(stats, correction)
                box = regions.region_box(*pixels.shape[:2], self.config.preview_size, centre)
                out = regions.stylize_region(fast, pixels, params, box, stats)
            elif mapped:
                out = model.stylize_map(pixels[None], alpha_map)[0]
            elif fast is not None:
                params = fast.norm_parameters(alpha[None] if alpha is not None else None)
                superseded = lambda: session.latest_seq > seq
                out, full_stats = regions.stylize_full(fast, pixels, params, superseded)
                if fast.adjustable:
                    # What the next previews correct their small-size statistics by.
                    small = content.pixels(noise, seed, "preview")
                    session.correction = (full_stats, regions.statistics(fast, small, params))
                    session.stats_key = stats_key
            else:
                out = model.stylize(pixels[None], None if alpha is None else alpha[None])[0]
            if preserve:
                # The photo's own colours, not the noisy ones: as stylize.py.
                clean = content.full
                if box is not None:
                    top, left, rows, cols = box
                    clean = clean[top : top + rows, left : left + cols]
                out = np.asarray(color.preserve_color(clean, out))
            model_seconds = time.perf_counter() - model_started
        # Fast compression: at 1024 px, level 6 takes ~350 ms, level 1 ~80 ms
        # for a file ~15% bigger, which costs nothing on a local connection.
        png = photos.encode_png(out, compress_level=1)
        height, width = out.shape[:2]
        command = self.command_line(content, model_key, alpha_text, noise, seed, preserve, mapped)
        quote = lambda text: urllib.parse.quote(text, safe="")
        headers = {
            "X-Seq": str(seq),
            "X-Size": f"{width}x{height}",
            "X-Alpha": quote(alpha_text),
            "X-Command": quote(command),
            "X-Model-Seconds": f"{model_seconds:.4f}",
            "X-Server-Seconds": f"{time.perf_counter() - started:.4f}",
            "Cache-Control": "no-store",
        }
        full_height, full_width = content.full.shape[:2]
        headers["X-Full-Size"] = f"{full_width}x{full_height}"
        if box is not None:
            # Where the preview sits in the full picture: left,top,width,height.
            top, left, rows, cols = box
            headers["X-Region"] = f"{left},{top},{cols},{rows}"
        if mapped:
            headers["X-Alpha-Map"] = MAP_FILE
        return Response(200, png, "image/png", headers)

    # -- Routing ------------------------------------------------------------

    def handle(self, method, path, query="", body=b""):
        """Answers one request; never raises."""
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        routes = {
            **{
                ("GET", path): (lambda name=name: page_files.page_file(name))
                for path, name in page_files.PAGE_FILES.items()
            },
            ("GET", "/api/info"): self.info,
            ("GET", "/api/model"): lambda: self.model_info(params),
            ("GET", "/api/random_alpha"): lambda: self.random_alpha(params),
            ("POST", "/api/content"): lambda: self.load_content(params, body),
            ("GET", "/api/original"): lambda: self.original(params),
            ("GET", "/api/stylize"): lambda: self.stylize(params),
            ("POST", "/api/stylize"): lambda: self.stylize(params, body),
            ("POST", "/api/camera"): lambda: camera.stylize_frame(self, params, body),
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
