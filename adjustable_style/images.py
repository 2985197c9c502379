"""Image decoding and encoding with errors a person can act on.

Everything that reads or writes user images goes through this module so that a
bad file produces one readable line ("photo.jpg: file is truncated or
corrupt ...") instead of a Pillow traceback, and so that every input, whatever
its mode (grayscale, RGBA, palette, CMYK, 16-bit, float) or orientation,
arrives as the same float32 RGB array in [0, 1].

Paths may be a str or an os.PathLike; images go in and come out as numpy
arrays.

This module deliberately does not import TensorFlow: command-line tools that
only convert images should start quickly.
"""

import io
import math
import os
import threading
import uuid

import numpy as np
from PIL import Image, ImageOps

from adjustable_style.errors import UserError, one_line

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageError",
    "SAVE_EXTENSIONS",
    "decode_image_bytes",
    "load_image",
    "load_image_uint8",
    "resize_image",
    "save_image",
]

# 64 megapixels is well above any camera a user is likely to feed in, yet low
# enough that one decoded image (~0.75 GB as float32 RGB) cannot exhaust memory.
DEFAULT_MAX_PIXELS = 64_000_000

# How the over-size message tells the user to lift the limit. The command-line
# tools are expected to expose the argument under this flag name.
MAX_PIXELS_HINT = "pass a larger max_pixels (command-line flag --max_pixels; 0 = no limit)"

# Output formats save_image() can write, by lower-case extension.
_SAVE_FORMATS = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
    ".bmp": ("BMP", {}),
}

# The extensions save_image() accepts, for callers that check an output path
# before doing the work that produces the image.
SAVE_EXTENSIONS = tuple(sorted(_SAVE_FORMATS))

# Pillow's own decompression-bomb limit is a process-wide global. It is only
# lifted (under this lock) for the rare image that exceeds it while still being
# allowed by the caller's max_pixels, so ordinary decodes stay fully parallel.
_PILLOW_LIMIT_LOCK = threading.Lock()

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageError(UserError, ValueError):
    """An image could not be read or written.

    The message is a single line that names the file and says what is wrong,
    suitable for showing to a user as-is.
    """


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _check_max_pixels(size, name, max_pixels):
    if not max_pixels:
        return
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: image is {width}x{height} ({width * height / 1e6:.1f} megapixels), "
            f"over the limit of {max_pixels / 1e6:g} megapixels; {MAX_PIXELS_HINT}"
        )


def _decode(source, name, max_pixels, min_long_side=0, min_short_side=0):
    """Returns a fully decoded, EXIF-oriented Pillow image or raises ImageError.

    `source` is a path or a binary file object. `min_long_side` or
    `min_short_side`, when given, let the JPEG decoder downscale by a power of
    two in the DCT domain (much faster for big photos) while keeping that side
    at least that long.
    """

    def attempt():
        im = Image.open(source)
        try:
            # The header size is known before any pixel is decoded, so
            # oversized images are refused without spending the memory.
            _check_max_pixels(im.size, name, max_pixels)
            if (
                im.format == "JPEG"
                and im.mode in ("RGB", "L")
                and (min_long_side or min_short_side)
            ):
                width, height = im.size
                scale = (
                    min_long_side / max(width, height)
                    if min_long_side
                    else min_short_side / min(width, height)
                )
                if scale < 0.5:
                    im.draft(im.mode, (math.ceil(width * scale), math.ceil(height * scale)))
            # A full decode is the only way to notice truncated or corrupt
            # data; Image.open() alone reads just the header.
            im.load()
        except BaseException:
            im.close()
            raise
        return im

    try:
        try:
            im = attempt()
        except Image.DecompressionBombError:
            pillow_limit = Image.MAX_IMAGE_PIXELS
            if max_pixels and pillow_limit and max_pixels <= 2 * pillow_limit:
                # Our own limit is the stricter one; report it in our words,
                # with the size the header gives.
                size = _unchecked_header_size(source)
                if size is not None:
                    _check_max_pixels(size, name, max_pixels)
                raise ImageError(
                    f"{name}: image is over {2 * pillow_limit / 1e6:.0f} megapixels, over the "
                    f"limit of {max_pixels / 1e6:g} megapixels; {MAX_PIXELS_HINT}"
                ) from None
            # The caller allowed more than Pillow does: lift Pillow's limit
            # just for this image; our own check above still applies.
            if hasattr(source, "seek"):
                source.seek(0)
            with _PILLOW_LIMIT_LOCK:
                Image.MAX_IMAGE_PIXELS = None
                try:
                    im = attempt()
                finally:
                    Image.MAX_IMAGE_PIXELS = pillow_limit
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file, or a format Pillow cannot read") from None
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as e:
        # Pillow reports damaged data through a zoo of exception types.
        raise ImageError(f"{name}: file is truncated or corrupt ({one_line(e)})") from None

    try:
        oriented = ImageOps.exif_transpose(im)
    except Exception:
        # Malformed EXIF is only metadata; the pixels are still good.
        oriented = im
    if oriented is not im:
        im.close()
    return oriented


