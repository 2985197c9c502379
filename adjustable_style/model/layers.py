"""Layers of the stylizing network: normalization, padding, and its blocks.

Every layer here is registered with Keras' serialization, so a `.keras` file
holding a stylizer loads with plain `keras.saving.load_model`.

They are written with `keras.ops` only, so the same code (and the same
`.keras` files) run under the TensorFlow, JAX and PyTorch backends. Sizes
are Python ints where the backend knows them (JAX traces static shapes;
torch runs eagerly) and tensors where TensorFlow traces with unknown height
and width, so the padding arithmetic below accepts both.
"""

import keras
from keras import ops

PACKAGE = "adjustable_style"

# The paper (and Ulyanov et al.) use this epsilon for instance normalization.
EPSILON = 1e-5


def instance_moments(x):
    """Per-sample, per-channel mean and biased variance over the spatial axes."""
    # Statistics in float32 even under mixed precision: the variance of
    # float16 activations under- and overflows.
    x32 = ops.cast(x, "float32")
    # The arithmetic of TensorFlow's `nn.moments`: the variance is the mean
    # squared deviation from the mean (not E[x^2] - E[x]^2, which cancels
    # badly), with no gradient through the mean inside it (it is zero).
    mean = ops.mean(x32, axis=(1, 2), keepdims=True)
    variance = ops.mean(ops.square(x32 - ops.stop_gradient(mean)), axis=(1, 2), keepdims=True)
    return mean, variance


def normalize_affine(x, gamma, beta, epsilon=EPSILON):
    """gamma * (x - mean) / sqrt(var + eps) + beta, fused into one scale/shift.

    Folding the normalization into a per-sample, per-channel scale and shift
    touches the full feature map twice (moments, then one multiply-add)
    instead of four times; gamma and beta broadcast as (B or 1, 1, 1, C).
    """
    mean, variance = instance_moments(x)
    scale = ops.cast(gamma, "float32") * ops.rsqrt(variance + epsilon)
    shift = ops.cast(beta, "float32") - mean * scale
    dtype = keras.backend.standardize_dtype(x.dtype)
    return x * ops.cast(scale, dtype) + ops.cast(shift, dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConditionalInstanceNormalization(keras.layers.Layer):
    """Instance normalization with per-sample gamma and beta (CIN).

    Called on `[x, gamma, beta]`: x is (B, H, W, C); gamma and beta are
    (B, C) or (B, 1, 1, C), one row per sample, so two samples of a batch can
    be stylized with different alphas.
    """

    def __init__(self, epsilon=EPSILON, **kwargs):
        # No autocast: under a mixed policy gamma and beta stay float32 until
        # `normalize_affine` has folded them with the float32 statistics.
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        x, gamma, beta = inputs
        channels = ops.shape(x)[-1]
        gamma = ops.reshape(gamma, (-1, 1, 1, channels))
        beta = ops.reshape(beta, (-1, 1, 1, channels))
        return normalize_affine(x, gamma, beta, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InstanceNormalization(keras.layers.Layer):
    """Instance normalization with learned per-channel gamma and beta.

    The base model of Johnson et al. (with Ulyanov's instance norm): the same
    arithmetic as `ConditionalInstanceNormalization`, but one gamma and beta
    shared by every input.
    """

    def __init__(self, epsilon=EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

    def call(self, x):
        return normalize_affine(x, self.gamma, self.beta, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by mirroring, without repeating the edge pixel.

    Reflection (rather than zero) padding keeps the borders of stylized images
    free of the dark frames that zero padding teaches the network to paint.
    """

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + 2 * self.padding
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _smaller(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return ops.minimum(a, b)


def _mirror_end(x, axis, amount):
    """Appends the last `amount` rows (axis 1) or columns (axis 2), flipped."""
    if isinstance(amount, int) and amount == 0:
        return x
    size = ops.shape(x)[axis]
    tail = x[:, size - amount :] if axis == 1 else x[:, :, size - amount :]
    return ops.concatenate([x, ops.flip(tail, axis=axis)], axis=axis)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PadToMultiple(keras.layers.Layer):
    """Pads the bottom and right edges up to a multiple of `factor`.

    The network downsamples twice by 2 and upsamples twice by 2, so a size
    that is a multiple of 4 comes back unchanged; `CropToReference` then cuts
    the padding away, and any height and width (odd ones too) round-trip.
    Sizes are also raised to at least `min_size`, because the first 9x9
    convolution reflection-pads by 4 and needs more than 4 pixels.

    Mirror padding (symmetric: the edge pixel repeated once) continues the
    image's texture at the edge. It can add at most the current size per
    round, so a tiny image grows over a few rounds (1 -> 2 -> 4 -> 8); for
    ordinary images the later rounds pad nothing. It is a concatenation with
    the flipped tail rather than `ops.pad(mode="symmetric")`, which the
    torch backend turns into edge replication.
    """

    def __init__(self, factor=4, min_size=8, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)
        self.min_size = int(min_size)

    def _target(self, n):
        up = -(-n // self.factor) * self.factor
        if isinstance(n, int):
            return max(up, self.min_size)
        return ops.maximum(up, self.min_size)

    def call(self, x):
        shape = ops.shape(x)
        target_h, target_w = self._target(shape[1]), self._target(shape[2])
        rounds = max(1, (self.min_size - 1).bit_length())
        for _ in range(rounds):
            shape = ops.shape(x)
            x = _mirror_end(x, 1, _smaller(target_h - shape[1], shape[1]))
            x = _mirror_end(x, 2, _smaller(target_w - shape[2], shape[2]))
        return x

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        up = lambda n: None if n is None else max(-(-n // self.factor) * self.factor, self.min_size)
        return (b, up(h), up(w), c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "min_size": self.min_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropToReference(keras.layers.Layer):
    """Crops `[x, reference]` to the reference's height and width."""

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SplitNormalizationParameters(keras.layers.Layer):
    """Splits the alpha network's output into each CIN layer's gamma and beta.

    The alpha network predicts one vector of 2 * sum(channels) numbers: all
    gammas first, then all betas, in the order of `channels`. Returns the list
    `[gamma_0, beta_0, gamma_1, beta_1, ...]`, each (B, channels[i]).
    """

    def __init__(self, channels, **kwargs):
        # Slicing only: float32 under any policy, so the alpha network's
        # float32 gammas reach the CIN layers unrounded.
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.channels = [int(c) for c in channels]

    def call(self, params):
        total = sum(self.channels)
        outputs, start = [], 0
        for channels in self.channels:
            end = start + channels
            outputs += [params[:, start:end], params[:, total + start : total + end]]
            start = end
        return outputs

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        return [(batch, c) for c in self.channels for _ in (0, 1)]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
