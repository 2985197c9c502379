"""Per-sample content and style losses, and the paper's EMA normalizer (Eq. 8).

Scales: features are (B, H, W, C). The Gram matrix is normalized by H*W*C
(Johnson et al.), which keeps its entries near mean(feature^2) / C whatever
the image size, so the squared Frobenius distance between two Grams is O(1)
independent of the layer's width. The content loss is the mean squared
difference of features. The EMA normalizer then equalizes the losses' scales,
so these choices only set the numbers that get logged.

Written with `keras.ops` only: the same losses and normalizer run under the
TensorFlow, JAX and PyTorch backends.
"""

import keras
from keras import ops


def gram_matrix(features):
    """(B, H, W, C) -> (B, C, C), F^T F / (H * W * C) per sample."""
    features = ops.cast(features, "float32")
    _, height, width, channels = ops.shape(features)
    flat = ops.reshape(features, (-1, height * width, channels))
    size = ops.cast(height * width * channels, "float32")
    return ops.einsum("bpi,bpj->bij", flat, flat) / size


def content_loss(stylized_features, content_features):
    """Per-sample mean squared feature difference: (B,)."""
    difference = ops.cast(stylized_features, "float32") - ops.cast(content_features, "float32")
    return ops.mean(ops.square(difference), axis=(1, 2, 3))


def style_loss(stylized_features, style_gram):
    """Per-sample squared Frobenius distance of Grams: (B,).

    `style_gram` is (1, C, C) for one style image shared by the batch, or
    (B, C, C).
    """
    difference = gram_matrix(stylized_features) - style_gram
    return ops.sum(ops.square(difference), axis=(1, 2))


@keras.saving.register_keras_serializable(package="adjustable_style")
class LossNormalizer(keras.layers.Layer):
    """Exponential moving averages of each loss, and Eq. 8's weights.

    For losses L_0 .. L_{K-1} (content, then each style layer), the
    normalized loss is

        L~_k = (sum_i EMA(L_i) / EMA(L_k)) * L_k,

    which gives every term the same average size, so alpha (not the raw
    scale of each VGG layer) decides how much each layer counts. The EMAs are
    non-trainable weights: they are saved with checkpoints and restored.

    The first update sets each EMA to its value (no warm-up from zero, which
    would give the first losses huge weights); after that
    EMA <- decay * EMA + (1 - decay) * value.

    decay = 1 freezes the EMAs at their first (or restored) values. Tracking
    EMAs make Eq. 8 behave like a sum of log-losses, whose balance between
    content and style can run away to either side; a run resumed with
    frozen EMAs optimizes a fixed weighted sum, which settles.

    `update` assigns the variables; under JAX's stateless steps the
    assignment lands in the enclosing `keras.StatelessScope`, whose new
    values the step returns as non-trainable state.
    """

    def __init__(self, num_losses, decay=0.99, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.num_losses = int(num_losses)
        self.decay = float(decay)
        self.epsilon = float(epsilon)
        # Every replica computes the same update from the all-reduced batch
        # means, so the first replica's value is everyone's.
        self.ema = self.add_weight(
            name="ema",
            shape=(self.num_losses,),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            aggregation="only_first_replica",
        )
        # The dtype of Keras' own step counter: int64 on TensorFlow (as its
        # checkpoints hold it), int32 elsewhere (JAX has no int64 unless
        # x64 is enabled).
        self.count = self.add_weight(
            name="count",
            shape=(),
            initializer="zeros",
            trainable=False,
            dtype="int",
            aggregation="only_first_replica",
        )

    def update(self, batch_losses):
        """Folds a (K,) vector of batch-mean losses into the EMAs."""
        batch_losses = ops.stop_gradient(ops.cast(batch_losses, "float32"))
        ema = ops.convert_to_tensor(self.ema)
        updated = ops.where(
            self.count > 0, self.decay * ema + (1.0 - self.decay) * batch_losses, batch_losses
        )
        self.ema.assign(updated)
        self.count.assign_add(1)
        return updated

    def weights_for(self, ema=None):
        """(K,) factors sum_i EMA_i / EMA_k, constant for the gradient."""
        ema = ops.convert_to_tensor(self.ema if ema is None else ema)
        factors = ops.sum(ema) / ops.maximum(ema, self.epsilon)
        return ops.stop_gradient(factors)

    def call(self, losses):
        """Normalizes (..., K) losses with the current EMAs."""
        return losses * self.weights_for()

    def get_config(self):
        return {
            **super().get_config(),
            "num_losses": self.num_losses,
            "decay": self.decay,
            "epsilon": self.epsilon,
        }
