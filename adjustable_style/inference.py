"""Fast inference: a trained stylizer's arithmetic, rearranged for speed.

The Keras model in `networks.py` is the definition (and what training
differentiates). For inference, `FastStylizer` reads its weights once and
computes the same function with cheaper operations:

- **Nearest x2 upsampling + 3x3 convolution as one 2x2 sub-pixel
  convolution.** Pairing the upsampled rows (and columns) as (2 i - 1,
  2 i), both members of a pair see the same two low-resolution rows, so
  one 2x2 convolution at low resolution with 4x the output channels,
  followed by `depth_to_space` and a one-pixel crop, gives the same
  numbers with 16 instead of 36 multiply-adds per low-resolution pixel
  (the 3x3 kernel's taps that land on one low-resolution pixel are added
  up beforehand), without ever building the 4x larger upsampled tensor or
  padding it. Reflection padding of the upsampled image by one pixel
  equals symmetric padding of the low-resolution one by one pixel.
- **The 9x9 output convolution (32 -> 3) by rows.** Three output channels
  leave most of a SIMD register idle; as a 1x9 convolution to 9 * 3
  channels followed by nine shifted adds it does the same multiply-adds at
  matrix-multiply speed.
- **Instance norm with one pass for the moments** (E[x] and E[x^2] in the
  same sweep) and the scale and shift folded into one multiply-add, with
  the ReLU after it.
- **Lambda once per alpha.** gamma and beta are (B, C) vectors, never
  per-pixel, and they are cached per alpha row: Lambda is a memory-bound
  read of its 21 MB of weights (about 2 ms), which moving a slider or
  stylizing many images at one alpha pays only once.

Images too large to hold the whole network's activations (4096 px and up)
go through `stylize_streaming`: the network runs one layer at a time over
horizontal strips, with each convolution's halo rows read from the layer
below, and every instance norm uses the statistics of the whole feature map
(accumulated strip by strip). The result is the whole-image result, not an
approximation blended from tiles, so there are no seams, and peak memory is
about two full-resolution feature maps of 32 channels.
"""

import collections

import numpy as np
import tensorflow as tf

from adjustable_style import alpha_maps, layers, networks
from adjustable_style import precision as machine
from adjustable_style.layers import EPSILON

# Images with more pixels than this go through `stylize_streaming` (its
# peak memory is about 300 bytes per pixel against the whole-image graph's
# 1 KB per pixel; below this size the whole-image graph is faster).
STREAMING_PIXELS = 2048 * 2048
# Output rows per strip in the streaming path, at full resolution.
STREAMING_ROWS = 256
# Distinct alpha rows whose gammas and betas are kept.
PARAMETER_CACHE_SIZE = 256
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


def _reflect_pad(x, pad):
    """Reflection padding of height and width (as `ReflectionPadding2D`).

    One gather per axis: cheaper here than the MirrorPad kernel or
    concatenated mirrored slices, and plain ONNX.
    """
    if pad == 0:
        return x
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        index = tf.abs(tf.range(-pad, size + pad))
        x = tf.gather(x, tf.minimum(index, 2 * (size - 1) - index), axis=axis)
    return x


def _edge_pad(x):
    """Symmetric padding by one pixel (the edge pixel repeated) of height and width.

    A gather per axis, as `_reflect_pad`: ONNX has no symmetric padding
    mode.
    """
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        x = tf.gather(x, tf.clip_by_value(tf.range(-1, size + 1), 0, size - 1), axis=axis)
    return x


def _symmetric_pad_width(x, pad):
    """Symmetric (edge-repeating) padding of the width only."""
    return tf.concat([tf.reverse(x[:, :, :pad], [2]), x, tf.reverse(x[:, :, -pad:], [2])], axis=2)


def subpixel_kernel(kernel):
    """(3, 3, Cin, Cout) kernel of "nearest x2, then conv" -> (2, 2, Cin, 4 Cout).

    Pair the upsampled rows as (2 i - 1, 2 i): both rows of a pair see only
    low-resolution rows i - 1 and i (row 2 i - 1 with taps k0 + k1 and k2,
    row 2 i with k0 and k1 + k2), and the same holds for columns. So a 2x2
    convolution of the edge-padded low-resolution map, with the four
    phases as 4 Cout output channels, followed by `depth_to_space` and a
    crop of one pixel on every side (`upsample_conv`), is the whole
    upsampling convolution with 16 instead of 36 multiply-adds per low-
    resolution pixel and channel pair. Channel (2 r + c) * Cout + k is the
    pair's row r and column c.
    """
    kernel = np.asarray(kernel, np.float64)
    # taps[r][a, u]: how 3x3 tap u lands on low-res offset a of phase r.
    taps = np.array([[[1, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 1]]], np.float64)
    phases = [
        np.einsum("au,bv,uvio->abio", taps[r], taps[c], kernel) for r in (0, 1) for c in (0, 1)
    ]
    return np.concatenate(phases, axis=-1).astype(np.float32)


