"""A whole training run: data, strategy, resume, logging, the final model.

`train(TrainConfig(...))` is what `train.py` calls. It

- builds the stylizer, the frozen loss network and the trainer under the
  chosen `tf.distribute` strategy;
- resumes from the newest checkpoint in `<model_dir>/checkpoints` (weights,
  optimizer state and step counter, loss EMAs), so a run that was killed
  goes on from its last save, losing at most `save_every` steps;
- runs `fit` in windows of `log_every` steps: each window is one Keras
  "epoch", so the progress bar and the TensorBoard scalars show the losses
  averaged over the last window, logged at the global step;
- stops with a clear error on a NaN loss, leaving the last good checkpoint;
- writes `<model_dir>/model.keras` and `model.json` (how it was trained).
"""

import dataclasses
import json
import math
import os
import time
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from adjustable_style import data as data_lib
from adjustable_style import images, loss_network, model_files, networks
from adjustable_style import precision
from adjustable_style import trainer as trainer_lib

CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
# Alphas of the TensorBoard preview images: none, each layer alone, all.
PREVIEW_ALPHAS = ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                  (0.0, 0.0, 1.0), (1.0, 1.0, 1.0))
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
MODEL_TYPES = ("adjustable", "base")


class TrainingError(RuntimeError):
    """Training cannot go on (one-line message)."""


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; `train.py`'s flags fill it in."""
    style_image: str
    model_dir: str
    content_images: Optional[str] = None
    content_tfds: Optional[str] = None
    tfds_data_dir: Optional[str] = None
    tfds_split: str = "train"
    train_steps: int = 200_000
    batch_size: int = 8
    image_size: int = 256
    style_image_size: Optional[int] = None
    learning_rate: float = 1e-3
    loss_network: str = "vgg19"
    vgg_weights: str = "imagenet"
    content_layer: Optional[str] = None
    style_layers: Optional[Sequence[str]] = None
    model_type: str = "adjustable"
    style_weights: Optional[Sequence[float]] = None
    content_weight: float = 1.0
    ema_decay: float = 0.99
    alpha_edge_probability: float = 0.0
    save_every: int = 1000
    log_every: int = 100
    strategy: str = "default"
    tpu: str = ""
    mixed_precision: bool = False
    jit_compile: bool = False
    seed: int = 0
    max_pixels: Optional[int] = images.DEFAULT_MAX_PIXELS
    verbose: int = 1
    init_from: Optional[str] = None

    def validate(self):
        from adjustable_style.cli import UsageError
        if bool(self.content_images) == bool(self.content_tfds):
            raise UsageError(
                "give exactly one of --content_images and --content_tfds")
        if not self.style_image:
            raise UsageError("--style_image is required")
        if not self.model_dir:
            raise UsageError("--model_dir is required")
        for name in ("train_steps", "batch_size", "image_size", "save_every",
                     "log_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name} must be at least 1")
        if self.image_size < 16:
            raise UsageError("--image_size must be at least 16")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise UsageError("--learning_rate must be a positive number")
        if self.model_type not in MODEL_TYPES:
            raise UsageError(f"--model_type must be one of {MODEL_TYPES}")
        if self.strategy not in STRATEGIES:
            raise UsageError(f"--strategy must be one of {STRATEGIES}")
        if self.model_type == "base" and not self.style_weights:
            raise UsageError("--model_type=base needs --style_weights")
        if self.model_type == "adjustable" and self.style_weights:
            raise UsageError(
                "--style_weights is for --model_type=base; the adjustable "
                "model samples alpha")
        if not 0.0 <= self.alpha_edge_probability <= 1.0:
            raise UsageError("--alpha_edge_probability must be in [0, 1]")
        if self.style_weights and not all(
                math.isfinite(w) and w >= 0 for w in self.style_weights):
            raise UsageError("--style_weights must be non-negative numbers")


