"""Training: a `keras.Model` whose `train_step` is the paper's objective.

One step, for a batch of content crops c:

1. alpha ~ U(0, 1), independently per sample and style layer (the adjustable
   model), or the fixed style weights w (the base model of Johnson et al.).
   Optionally each alpha_l is snapped to 0 or 1 with some probability, so
   the faces and corners of the alpha cube (alpha = 0: the photo; one layer
   alone) are seen often instead of almost never;
2. p = T(c; Lambda(alpha)), and VGG features of p and c;
3. per-sample raw losses L_c and L_l (content, then each style layer);
4. their batch means update the EMAs; Eq. 8 turns them into normalized losses
   L~_k = (sum_i EMA_i / EMA_k) L_k;
5. loss = mean over the batch of alpha_c L~_c + sum_l alpha_l L~_l, with
   alpha_c = 1, and Adam takes a step.

The paper writes the objective as a sum over the batch; the mean is the same
direction with a batch-size-free scale, which Adam ignores anyway.

The objective is one function, `compute_objective`, written with
`keras.ops`; each backend's `train_step` only takes its gradient and applies
it, in the way of the Keras guides "Customizing what happens in fit()":

- TensorFlow: `tf.GradientTape`, through `fit` as a `tf.function` (XLA with
  `jit_compile=True`), under any `tf.distribute` strategy: per-replica
  losses are scaled by the replica count, and the EMAs are fed the global
  batch mean, so every replica holds the same normalizer.
- JAX: stateless. The step runs the objective inside a `keras.StatelessScope`
  over the state `fit` passes in, differentiates it with
  `jax.value_and_grad`, applies Adam with `optimizer.stateless_apply`, and
  returns the new state: the EMA update is non-trainable state like any
  other. `fit` jit-compiles it as one program over the global batch, so
  under `keras.distribution.DataParallel` its batch means are the global
  ones with no extra code (not yet exercised on several devices).
- PyTorch: `zero_grad`, `backward`, `optimizer.apply`.

Batches are `content` (B, H, W, 3) in [0, 1] from any source `fit` takes:
`tf.data`, a `keras.utils.PyDataset` of numpy arrays, or arrays. A batch
`(content, alpha)` carries its own (B, L) loss weights, which replace the
draw (the base model's fixed weights too); tests and cross-backend checks
use that.
"""

import keras
import numpy as np
from keras import ops

from adjustable_style import color
from adjustable_style.model import loss_network as loss_network_lib
from adjustable_style.model import losses as losses_lib
from adjustable_style.model import networks
from adjustable_style.training.alpha_draws import (
    _BACKEND,
    draw_alpha,
    replica_context_info,
    stateless_uniform,
    step_seed,
)
from adjustable_style.training.config import LOSS_NORMALIZATIONS

# Kept under its old names for the code that imports them from here.
_replica_context_info = replica_context_info
__all__ = ["StyleTransferTrainer", "stateless_uniform", "zero_alpha_color_shift"]


def _global_mean(value):
    """Mean of `value` over replicas (identity without a strategy)."""
    if _BACKEND != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def _is_multi_worker():
    if _BACKEND != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def zero_alpha_color_shift(content, stylized, alpha):
    """(B,) squared mean-chroma shift, in levels of 255, where alpha is all 0.

    The mean of a linear colour transform is the transform of the mean, so
    the images' mean RGB is all that is converted.
    """
    at_zero = ops.cast(ops.all(ops.equal(alpha, 0.0), axis=-1), "float32")
    mean_shift = ops.mean(ops.cast(stylized, "float32"), axis=(1, 2)) - ops.mean(
        ops.cast(content, "float32"), axis=(1, 2)
    )
    chroma = 255.0 * color.ycbcr(mean_shift)[:, 1:]
    return at_zero * ops.sum(ops.square(chroma), axis=-1)