def upsample_conv(padded, kernel, matrix=None):
    """Nearest x2 upsampling and a 3x3 convolution, from the edge-padded map.

    `padded` is the low-resolution map with one edge pixel repeated on
    every side ((H + 2, W + 2)), `kernel` a `subpixel_kernel`; the result
    is (2 H, 2 W), what reflection padding and convolving the upsampled
    map gives. With `matrix` (`matmul_kernel(kernel)`), by `matmul_conv`.
    """
    if matrix is None:
        z = tf.nn.conv2d(padded, kernel, 1, "VALID")
    else:
        z = matmul_conv(padded, matrix, 2, 2)
    z = tf.nn.depth_to_space(z, 2)
    return z[:, 1:-1, 1:-1]


def row_split_kernel(kernel):
    """(KH, KW, Cin, Cout) -> (1, KW, Cin, KH * Cout): one 1xKW kernel per row."""
    kh, kw, cin, cout = kernel.shape
    return np.ascontiguousarray(np.transpose(kernel, (1, 2, 0, 3)).reshape(1, kw, cin, kh * cout))


def matmul_kernel(kernel):
    """(KH, KW, Cin, Cout) -> the (KW * Cin, KH * Cout) matrix of `matmul_conv`."""
    kh, kw, cin, cout = kernel.shape
    return row_split_kernel(kernel).reshape(kw * cin, kh * cout)


def matmul_conv(padded, matrix, kernel_rows, kernel_cols):
    """A stride-1 VALID convolution as one matrix product, row-split.

    The KW column-shifted copies of the input side by side make each row's
    1xKW convolution one product with `matrix` (a `matmul_kernel`), to all
    KH rows' output channels at once; the KH row-shifted slices then add
    up. Where oneDNN has no direct NHWC convolution for the CPU (AVX2
    without AVX-512, see `precision.convolution_kernels`) it falls back to
    an im2col GEMM, and this runs at nearly twice its speed.
    """
    shape = tf.shape(padded)
    width = shape[2] - kernel_cols + 1
    cols = tf.concat([padded[:, :, j : j + width] for j in range(kernel_cols)], axis=-1)
    z = tf.matmul(tf.reshape(cols, [-1, matrix.shape[0]]), matrix)
    z = tf.reshape(z, [shape[0], shape[1], width, matrix.shape[1]])
    cout = matrix.shape[1] // kernel_rows
    return _sum_row_shifts(z, kernel_rows, cout, shape[1] - kernel_rows + 1)


def _sum_row_shifts(z, kernel_rows, cout, height):
    """Adds the K row-shifted slices of a row-split convolution's output."""
    out = z[:, 0:height, :, 0:cout]
    for ky in range(1, kernel_rows):
        out = out + z[:, ky : ky + height, :, ky * cout : (ky + 1) * cout]
    return out


def _moments(x):
    """Per-sample, per-channel mean and variance in one pass over x.

    The inference path's own formula, not `layers.instance_moments` (the
    definition, two passes): one pass is what makes it faster.

    Sums run along rows first, then over the row sums: a float32 sum over
    all H * W pixels at once drifts by about 1e-3 at 2048 px, which the
    variance's E[x^2] - E[x]^2 then magnifies.
    """
    count = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
    row_sums = tf.reduce_sum(x, axis=2, keepdims=True)
    row_squares = tf.reduce_sum(tf.square(x), axis=2, keepdims=True)
    mean = tf.reduce_sum(row_sums, axis=1, keepdims=True) / count
    mean_square = tf.reduce_sum(row_squares, axis=1, keepdims=True) / count
    return mean, tf.maximum(mean_square - tf.square(mean), 0.0)


def _single_image_norm(x, gamma, beta, relu):
    """[ReLU of] instance norm of one image (1, H, W, C), gamma and beta (1, C).

    For a batch of one, instance norm is batch norm with the image's own
    moments, so TensorFlow's fused batch-norm kernel applies scale, shift
    and the ReLU in one sweep over x (where the general form takes three).
    The moments stay `_moments`': the fused kernel's own, in training mode,
    drift by 4e-3 at 2048 px.
    """
    mean, variance = _moments(x)
    x = tf.compat.v1.nn.fused_batch_norm(
        x, gamma[0], beta[0], mean[0, 0, 0], variance[0, 0, 0], EPSILON, is_training=False
    )[0]
    # Grappler fuses this ReLU into the batch norm.
    return tf.nn.relu(x) if relu else x


def _cell_counts(size, cells, cell):
    """Pixels of each of `cells` cells of `cell` pixels along an axis of `size`.

    The cells are laid out as a SAME-padded pooling lays them: the
    `cells * cell - size` missing pixels are split between both ends.
    """
    start = tf.range(cells) * cell - (cells * cell - size) // 2
    return tf.cast(tf.minimum(start + cell, size) - tf.maximum(start, 0), tf.float32)


