"""`StylizerGraph`: a trained stylizer's arithmetic as TensorFlow ops, for speed.

The Keras model in `networks.py` is the definition (and what training
differentiates). For inference, `StylizerGraph` reads its weights once and
computes the same function with cheaper operations (`inference.kernels`:
sub-pixel upsampling convolutions, the output convolution by rows,
optionally matrix-product convolutions; `inference.norms`: one-pass
moments, the norm folded into one multiply-add with the ReLU after it).

Its `network(content, params, norm)` walks T's layers as
`networks.run_stylizing_network` states them, with the normalization
passed in: the whole-image norm, the fused one-image norm, the alpha-map
norms of `inference.map_statistics` and the temporal smoother's averaged
norm (`stylize.temporal`) are each just a `norm`.
"""

import numpy as np
import tensorflow as tf

from adjustable_style import hardware
from adjustable_style.inference import kernels, map_statistics, norms
from adjustable_style.model import networks


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
    pays on this CPU (`hardware.convolution_kernels`). The numbers agree
    to float32 rounding.
    """

    def __init__(self, stylizer, compute_dtype="float32", fused_norms=True, convolutions=None):
        super().__init__(name="stylizer_graph")
        convolutions = convolutions or hardware.convolution_kernels()
        if convolutions not in hardware.CONVOLUTION_KERNELS:
            raise ValueError(
                f"convolutions must be one of {', '.join(hardware.CONVOLUTION_KERNELS)}, "
                f"got {convolutions!r}"
            )
        self.compute_dtype = tf.dtypes.as_dtype(compute_dtype)
        self.fused_norms = fused_norms
        self.convolutions = convolutions
        self.adjustable = networks.is_adjustable(stylizer)
        # T's shape from the model's own layers: a lite model runs here as
        # the paper's does.
        self.architecture = architecture = networks.architecture_of(stylizer)
        self.style_layers = networks.style_layer_names(stylizer) if self.adjustable else []
        constant = lambda value: tf.constant(value, self.compute_dtype)
        # Each convolution's kernel, by its Keras layer name, already in the
        # form `_convolve` uses: sub-pixel for the upsampling ones, by rows
        # for the output one.
        self.kernels, self.matrices = {}, {}
        for layer in architecture.conv_layers:
            kernel = np.asarray(stylizer.get_layer(layer.conv).kernel, np.float32)
            if layer.upsample > 1:
                kernel = kernels.subpixel_kernel(kernel)
            if layer == architecture.output:
                self.output_kernel_size, self.output_channels = kernel.shape[0], kernel.shape[-1]
                self.kernels[layer.conv] = constant(kernels.row_split_kernel(kernel))
                continue
            self.kernels[layer.conv] = constant(kernel)
            # The residual and upsampling convolutions (nearly all of the
            # arithmetic) as matrices, for `matmul_conv`.
            if convolutions == "matmul" and layer not in architecture.downsampling:
                self.matrices[layer.conv] = constant(kernels.matmul_kernel(kernel))
        if self.adjustable:
            self.alpha_network = stylizer.get_layer("alpha_network")
        else:
            layers = [stylizer.get_layer(name) for name in architecture.norm_layers]
            self.base_parameters = tf.constant(
                np.concatenate(
                    [np.asarray(n.gamma, np.float32) for n in layers]
                    + [np.asarray(n.beta, np.float32) for n in layers]
                )[None]
            )

    def parameters(self, alpha=None):
        """(B, 2 * channels) gammas then betas: Lambda(alpha), or the base model's (1, ...)."""
        if not self.adjustable:
            return self.base_parameters
        return tf.cast(self.alpha_network(alpha), tf.float32)

    def stylize(self, content, alpha=None):
        """(B, H, W, 3) float32 in [0, 1] -> stylized, for alpha (B or 1, L)."""
        return self.forward(content, self.parameters(alpha))

    def split_parameters(self, params):
        """Lists of gammas and betas, (B, C) or (B, h, w, C) each, one per norm layer."""
        channels = self.architecture.normalized_channels
        total = sum(channels)
        gammas = tf.split(params[..., :total], channels, axis=-1)
        betas = tf.split(params[..., total:], channels, axis=-1)
        return gammas, betas

    def map_regions(self, alpha_map, batch, height, width):
        """Lambda over an alpha map: (params (K, 4230), regions) for `forward`.

        Lambda runs once per region of the map (`map_statistics.map_regions`),
        on the region's mean alpha.
        """
        region_alpha, regions = map_statistics.map_regions(alpha_map, batch, height, width)
        return self.parameters(region_alpha), regions

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
        `map_statistics.region_norm`. With `statistics` too (per norm layer,
        (K, C) means and variances: `statistics` at each region's alpha),
        each region is normalized as the whole image is at its alpha
        (`map_statistics.given_norm`). Without a map, `record` (a list)
        receives each norm's moments.
        """
        if regions is not None:
            cell_ids, _, anchors = regions

            def norm(x, index, gamma, beta):
                if statistics is not None:
                    return map_statistics.given_norm(x, gamma, beta, cell_ids, *statistics[index])
                # Each norm layer's map cells are MAP_CELL // reduction pixels.
                cell = map_statistics.MAP_CELL // self.architecture.norm_reductions[index]
                return map_statistics.region_norm(x, gamma, beta, cell_ids, anchors, cell)

            return self.network(content, params, with_relu(norm))
        if record is not None or not self.fused_norms:

            def norm(x, index, gamma, beta):
                mean, variance = norms.moments(x)
                if record is not None:
                    record.append((mean, variance))
                return norms.instance_norm(x, gamma, beta, mean, variance)

            return self.network(content, params, with_relu(norm))
        single = tf.logical_and(tf.shape(content)[0] == 1, tf.shape(params)[0] == 1)
        whole = with_relu(lambda x, index, gamma, beta: norms.instance_norm(x, gamma, beta))
        one = lambda x, index, gamma, beta, relu: norms.single_image_norm(x, gamma, beta, relu)
        return tf.cond(
            single,
            lambda: self.network(content, params, one),
            lambda: self.network(content, params, whole),
        )

    def network(self, content, params, norm):
        """T on content (B, H, W, 3) in [0, 1], normalized by `norm`: the one pass.

        `norm(x, index, gamma, beta, relu)` normalizes the float32 output x
        of convolution `index` (in `architecture.conv_layers` order) with that
        layer's gamma and beta (rows of `params`, split), then applies the
        ReLU if `relu`. Returns the stylized (B, H, W, 3).
        """
        gammas, betas = self.split_parameters(params)

        def conv_norm(x, layer, relu, residual=None):
            index = self.architecture.norm_index[layer.conv]
            x = norm(self._convolve(x, layer), index, gammas[index], betas[index], relu)
            return x if residual is None else residual + x

        height, width = tf.shape(content)[1], tf.shape(content)[2]
        x = networks.run_stylizing_network(
            kernels.pad_to_multiple(content), conv_norm, self.architecture
        )
        return tf.sigmoid(x)[:, :height, :width, :]

    def _convolve(self, x, layer):
        """One convolution of T (with its padding and upsampling), float32 out."""
        kernel, matrix = self.kernels[layer.conv], self.matrices.get(layer.conv)
        # Padding moves half the bytes after the cast to bfloat16; casts to
        # the dtype a tensor already has add no op.
        x = tf.cast(x, self.compute_dtype)
        if layer.upsample > 1:
            return tf.cast(kernels.upsample_conv(kernels.edge_pad(x), kernel, matrix), tf.float32)
        padded = kernels.reflect_pad(x, layer.kernel_size // 2)
        if layer == self.architecture.output:
            # The KxK output convolution as rows (VALID), then the shifted sums.
            z = tf.cast(tf.nn.conv2d(padded, kernel, 1, "VALID"), tf.float32)
            k = self.output_kernel_size
            return kernels.sum_row_shifts(z, k, self.output_channels, tf.shape(padded)[1] - k + 1)
        if matrix is None:
            z = tf.nn.conv2d(padded, kernel, layer.stride, "VALID")
        else:
            z = kernels.matmul_conv(padded, matrix, layer.kernel_size, layer.kernel_size)
        return tf.cast(z, tf.float32)


def with_relu(norm):
    """`norm(x, index, gamma, beta)` as a `network` norm: the ReLU after it if asked."""

    def norm_relu(x, index, gamma, beta, relu):
        x = norm(x, index, gamma, beta)
        return tf.nn.relu(x) if relu else x

    return norm_relu
