"""Instance norm under an alpha map: statistics, gamma and beta by region.

An alpha map gives each pixel its own alpha. Lambda runs once per region
of the map (cells of `MAP_CELL` pixels whose alphas agree), never per
pixel; each norm layer then normalizes every cell with its region's gamma
and beta and with statistics that follow alpha too (`region_norm`), or
with each region's statistics given from uniform passes (`given_norm`,
the exact mode). `graph.StylizerGraph` passes these as its normalization.
"""

import tensorflow as tf

from adjustable_style.inference.kernels import pad_to_multiple
from adjustable_style.inference.norms import scale_shift

# An alpha map is averaged over cells of this many pixels (of the
# padded content) before Lambda runs on it. Style elements are 10-20 px
# and each output pixel sees 141 px of input, so finer alpha detail
# cannot show; each layer interpolates the cells' gammas and betas
# bilinearly to its own resolution.
MAP_CELL = 32
# Alphas of a map's cells that agree to 1/MAP_LEVELS share a region (the
# levels of an 8-bit map image).
MAP_LEVELS = 255
# Exact map statistics take one whole-image pass per distinct alpha of the
# map's cells: at most this many.
MAP_EXACT_MAX_ALPHAS = 8
# Under a map, instance-norm statistics are gathered at a lattice of this
# many alphas per style layer (0, 1/4, ..., 1): parts of a map whose
# alphas differ by more than a step never share statistics.
STAT_LEVELS = 5


def cell_counts(size, cells, cell):
    """Pixels of each of `cells` cells of `cell` pixels along an axis of `size`.

    The cells are laid out as a SAME-padded pooling lays them: the
    `cells * cell - size` missing pixels are split between both ends.
    """
    start = tf.range(cells) * cell - (cells * cell - size) // 2
    return tf.cast(tf.minimum(start + cell, size) - tf.maximum(start, 0), tf.float32)


def region_norm(x, gamma, beta, cell_ids, anchors, cell):
    """Instance norm under an alpha map: statistics, gamma and beta by alpha.

    x is (B, h, w, C); gamma and beta are (K, C), one row per alpha region;
    `cell_ids` (B, gh, gw) gives each cell of the coarse grid its region
    and `anchors` (B, gh, gw, A) its weights on a lattice of alphas (see
    `anchor_weights`); a cell is `cell` x `cell` pixels of x.

    Instance norm takes its statistics from the whole map. Under a map, the
    parts of different alphas have features of different scales, so
    whole-map statistics would normalize each part by a mixture and none
    would look as it does at its alpha alone. So the statistics follow
    alpha too: each lattice alpha (anchor) gathers the statistics of the
    cells near it in alpha, pulled towards the whole map's by a prior of
    one cell, and each cell takes the blend of its anchors' statistics.
    Parts of clearly different alphas share no anchor and are normalized
    by their own statistics; cells of in-between alphas (soft borders,
    gradients) blend smoothly. A constant map gives every anchor the whole
    map's statistics: plain instance norm.

    The full-resolution work is two poolings (a SAME average pool counts
    only the pixels inside the map, so edge cells are exact) and the
    scale and shift, formed per cell and resized bilinearly, each on its
    own: resizing them together and slicing costs twice as much.
    """
    shape = tf.shape(x)
    grid = tf.shape(cell_ids)[1:3]
    counts = (
        cell_counts(shape[1], grid[0], cell)[:, None]
        * cell_counts(shape[2], grid[1], cell)[None, :]
    )
    weights = anchors * counts[None, :, :, None]
    total = tf.reduce_sum(counts)
    cell_mean = tf.nn.avg_pool2d(x, cell, cell, "SAME")
    # E[x^2] around the whole map's mean: a float32 E[x^2] - E[x]^2
    # cancels badly where a channel's mean is large.
    centre = tf.einsum("hw,bhwc->bc", counts, cell_mean)[:, None, None] / total
    cell_square = tf.nn.avg_pool2d(tf.square(x - centre), cell, cell, "SAME")
    cell_mean -= centre
    # Each anchor's pixels, plus the prior: one average cell's worth of the
    # whole map's statistics (mean 0 around the centre).
    prior = total / tf.cast(grid[0] * grid[1], tf.float32)
    pixels = tf.reduce_sum(weights, axis=[1, 2])[..., None] + prior
    whole_square = tf.einsum("hw,bhwc->bc", counts, cell_square)[:, None] / total
    anchor_mean = tf.einsum("bhwa,bhwc->bac", weights, cell_mean) / pixels
    anchor_square = (
        tf.einsum("bhwa,bhwc->bac", weights, cell_square) + prior * whole_square
    ) / pixels
    # Statistics that jump from one cell to the next make edges the network
    # paints as strokes; a 3x3-cell average spreads each change over three.
    mean = cell_blur(tf.einsum("bhwa,bac->bhwc", anchors, anchor_mean))
    square = cell_blur(tf.einsum("bhwa,bac->bhwc", anchors, anchor_square))
    variance = tf.maximum(square - mean**2, 0.0)
    scale, shift = scale_shift(
        mean + centre, variance, tf.gather(gamma, cell_ids), tf.gather(beta, cell_ids)
    )
    size = shape[1:3]
    return x * tf.image.resize(scale, size, "bilinear") + tf.image.resize(shift, size, "bilinear")


