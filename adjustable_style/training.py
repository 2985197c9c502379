"""A whole training run: data, strategy, resume, logging, the final model.

`train(train_config.TrainConfig(...))` is what `train.py` calls. It

- builds the stylizer, the frozen loss network and the trainer under the
  chosen `tf.distribute` strategy;
- holds `<model_dir>/train.lock` (see `run_lock`), so that a second trainer
  on the same folder is refused instead of overwriting its checkpoints;
- resumes from the newest readable checkpoint in `<model_dir>/checkpoints`
  (weights, optimizer state and step counter, loss EMAs; see
  `checkpoints`), so a run that was killed goes on from its last save,
  losing at most `save_every` steps, and refuses checkpoints of a run with
  another style image, model type, layers or loss network;
- runs `fit` in windows of `log_every` steps: each window is one Keras
  "epoch", so the progress bar and the TensorBoard scalars show the losses
  averaged over the last window, logged at the global step;
- stops with a clear error on a NaN loss, leaving the last good checkpoint;
- writes `<model_dir>/model.keras` and `model.json` (how it was trained,
  every segment of steps in `history`) at each checkpoint and at the end.
"""

import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from adjustable_style import checkpoints, cli
from adjustable_style import data as data_lib
from adjustable_style import images, loss_network, model_files, networks
from adjustable_style import precision, run_lock
from adjustable_style import trainer as trainer_lib
from adjustable_style.errors import UserError

CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
# Alphas of the TensorBoard preview images: none, each layer alone, all.
PREVIEW_ALPHAS = ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                  (0.0, 0.0, 1.0), (1.0, 1.0, 1.0))


class TrainingError(UserError, RuntimeError):
    """Training cannot go on (one-line message)."""


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


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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
        verbose = self._verbose
        # The bar redraws itself with carriage returns and colour codes; in
        # a redirected log those are noise, so write a line per window.
        if verbose == 1 and not _is_terminal(sys.stdout):
            verbose = 2
        super().set_params({**params, "verbose": verbose})

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


@contextlib.contextmanager
def _signals_deferred():
    """Holds SIGINT and SIGTERM back until the block ends, then delivers them.

    Python runs signal handlers in the main thread only, so swapping the
    handlers defers them whichever thread the signal arrived on.
    """
    caught = []
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(
                signum, lambda number, frame: caught.append(number))
    except ValueError:  # Not the main thread: handlers cannot change.
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


class _RunCallback(keras.callbacks.Callback):
    """Checkpoints, TensorBoard, NaN guard and the stop at `train_steps`."""

    def __init__(self, config, manager, writer, preview, stats, is_chief,
                 on_save=None):
        super().__init__()
        self.on_save = on_save
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
            # The record written with this save reports the window so far.
            self.last_logs = dict(logs)
            # This step's loss was finite, but its update may not have been:
            # never write weights that are not.
            if not self._weights_finite():
                self.nan_step = step
                self.model.stop_training = True
                return
            # Ctrl-C or SIGTERM waits until the checkpoint and its record are
            # both written, so the record never misses a saved segment.
            with _signals_deferred():
                self.manager.save(checkpoint_number=step)
                self.saved_step = step
                if self.on_save is not None:
                    self.on_save(step)
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


def _warm_start(stylizer, normalizer, config, spec, style_sha256):
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
        record.get("style_image_sha256") == style_sha256
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
                "image_size", "content_weight", "ema", "history", "init_from"):
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
    held = []
    made = bool(config.model_dir) and not os.path.exists(config.model_dir)
    try:
        return _train(config, held)
    except BaseException:
        for lock in held:
            lock.release()
        held.clear()
        if made:
            _remove_empty_folders(config.model_dir)
        raise
    finally:
        for lock in held:
            lock.release()
        keras.config.set_dtype_policy(previous_policy)


def _remove_empty_folders(top):
    """Removes `top` and its subfolders if no file was written below them.

    A run refused before its first save leaves no empty --model_dir behind.
    """
    for folder, _, _ in sorted(os.walk(top), key=lambda t: -len(t[0])):
        try:
            os.rmdir(folder)
        except OSError:  # Not empty: keep it and everything above.
            pass


