"""Instance normalization as inference computes it: each numeric form once.

`layers.normalize_affine` is the definition (two passes, what training
differentiates). Inference folds the normalization into one scale and
shift per sample and channel (`scale_shift`) and takes the moments in one
pass (`moments`); every inference normalization (whole image, one image,
alpha-map regions, temporal averaging, the streaming path's float64 sums)
ends in these.
"""

import numpy as np
import tensorflow as tf

from adjustable_style.model.layers import EPSILON


def moments(x):
    """Per-sample, per-channel mean and variance in one pass over x (B, H, W, C).

    One pass (E[x] and E[x^2] in the same sweep) is what makes it faster
    than `layers.instance_moments`.

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


def scale_shift(mean, variance, gamma, beta):
    """gamma (x - mean) / sqrt(variance + eps) + beta as `x * scale + shift`."""
    scale = gamma * tf.math.rsqrt(variance + EPSILON)
    return scale, beta - mean * scale


def instance_norm(x, gamma, beta, mean=None, variance=None):
    """Instance norm of x (B, H, W, C) with gamma and beta (B or 1, C).

    The moments are x's own unless given ((B, 1, 1, C) each).
    """
    if mean is None:
        mean, variance = moments(x)
    scale, shift = scale_shift(mean, variance, gamma[:, None, None], beta[:, None, None])
    return x * scale + shift


def single_image_norm(x, gamma, beta, relu):
    """ReLU (if `relu`) of the instance norm of one image (1, H, W, C).

    For a batch of one, instance norm is batch norm with the image's own
    moments, so TensorFlow's fused batch-norm kernel applies scale, shift
    and the ReLU in one sweep over x (where the general form takes three).
    The moments stay `moments`': the fused kernel's own, in training mode,
    drift by 4e-3 at 2048 px.
    """
    mean, variance = moments(x)
    x = tf.compat.v1.nn.fused_batch_norm(
        x, gamma[0], beta[0], mean[0, 0, 0], variance[0, 0, 0], EPSILON, is_training=False
    )[0]
    # Grappler fuses this ReLU into the batch norm.
    return tf.nn.relu(x) if relu else x


def normalize_in_place(x, sums, gamma, beta, relu=True, residual=None, block_rows=256):
    """The numpy form, for maps held in host memory (`inference.streaming`).

    x (H, W, C) float32 becomes [relu](gamma (x - mean) / std + beta)
    [+ residual], in place; `sums` is (per-channel sum, sum of squares,
    count) in float64, accumulated strip by strip; gamma and beta are
    float64 (C,).
    """
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