def given_norm(x, gamma, beta, cell_ids, mean, variance):
    """Instance norm under an alpha map with each region's statistics given.

    `mean` and `variance` are (K, C): what the whole image has at each
    region's alpha, from a uniform pass (`StylizerGraph.statistics`). Each
    cell takes its region's; a 3x3-cell average blends them where regions
    meet, as in `region_norm`, and leaves a region's inside exact.
    """
    # Around the regions' average mean: E[x^2] - E[x]^2 then cancels only
    # the spread between the regions' means, not the means' own size.
    centre = tf.reduce_mean(mean, axis=0)
    offset = mean - centre
    cell_mean = cell_blur(tf.gather(offset, cell_ids))
    cell_square = cell_blur(tf.gather(variance + tf.square(offset), cell_ids))
    scale, shift = scale_shift(
        cell_mean + centre,
        tf.maximum(cell_square - tf.square(cell_mean), 0.0),
        tf.gather(gamma, cell_ids),
        tf.gather(beta, cell_ids),
    )
    size = tf.shape(x)[1:3]
    return x * tf.image.resize(scale, size, "bilinear") + tf.image.resize(shift, size, "bilinear")


def cell_blur(x):
    """3x3 mean over cells, the grid's edges averaging only the cells there."""
    return tf.nn.avg_pool2d(x, 3, 1, "SAME")


def anchor_weights(alphas):
    """(..., L) alphas -> (..., STAT_LEVELS ** L) multilinear weights on a lattice.

    The lattice has `STAT_LEVELS` alphas per layer (0, 1/4, ..., 1); each
    alpha spreads over the 2^L lattice points around it, and the weights
    sum to 1.
    """
    steps = STAT_LEVELS - 1
    weights = None
    for layer in range(alphas.shape[-1]):
        t = tf.clip_by_value(alphas[..., layer], 0.0, 1.0) * steps
        low = tf.minimum(tf.floor(t), steps - 1)
        frac = (t - low)[..., None]
        low = tf.cast(low, tf.int32)
        w = tf.one_hot(low, STAT_LEVELS) * (1.0 - frac) + tf.one_hot(low + 1, STAT_LEVELS) * frac
        if weights is None:
            weights = w
        else:
            outer = weights[..., :, None] * w[..., None, :]
            weights = tf.reshape(outer, tf.concat([tf.shape(w)[:-1], [-1]], 0))
    return weights


def map_regions(alpha_map, batch, height, width):
    """The regions of an alpha map: (region alphas (K, L), regions).

    The map (B or 1, H', W', L), any size, values in [0, 1], is resized to
    the content's `height` x `width`, padded as the content is, and
    averaged over cells of `MAP_CELL` pixels. Cells whose alphas agree to
    1/`MAP_LEVELS` form one region, whose alpha is the mean of its cells:
    a painted map has a handful of regions, a smooth one at most one per
    cell. `regions` is (cell region ids (B, h, w), number of regions, each
    cell's weights on the lattice of alphas its statistics come from).
    """
    num_layers = alpha_map.shape[-1]
    alpha_map = tf.image.resize(tf.cast(alpha_map, tf.float32), (height, width), "bilinear")
    # The cells every layer uses: MAP_CELL pixels of the padded content,
    # laid out as `region_norm` pools them.
    coarse = tf.nn.avg_pool2d(pad_to_multiple(alpha_map), MAP_CELL, MAP_CELL, "SAME")
    coarse = tf.broadcast_to(coarse, tf.concat([[batch], tf.shape(coarse)[1:]], 0))
    rows = tf.reshape(coarse, [-1, num_layers])
    # Regions by quantized alpha, so that rounding noise of the resizing
    # does not split a region; Lambda then sees the region's own mean.
    levels = tf.cast(tf.round(tf.clip_by_value(rows, 0.0, 1.0) * MAP_LEVELS), tf.int32)
    _, ids = tf.raw_ops.UniqueV2(x=levels, axis=[0])
    count = tf.reduce_max(ids) + 1
    region_alpha = tf.math.unsorted_segment_mean(rows, ids, count)
    cell_ids = tf.reshape(ids, tf.shape(coarse)[:3])
    return region_alpha, (cell_ids, count, anchor_weights(coarse))