def _prepare_model_dir(model_dir):
    """Makes `model_dir` (if needed) and checks that it takes files.

    Fails here, with the folder's own name, rather than later inside
    TensorFlow's file writers with an internal one.
    """
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise TrainingError(
            f"--model_dir={model_dir} is a file, not a folder")
    try:
        os.makedirs(model_dir, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=model_dir, prefix=".probe-")
        probe.close()
    except OSError as error:
        raise TrainingError(
            f"--model_dir={model_dir}: cannot write there "
            f"({error.strerror or error})") from None


def _identity(config, spec):
    """What a checkpoint must share with a run that resumes from it."""
    weights = config.vgg_weights
    if weights not in ("imagenet", "random"):
        weights = "sha256:" + model_files.file_sha256(weights)
    identity = {
        "model_type": config.model_type,
        "style_image": os.path.basename(config.style_image),
        "style_image_sha256": model_files.file_sha256(config.style_image),
        "loss_network": config.loss_network,
        "vgg_weights": weights,
        "content_layer": spec.content_layer,
        "style_layers": list(spec.style_layers),
    }
    if config.model_type == "base":
        identity["style_weights"] = [float(w) for w in config.style_weights]
    return identity


_IDENTITY_FLAGS = {
    "model_type": "--model_type", "style_image_sha256": "--style_image",
    "loss_network": "--loss_network", "vgg_weights": "--vgg_weights",
    "content_layer": "--content_layer", "style_layers": "--style_layers",
    "style_weights": "--style_weights",
}


def _check_identity(config, ours, theirs):
    """Refuses to resume a run whose checkpoints were trained otherwise."""
    def shown(key, identity):
        value = identity.get(key)
        if key == "style_image_sha256":
            return f"{identity.get('style_image', '?')} (sha256 {str(value)[:12]})"
        if isinstance(value, list):
            return ",".join(map(str, value)) or "none"
        return str(value)

    differences = [
        f"{_IDENTITY_FLAGS[key]}: {shown(key, theirs)} there, "
        f"{shown(key, ours)} now"
        for key in _IDENTITY_FLAGS
        if key in theirs and key in ours and theirs[key] != ours[key]]
    if differences:
        raise TrainingError(
            f"--model_dir={config.model_dir} holds checkpoints of another "
            f"run ({'; '.join(differences)}); resume with its settings, or "
            "train into a new --model_dir with "
            f"--init_from={config.model_dir} to start from its weights")


def _find_checkpoint(config, checkpoint_dir, ours, previous):
    """(number, has identity, skipped) of the checkpoint to resume from.

    Refuses a run whose settings differ from the checkpoint's, before any
    model is built. See `checkpoints` for damaged checkpoints.
    """
    number, theirs, skipped = checkpoints.find_restorable(checkpoint_dir)
    if number is None:
        if skipped:
            raise TrainingError(
                f"no checkpoint in {checkpoint_dir} can be read (newest: "
                f"{checkpoints.PREFIX}-{skipped[0][0]}: {skipped[0][1]}); "
                "not starting over at step 0 over them. Move the folder "
                "away to start a new run")
        return None, False, skipped
    if theirs is None:
        # A checkpoint from before identities were saved: the record tells,
        # except for the VGG weights, which it names only by file name.
        _check_identity(config, ours, {
            k: v for k, v in previous.items() if k != "vgg_weights"})
        return number, False, skipped
    _check_identity(config, ours, theirs)
    return number, True, skipped


def _restore(root, checkpoint_dir, number, skipped, is_chief):
    """Restores checkpoint `number`; sets the damaged newer ones aside."""
    path = checkpoints.prefix(checkpoint_dir, number)
    try:
        root.restore(path).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        raise TrainingError(
            f"{path} does not fit this run's network (another --model_type "
            "or --style_layers?): "
            f"{' '.join(str(error).split())[:200]}") from None
    if is_chief:
        for newer, _ in skipped:
            checkpoints.set_aside(checkpoint_dir, newer)
        kept = [n for n in checkpoints.numbers(checkpoint_dir) if n <= number]
        checkpoints.write_state(checkpoint_dir, kept, number)
    return path