def make_strategy(name, tpu=""):
    """The `tf.distribute` strategy for `--strategy`."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # Without GPUs MirroredStrategy takes only the first CPU; use every
        # logical CPU device that was configured (tests split one CPU in two).
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus)
    if name == "multi_worker":
        # Reads the cluster from TF_CONFIG.
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _is_chief(strategy):
    """Whether this worker writes the checkpoints, logs and model."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def _content_dataset(config, stats):
    if config.content_tfds:
        return data_lib.content_dataset_from_tfds(
            config.content_tfds, split=config.tfds_split,
            data_dir=config.tfds_data_dir, image_size=config.image_size,
            batch_size=config.batch_size, seed=config.seed)
    return data_lib.content_dataset_from_files(
        config.content_images, config.image_size, config.batch_size,
        seed=config.seed, max_pixels=config.max_pixels, stats=stats)


def _preview_content(config):
    """One fixed content crop for the TensorBoard images, or None."""
    if not config.content_images:
        return None
    for path in images.list_image_files(config.content_images):
        try:
            return images.load_center_square(
                path, config.image_size, max_pixels=config.max_pixels)[None]
        except images.ImageError:
            continue
    return None


class CompactProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar for windows of steps, total and raw losses only.

    The normalized losses and EMAs still reach TensorBoard and the history;
    on a terminal they would wrap the bar over several lines. Each window
    (a Keras "epoch") is headed by the global steps it covers.
    """

    def __init__(self, verbose, train_steps):
        super().__init__()
        self._verbose = verbose
        self._train_steps = train_steps

    def set_params(self, params):
        super().set_params({**params, "verbose": self._verbose})

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        step = int(self.model.optimizer.iterations.numpy())
        last = min(step + self.target, self._train_steps)
        print(f"Steps {step + 1}-{last} of {self._train_steps}", flush=True)

    @staticmethod
    def _short(logs):
        return {k: v for k, v in (logs or {}).items()
                if not (k.endswith("_normalized") or k.startswith("ema_"))}

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._short(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._short(logs))


class _RunCallback(keras.callbacks.Callback):
    """Checkpoints, TensorBoard, NaN guard and the stop at `train_steps`."""

    def __init__(self, config, manager, writer, preview, stats, is_chief):
        super().__init__()
        self.config = config
        self.manager = manager
        self.writer = writer
        self.preview = preview
        self.stats = stats
        self.is_chief = is_chief
        self.reported_bad = 0
        self.nan_step = None
        self.saved_step = None
        self.last_logs = {}
        self._step_time = time.time()

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.nan_step = self._step()
            self.model.stop_training = True
            return
        step = self._step()
        if step % self.config.save_every == 0:
            # This step's loss was finite, but its update may not have been:
            # never write weights that are not.
            if not self._weights_finite():
                self.nan_step = step
                self.model.stop_training = True
                return
            self.manager.save(checkpoint_number=step)
            self.saved_step = step
        if step >= self.config.train_steps:
            self.model.stop_training = True

    def _weights_finite(self):
        return all(bool(tf.reduce_all(tf.math.is_finite(v)))
                   for v in self.model.stylizer.trainable_variables)

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_step is not None:
            return
        logs = dict(logs or {})
        self.last_logs = logs
        step = self._step()
        now = time.time()
        if self.stats is not None and self.stats.bad > self.reported_bad:
            logging.warning("skipped %d undecodable content files so far",
                            self.stats.bad)
            self.reported_bad = self.stats.bad
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in logs.items():
                tf.summary.scalar(f"losses/{name}" if not name.startswith(
                    "ema_") else f"ema/{name[4:]}", float(value))
            tf.summary.scalar("learning_rate",
                              float(keras.ops.convert_to_numpy(
                                  self.model.optimizer.learning_rate)))
            tf.summary.scalar("steps_per_second",
                              self.config.log_every / max(now - self._step_time, 1e-9))
            if self.preview is not None:
                tf.summary.image("stylized", self._preview_images(), step=step,
                                 max_outputs=len(PREVIEW_ALPHAS))
        self.writer.flush()
        self._step_time = now

    def _preview_images(self):
        stylizer = self.model.stylizer
        if not networks.is_adjustable(stylizer):
            return stylizer(self.preview, training=False)
        alphas = np.array(PREVIEW_ALPHAS, np.float32)[
            :, :len(networks.style_layer_names(stylizer))]
        content = np.repeat(self.preview, len(alphas), axis=0)
        return stylizer([content, alphas], training=False)


def _float32_copy(stylizer, config, spec):
    """The stylizer rebuilt in float32 with the trained weights."""
    if stylizer.dtype_policy.name == "float32":
        return stylizer
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        if config.model_type == "adjustable":
            copy = networks.build_adjustable_stylizer(spec.style_layers)
        else:
            copy = networks.build_base_stylizer()
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(stylizer.get_weights())
    return copy


def _dtype_policy(config):
    """The Keras dtype policy for the run, and why (see `precision`)."""
    accelerator = ("tpu" if config.strategy == "tpu" else
                   "gpu" if tf.config.list_physical_devices("GPU") else None)
    return precision.training_policy(config.mixed_precision, accelerator)


def _warm_start(stylizer, normalizer, config, spec):
    """Copies T's and Lambda's weights from `config.init_from` into `stylizer`.

    Only the stylizer's weights travel: the optimizer starts fresh. The
    source's loss EMAs are taken over too when it was trained on the same
    style image with the same loss network (so `--ema_decay=1` freezes
    Eq. 8's weights where the source had them); for a new style they start
    from the first batch. Returns the origin for `model.json`.
    """
    path = model_files.resolve_model_path(config.init_from)
    source, record = model_files.load_stylizer(path)
    kind = "adjustable" if networks.is_adjustable(source) else "base"
    if kind != config.model_type:
        article = lambda word: "an" if word == "adjustable" else "a"
        raise TrainingError(
            f"--init_from={config.init_from} is {article(kind)} {kind} model, "
            f"but this run trains {article(config.model_type)} "
            f"{config.model_type} one (--model_type)")
    if kind == "adjustable":
        layers = networks.style_layer_names(source)
        if list(layers) != list(spec.style_layers):
            raise TrainingError(
                f"--init_from={config.init_from} weights the style layers "
                f"{','.join(layers)}, but this run's are "
                f"{','.join(spec.style_layers)}")
    theirs = [tuple(w.shape) for w in source.weights]
    ours = [tuple(w.shape) for w in stylizer.weights]
    if theirs != ours:
        raise TrainingError(
            f"--init_from={config.init_from} has another architecture "
            f"({len(theirs)} weight tensors, not {len(ours)} of the same "
            "shapes)")
    stylizer.set_weights(source.get_weights())

    same_losses = (
        record.get("style_image_sha256") == model_files.file_sha256(
            config.style_image)
        and record.get("loss_network") == config.loss_network
        and record.get("content_layer") == spec.content_layer
        and len(record.get("ema") or []) == normalizer.num_losses)
    if same_losses:
        normalizer.ema.assign(np.asarray(record["ema"], np.float32))
        normalizer.count.assign(1)
    origin = {
        "model": config.init_from,
        "sha256": model_files.file_sha256(path),
        "emas": "taken over" if same_losses else "fresh",
    }
    # The source's own record, so model.json keeps every stage back to the
    # first run (a chain of warm starts nests).
    for key in ("style_image", "style_image_sha256", "steps", "total_steps",
                "image_size",
                "content_weight", "ema", "history", "init_from"):
        if key in record:
            origin[key] = record[key]
    print(f"Starting from the weights of {path} "
          f"({record.get('steps', '?')} steps on "
          f"{record.get('style_image', 'an unknown style')}; "
          f"loss EMAs {origin['emas']})", flush=True)
    return origin


def train(config):
    """Runs (or resumes) a training run; returns the path of model.keras.

    The global Keras dtype policy is restored afterwards, so a mixed
    precision run leaves no trace on the caller's later models.
    """
    previous_policy = keras.config.dtype_policy()
    try:
        return _train(config)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _train(config):
    config.validate()
    if config.init_from:  # A bad name fails now, not after VGG has loaded.
        model_files.resolve_model_path(config.init_from)
    started = time.time()
    # TensorFlow's INFO lines (checkpoint sharding, ...) drown the progress.
    logging.set_verbosity(logging.WARNING)
    if not os.path.isfile(config.style_image):
        raise images.ImageError(
            f"{config.style_image}: style image does not exist")
    # Before any other TensorFlow op: multi-worker collectives must be
    # configured at start-up.
    strategy = make_strategy(config.strategy, config.tpu)
    style = data_lib.style_image_tensor(
        config.style_image, config.style_image_size or config.image_size,
        max_pixels=config.max_pixels)
    is_chief = _is_chief(strategy)
    policy, why = _dtype_policy(config)
    keras.config.set_dtype_policy(policy)
    print(f"Precision: {why}", flush=True)
    keras.utils.set_random_seed(config.seed)

    stats = data_lib.DecodeStats()
    dataset = _content_dataset(config, stats)
    options = tf.data.Options()
    # Files are read by Python through Pillow, not a file reader, so shard
    # by data between workers.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    dataset = dataset.with_options(options)

    spec = loss_network.default_spec(
        config.loss_network, config.content_layer, config.style_layers)
    with strategy.scope():
        vgg = loss_network.build_loss_network(spec, weights=config.vgg_weights)
        if config.model_type == "adjustable":
            stylizer = networks.build_adjustable_stylizer(spec.style_layers)
        else:
            stylizer = networks.build_base_stylizer()
        trainer = trainer_lib.StyleTransferTrainer(
            stylizer, vgg, spec, style,
            style_weights=config.style_weights,
            content_weight=config.content_weight,
            ema_decay=config.ema_decay, seed=config.seed,
            alpha_edge_probability=(config.alpha_edge_probability
                                    if config.model_type == "adjustable" else 0.0))
        optimizer = keras.optimizers.Adam(
            config.learning_rate, beta_1=0.9, beta_2=0.999)
        trainer.compile(optimizer=optimizer, jit_compile=config.jit_compile)
        # Create the optimizer's slots now, so a checkpoint restores into
        # them instead of waiting for the first step.
        trainer.optimizer.build(stylizer.trainable_variables)

    checkpoint = tf.train.Checkpoint(model=trainer, optimizer=trainer.optimizer)
    checkpoint_dir = os.path.join(config.model_dir, CHECKPOINT_DIR)
    # Every worker resumes from the chief's checkpoints; each must also take
    # part in every save, but only the chief's copy is kept.
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if not is_chief:
        checkpoint_dir = os.path.join(
            config.model_dir, "tmp_workers",
            f"worker_{strategy.cluster_resolver.task_id}")
    manager = tf.train.CheckpointManager(
        checkpoint, checkpoint_dir, max_to_keep=3)
    previous = model_files.read_record(
        os.path.join(config.model_dir, model_files.MODEL_FILE))
    origin = None
    if latest:
        origin = previous.get("init_from")
        checkpoint.restore(latest).assert_existing_objects_matched()
        # The checkpoint holds the old learning rate; the flag wins.
        trainer.optimizer.learning_rate.assign(config.learning_rate)
        print(f"Resuming at step {int(trainer.optimizer.iterations.numpy())} "
              f"from {latest}"
              + (" (--init_from is ignored: the run's own checkpoint wins)"
                 if config.init_from else ""), flush=True)
    elif config.init_from:
        origin = _warm_start(stylizer, trainer.normalizer, config, spec)

    writer = None
    if is_chief:
        writer = tf.summary.create_file_writer(
            os.path.join(config.model_dir, LOG_DIR, "train"))
    callback = _RunCallback(config, manager, writer,
                            _preview_content(config) if is_chief else None,
                            stats, is_chief)

    start_step = int(trainer.optimizer.iterations.numpy())
    remaining = config.train_steps - start_step
    if remaining > 0:
        window = min(config.log_every, remaining)
        callbacks = [callback]
        if config.verbose:
            callbacks.append(CompactProgbar(config.verbose, config.train_steps))
        trainer.fit(dataset, epochs=math.ceil(remaining / window),
                    steps_per_epoch=window, callbacks=callbacks, verbose=0,
                    initial_epoch=0, shuffle=False)
    if callback.nan_step is not None:
        kept = manager.latest_checkpoint or "none saved yet"
        raise TrainingError(
            f"the loss became NaN at step {callback.nan_step}; stopped "
            f"without saving. Last good checkpoint: {kept}. Try a lower "
            "--learning_rate, or train without --mixed_precision")
    step = int(trainer.optimizer.iterations.numpy())
    # Decided the same way on every worker: saving is a collective operation.
    if step != (callback.saved_step if callback.saved_step is not None
                else (start_step if latest else None)):
        manager.save(checkpoint_number=step)
    if stats.bad:
        print(f"Skipped {stats.bad} undecodable content files "
              f"(e.g. {stats.bad_files[0]})", flush=True)
    if not is_chief:
        return None

    seconds = round(time.time() - started, 1)
    # A resumed run keeps the record of the runs before it: each segment of
    # steps with the settings that may change on resume.
    history = [h for h in previous.get("history", [])
               if h.get("last_step", 0) <= start_step]
    history.append({
        "first_step": start_step, "last_step": step,
        "seconds": seconds,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size, "image_size": config.image_size,
        "mixed_precision": config.mixed_precision,
        "precision": policy,
        "jit_compile": config.jit_compile,
        "alpha_edge_probability": config.alpha_edge_probability,
        "content_weight": config.content_weight,
        "ema_decay": config.ema_decay,
    })
    record = {
        "model_type": config.model_type,
        "style_image": os.path.basename(config.style_image),
        "style_image_sha256": model_files.file_sha256(config.style_image),
        "style_image_size": config.style_image_size or config.image_size,
        "content": config.content_tfds or config.content_images,
        "steps": step,
        "batch_size": config.batch_size,
        "image_size": config.image_size,
        "learning_rate": config.learning_rate,
        "loss_network": config.loss_network,
        "vgg_weights": (config.vgg_weights if config.vgg_weights in (
            "imagenet", "random") else os.path.basename(config.vgg_weights)),
        "content_layer": spec.content_layer,
        "style_layers": list(spec.style_layers),
        "style_weights": list(config.style_weights or []),
        "content_weight": config.content_weight,
        "ema_decay": config.ema_decay,
        "alpha_edge_probability": config.alpha_edge_probability,
        "ema": [float(v) for v in trainer.normalizer.ema.numpy()],
        "final_losses": {k: float(v) for k, v in callback.last_logs.items()},
        "skipped_content_files": stats.bad,
        "mixed_precision": config.mixed_precision,
        "seed": config.seed,
        "strategy": config.strategy,
        "replicas": strategy.num_replicas_in_sync,
        "seconds_this_run": seconds,
        "history": history,
    }
    if origin:
        record["init_from"] = origin
        # Steps since the first run from scratch, through every warm start.
        record["total_steps"] = step + int(
            origin.get("total_steps", origin.get("steps")) or 0)
    path = model_files.save_model(
        config.model_dir, _float32_copy(stylizer, config, spec), record)
    print(f"Saved {path} after {step} steps", flush=True)
    return path
