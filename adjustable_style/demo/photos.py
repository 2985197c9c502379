"""The demo's photos and browser sessions: what each open page has picked.

A session is one browser page (its `client` id). It holds the decoded
photo at full size (what stylize.py would use) and at preview size, the
noisy variants the content-noise option asks for, the newest request
number (so stale work is dropped) and the last full render's statistics
(what the region previews are corrected by).
"""

import collections
import dataclasses
import io
import os
import re
import secrets
import threading
from typing import Optional

import numpy as np

from adjustable_style import images
from adjustable_style import noise as noise_lib
from adjustable_style.demo.requests import DemoError

# Browser pages whose photo stays decoded in memory (least recently used go).
MAX_SESSIONS = 16

_CLIENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def encode_png(pixels, compress_level=6):
    """uint8 or float [0, 1] (H, W, 3) -> PNG bytes."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = images.to_uint8(pixels)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def fit(array, long_side):
    """`array` shrunk (never grown) so its long side is at most `long_side`."""
    height, width = array.shape[:2]
    if not long_side or max(height, width) <= long_side:
        return array
    scale = long_side / max(height, width)
    return images.resize_image(array, max(1, round(height * scale)), max(1, round(width * scale)))


def display_name(name):
    """A file name fit to show and to put on a command line."""
    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload.png"


def command_path(path):
    """`path` relative to the working directory when it lies below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


@dataclasses.dataclass
class Content:
    """A decoded photo: full size (what stylize.py would use) and preview size."""

    content_id: str
    name: str  # What the page shows.
    command_path: str  # What the command line's --content says.
    full: np.ndarray
    preview: np.ndarray
    # (seed, size) -> noisy content; only the newest seed is kept.
    noisy: dict = dataclasses.field(default_factory=dict)

    def pixels(self, noise, seed, size):
        """The photo at `size` ("full" or "preview"), with the content noise of `seed` if `noise`.

        The noise is exactly what stylize.py's --content_noise --seed=S does
        to sample 0; the preview is that picture made small.
        """
        if not noise:
            return self.full if size == "full" else self.preview
        key = (seed, size)
        if key not in self.noisy:
            noisy_full = self.noisy.get((seed, "full"))
            if noisy_full is None:
                height, width = self.full.shape[:2]
                mask = noise_lib.noise_mask(height, width, [seed, 1])
                noisy_full = noise_lib.apply_noise_mask(self.full, mask)
            kept = {k: v for k, v in self.noisy.items() if k[0] == seed}
            kept[(seed, "full")] = noisy_full
            if size == "preview":
                preview_side = max(self.preview.shape[:2])
                kept[key] = fit(noisy_full, preview_side)
            self.noisy = kept
        return self.noisy[key]


def decode_content(data, name, path, max_pixels, max_size, preview_size):
    """A `Content` from encoded image bytes; a bad image raises `UserError`."""
    full = images.decode_image_bytes(data, name, max_pixels or None, max_size)
    return Content(secrets.token_hex(8), name, path, full, fit(full, preview_size))


@dataclasses.dataclass
class Session:
    content: Optional[Content] = None
    latest_seq: int = -1
    # The last full render's statistics, for the region previews
    # (`regions.corrected`): (full-size stats, preview-size stats) at its
    # alphas, and the (content, model, noise, seed) they belong to.
    correction: Optional[tuple] = None
    stats_key: Optional[tuple] = None

    def current_content(self, wanted=None):
        """The photo; 409 when there is none, or when the page has moved to another (`wanted`)."""
        if self.content is None:
            raise DemoError(409, "no photo yet; pick an example or upload a photo")
        if wanted and wanted != self.content.content_id:
            raise DemoError(409, "superseded: the page has picked another photo", superseded=True)
        return self.content


class Sessions:
    """The open pages' sessions by client id, the least recently used dropped past MAX_SESSIONS."""

    def __init__(self, limit=MAX_SESSIONS):
        self._limit = limit
        self._sessions = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, client, create=True):
        if not _CLIENT_RE.match(client or ""):
            raise DemoError(
                400, "missing or bad 'client' parameter (letters, digits, _ and -, at most 64)"
            )
        with self._lock:
            session = self._sessions.get(client)
            if session is None:
                if not create:
                    raise DemoError(
                        410,
                        "this page's photo is no longer in the server's "
                        "memory; pick the photo again",
                    )
                session = self._sessions[client] = Session()
                while len(self._sessions) > self._limit:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(client)
            return session