def _train(config, held):
    config.validate()
    spec = config.loss_spec()
    _prepare_model_dir(config.model_dir)
    record_path = os.path.join(config.model_dir, model_files.MODEL_FILE)
    # A damaged record fails now, before any work.
    previous = model_files.read_record(record_path)
    started = time.time()
    # TensorFlow's INFO lines (checkpoint sharding, ...) drown the progress.
    logging.set_verbosity(logging.WARNING)
    # Before any other TensorFlow op: multi-worker collectives must be
    # configured at start-up.
    # Device probing prints CUDA notes straight to stderr on machines
    # without a GPU; they would fill every redirected log.
    with cli.quiet_native_stderr():
        tf.config.list_physical_devices()
        strategy = make_strategy(config.strategy, config.tpu)
    is_chief = _is_chief(strategy)
    if is_chief:  # The other workers write only below tmp_workers/.
        lock = run_lock.RunLock(config.model_dir)
        lock.acquire()
        held.append(lock)
        if lock.stale_holder():
            print(lock.stale_holder(), flush=True)
    style = data_lib.style_image_tensor(
        config.style_image, config.style_image_size or config.image_size,
        max_pixels=config.max_pixels)
    identity = _identity(config, spec)
    checkpoint_dir = os.path.join(config.model_dir, CHECKPOINT_DIR)
    resume_from, has_identity, skipped = _find_checkpoint(
        config, checkpoint_dir, identity, previous)
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

    identity_variable = tf.Variable(
        json.dumps(identity, sort_keys=True), trainable=False,
        name=checkpoints.IDENTITY)
    checkpoint = tf.train.Checkpoint(
        model=trainer, optimizer=trainer.optimizer,
        **{checkpoints.IDENTITY: identity_variable})
    legacy_checkpoint = tf.train.Checkpoint(
        model=trainer, optimizer=trainer.optimizer)
    # Every worker resumes from the chief's checkpoints; each must also take
    # part in every save, but only the chief's copy is kept.
    latest = None
    if resume_from is not None:
        latest = _restore(checkpoint if has_identity else legacy_checkpoint,
                          checkpoint_dir, resume_from, skipped, is_chief)
    if not is_chief:
        checkpoint_dir = os.path.join(
            config.model_dir, "tmp_workers",
            f"worker_{strategy.cluster_resolver.task_id}")
    manager = tf.train.CheckpointManager(
        checkpoint, checkpoint_dir, max_to_keep=3,
        checkpoint_name=checkpoints.PREFIX)
    origin = None
    if latest:
        origin = previous.get("init_from")
        # The checkpoint holds the old learning rate; the flag wins.
        trainer.optimizer.learning_rate.assign(config.learning_rate)
        print(f"Resuming at step {int(trainer.optimizer.iterations.numpy())} "
              f"from {latest}"
              + (" (--init_from is ignored: the run's own checkpoint wins)"
                 if config.init_from else ""), flush=True)
    elif config.init_from:
        origin = _warm_start(stylizer, trainer.normalizer, config, spec,
                             identity["style_image_sha256"])

    def write_model(step):
        """model.keras and model.json as of checkpoint `step`.

        Written at every save, so that an interrupted run leaves its
        record (every segment of `history`) and a model matching its newest
        checkpoint.
        """
        seconds = round(time.time() - started, 1)
        # A resumed run keeps the record of the runs before it: each segment of
        # steps with the settings that may change on resume.
        # Steps after the restored checkpoint (a damaged newer one) are
        # trained again: the segment that made them ends where this begins.
        history = [dict(h, last_step=min(h.get("last_step", 0), start_step))
                   for h in previous.get("history", [])
                   if h.get("first_step", 0) < start_step]
        recorded = history[-1]["last_step"] if history else 0
        if recorded < start_step:
            # A run killed (kill -9) between a checkpoint and its record.
            history.append({"first_step": recorded, "last_step": start_step,
                            "note": "trained by a run killed before it "
                                    "recorded its settings"})
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
            "style_image_sha256": identity["style_image_sha256"],
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
        return model_files.save_model(
            config.model_dir, _float32_copy(stylizer, config, spec), record)

    written = []

    def writer_of_model(step):
        if not written or written[-1][0] != step:
            written.append((step, write_model(step)))
        return written[-1][1]

    writer = None
    if is_chief:
        writer = tf.summary.create_file_writer(
            os.path.join(config.model_dir, LOG_DIR, "train"))
    start_step = int(trainer.optimizer.iterations.numpy())
    callback = _RunCallback(config, manager, writer,
                            _preview_content(config) if is_chief else None,
                            stats, is_chief,
                            on_save=writer_of_model if is_chief else None)

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

    path = writer_of_model(step)
    print(f"Saved {path} after {step} steps", flush=True)
    return path