def _unchecked_header_size(source):
    """(width, height) from the header of a path or file object, past Pillow's bomb check.

    Image.open reads only the header; no pixel is decoded. None if unreadable.
    """
    try:
        if hasattr(source, "seek"):
            source.seek(0)
        with _PILLOW_LIMIT_LOCK:
            pillow_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                with Image.open(source) as im:
                    return im.size
            finally:
                Image.MAX_IMAGE_PIXELS = pillow_limit
    except Exception:  # Pillow reports unreadable headers in many ways.
        return None
    finally:
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass


def header_size(path):
    """(width, height) of an image file from its header, without decoding it; None if unreadable."""
    try:
        with Image.open(path) as im:
            return im.size
    except Image.DecompressionBombError:
        return _unchecked_header_size(path)
    except Exception:  # Pillow reports unreadable headers in many ways.
        return None


def _has_alpha(im):
    return im.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info


def _to_rgb_array(im, name):
    """Converts a decoded Pillow image to an (H, W, 3) RGB array.

    Returns uint8 for 8-bit opaque images (no float copy of a big photo is
    made unless needed) and float32 in [0, 1] for everything else.
    """
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        # 16-bit PNGs arrive as I;16 (or I in older Pillow); 65535 is white.
        gray = np.asarray(im).astype(np.float32) / 65535.0
        return np.repeat(np.clip(gray, 0.0, 1.0)[..., None], 3, axis=-1)
    if mode == "F":
        gray = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        # Float images have no fixed convention: take the smallest usual
        # full-scale value (1, 255 or 65535) that covers the data.
        peak = float(gray.max(initial=0.0))
        scale = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0
        return np.repeat(np.clip(gray / scale, 0.0, 1.0)[..., None], 3, axis=-1)
    try:
        if _has_alpha(im):
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
            alpha = rgba[..., 3:]
            # Transparent regions become white, like a viewer shows them on a page.
            return rgba[..., :3] * alpha + (1.0 - alpha)
        return np.asarray(im.convert("RGB"))
    except (ValueError, OSError) as e:
        raise ImageError(f"{name}: unsupported colour mode {mode!r} ({one_line(e)})") from None


