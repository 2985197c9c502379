"""The demo's camera mode, server side: POST /api/camera stylizes one frame.

The page (page/camera.js) grabs frames from the browser's camera at the
preview size and sends them here one at a time: a new frame leaves only
once the previous answer is back, so at most one is in flight and the
frames in between are never sent. Frames stay on this machine, like every
other request of the demo. The answer is a JPEG: at preview sizes it
encodes several times faster than PNG, which is what a video stream needs.
"""

import functools
import io
import time
import urllib.parse

import numpy as np

from adjustable_style import alpha_vectors, color, images
from adjustable_style import noise as noise_lib
from adjustable_style.demo.requests import DemoError, Response, is_on, parse_alpha, parse_seed

JPEG_QUALITY = 90
# Noise masks kept, by (seed, height, width): the mask stays put from frame
# to frame (a moving one would make the style jump), so it is made once.
MASK_CACHE_SIZE = 4


def encode_jpeg(pixels, quality=JPEG_QUALITY):
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(images.to_uint8(pixels)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


@functools.lru_cache(maxsize=MASK_CACHE_SIZE)
def _mask(seed, height, width):
    return noise_lib.noise_mask(height, width, [seed, 1])


def stylize_frame(app, query, body):
    """POST /api/camera?model=KEY&alpha=...[&noise=1&seed=S][&preserve_color=1]: a frame, JPEG out."""
    started = time.perf_counter()
    if not body:
        raise DemoError(400, "no camera frame in the request")
    model = app.model(query.get("model", ""))
    alpha = parse_alpha(model, query)
    noise = is_on(query, "noise")
    preserve = is_on(query, "preserve_color")
    seed = parse_seed(query)
    if noise and seed is None:
        raise DemoError(400, "the content-noise mask needs a seed")
    frame = images.decode_image_bytes(
        body, "camera frame", app.config.max_pixels or None, app.config.preview_size
    )
    pixels = noise_lib.apply_noise_mask(frame, _mask(seed, *frame.shape[:2])) if noise else frame
    with app.tf_lock:
        model_started = time.perf_counter()
        out = model.stylize(np.asarray(pixels)[None], None if alpha is None else alpha[None])[0]
        if preserve:
            out = np.asarray(color.preserve_color(frame, out))
        model_seconds = time.perf_counter() - model_started
    alpha_text = alpha_vectors.format_alpha(alpha, model.style_layers) if alpha is not None else ""
    height, width = out.shape[:2]
    return Response(
        200,
        encode_jpeg(out),
        "image/jpeg",
        {
            "X-Size": f"{width}x{height}",
            "X-Alpha": urllib.parse.quote(alpha_text, safe=""),
            "X-Model-Seconds": f"{model_seconds:.4f}",
            "X-Server-Seconds": f"{time.perf_counter() - started:.4f}",
            "Cache-Control": "no-store",
        },
    )
