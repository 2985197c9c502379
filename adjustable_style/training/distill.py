"""Distillation: a stylizer trained to give what a trained adjustable one gives.

`train.py --teacher=NAME` runs the usual training run (model folder,
checkpoints, resume, `--init_from`, progress, mixed precision, model.keras
and model.json) with `DistillationTrainer` in place of the paper's
objective. One step, for a batch of content crops c:

1. alpha drawn as the paper's objective draws it (`alpha_draws`: U(0, 1)
   per sample and layer, snapped to the cube's faces and corners with
   `--alpha_edge_probability`);
2. the target t = T_teacher(c, alpha), a constant, and the student's
   s = T(c, alpha);
3. per-sample raw losses: the mean absolute difference of s and t (RGB in
   [0, 1]), and the mean squared difference of their VGG features at the
   content layer;
4. Eq. 8 normalizes the two by their running means, so `--feature_weight`
   weighs losses of like size; the mean over the batch of pixel +
   feature_weight x feature is the loss.

No Gram matrix is computed: the teacher already holds the style. The
teacher runs in the run's precision (rebuilt under its dtype policy) and is
kept out of the checkpoints, which hold the student alone.
"""

import keras
from keras import ops

from adjustable_style import model_files
from adjustable_style.errors import UserError
from adjustable_style.model import loss_network as loss_network_lib
from adjustable_style.model import losses as losses_lib
from adjustable_style.model import networks
from adjustable_style.training import alpha_draws
from adjustable_style.training.trainer import _global_mean

LOSS_NAMES = ("pixel", "feature")


class DistillationError(UserError, RuntimeError):
    """The teacher cannot teach this run (one-line message)."""


def load_teacher(config, spec):
    """The teacher, rebuilt under the current dtype policy, frozen.

    Refuses a base teacher and one whose alpha weights other style layers
    than the run's, each in one line.
    """
    path = model_files.resolve_model_path(config.teacher)
    source, _ = model_files.load_stylizer(path)
    name = f"--teacher={config.teacher}"
    if not networks.is_adjustable(source):
        raise DistillationError(
            f"{name} is a base model (fixed style weights); distillation needs an adjustable one"
        )
    layers = list(networks.style_layer_names(source))
    if layers != list(spec.style_layers):
        raise DistillationError(
            f"{name} weights the style layers {','.join(layers)}, but this run's are "
            f"{','.join(spec.style_layers)}; leave --style_layers out to take the teacher's"
        )
    # bfloat16 on a CPU that has it: the teacher's pass is a quarter of a
    # step's arithmetic.
    teacher = networks.build_adjustable_stylizer(
        layers, name="teacher", architecture=networks.architecture_of(source)
    )
    teacher.set_weights(source.get_weights())
    teacher.trainable = False
    return teacher


def record_entries(config):
    """What model.json says of a distilled run: its teacher and the teacher's style."""
    path = model_files.resolve_model_path(config.teacher)
    teacher = model_files.read_record(path)
    origin = {"teacher": config.teacher, "sha256": model_files.file_sha256(path)}
    for key in ("style_image", "style_image_sha256", "steps", "total_steps", "architecture"):
        if key in teacher:
            origin[key] = teacher[key]
    origin.setdefault("architecture", "paper")
    entries = {"distilled_from": origin, "feature_weight": config.feature_weight}
    # The style is the teacher's painting, not the thumbnail beside it.
    for key in ("style_image", "style_image_sha256"):
        if key in teacher:
            entries[key] = teacher[key]
    return entries


