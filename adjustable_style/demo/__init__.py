"""The interactive demo behind `demo.py`: a small local web server and its page.

A person picks a photo (a bundled example or an upload) and a model, moves
one slider per style layer (alpha in [0, 1]) and watches the stylized picture
follow: a small live preview (`preview_size`) while a slider moves, the full
picture (long side `max_size`, 1024 by default as in stylize.py) when it is
released. "Randomize" draws alphas the way `stylize.py --random_alpha` does,
the content-noise mask can be toggled, and the page shows the alphas behind
the picture as a ready-to-copy `python stylize.py ...` line that makes the
same full-size picture. The full-size result downloads as PNG.

Why a hand-made server and not Gradio: this needs nothing beyond the base
dependencies (Python's `http.server` and a hand-written page, `page/`:
index.html, demo.css and demo.js, with no external assets), so it works
fully offline. Gradio brings a large
dependency tree (FastAPI, uvicorn, pandas, a ~100 MB front end) and, in the
versions commonly installed, loads its theme fonts from Google Fonts and
sends analytics unless told not to. The page also carries a
Content-Security-Policy that forbids every non-local resource.

Design:
- `app.DemoApp.handle(method, path, query, body)` does all the work and
  returns a `Response`; the HTTP layer (`server.make_server`) only moves
  bytes, so tests call handlers in process without sockets.
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

from adjustable_style.demo.app import (
    DEFAULT_HOST,
    DEFAULT_MAX_SIZE,
    DEFAULT_PORT,
    DEFAULT_PREVIEW_SIZE,
    MAX_UPLOAD_BYTES,
    Config,
    DemoApp,
)
from adjustable_style.demo.page_files import EXAMPLES_DIR
from adjustable_style.demo.requests import DemoError, Response
from adjustable_style.demo.server import make_server, server_url

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_PORT",
    "DEFAULT_PREVIEW_SIZE",
    "EXAMPLES_DIR",
    "MAX_UPLOAD_BYTES",
    "Config",
    "DemoApp",
    "DemoError",
    "Response",
    "make_server",
    "server_url",
]
