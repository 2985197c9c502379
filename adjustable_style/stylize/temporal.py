"""Less flicker in stylized video, at inference: two options and their state.

A feed-forward stylizer sees each frame alone. Where a clip barely changes,
two things still make its output shimmer: instance normalization takes its
mean and variance from the whole frame, so a change anywhere (a moving
object, sensor noise) shifts the colours everywhere; and the network
magnifies small input noise into visible texture changes. Two remedies,
each off by default (`benchmarks/flicker.py` measures both):

- `--temporal_norm=M` (0 <= M < 1): every instance norm uses an exponential
  moving average of its statistics over frames, `M * previous + (1 - M) *
  this frame's`. Frames are then stylized one at a time (the average is
  sequential), which costs the batching.
- `--hold_still=T` (> 0): where the input has changed by less than T
  (mean absolute difference over RGB in [0, 1], lightly blurred) since the
  output pixel was last renewed, the previous output is kept; between T and
  0 change the two are blended. Changes that creep in slowly add up against
  the reference kept per pixel, so a slow pan still renews the picture.
"""

import numpy as np
import tensorflow as tf

from adjustable_style import noise
from adjustable_style.errors import UsageError
from adjustable_style.inference import graph, norms

# Blur of the change map of --hold_still, in pixels: one noisy pixel should
# not punch a hole in a held region.
CHANGE_BLUR_SIGMA = 1.5


class SmoothedNormStylizer:
    """A `FastStylizer`'s network with instance-norm statistics averaged over frames.

    `step(frame, alpha)` stylizes one (H, W, 3) frame; at `momentum` 0 it is
    exactly `FastStylizer`'s result. `reset()` forgets the history.
    """

    def __init__(self, fast, momentum):
        self.fast = fast
        self.momentum = float(momentum)
        # The loaded model's channels, whatever its architecture.
        self.channels = fast.graph.architecture.normalized_channels
        total = sum(self.channels)
        spec = tf.TensorSpec
        self._step = tf.function(
            self._forward,
            input_signature=[
                spec([1, None, None, 3], tf.float32),
                spec([1, 2 * total], tf.float32),
                spec([1, total], tf.float32),
                spec([1, total], tf.float32),
                spec([], tf.float32),
            ],
        )
        self.reset()

    def reset(self):
        self._stats = None

    def _forward(self, content, params, prev_mean, prev_var, momentum):
        # The float32 graph's one forward pass; only the normalization is ours.
        prev_means = tf.split(prev_mean, self.channels, axis=-1)
        prev_vars = tf.split(prev_var, self.channels, axis=-1)
        means, variances = [], []

        def norm(x, index, gamma, beta):
            mean, variance = norms.moments(x)
            mean = momentum * prev_means[index][:, None, None] + (1 - momentum) * mean
            variance = momentum * prev_vars[index][:, None, None] + (1 - momentum) * variance
            means.append(mean[:, 0, 0])
            variances.append(variance[:, 0, 0])
            return norms.instance_norm(x, gamma, beta, mean, variance)

        x = self.fast.float32_graph.network(content, params, graph.with_relu(norm))
        return x, tf.concat(means, -1), tf.concat(variances, -1)

    def step(self, frame, alpha=None):
        params = self.fast.norm_parameters(self.fast.alpha_array(alpha, 1))
        total = sum(self.channels)
        if self._stats is None:
            zeros = np.zeros((1, total), np.float32)
            stats, momentum = (zeros, zeros), 0.0
        else:
            stats, momentum = self._stats, self.momentum
        out, mean, variance = self._step(
            np.asarray(frame, np.float32)[None], params, *stats, np.float32(momentum)
        )
        self._stats = (mean.numpy(), variance.numpy())
        return out.numpy()[0]


class StillHold:
    """`--hold_still`: keeps the previous output where the input has not changed."""

    def __init__(self, threshold):
        self.threshold = float(threshold)
        self._reference = None  # The input each output pixel was made from.
        self._output = None

    def __call__(self, content, stylized):
        if self._reference is None or self._reference.shape != content.shape:
            self._reference, self._output = content.copy(), stylized.copy()
            return stylized
        change = np.abs(content - self._reference).mean(axis=-1)
        change = noise.gaussian_blur(change, CHANGE_BLUR_SIGMA).astype(np.float32)
        keep = np.clip(1.0 - change / self.threshold, 0.0, 1.0)[..., None]
        self._output = keep * self._output + (1.0 - keep) * stylized
        self._reference = keep * self._reference + (1.0 - keep) * content
        return self._output


class FrameSmoother:
    """Stylizes batches of consecutive frames with the chosen smoothing.

    `smoother(contents, alphas)` yields one stylized (H, W, 3) frame per
    content frame; its state carries over from one call to the next.
    """

    def __init__(self, model, temporal_norm=0.0, hold_still=0.0):
        self.model = model
        self.norm = None
        if temporal_norm:
            if model.fast_stylizer is None:
                raise UsageError(
                    "--temporal_norm needs a .keras model or a model folder, not a SavedModel"
                )
            self.norm = SmoothedNormStylizer(model.fast_stylizer, temporal_norm)
        self.hold = StillHold(hold_still) if hold_still else None

    def reset(self):
        """Forgets the frames seen so far (a new clip starts)."""
        if self.norm is not None:
            self.norm.reset()
        if self.hold is not None:
            self.hold = StillHold(self.hold.threshold)

    def __call__(self, contents, alphas=None):
        if self.norm is not None:
            stylized = [
                self.norm.step(c, None if alphas is None else alphas[i])
                for i, c in enumerate(contents)
            ]
        else:
            stylized = self.model.stylize(contents, alphas, max(1, len(contents)))
        for content, frame in zip(contents, stylized):
            yield frame if self.hold is None else self.hold(content, frame)