def resize_image(array, height, width):
    """Resizes an (H, W, 3) uint8 or float image with a Lanczos filter.

    uint8 input stays uint8; float input is resized per channel at full float
    precision and returned as float32 clipped to [0, 1] (Lanczos overshoots).
    """
    height, width = max(1, int(height)), max(1, int(width))
    array = np.asarray(array)
    if array.shape[:2] == (height, width):
        return array
    if array.dtype == np.uint8:
        return np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.LANCZOS))
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[..., c], dtype=np.float32), mode="F").resize(
                (width, height), Image.Resampling.LANCZOS
            )
        )
        for c in range(array.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def _fit_long_side(shape, max_size):
    """(height, width) with the long side at most max_size, or None if it fits."""
    height, width = shape[:2]
    if not max_size or max(height, width) <= max_size:
        return None
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def check_file(path, error=ImageError, what="an image file"):
    """`path` as a string if it is a non-empty file; else `error`, in one line."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise error(f"{name}: file not found")
    if os.path.isdir(name):
        raise error(f"{name}: is a folder, not {what}")
    if os.path.getsize(name) == 0:
        raise error(f"{name}: file is empty (0 bytes)")
    return name


def _finish(im, name, max_size):
    try:
        rgb = _to_rgb_array(im, name)
    finally:
        im.close()
    target = _fit_long_side(rgb.shape, max_size)
    if target is not None:
        rgb = resize_image(rgb, *target)
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    return rgb.astype(np.float32, copy=False)


def load_image(path, max_pixels=DEFAULT_MAX_PIXELS, max_size=0):
    """Loads an image file as float32 RGB of shape (H, W, 3) in [0, 1].

    EXIF orientation is applied; grayscale is replicated to RGB; transparency
    is composited over white; 16-bit and float images are scaled to [0, 1];
    animated images give their first frame.

    Args:
      path: the image file.
      max_pixels: refuse images with more pixels than this (checked from the
        header, before decoding). None or 0 disables the limit.
      max_size: if > 0, downscale (never upscale) so the long side is at most
        this many pixels, keeping the aspect ratio.

    Raises:
      ImageError: with a one-line message naming the file.
    """
    name = check_file(path)
    im = _decode(name, name, max_pixels, min_long_side=max_size)
    return _finish(im, name, max_size)


def decode_image_bytes(data, name, max_pixels=DEFAULT_MAX_PIXELS, max_size=0):
    """Like load_image() but for encoded bytes (e.g. an upload).

    Returns float32 RGB of shape (H, W, 3) in [0, 1]; `name` (a str) is only
    used in error messages.
    """
    if not data:
        raise ImageError(f"{name}: file is empty (0 bytes)")
    im = _decode(io.BytesIO(bytes(data)), name, max_pixels, min_long_side=max_size)
    return _finish(im, name, max_size)


def load_image_uint8(path, max_pixels=DEFAULT_MAX_PIXELS, min_side=0):
    """Loads an image as uint8 RGB (H, W, 3), cheaply shrunk for training.

    Meant for input pipelines: 8 bits per channel are plenty for training
    content and take a quarter of the memory of float32. When `min_side` > 0,
    images whose shorter side is at least twice min_side are reduced by an
    integer factor (JPEG in the DCT domain, others with a box filter) so the
    shorter side stays >= min_side; the caller does the exact final resize.
    Same conversions and errors as load_image().
    """
    name = check_file(path)
    im = _decode(name, name, max_pixels, min_short_side=min_side)
    try:
        rgb = _to_rgb_array(im, name)
    finally:
        im.close()
    if rgb.dtype != np.uint8:
        rgb = to_uint8(rgb)
    if min_side:
        factor = min(rgb.shape[:2]) // min_side
        if factor >= 2:
            rgb = np.asarray(Image.fromarray(rgb).reduce(factor))
    return rgb


def load_center_square(path, size, max_pixels=DEFAULT_MAX_PIXELS):
    """A photo as float32 (size, size, 3) in [0, 1]: shorter side = size, centre crop.

    For fixed views of a photo (TensorBoard previews, experiments), where
    training's random crops would not do.
    """
    pixels = load_image_uint8(path, max_pixels=max_pixels, min_side=size)
    height, width = pixels.shape[:2]
    scale = size / min(height, width)
    new_h = max(size, round(height * scale))
    new_w = max(size, round(width * scale))
    pixels = resize_image(pixels, new_h, new_w)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    crop = pixels[top : top + size, left : left + size]
    return crop.astype(np.float32) / 255.0


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


def to_uint8(pixels):
    """Floats in [0, 1] (any shape) as 8-bit levels, rounded to the nearest.

    Returns a uint8 array of the same shape.
    """
    return (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _pixels_to_save(array, name):
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ImageError(f"{name}: expected an image array of shape (H, W, 3), got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{name}: cannot save an empty image of shape {array.shape}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return to_uint8(np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0))
    raise ImageError(f"{name}: expected float values in [0, 1] or uint8, got dtype {array.dtype}")


def save_image(array, path):
    """Writes an (H, W, 3) float [0, 1] or uint8 array as PNG, JPEG, WebP or BMP.

    The format comes from the extension (case-insensitive); JPEG and WebP use
    quality 95. The image is written to a temporary file next to `path` and
    renamed into place, so `path` is either the complete new image or
    untouched, never a partial file.

    Raises:
      ImageError: unknown extension, missing folder, bad array, or a write
        failure; nothing is left behind in any of these cases.
    """
    name = os.fspath(path)
    ext = os.path.splitext(name)[1].lower()
    if ext not in _SAVE_FORMATS:
        raise ImageError(
            f"{name}: cannot save with extension {ext or '(none)'!r}; "
            f"use one of {', '.join(sorted(_SAVE_FORMATS))}"
        )
    folder = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(folder):
        raise ImageError(f"{name}: folder {folder} does not exist")
    if os.path.isdir(name):
        raise ImageError(f"{name}: is a folder, not a file name")
    pixels = _pixels_to_save(array, name)
    fmt, options = _SAVE_FORMATS[ext]
    image = Image.fromarray(pixels)

    # Same folder so os.replace() is an atomic rename on the same filesystem;
    # os.open with 0o666 lets the umask pick the final permissions.
    tmp = os.path.join(folder, f".{os.path.basename(name)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            image.save(f, format=fmt, **options)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, name)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, (OSError, ValueError)) and not isinstance(e, ImageError):
            raise ImageError(f"{name}: could not write image ({one_line(e)})") from e
        raise