def _region_norm(x, gamma, beta, cell_ids, anchors, cell):
    """Instance norm under an alpha map: statistics, gamma and beta by alpha.

    x is (B, h, w, C); gamma and beta are (K, C), one row per alpha region;
    `cell_ids` (B, gh, gw) gives each cell of the coarse grid its region
    and `anchors` (B, gh, gw, A) its weights on a lattice of alphas (see
    `_anchor_weights`); a cell is `cell` x `cell` pixels of x.

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
        _cell_counts(shape[1], grid[0], cell)[:, None]
        * _cell_counts(shape[2], grid[1], cell)[None, :]
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
    mean = _cell_blur(tf.einsum("bhwa,bac->bhwc", anchors, anchor_mean))
    square = _cell_blur(tf.einsum("bhwa,bac->bhwc", anchors, anchor_square))
    variance = tf.maximum(square - mean**2, 0.0)
    scale, shift = _scale_shift(
        mean + centre, variance, tf.gather(gamma, cell_ids), tf.gather(beta, cell_ids)
    )
    size = shape[1:3]
    return x * tf.image.resize(scale, size, "bilinear") + tf.image.resize(shift, size, "bilinear")


def _given_norm(x, gamma, beta, cell_ids, mean, variance):
    """Instance norm under an alpha map with each region's statistics given.

    `mean` and `variance` are (K, C): what the whole image has at each
    region's alpha, from a uniform pass (`StylizerGraph.statistics`). Each
    cell takes its region's; a 3x3-cell average blends them where regions
    meet, as in `_region_norm`, and leaves a region's inside exact.
    """
    # Around the regions' average mean: E[x^2] - E[x]^2 then cancels only
    # the spread between the regions' means, not the means' own size.
    centre = tf.reduce_mean(mean, axis=0)
    offset = mean - centre
    cell_mean = _cell_blur(tf.gather(offset, cell_ids))
    cell_square = _cell_blur(tf.gather(variance + tf.square(offset), cell_ids))
    scale, shift = _scale_shift(
        cell_mean + centre,
        tf.maximum(cell_square - tf.square(cell_mean), 0.0),
        tf.gather(gamma, cell_ids),
        tf.gather(beta, cell_ids),
    )
    size = tf.shape(x)[1:3]
    return x * tf.image.resize(scale, size, "bilinear") + tf.image.resize(shift, size, "bilinear")


def _cell_blur(x):
    """3x3 mean over cells, the grid's edges averaging only the cells there."""
    return tf.nn.avg_pool2d(x, 3, 1, "SAME")


def _anchor_weights(alphas):
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


def _scale_shift(mean, variance, gamma, beta):
    scale = gamma * tf.math.rsqrt(variance + EPSILON)
    return scale, beta - mean * scale


