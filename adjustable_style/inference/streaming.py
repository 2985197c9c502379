"""Very large images, one layer at a time over horizontal strips.

Images too large to hold the whole network's activations (4096 px and up)
go through `stylize_streaming`: it walks T's layers
(`networks.run_stylizing_network`) with a convolution that runs over
strips of rows, each reading its halo rows from the layer below (reflected
at the image's edges), and every instance norm uses the statistics of the
whole feature map (accumulated strip by strip, in float64). The result is
the whole-image result, not an approximation blended from tiles, so there
are no seams, and peak memory is about two full-resolution feature maps of
32 channels, all in host memory.
"""

import numpy as np
import tensorflow as tf

from adjustable_style.inference import kernels
from adjustable_style.inference.norms import normalize_in_place
from adjustable_style.model import networks

# Output rows per strip, at full resolution.
STREAMING_ROWS = 256


def stylize_streaming(graph, params, image, rows=STREAMING_ROWS):
    """One image (H, W, 3) -> (H, W, 3), computed layer by layer in strips.

    `graph` is a float32 `StylizerGraph` (its kernels and architecture are
    read), `params` its (1, 2 * channels) gammas and betas. Equal to the whole-image graph up to
    float32 rounding, for any `rows`.
    """
    architecture = graph.architecture
    gammas, betas = graph.split_parameters(params[:1])
    gammas = [np.asarray(g, np.float64)[0] for g in gammas]
    betas = [np.asarray(b, np.float64)[0] for b in betas]

    def conv_norm(x, layer, relu, residual=None):
        index = architecture.norm_index[layer.conv]
        # Strips of `rows` full-resolution rows: fewer at the layer's input
        # resolution (an upsampling convolution's input is half its output).
        strip = max(1, rows // (architecture.norm_reductions[index] * layer.upsample))
        raw, sums = _strip_conv(
            x,
            graph.kernels[layer.conv],
            layer.kernel_size,
            layer.stride,
            mode="symmetric" if layer.upsample > 1 else "reflect",
            subpixel=layer.upsample > 1,
            strip=strip,
            output=(graph.output_kernel_size, graph.output_channels)
            if layer == architecture.output
            else None,
        )
        normalize_in_place(raw, sums, gammas[index], betas[index], relu=relu, residual=residual)
        return raw

    image = np.asarray(image, np.float32)
    height, width = image.shape[:2]
    x = kernels.pad_to_multiple(image[None])[0].numpy()
    x = networks.run_stylizing_network(x, conv_norm, architecture)
    return tf.sigmoid(x[:height, :width]).numpy()


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
        z = kernels.upsample_conv(x, kernel)
    else:
        z = tf.nn.conv2d(x, kernel, stride, "VALID")
    if row_split_rows:
        z = kernels.sum_row_shifts(
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


def _symmetric_pad_width(x, pad):
    """Symmetric (edge-repeating) padding of the width only."""
    return tf.concat([tf.reverse(x[:, :, :pad], [2]), x, tf.reverse(x[:, :, -pad:], [2])], axis=2)


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
