"""Alpha maps: one alpha vector per pixel, read from an image.

A map sets the style weights region by region. Its channels are the style
layers in the model's order (for the default layers R = block2_conv2,
G = block3_conv4, B = block4_conv4); a grayscale map gives every layer the
same alpha. 0 (black) is alpha 0 and full white (255, or 65535 in a 16-bit
PNG) is alpha 1. The map is stretched to the content's size; what it does
inside the network is in `inference.map_statistics.map_regions`.

With `--alpha_outside`, the map is a mask instead: white takes `--alpha`
(the inside), black takes `--alpha_outside`, and grey blends the two.

Every problem with a map file is one line naming the file: not an image,
transparency or a channel count the model cannot use, floating-point
values (an alpha map is an 8- or 16-bit image, so what a value means is
never a guess), an animation.
"""

import numpy as np

from adjustable_style import images
from adjustable_style.errors import UserError

# The Pillow modes of 16-bit grayscale PNGs (65535 is alpha 1).
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_CHANNELS = {"1": 1, "L": 1, "P": 3, "RGB": 3, "LA": 2, "La": 2, "PA": 4, "RGBA": 4, "RGBa": 4}


class AlphaMapError(UserError, ValueError):
    """An alpha map that cannot be used (one-line message)."""


def _layer_order(style_layers):
    colours = ("R", "G", "B")
    if len(style_layers) == 3:
        return ", ".join(f"{c} = {n}" for c, n in zip(colours, style_layers))
    return ", ".join(style_layers)


def _pixels(im, name):
    """The map's values in [0, 1], (H, W, channels) float32."""
    mode = im.mode
    if getattr(im, "n_frames", 1) > 1:
        raise AlphaMapError(f"{name}: an alpha map is one picture, not an animation")
    if mode in _SIXTEEN_BIT:
        values = np.asarray(im).astype(np.float32)
        if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
            raise AlphaMapError(
                f"{name}: holds 32-bit integer values outside 0..65535; an alpha map "
                "is an 8- or 16-bit image"
            )
        return (values / 65535.0)[..., None]
    if mode == "F":
        raise AlphaMapError(
            f"{name}: holds floating-point values; an alpha map is an 8- or 16-bit "
            "image (0 = alpha 0, white = alpha 1)"
        )
    if mode not in _CHANNELS:
        raise AlphaMapError(
            f"{name}: colour mode {mode} is not grayscale or RGB; save the map as a "
            "grayscale or RGB PNG"
        )
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "1":
        im = im.convert("L")
    return np.asarray(im, np.float32).reshape(im.size[1], im.size[0], -1) / 255.0


def read_alpha_map(source, name, style_layers, max_pixels=images.DEFAULT_MAX_PIXELS):
    """(H, W, L) float32 alphas in [0, 1] of a map file (checked) or file object.

    `style_layers` are the model's style layers (L of them); a grayscale
    map is repeated over them. Raises `AlphaMapError` (one line).
    """
    try:
        im = images._decode(source, name, max_pixels)
    except images.ImageError as error:
        raise AlphaMapError(f"alpha map {error}") from None
    try:
        values = _pixels(im, name)
    finally:
        im.close()
    layers = len(style_layers)
    channels = values.shape[-1]
    if channels in (2, 4):
        raise AlphaMapError(
            f"{name}: has a transparency channel ({channels} channels); an alpha map "
            f"is grayscale or has {layers} channels ({_layer_order(style_layers)})"
        )
    if channels == 1:
        return np.repeat(values, layers, axis=-1)
    if channels != layers:
        raise AlphaMapError(
            f"{name}: has {channels} channels, but this model has {layers} style "
            f"layers ({', '.join(style_layers)}); give a grayscale map or one with "
            f"{layers} channels"
        )
    return values


def load_alpha_map(path, style_layers, max_pixels=images.DEFAULT_MAX_PIXELS):
    """`read_alpha_map` of a file path."""
    name = images.check_file(path, AlphaMapError, "an alpha map image")
    return read_alpha_map(name, name, style_layers, max_pixels)


def blend_mask(alpha_map, inside, outside, name="the mask"):
    """Alphas from a black-and-white mask: white -> `inside`, black -> `outside`.

    `alpha_map` is what `read_alpha_map` returned (H, W, L); its channels
    must agree (a grayscale mask). Grey values blend linearly.
    """
    alpha_map = np.asarray(alpha_map, np.float32)
    if np.abs(alpha_map - alpha_map[..., :1]).max(initial=0) > 1 / 255:
        raise AlphaMapError(
            f"{name}: --alpha_outside makes the map a black-and-white mask, but its "
            "channels differ (a colour map); drop --alpha_outside or give a grayscale mask"
        )
    mask = alpha_map[..., :1]
    inside = np.asarray(inside, np.float32)
    outside = np.asarray(outside, np.float32)
    return mask * inside + (1.0 - mask) * outside