class StylizerGraph(tf.Module):
    """The fast arithmetic as TensorFlow ops, for in-process use and for exports.

    `stylize(content, alpha)` is a graph-only function of tensors (no numpy,
    no Python state), so a `tf.function` of it can be saved in a SavedModel,
    frozen for TFLite or converted to ONNX, and computes what
    `FastStylizer` computes. The convolution kernels are constants (already
    rearranged: sub-pixel and row-split); Lambda keeps the Keras layer's
    variables. Lambda runs once per alpha row of a call (an alpha batch of
    one broadcasts over the images), never per pixel.

    `compute_dtype="bfloat16"` runs the convolutions (nearly all of the
    arithmetic) in bfloat16 and keeps the normalizations, the residual sums
    and the output in float32; it pays only where the CPU computes bfloat16
    natively (see `inference_precision`).

    `fused_norms=True` normalizes a batch of one image (and one set of
    parameters) with TensorFlow's fused batch-norm kernel
    (`_single_image_norm`), chosen at run time by `tf.cond`; the general
    ops serve larger batches. For a SavedModel and in-process use; the
    TFLite and ONNX converters take `fused_norms=False`, one plain graph.

    `convolutions="matmul"` computes the residual and upsampling
    convolutions as matrix products (`matmul_conv`), which pays on x86 CPUs
    without AVX-512; "direct" is `tf.nn.conv2d`; the default (None) is what
    pays on this CPU (`precision.convolution_kernels`). The numbers agree
    to float32 rounding.
    """

    def __init__(self, stylizer, compute_dtype="float32", fused_norms=True, convolutions=None):
        super().__init__(name="stylizer_graph")
        convolutions = convolutions or machine.convolution_kernels()
        if convolutions not in machine.CONVOLUTION_KERNELS:
            raise ValueError(
                f"convolutions must be one of {', '.join(machine.CONVOLUTION_KERNELS)}, "
                f"got {convolutions!r}"
            )
        self.compute_dtype = tf.dtypes.as_dtype(compute_dtype)
        self.fused_norms = fused_norms
        self.convolutions = convolutions
        self.adjustable = networks.is_adjustable(stylizer)
        self.style_layers = networks.style_layer_names(stylizer) if self.adjustable else []
        kernel = lambda layer: np.asarray(stylizer.get_layer(layer.conv).kernel, np.float32)
        constant = lambda value: tf.constant(value, self.compute_dtype)
        self.down = [constant(kernel(layer)) for layer in networks.DOWNSAMPLING]
        self.residual = [
            (constant(kernel(first)), constant(kernel(second)))
            for first, second in networks.RESIDUAL_BLOCKS
        ]
        self.up = [constant(subpixel_kernel(kernel(layer))) for layer in networks.UPSAMPLING]
        # The residual and upsampling convolutions (nearly all of the
        # arithmetic) as matrices, for `matmul_conv`.
        if convolutions == "matmul":
            self.residual_matrices = [
                tuple(constant(matmul_kernel(kernel(layer))) for layer in block)
                for block in networks.RESIDUAL_BLOCKS
            ]
            self.up_matrices = [
                constant(matmul_kernel(subpixel_kernel(kernel(layer))))
                for layer in networks.UPSAMPLING
            ]
        else:
            self.residual_matrices = [(None, None)] * len(self.residual)
            self.up_matrices = [None] * len(self.up)
        output = kernel(networks.OUTPUT)
        self.output_kernel_size = output.shape[0]
        self.output_channels = output.shape[-1]
        self.output = constant(row_split_kernel(output))
        if self.adjustable:
            self.alpha_network = stylizer.get_layer("alpha_network")
        else:
            norms = [stylizer.get_layer(name) for name in networks.NORM_LAYERS]
            self.base_parameters = tf.constant(
                np.concatenate(
                    [np.asarray(n.gamma, np.float32) for n in norms]
                    + [np.asarray(n.beta, np.float32) for n in norms]
                )[None]
            )

    def parameters(self, alpha=None):
        """(B, 2 * 2115) gammas then betas: Lambda(alpha), or the base model's (1, ...)."""
        if not self.adjustable:
            return self.base_parameters
        return tf.cast(self.alpha_network(alpha), tf.float32)

    def stylize(self, content, alpha=None):
        """(B, H, W, 3) float32 in [0, 1] -> stylized, for alpha (B or 1, L)."""
        return self.forward(content, self.parameters(alpha))

    @staticmethod
    def split_parameters(params):
        """Lists of gammas and betas, (B, C) or (B, h, w, C) each, one per norm layer."""
        total = sum(networks.NORMALIZED_CHANNELS)
        gammas = tf.split(params[..., :total], networks.NORMALIZED_CHANNELS, axis=-1)
        betas = tf.split(params[..., total:], networks.NORMALIZED_CHANNELS, axis=-1)
        return gammas, betas

    def map_regions(self, alpha_map, batch, height, width):
        """Lambda over an alpha map: (params (K, 4230), regions) for `forward`.

        The map (B or 1, H', W', L), any size, values in [0, 1], is resized
        to the content's `height` x `width`, padded as the content is, and
        averaged over cells of `MAP_CELL` pixels. Cells whose alphas
        agree to 1/`MAP_LEVELS` form one region, and Lambda runs once per
        region (on the region's mean alpha), never per pixel: a painted map
        has a handful of regions, a smooth one at most one per cell.
        `regions` is (cell region ids (B, h, w), number of regions, each
        cell's weights on the lattice of alphas its statistics come from).
        """
        alpha_map = tf.image.resize(tf.cast(alpha_map, tf.float32), (height, width), "bilinear")
        # The cells every layer uses: MAP_CELL pixels of the padded content,
        # laid out as `_region_norm` pools them.
        coarse = tf.nn.avg_pool2d(_pad_to_multiple(alpha_map), MAP_CELL, MAP_CELL, "SAME")
        coarse = tf.broadcast_to(coarse, tf.concat([[batch], tf.shape(coarse)[1:]], 0))
        rows = tf.reshape(coarse, [-1, len(self.style_layers)])
        # Regions by quantized alpha, so that rounding noise of the resizing
        # does not split a region; Lambda then sees the region's own mean.
        levels = tf.cast(tf.round(tf.clip_by_value(rows, 0.0, 1.0) * MAP_LEVELS), tf.int32)
        _, ids = tf.raw_ops.UniqueV2(x=levels, axis=[0])
        count = tf.reduce_max(ids) + 1
        region_alpha = tf.math.unsorted_segment_mean(rows, ids, count)
        cell_ids = tf.reshape(ids, tf.shape(coarse)[:3])
        return self.parameters(region_alpha), (cell_ids, count, _anchor_weights(coarse))

    def stylize_map(self, content, alpha_map):
        """(B, H, W, 3) content, (B or 1, H', W', L) alpha map -> stylized (B, H, W, 3)."""
        if not self.adjustable:
            raise ValueError("a base model has no alpha, so no alpha map")
        shape = tf.shape(content)
        params, regions = self.map_regions(alpha_map, shape[0], shape[1], shape[2])
        return self.forward(content, params, regions)

    def statistics(self, content, params):
        """Each norm layer's instance-norm (mean, variance), (B, C) each, at `params`.

        A whole uniform pass: what `forward` with an alpha map takes as
        `statistics` (one row per region, stacked) for exact regions.
        """
        record = []
        self.forward(content, params, record=record)
        return tuple((mean[:, 0, 0], variance[:, 0, 0]) for mean, variance in record)

    def forward(self, content, params, regions=None, statistics=None, record=None):
        """The whole-image network for gammas and betas `params`.

        `params` is (B or 1, 4230): one set per image. With an alpha map,
        `params` is (K, 4230), one set per region, and `regions` is what
        `map_regions` returns (each pixel's region, on a coarse grid): see
        `_region_norm`. With `statistics` too (per norm layer, (K, C) means
        and variances: `statistics` at each region's alpha), each region is
        normalized as the whole image is at its alpha (`_given_norm`).
        Without a map, `record` (a list) receives each norm's moments.
        """
        if regions is not None or record is not None or not self.fused_norms:
            return self._network(content, params, regions, statistics, record)
        single = tf.logical_and(tf.shape(content)[0] == 1, tf.shape(params)[0] == 1)
        return tf.cond(
            single,
            lambda: self._network(content, params, single_image=True),
            lambda: self._network(content, params),
        )

    def _network(
        self, content, params, regions=None, statistics=None, record=None, single_image=False
    ):
        gammas, betas = self.split_parameters(params)
        params = iter(zip(gammas, betas))
        # Each norm layer's resolution, as a fraction of the content's: its
        # map cells are MAP_CELL // reduction pixels.
        reductions = iter(networks.NORM_REDUCTIONS)
        given = iter(statistics or ())

        def norm(x, relu=True):
            gamma, beta = next(params)
            reduction = next(reductions)
            if regions is not None and statistics is not None:
                x = _given_norm(x, gamma, beta, regions[0], *next(given))
            elif regions is not None:
                cell_ids, _, anchors = regions
                x = _region_norm(x, gamma, beta, cell_ids, anchors, MAP_CELL // reduction)
            elif single_image:
                x = _single_image_norm(x, gamma, beta, relu)
                relu = False
            else:
                mean, variance = _moments(x)
                if record is not None:
                    record.append((mean, variance))
                scale, shift = _scale_shift(
                    mean, variance, gamma[:, None, None], beta[:, None, None]
                )
                x = x * scale + shift
            return tf.nn.relu(x) if relu else x

        def low(x):
            # Padding moves half the bytes after the cast to bfloat16; casts
            # to the dtype a tensor already has add no op.
            return tf.cast(x, self.compute_dtype)

        def conv(x, kernel, stride=1, matrix=None):
            padded = _reflect_pad(low(x), kernel.shape[0] // 2)
            if matrix is None:
                z = tf.nn.conv2d(padded, kernel, stride, "VALID")
            else:
                z = matmul_conv(padded, matrix, kernel.shape[0], kernel.shape[1])
            return tf.cast(z, tf.float32)

        height, width = tf.shape(content)[1], tf.shape(content)[2]
        x = _pad_to_multiple(content)
        for kernel, layer in zip(self.down, networks.DOWNSAMPLING):
            x = norm(conv(x, kernel, layer.stride))
        for (conv1, conv2), (matrix1, matrix2) in zip(self.residual, self.residual_matrices):
            y = norm(conv(x, conv1, matrix=matrix1))
            y = norm(conv(y, conv2, matrix=matrix2), relu=False)
            x = x + y
        for kernel, matrix in zip(self.up, self.up_matrices):
            x = norm(tf.cast(upsample_conv(_edge_pad(low(x)), kernel, matrix), tf.float32))
        x = self._output_conv(_reflect_pad(low(x), self.output_kernel_size // 2))
        x = tf.sigmoid(norm(x, relu=False))
        return x[:, :height, :width, :]

    def _output_conv(self, padded):
        """The KxK output convolution of a padded input, as rows (VALID)."""
        k = self.output_kernel_size
        z = tf.nn.conv2d(tf.cast(padded, self.compute_dtype), self.output, 1, "VALID")
        z = tf.cast(z, tf.float32)
        return _sum_row_shifts(z, k, self.output_channels, tf.shape(padded)[1] - k + 1)


class FastStylizer:
    """A trained stylizer (adjustable or base) compiled for inference.

    `FastStylizer(keras_stylizer)(content, alpha)` returns what
    `keras_stylizer([content, alpha])` does (base: `(content)`), within
    float32 rounding. content is (B, H, W, 3) float32 in [0, 1], any size.
    Around `StylizerGraph` it adds the per-alpha cache of Lambda's output
    and the streaming path for very large images. `precision="bfloat16"`
    computes the whole-image path's convolutions in bfloat16 (the
    streaming path stays float32). `convolutions` is `StylizerGraph`'s
    (default: what pays on this CPU).
    """

    def __init__(self, stylizer, precision="float32", convolutions=None):
        self.precision = precision
        self.graph = graph = StylizerGraph(stylizer, precision, convolutions=convolutions)
        self.convolutions = graph.convolutions
        self.adjustable = graph.adjustable
        self.style_layers = graph.style_layers
        # The streaming path computes in float32 whatever the precision.
        exact = (
            graph
            if graph.compute_dtype == tf.float32
            else StylizerGraph(stylizer, convolutions="direct")
        )
        self._down, self._residual, self._up = exact.down, exact.residual, exact.up
        self._output = exact.output
        self._output_kernel_size = graph.output_kernel_size
        self._output_channels = graph.output_channels
        if self.adjustable:
            self._alpha_network = tf.function(
                graph.parameters,
                input_signature=[tf.TensorSpec([None, len(self.style_layers)], tf.float32)],
            )
            self._cache = collections.OrderedDict()
        else:
            self._base_params = graph.base_parameters.numpy()
        content = tf.TensorSpec([None, None, None, 3], tf.float32)
        params = tf.TensorSpec([None, 2 * sum(networks.NORMALIZED_CHANNELS)], tf.float32)
        self._whole = tf.function(graph.forward, input_signature=[content, params])
        if self.adjustable:
            alpha_map = tf.TensorSpec([None, None, None, len(self.style_layers)], tf.float32)
            self._with_map = tf.function(graph.stylize_map, input_signature=[content, alpha_map])
            self._map_regions = tf.function(
                lambda content, alpha_map: graph.map_regions(
                    alpha_map, *tf.unstack(tf.shape(content)[:3])
                ),
                input_signature=[content, alpha_map],
            )
            self._statistics = tf.function(graph.statistics, input_signature=[content, params])
            stats = tuple(
                (tf.TensorSpec([None, c], tf.float32),) * 2 for c in networks.NORMALIZED_CHANNELS
            )
            regions = (
                tf.TensorSpec([None, None, None], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([None, None, None, None], tf.float32),
            )
            self._with_statistics = tf.function(
                lambda content, params, regions, stats: graph.forward(
                    content, params, regions, statistics=stats
                ),
                input_signature=[content, params, regions, stats],
            )

    # -- Normalization parameters -------------------------------------------

    def norm_parameters(self, alpha):
        """(B, 2 * 2115) gammas then betas for alpha (B, L); cached per row."""
        if not self.adjustable:
            return self._base_params
        alpha = np.asarray(alpha, np.float32)
        keys = [row.tobytes() for row in alpha]
        # One row per distinct alpha: a batch of video frames at one alpha
        # runs Lambda once.
        missing = list({key: i for i, key in enumerate(keys) if key not in self._cache}.values())
        if missing:
            fresh = self._alpha_network(alpha[missing]).numpy()
            for i, row in zip(missing, fresh):
                self._cache[keys[i]] = row
                while len(self._cache) > PARAMETER_CACHE_SIZE:
                    self._cache.popitem(last=False)
        for key in keys:
            self._cache.move_to_end(key)
        return np.stack([self._cache[key] for key in keys])

    _split_parameters = staticmethod(StylizerGraph.split_parameters)

    # -- Public interface ----------------------------------------------------

    def _alpha_array(self, alpha, batch):
        if not self.adjustable:
            return np.zeros((1, 1), np.float32)
        alpha = np.asarray(alpha, np.float32).reshape(-1, len(self.style_layers))
        if len(alpha) != batch:
            raise ValueError(f"{batch} images but {len(alpha)} alphas")
        return alpha

    def __call__(self, content, alpha=None):
        """Stylized (B, H, W, 3) float32 for content (B, H, W, 3) in [0, 1].

        Large images (over `STREAMING_PIXELS`) take the streaming path one
        at a time; the result is the same.
        """
        content = np.asarray(content, np.float32)
        alpha = self._alpha_array(alpha, len(content))
        if content.shape[1] * content.shape[2] <= STREAMING_PIXELS:
            return self._whole(content, self.norm_parameters(alpha)).numpy()
        return np.stack(
            [self.stylize_streaming(image, a[None]) for image, a in zip(content, alpha)]
        )

    def stylize_map(self, content, alpha_map, exact=False):
        """Stylized (B, H, W, 3) with one alpha per pixel.

        `alpha_map` is (B or 1, H', W', L) float32 in [0, 1], any size: it is
        resized to the content (see `StylizerGraph.map_regions`). A
        constant map gives the uniform-alpha result.

        `exact=True` gives each region of the map the instance-norm
        statistics that the whole image has at the region's alpha, from one
        uniform pass per distinct alpha of the map's cells (at most
        `MAP_EXACT_MAX_ALPHAS`; more raise `alpha_maps.AlphaMapError`): inside a region the
        output is then the uniform-alpha output. The default gathers
        statistics from the map's own regions in the one pass.
        """
        if not self.adjustable:
            raise ValueError("a base model has no alpha, so no alpha map")
        content = np.asarray(content, np.float32)
        alpha_map = np.asarray(alpha_map, np.float32)
        if alpha_map.ndim != 4 or alpha_map.shape[-1] != len(self.style_layers):
            raise ValueError(
                f"an alpha map is (B, H, W, {len(self.style_layers)}), got {alpha_map.shape}"
            )
        if len(alpha_map) not in (1, len(content)):
            raise ValueError(f"{len(content)} images but {len(alpha_map)} alpha maps")
        if content.shape[1] * content.shape[2] > STREAMING_PIXELS:
            raise ValueError(
                f"alpha maps work on images of up to {STREAMING_PIXELS} pixels "
                f"(2048 x 2048); this one is {content.shape[2]} x {content.shape[1]}"
            )
        if not exact:
            return self._with_map(content, alpha_map).numpy()
        maps = np.broadcast_to(alpha_map, (len(content),) + alpha_map.shape[1:])
        return np.concatenate(
            [self._exact_map(image[None], m[None]) for image, m in zip(content, maps)]
        )

    def _exact_map(self, content, alpha_map):
        params, regions = self._map_regions(content, alpha_map)
        count = int(regions[1])
        if count > MAP_EXACT_MAX_ALPHAS:
            raise alpha_maps.AlphaMapError(
                f"exact alpha-map statistics take one pass per distinct alpha; this map "
                f"has {count} over its {MAP_CELL} px cells (soft edges or gradients), "
                f"and at most {MAP_EXACT_MAX_ALPHAS} are allowed: use a map of a few flat "
                "regions, or the default statistics"
            )
        # One pass per region, not a batch of all: memory stays one image's.
        per_region = [self._statistics(content, params[k : k + 1]) for k in range(count)]
        stats = tuple(
            tuple(tf.concat([region[layer][part] for region in per_region], 0) for part in (0, 1))
            for layer in range(len(networks.NORMALIZED_CHANNELS))
        )
        return self._with_statistics(content, params, regions, stats).numpy()

    # -- Streaming, one layer at a time over strips ---------------------------

    def stylize_streaming(self, image, alpha=None, rows=STREAMING_ROWS):
        """One image (H, W, 3) -> (H, W, 3), computed layer by layer in strips.

        Every feature map lives in host memory; each convolution reads the
        rows its output strip needs (the halo, reflected at the image's
        edges) and writes its strip, and each instance norm is applied with
        the statistics of the whole map. Equal to `__call__` up to float32
        rounding, for any `rows`.
        """
        image = np.asarray(image, np.float32)
        alpha = self._alpha_array(alpha, 1)
        gammas, betas = self._split_parameters(self.norm_parameters(alpha)[:1])
        params = iter(
            [
                (np.asarray(g, np.float64)[0], np.asarray(b, np.float64)[0])
                for g, b in zip(gammas, betas)
            ]
        )
        height, width = image.shape[:2]
        x = _pad_to_multiple(image[None])[0].numpy()

        def conv_norm(
            x,
            kernel,
            size,
            stride,
            relu=True,
            residual=None,
            mode="reflect",
            subpixel=False,
            strip=None,
        ):
            raw, sums = _strip_conv(
                x, kernel, size, stride, mode=mode, subpixel=subpixel, strip=strip or rows
            )
            _normalize_in_place(raw, sums, *next(params), relu=relu, residual=residual)
            return raw

        for i, (kernel, layer) in enumerate(zip(self._down, networks.DOWNSAMPLING)):
            x = conv_norm(x, kernel, layer.kernel_size, layer.stride, strip=max(1, rows >> i))
        quarter = max(1, rows // 4)
        for conv1, conv2 in self._residual:
            y = conv_norm(x, conv1, 3, 1, strip=quarter)
            x = conv_norm(y, conv2, 3, 1, relu=False, residual=x, strip=quarter)
            del y
        for i, kernel in enumerate(self._up):
            x = conv_norm(
                x, kernel, 3, 1, mode="symmetric", subpixel=True, strip=max(1, rows >> (2 - i))
            )
        raw, sums = _strip_conv(
            x,
            self._output,
            self._output_kernel_size,
            1,
            strip=rows,
            output=(self._output_kernel_size, self._output_channels),
        )
        del x
        _normalize_in_place(raw, sums, *next(params), relu=False)
        return tf.sigmoid(raw[:height, :width]).numpy()


def _pad_to_multiple(x):
    """`layers.PadToMultiple` (symmetric, bottom and right), as one gather per axis.

    Symmetric extension is periodic with period 2 n (n, n-1, ..., 1, then
    1, ..., n again), so the padded rows are the row indices taken modulo
    2 n and folded back. The same numbers as the layer's rounds of
    concatenation, in a form tf2onnx converts correctly with dynamic shapes
    (it turns integer floor division of negative numbers, the layer's
    rounding up, into truncation: only non-negative operands here).
    """
    multiple, min_size = networks.SIZE_MULTIPLE, layers.PadToMultiple().min_size
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        target = tf.maximum((size + multiple - 1) // multiple * multiple, min_size)
        index = tf.math.floormod(tf.range(target), 2 * size)
        x = tf.gather(x, tf.where(index < size, index, 2 * size - 1 - index), axis=axis)
    return x


def _reflect_index(index, size, mode):
    """Maps row indices outside [0, size) back inside, as padding does."""
    if mode == "reflect":
        period = 2 * (size - 1)
        index = np.abs(index) % period if period else np.zeros_like(index)
        return np.where(index >= size, period - index, index)
    index = np.where(index < 0, -index - 1, index)
    return np.where(index >= size, 2 * size - 1 - index, index)


@tf.function(reduce_retracing=True)
def _conv_strip(
    strip, kernel, stride, pad, mode_reflect, subpixel, row_split_rows, row_split_channels
):
    """Convolves one row strip (rows already padded; pads the width here)."""
    if mode_reflect:
        x = _reflect_pad_width(strip, pad)
    else:
        x = _symmetric_pad_width(strip, pad)
    if subpixel:
        z = upsample_conv(x, kernel)
    else:
        z = tf.nn.conv2d(x, kernel, stride, "VALID")
    if row_split_rows:
        z = _sum_row_shifts(
            z, row_split_rows, row_split_channels, tf.shape(z)[1] - row_split_rows + 1
        )
    # Row sums in float32, their total in float64: exact enough for maps of
    # any size without a float64 copy of the strip.
    total = tf.reduce_sum(tf.cast(tf.reduce_sum(z, axis=2), tf.float64), axis=[0, 1])
    total_square = tf.reduce_sum(
        tf.cast(tf.reduce_sum(tf.square(z), axis=2), tf.float64), axis=[0, 1]
    )
    return z[0], total, total_square


def _reflect_pad_width(x, pad):
    if pad == 0:
        return x
    return tf.concat(
        [tf.reverse(x[:, :, 1 : pad + 1], [2]), x, tf.reverse(x[:, :, -pad - 1 : -1], [2])], axis=2
    )


def _strip_conv(
    x, kernel, size, stride, mode="reflect", subpixel=False, strip=STREAMING_ROWS, output=None
):
    """A padded convolution of the (H, W, C) map x, computed strip by strip.

    Returns the output map and its per-channel (sum, sum of squares, count).
    `subpixel`: `kernel` is a `subpixel_kernel` (the map is upsampled x2 on
    the way). `output=(K, Cout)`: `kernel` is a `row_split_kernel`.
    """
    height, width, _ = x.shape
    pad = size // 2
    out_scale = 2 if subpixel else 1
    out_height = (height + 2 * pad - size) // stride + 1
    out_width = (width + 2 * pad - size) // stride + 1
    channels = output[1] if output else (kernel.shape[-1] // 4 if subpixel else kernel.shape[-1])
    result = np.empty((out_height * out_scale, out_width * out_scale, channels), np.float32)
    sums = np.zeros(channels, np.float64)
    squares = np.zeros(channels, np.float64)
    split_rows = output[0] if output else 0
    for start in range(0, out_height, strip):
        stop = min(start + strip, out_height)
        # Padded-input rows [start * stride, (stop - 1) * stride + size).
        rows = np.arange(start * stride, (stop - 1) * stride + size) - pad
        rows = _reflect_index(rows, height, mode)
        piece = x[rows][None]
        z, total, total_square = _conv_strip(
            tf.constant(piece),
            kernel,
            stride,
            pad,
            mode == "reflect",
            subpixel,
            split_rows,
            channels,
        )
        if split_rows:
            z = z[: stop - start]
        result[start * out_scale : stop * out_scale] = z.numpy()[: (stop - start) * out_scale]
        sums += total.numpy()
        squares += total_square.numpy()
    count = result.shape[0] * result.shape[1]
    return result, (sums, squares, count)


def _normalize_in_place(x, sums, gamma, beta, relu=True, residual=None, block_rows=256):
    """x = [relu](gamma (x - mean) / std + beta) [+ residual], in place."""
    total, total_square, count = sums
    mean = total / count
    variance = np.maximum(total_square / count - mean * mean, 0.0)
    scale = gamma / np.sqrt(variance + EPSILON)
    shift = (beta - mean * scale).astype(np.float32)
    scale = scale.astype(np.float32)
    for start in range(0, x.shape[0], block_rows):
        block = x[start : start + block_rows]
        block *= scale
        block += shift
        if relu:
            np.maximum(block, 0.0, out=block)
        if residual is not None:
            block += residual[start : start + block_rows]
