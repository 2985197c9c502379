"""The demo's preview: a region of the full picture at its own scale, and full renders that yield.

The network paints style elements of a fixed size in pixels, so a
stylization of a shrunken photo is a different picture, not a small copy
of the full one. The preview therefore stylizes a square region of the
full-size photo at 1:1 (with a margin around it, `HALO` pixels, that is
cut off again), and normalizes it with the *whole* picture's instance-norm
statistics, through the same `given_norm` path that exact alpha maps use
(`FastStylizer._with_statistics`, one region). Those statistics are
estimated without a full pass:

- the photo at preview size (long side `--preview_size`) gives each norm
  layer's statistics at the new alphas in one small pass
  (`FastStylizer._statistics`);
- the last full render recorded the full-size statistics at its alphas;
  the small pass at *those* alphas gives the correction from small to
  full size (means: the difference, variances: the ratio), which is
  applied to the new small statistics.

With the correction (after the first full picture of a photo) the region
matches the full picture to about 1-2 levels of 255 for alphas moved by
0.1-0.3 (starry_night, a 1024 px photo); without it (before one) to about
8 levels.

Full renders run the network one layer at a time (eagerly, the same ops
and kernels as the compiled graph) and ask between layers whether a newer
request of the page has arrived: if so they stop at once (409
"superseded"), so a preview never waits behind a stale full picture for
more than one layer.
"""

import numpy as np
import tensorflow as tf

from adjustable_style.demo.requests import DemoError
from adjustable_style.inference import norms
from adjustable_style.model import networks

# Pixels of context around a preview region, at full size: with the whole
# picture's statistics, 32 px leave the region within 0.1 level of the full
# picture (the network reads 141 px, but little from far away).
HALO = 32
# Crops start on this grid, so that the network's downsampling meets the
# same pixels as in the full picture.
ALIGN = networks.SIZE_MULTIPLE
EPSILON = 1e-5


def parse_region(query):
    """The preview region's centre as fractions (x, y) of the picture, (0.5, 0.5) unless given."""
    text = query.get("region", "").strip()
    if not text:
        return 0.5, 0.5
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        raise DemoError(400, f"region {text!r} must be 'x,y', fractions of the picture") from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise DemoError(400, f"region {text!r} must be 'x,y' with both in [0, 1]")
    return x, y


def region_box(height, width, size, centre):
    """(top, left, rows, cols) of a `size` square at 1:1 around `centre`, on the ALIGN grid."""
    rows, cols = min(size, height), min(size, width)
    cx, cy = centre

    def start(middle, extent, total):
        first = int(round(middle * total - extent / 2))
        first = max(0, min(total - extent, first))
        return first // ALIGN * ALIGN

    return start(cy, rows, height), start(cx, cols, width), rows, cols


def statistics(fast, content, params):
    """Each norm layer's (mean (1, C), variance (1, C)) of the whole `content` at `params`."""
    stats = fast._statistics(tf.constant(content[None]), tf.constant(params))
    return [(np.asarray(mean), np.asarray(variance)) for mean, variance in stats]


def corrected(small, correction):
    """Small-size statistics moved to full size by the last full render's correction."""
    if correction is None:
        return small
    full_old, small_old = correction
    return [
        (mean + (full_mean - old_mean), variance * (full_var + EPSILON) / (old_var + EPSILON))
        for (mean, variance), (full_mean, full_var), (old_mean, old_var) in zip(
            small, full_old, small_old
        )
    ]


def stylize_region(fast, pixels, params, box, stats):
    """The full picture's `box` (top, left, rows, cols), normalized with `stats`.

    The crop runs with a HALO margin (on the ALIGN grid) through
    `FastStylizer._with_statistics`: `map_statistics.given_norm` with one
    region covering the crop, i.e. instance norm with the given moments.
    """
    height, width = pixels.shape[:2]
    top, left, rows, cols = box
    y0, x0 = max(0, top - HALO), max(0, left - HALO)
    y1, x1 = min(height, top + rows + HALO), min(width, left + cols + HALO)
    crop = np.ascontiguousarray(pixels[y0:y1, x0:x1], np.float32)[None]
    regions = (tf.zeros([1, 1, 1], tf.int32), tf.constant(1), tf.zeros([1, 1, 1, 1]))
    given = tuple((tf.constant(mean), tf.constant(variance)) for mean, variance in stats)
    out = fast._with_statistics(tf.constant(crop), tf.constant(params), regions, given).numpy()[0]
    return out[top - y0 : top - y0 + rows, left - x0 : left - x0 + cols]


def stylize_full(fast, pixels, params, superseded):
    """(picture, its statistics): the whole picture, one layer at a time.

    `superseded()` is asked before every layer; when it answers True the
    render stops with a 409. The layers are `StylizerGraph.network`'s,
    normalized as the compiled one-image path does (`single_image_norm`),
    so the picture is the one `stylize.py` makes.
    """
    record = {}

    def norm(x, index, gamma, beta, relu):
        if superseded():
            raise DemoError(409, "superseded by a newer request", superseded=True)
        mean, variance = norms.moments(x)
        record[index] = (mean[:, 0, 0].numpy(), variance[:, 0, 0].numpy())
        return norms.single_image_norm(x, gamma, beta, relu)

    graph = fast.graph
    out = graph.network(tf.constant(pixels[None], tf.float32), tf.constant(params), norm)
    return out.numpy()[0], [record[index] for index in sorted(record)]