class DistillationTrainer(keras.Model):
    """Trains `stylizer` (the student) on the outputs of a frozen `teacher`.

    Args:
      stylizer: an adjustable stylizer (any architecture) over the
        teacher's style layers.
      teacher: from `load_teacher`.
      loss_network: from `loss_network.build_loss_network`; only its content
        layer is used.
      spec: the `LossNetworkSpec` naming that layer.
      feature_weight: the feature loss's weight (the pixel loss has 1).
      ema_decay: decay of the two losses' EMAs (Eq. 8).
      seed, alpha_edge_probability: the alpha draws, as `StyleTransferTrainer`'s.

    Has what the training run reads of a trainer: `stylizer`, `normalizer`
    (its EMAs go to model.json), the logs, and a TensorFlow `train_step`.
    """

    def __init__(
        self,
        stylizer,
        teacher,
        loss_network,
        spec,
        feature_weight=1.0,
        ema_decay=0.99,
        seed=0,
        alpha_edge_probability=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if keras.backend.backend() != "tensorflow":
            raise DistillationError(
                f"--teacher trains on the TensorFlow backend only, not {keras.backend.backend()}"
            )
        self.stylizer = stylizer
        # Neither is tracked: checkpoints hold the student and its optimizer.
        object.__setattr__(self, "_teacher", teacher)
        features = loss_network_lib.truncated_loss_network(loss_network, [spec.content_layer])
        object.__setattr__(self, "_features", features or loss_network)
        self.spec = spec
        self.num_style = len(spec.style_layers)
        self.feature_weight = float(feature_weight)
        self.seed = int(seed)
        self.alpha_edge_probability = float(alpha_edge_probability)
        self.loss_names = list(LOSS_NAMES)
        self.normalizer = losses_lib.LossNormalizer(
            len(LOSS_NAMES), decay=ema_decay, name="loss_normalizer"
        )
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ["loss", *LOSS_NAMES, *(f"{n}_normalized" for n in LOSS_NAMES)]
        }
        self.built = True

    def build(self, input_shape=None):
        self.built = True

    @property
    def metrics(self):
        return list(self._trackers.values())

    def call(self, content, alpha=None, training=False):
        if alpha is None:
            alpha = ops.ones((ops.shape(content)[0], self.num_style))
        return self.stylizer([content, alpha], training=training)

    def raw_losses(self, content, alpha, training=False):
        """(B, 2) per-sample pixel and feature losses of the student against the teacher."""
        target = ops.stop_gradient(
            ops.cast(self._teacher([content, alpha], training=False), "float32")
        )
        student = ops.cast(self(content, alpha, training=training), "float32")
        pixel = ops.mean(ops.abs(student - target), axis=(1, 2, 3))
        layer = self.spec.content_layer
        dtype = self.stylizer.dtype_policy.compute_dtype
        ours = self._features(ops.cast(student, dtype), training=False)[layer]
        theirs = ops.stop_gradient(self._features(ops.cast(target, dtype), training=False)[layer])
        return ops.stack([pixel, losses_lib.content_loss(ours, theirs)], axis=-1)

    def compute_objective(self, content, alpha=None):
        """(mean loss, (per-sample loss, raw, normalized)); updates the EMAs."""
        if alpha is None:
            alpha = alpha_draws.draw_alpha(
                ops.shape(content)[0],
                self.num_style,
                self.alpha_edge_probability,
                alpha_draws.step_seed(self.seed, self.optimizer),
            )
        raw = self.raw_losses(content, ops.cast(alpha, "float32"), training=True)
        ema = self.normalizer.update(_global_mean(ops.mean(raw, axis=0)))
        normalized = raw * self.normalizer.weights_for(ema)
        per_sample = normalized[:, 0] + self.feature_weight * normalized[:, 1]
        return ops.mean(per_sample), (per_sample, raw, normalized)

    def train_step(self, data):
        import tensorflow as tf

        content, alpha, _ = keras.utils.unpack_x_y_sample_weight(data)
        _, replicas = alpha_draws.replica_context_info()
        with tf.GradientTape() as tape:
            total, parts = self.compute_objective(content, alpha)
            scaled = self.optimizer.scale_loss(total / replicas)
        variables = self.stylizer.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self._update_metrics(*parts)

    def _update_metrics(self, total, raw, normalized):
        self._trackers["loss"].update_state(total)
        for k, name in enumerate(LOSS_NAMES):
            self._trackers[name].update_state(raw[:, k])
            self._trackers[f"{name}_normalized"].update_state(normalized[:, k])
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        ema = ops.convert_to_tensor(self.normalizer.ema)
        for k, name in enumerate(LOSS_NAMES):
            logs[f"ema_{name}"] = ema[k]
        return logs