class StyleTransferTrainer(keras.Model):
    """Trains a stylizer against a frozen loss network and one style image.

    Args:
      stylizer: from `networks.build_adjustable_stylizer` (alpha sampled per
        sample and step) or `networks.build_base_stylizer` (then
        `style_weights` is required).
      loss_network: from `loss_network.build_loss_network`; its outputs are
        keyed by layer name.
      spec: the `LossNetworkSpec` naming the content and style layers.
      style_image: (1, H, W, 3) or (H, W, 3) float RGB in [0, 1].
      style_weights: the base model's fixed w_l, one per style layer.
      content_weight: alpha_c (1 in the paper).
      ema_decay: decay of the loss EMAs.
      seed: seeds the alpha draws; the draws of step s depend only on
        (seed, s, replica), so a resumed run draws what the original would.
      alpha_edge_probability: chance that each alpha_l is replaced by 0 or 1
        (even odds). 0 is the paper's plain uniform draw; with 0.5 the
        all-zero corner is 1/64 of the samples instead of a null set.
      loss_normalization: "eq8" (the paper's Eq. 8: each loss divided by
        its EMA before the weights apply) or "none" (the weights multiply
        the raw losses, as in Johnson et al.). The EMAs are tracked either
        way, for the logs.
      zero_alpha_color_weight: weight of a term not in the paper: for the
        samples whose alpha is all 0, the squared distance (levels of 255)
        of the output's mean chroma (Cb, Cr) from the photo's. 0 (the
        paper) leaves alpha = 0 to the content loss alone, which does not
        see a uniform colour cast.

    The whole training state (weights, optimizer slots and step, EMAs) is
    Keras variables: `save_weights`/`load_weights` (`.weights.h5`) resume a
    run on any backend, and `tf.train.Checkpoint` does on TensorFlow.
    """

    def __init__(
        self,
        stylizer,
        loss_network,
        spec,
        style_image,
        style_weights=None,
        content_weight=1.0,
        ema_decay=0.99,
        seed=0,
        alpha_edge_probability=0.0,
        loss_normalization="eq8",
        zero_alpha_color_weight=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.stylizer = stylizer
        self.loss_network = loss_network
        # VGG up to the content layer only, for the content images: the same
        # layers and weights as `loss_network`, so it is kept out of Keras'
        # and the checkpoints' tracking (it holds nothing of its own, and
        # checkpoints keep their structure). None for a loss network not
        # from `build_loss_network`: the full one is used then.
        object.__setattr__(
            self,
            "_content_network",
            loss_network_lib.truncated_loss_network(loss_network, [spec.content_layer]),
        )
        self.spec = spec
        self.adjustable = networks.is_adjustable(stylizer)
        num_style = len(spec.style_layers)
        if self.adjustable:
            names = networks.style_layer_names(stylizer)
            if list(names) != list(spec.style_layers):
                raise ValueError(
                    f"the stylizer's alpha weights {names} but the loss "
                    f"network's style layers are {list(spec.style_layers)}"
                )
            if style_weights is not None:
                raise ValueError(
                    "style_weights are for the base model; the adjustable model samples alpha"
                )
            self.style_weights = None
        else:
            if style_weights is None or len(style_weights) != num_style:
                raise ValueError(
                    f"the base model needs {num_style} fixed style weights, got {style_weights}"
                )
            self.style_weights = np.asarray(style_weights, np.float32)
        self.content_weight = float(content_weight)
        self.seed = int(seed)
        if not 0.0 <= alpha_edge_probability <= 1.0:
            raise ValueError(
                f"alpha_edge_probability must be in [0, 1], got {alpha_edge_probability}"
            )
        self.alpha_edge_probability = float(alpha_edge_probability)
        if loss_normalization not in LOSS_NORMALIZATIONS:
            raise ValueError(
                f"loss_normalization must be one of {', '.join(LOSS_NORMALIZATIONS)}, "
                f"got {loss_normalization!r}"
            )
        self.loss_normalization = loss_normalization
        if not zero_alpha_color_weight >= 0.0:
            raise ValueError(f"zero_alpha_color_weight must be >= 0, got {zero_alpha_color_weight}")
        if zero_alpha_color_weight and not self.adjustable:
            raise ValueError("zero_alpha_color_weight is for the adjustable model")
        self.zero_alpha_color_weight = float(zero_alpha_color_weight)
        self.loss_names = ["content"] + [f"style_{n}" for n in spec.style_layers]
        self.normalizer = losses_lib.LossNormalizer(
            1 + num_style, decay=ema_decay, name="loss_normalizer"
        )
        self._set_style_image(style_image)

        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ["loss"] + self.loss_names + [f"{n}_normalized" for n in self.loss_names]
        }
        # Everything is built: `load_weights` may restore a fresh trainer.
        self.built = True

    def _set_style_image(self, style_image):
        """Stores the style image's Gram matrices: the fixed style targets."""
        style = ops.convert_to_tensor(style_image, "float32")
        if len(style.shape) == 3:
            style = ops.expand_dims(style, 0)
        features = self.loss_network(style, training=False)
        self.style_grams = []
        for name in self.spec.style_layers:
            gram = losses_lib.gram_matrix(features[name])
            variable = self.add_weight(
                name=f"style_gram_{name}",
                shape=gram.shape,
                initializer="zeros",
                trainable=False,
                dtype="float32",
                aggregation="only_first_replica",
            )
            variable.assign(gram)
            self.style_grams.append(variable)

    def build(self, input_shape=None):
        # The stylizer and loss network are functional models, built when
        # they were made; nothing is left to create here.
        self.built = True

    @property
    def metrics(self):
        # Listed here so Keras resets them at each epoch.
        return list(self._trackers.values())

    def call(self, content, alpha=None, training=False):
        if not self.adjustable:
            return self.stylizer(content, training=training)
        if alpha is None:
            batch = ops.shape(content)[0]
            alpha = ops.ones((batch, len(self.spec.style_layers)))
        return self.stylizer([content, alpha], training=training)

    def _loss_weights(self, batch_size, seed):
        """(B, L) weights of the style layers for this batch."""
        if not self.adjustable:
            weights = ops.convert_to_tensor(self.style_weights)
            return ops.tile(ops.expand_dims(weights, 0), (batch_size, 1))
        return draw_alpha(
            batch_size, len(self.spec.style_layers), self.alpha_edge_probability, seed
        )

    def _content_targets(self, content, dtype):
        """The content images' features at the content layer, as constants.

        VGG runs only up to that layer, and no gradient flows into this
        pass (nothing trainable is upstream of it).
        """
        network = self._content_network or self.loss_network
        content = ops.stop_gradient(ops.cast(content, dtype))
        features = network(content, training=False)[self.spec.content_layer]
        return ops.stop_gradient(features)

    def compute_raw_losses(self, content, alpha, training=False):
        """Stylizes `content` and returns (stylized, (B, K) raw losses)."""
        stylized = self(content, alpha, training=training)
        # Two VGG passes rather than one over both batches: the stylized
        # images' to the deepest style layer, differentiated; the content
        # images' only to the content layer, and constant. One concatenated
        # pass would run (and differentiate) the content images through
        # every layer.
        features = self.loss_network(stylized, training=False)
        content_name = self.spec.content_layer
        raw = [
            losses_lib.content_loss(
                features[content_name],
                self._content_targets(content, keras.backend.standardize_dtype(stylized.dtype)),
            )
        ]
        for name, gram in zip(self.spec.style_layers, self.style_grams):
            raw.append(losses_lib.style_loss(features[name], gram))
        return stylized, ops.stack(raw, axis=-1)

    def _weighted_loss(self, raw, alpha, normalize_with):
        """Per-sample objective and (B, K) normalized losses."""
        if self.loss_normalization == "none":
            # Raw weights. The EMAs are still updated and logged.
            normalized = raw
        else:
            normalized = raw * self.normalizer.weights_for(normalize_with)
        alpha = ops.cast(alpha, "float32")
        weights = ops.concatenate(
            [ops.ones_like(alpha[:, :1]) * self.content_weight, alpha], axis=-1
        )
        return ops.sum(weights * normalized, axis=-1), normalized

    def _update_metrics(self, total, raw, normalized):
        self._trackers["loss"].update_state(total)
        for k, name in enumerate(self.loss_names):
            self._trackers[name].update_state(raw[:, k])
            self._trackers[f"{name}_normalized"].update_state(normalized[:, k])
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        ema = ops.convert_to_tensor(self.normalizer.ema)
        for k, name in enumerate(self.loss_names):
            logs[f"ema_{name}"] = ema[k]
        if _is_multi_worker():
            # Keras reduces multi-worker logs with a mean along axis 0,
            # which scalars do not have; (1,) vectors reduce to scalars.
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def _step_seed(self, salt):
        return step_seed(self.seed + salt, self.optimizer)

    @staticmethod
    def _unpack(data):
        """(content, the batch's own loss weights or None)."""
        content, alpha, _ = keras.utils.unpack_x_y_sample_weight(data)
        return content, alpha

    def compute_objective(self, content, alpha=None, training=True):
        """One training step's loss, shared by every backend's `train_step`.

        Draws alpha unless given, computes the raw losses, folds their
        (global) batch means into the EMAs, and weights the Eq. 8
        normalized losses. Returns (mean objective, (per-sample objective,
        raw losses, normalized losses)).

        The EMA update is a variable assignment: in place on TensorFlow and
        torch, recorded by the enclosing `keras.StatelessScope` on JAX.
        """
        if alpha is None:
            alpha = self._loss_weights(ops.shape(content)[0], self._step_seed(salt=0))
        alpha = ops.cast(alpha, "float32")
        stylized, raw = self.compute_raw_losses(
            content, alpha if self.adjustable else None, training=training
        )
        ema = self.normalizer.update(_global_mean(ops.mean(raw, axis=0)))
        per_sample, normalized = self._weighted_loss(raw, alpha, ema)
        if self.zero_alpha_color_weight:
            per_sample = per_sample + self.zero_alpha_color_weight * zero_alpha_color_shift(
                content, stylized, alpha
            )
        return ops.mean(per_sample), (per_sample, raw, normalized)

    def compute_evaluation(self, content, alpha=None):
        """`test_step`'s losses: fixed alphas, the EMAs read, not updated."""
        if alpha is None:
            # A fixed seed: every evaluation sees the same alphas.
            alpha = self._loss_weights(
                ops.shape(content)[0], ops.convert_to_tensor([self.seed + 1, 0], "int32")
            )
        alpha = ops.cast(alpha, "float32")
        _, raw = self.compute_raw_losses(
            content, alpha if self.adjustable else None, training=False
        )
        # Before any training step the EMAs are empty; use this batch's means.
        ema = ops.where(
            self.normalizer.count > 0,
            ops.convert_to_tensor(self.normalizer.ema),
            _global_mean(ops.mean(raw, axis=0)),
        )
        per_sample, normalized = self._weighted_loss(raw, alpha, ema)
        return per_sample, raw, normalized

    # The per-backend gradient mechanics. `fit` calls `train_step(data)` on
    # TensorFlow and torch, and `train_step(state, data)` (jit-compiled,
    # returning the new state) on JAX; the class picks its backend's below.

    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        content, alpha = self._unpack(data)
        _, replicas = _replica_context_info()
        with tf.GradientTape() as tape:
            total, parts = self.compute_objective(content, alpha)
            # Gradients are summed over replicas: scale to the global mean.
            scaled = self.optimizer.scale_loss(total / replicas)
        variables = self.stylizer.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_metrics(*parts)

    def _torch_train_step(self, data):
        import torch

        content, alpha = self._unpack(data)
        # Gradients accumulate in `.grad` across backward passes.
        self.zero_grad()
        total, parts = self.compute_objective(content, alpha)
        self.optimizer.scale_loss(total).backward()
        variables = self.stylizer.trainable_variables
        gradients = [v.value.grad for v in variables]
        with torch.no_grad():
            self.optimizer.apply(gradients, variables)
        return self._update_metrics(*(ops.stop_gradient(p) for p in parts))

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_state, metrics_state = state
        content, alpha = self._unpack(data)
        # `fit` purges the variables' own values while it holds the state:
        # everything the step reads must come through a scope's mapping.
        fixed = list(zip(self.non_trainable_variables, non_trainable)) + list(
            zip(self.optimizer.variables, optimizer_state)
        )

        def objective(trainable_values):
            mapping = list(zip(self.trainable_variables, trainable_values))
            with keras.StatelessScope(state_mapping=mapping + fixed) as scope:
                total, parts = self.compute_objective(content, alpha)
                scaled = self.optimizer.scale_loss(total)
            updated = [scope.get_current_value(v) for v in self.non_trainable_variables]
            return scaled, (parts, updated)

        (_, (parts, non_trainable)), gradients = jax.value_and_grad(objective, has_aux=True)(
            trainable
        )
        trainable, optimizer_state = self.optimizer.stateless_apply(
            optimizer_state, gradients, trainable
        )
        logs, metrics_state = self._jax_metrics(parts, non_trainable, metrics_state)
        return logs, (trainable, non_trainable, optimizer_state, metrics_state)

    def _jax_metrics(self, parts, non_trainable, metrics_state):
        mapping = list(zip(self.non_trainable_variables, non_trainable)) + list(
            zip(self.metrics_variables, metrics_state)
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._update_metrics(*parts)
        return logs, [scope.get_current_value(v) for v in self.metrics_variables]

    def _unsupported_train_step(self, *args):
        raise NotImplementedError(
            f"training needs the tensorflow, jax or torch backend, not {_BACKEND!r}"
        )

    def _stateful_test_step(self, data):
        return self._update_metrics(*self.compute_evaluation(*self._unpack(data)))

    def _jax_test_step(self, state, data):
        trainable, non_trainable, metrics_state = state
        mapping = list(zip(self.trainable_variables, trainable)) + list(
            zip(self.non_trainable_variables, non_trainable)
        )
        with keras.StatelessScope(state_mapping=mapping):
            parts = self.compute_evaluation(*self._unpack(data))
        logs, metrics_state = self._jax_metrics(parts, non_trainable, metrics_state)
        return logs, (trainable, non_trainable, metrics_state)

    train_step = {
        "tensorflow": _tensorflow_train_step,
        "jax": _jax_train_step,
        "torch": _torch_train_step,
    }.get(_BACKEND, _unsupported_train_step)
    test_step = _jax_test_step if _BACKEND == "jax" else _stateful_test_step
