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

import dataclasses
import json
import math
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from adjustable_style import (
    checkpoints,
    cli,
    images,
    loss_network,
    model_files,
    networks,
    precision,
    run_lock,
    training_callbacks,
)
from adjustable_style import data as data_lib
from adjustable_style import trainer as trainer_lib
from adjustable_style.errors import UserError
from adjustable_style.train_config import NAMED_VGG_WEIGHTS, TrainConfig

CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"


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


@dataclasses.dataclass
class _Run:
    """What the steps of one training run hand to each other."""

    config: TrainConfig
    spec: object  # loss_network.LossNetworkSpec
    previous: dict  # The record of the runs before this one in model_dir.
    started: float
    strategy: object
    is_chief: bool
    identity: dict
    policy: str
    style: object
    stats: object
    dataset: object
    checkpoint_dir: str
    stylizer: object = None
    trainer: object = None
    manager: object = None
    latest: str = None  # The checkpoint this run resumed from.
    origin: dict = None  # --init_from's record, or the resumed run's.
    start_step: int = 0
    callback: object = None
    written: tuple = None  # (step, path) of the last model.keras written.


def _train(config, held):
    """Build, restore, fit and record: the steps of `train`, in order."""
    config.validate()
    run, resume_from, has_identity, skipped = _prepare(config, held)
    checkpoint, legacy_checkpoint = _build(run)
    _restore_or_warm_start(run, checkpoint, legacy_checkpoint, resume_from,
                           has_identity, skipped)
    _fit(run)
    return _finish(run)


def _prepare(config, held):
    """Checks the folder and its checkpoints, holds the lock, reads the data.

    Returns the run and the checkpoint to resume from (number, whether it
    carries an identity, the damaged newer ones; see `checkpoints`).
    """
    spec = config.loss_spec()
    _prepare_model_dir(config.model_dir)
    # A damaged record fails now, before any work.
    previous = model_files.read_record(
        os.path.join(config.model_dir, model_files.MODEL_FILE))
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
    identity = checkpoints.identity(config, spec)
    checkpoint_dir = os.path.join(config.model_dir, CHECKPOINT_DIR)
    resume_from, has_identity, skipped = checkpoints.find_checkpoint(
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
    run = _Run(config=config, spec=spec, previous=previous, started=started,
               strategy=strategy, is_chief=is_chief, identity=identity,
               policy=policy, style=style, stats=stats,
               dataset=dataset.with_options(options),
               checkpoint_dir=checkpoint_dir)
    return run, resume_from, has_identity, skipped


def _build(run):
    """The stylizer, loss network, trainer and optimizer, and their checkpoints."""
    config, spec = run.config, run.spec
    with run.strategy.scope():
        vgg = loss_network.build_loss_network(spec, weights=config.vgg_weights)
        if config.model_type == "adjustable":
            run.stylizer = networks.build_adjustable_stylizer(
                spec.style_layers, conv_init=config.conv_initializer)
        else:
            run.stylizer = networks.build_base_stylizer(
                conv_init=config.conv_initializer)
        run.trainer = trainer_lib.StyleTransferTrainer(
            run.stylizer, vgg, spec, run.style,
            style_weights=config.style_weights,
            content_weight=config.content_weight,
            ema_decay=config.ema_decay, seed=config.seed,
            alpha_edge_probability=(config.alpha_edge_probability
                                    if config.model_type == "adjustable" else 0.0))
        optimizer = keras.optimizers.Adam(
            config.learning_rate, beta_1=0.9, beta_2=0.999)
        run.trainer.compile(optimizer=optimizer, jit_compile=config.jit_compile)
        # Create the optimizer's slots now, so a checkpoint restores into
        # them instead of waiting for the first step.
        run.trainer.optimizer.build(run.stylizer.trainable_variables)

    identity_variable = tf.Variable(
        json.dumps(run.identity, sort_keys=True), trainable=False,
        name=checkpoints.IDENTITY)
    checkpoint = tf.train.Checkpoint(
        model=run.trainer, optimizer=run.trainer.optimizer,
        **{checkpoints.IDENTITY: identity_variable})
    legacy_checkpoint = tf.train.Checkpoint(
        model=run.trainer, optimizer=run.trainer.optimizer)
    return checkpoint, legacy_checkpoint


def _restore_or_warm_start(run, checkpoint, legacy_checkpoint, resume_from,
                           has_identity, skipped):
    """Resumes from the run's own checkpoint, or starts from --init_from."""
    config, trainer = run.config, run.trainer
    # Every worker resumes from the chief's checkpoints; each must also take
    # part in every save, but only the chief's copy is kept.
    if resume_from is not None:
        run.latest = checkpoints.restore(checkpoint if has_identity else legacy_checkpoint,
                              run.checkpoint_dir, resume_from, skipped, run.is_chief)
    checkpoint_dir = run.checkpoint_dir
    if not run.is_chief:
        checkpoint_dir = os.path.join(
            config.model_dir, "tmp_workers",
            f"worker_{run.strategy.cluster_resolver.task_id}")
    run.manager = tf.train.CheckpointManager(
        checkpoint, checkpoint_dir, max_to_keep=3,
        checkpoint_name=checkpoints.PREFIX)
    if run.latest:
        run.origin = run.previous.get("init_from")
        # The checkpoint holds the old learning rate; the flag wins.
        trainer.optimizer.learning_rate.assign(config.learning_rate)
        print(f"Resuming at step {int(trainer.optimizer.iterations.numpy())} "
              f"from {run.latest}"
              + (" (--init_from is ignored: the run's own checkpoint wins)"
                 if config.init_from else ""), flush=True)
    elif config.init_from:
        run.origin = _warm_start(run.stylizer, trainer.normalizer, config, run.spec,
                                 run.identity["style_image_sha256"])
    run.start_step = int(trainer.optimizer.iterations.numpy())


def _fit(run):
    """Trains up to `train_steps`; checkpoints and records on the way."""
    config = run.config
    writer = None
    if run.is_chief:
        writer = tf.summary.create_file_writer(
            os.path.join(config.model_dir, LOG_DIR, "train"))
    run.callback = training_callbacks.RunCallback(
        config, run.manager, writer,
        _preview_content(config) if run.is_chief else None,
        run.stats, on_save=(lambda step: _write_model(run, step)) if run.is_chief else None)
    remaining = config.train_steps - run.start_step
    if remaining > 0:
        window = min(config.log_every, remaining)
        callbacks = [run.callback]
        if config.verbose:
            callbacks.append(training_callbacks.CompactProgbar(
                config.verbose, config.train_steps))
        run.trainer.fit(run.dataset, epochs=math.ceil(remaining / window),
                        steps_per_epoch=window, callbacks=callbacks, verbose=0,
                        initial_epoch=0, shuffle=False)
    if run.callback.nan_step is not None:
        kept = run.manager.latest_checkpoint or "none saved yet"
        raise TrainingError(
            f"the loss became NaN at step {run.callback.nan_step}; stopped "
            f"without saving. Last good checkpoint: {kept}. Try a lower "
            "--learning_rate, or train without --mixed_precision")


def _finish(run):
    """The last checkpoint and model files; the path of model.keras (chief)."""
    callback, stats = run.callback, run.stats
    step = int(run.trainer.optimizer.iterations.numpy())
    # Decided the same way on every worker: saving is a collective operation.
    if step != (callback.saved_step if callback.saved_step is not None
                else (run.start_step if run.latest else None)):
        run.manager.save(checkpoint_number=step)
    if stats.bad:
        print(f"Skipped {stats.bad} undecodable content files "
              f"(e.g. {stats.bad_files[0]})", flush=True)
    if not run.is_chief:
        return None
    path = _write_model(run, step)
    print(f"Saved {path} after {step} steps", flush=True)
    return path


def _write_model(run, step):
    """model.keras and model.json as of checkpoint `step` (once per step).

    Written at every save, so that an interrupted run leaves its record
    (every segment of `history`) and a model matching its newest checkpoint.
    """
    if run.written is None or run.written[0] != step:
        run.written = (step, model_files.save_model(
            run.config.model_dir, _float32_copy(run.stylizer, run.config, run.spec),
            _record(run, step)))
    return run.written[1]


def _record(run, step):
    """The training record (model.json) as of `step`."""
    config, spec, start_step = run.config, run.spec, run.start_step
    seconds = round(time.time() - run.started, 1)
    # A resumed run keeps the record of the runs before it: each segment of
    # steps with the settings that may change on resume.
    # Steps after the restored checkpoint (a damaged newer one) are
    # trained again: the segment that made them ends where this begins.
    history = [dict(h, last_step=min(h.get("last_step", 0), start_step))
               for h in run.previous.get("history", [])
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
        "precision": run.policy,
        "jit_compile": config.jit_compile,
        "alpha_edge_probability": config.alpha_edge_probability,
        "content_weight": config.content_weight,
        "ema_decay": config.ema_decay,
    })
    record = {
        "model_type": config.model_type,
        "style_image": os.path.basename(config.style_image),
        "style_image_sha256": run.identity["style_image_sha256"],
        "style_image_size": config.style_image_size or config.image_size,
        "content": config.content_tfds or config.content_images,
        "steps": step,
        "batch_size": config.batch_size,
        "image_size": config.image_size,
        "learning_rate": config.learning_rate,
        "loss_network": config.loss_network,
        "vgg_weights": (config.vgg_weights if config.vgg_weights in NAMED_VGG_WEIGHTS
                        else os.path.basename(config.vgg_weights)),
        "content_layer": spec.content_layer,
        "style_layers": list(spec.style_layers),
        "style_weights": list(config.style_weights or []),
        "content_weight": config.content_weight,
        "ema_decay": config.ema_decay,
        "alpha_edge_probability": config.alpha_edge_probability,
        "ema": [float(v) for v in run.trainer.normalizer.ema.numpy()],
        "final_losses": {k: float(v) for k, v in run.callback.last_logs.items()},
        "skipped_content_files": run.stats.bad,
        "mixed_precision": config.mixed_precision,
        "seed": config.seed,
        "strategy": config.strategy,
        "replicas": run.strategy.num_replicas_in_sync,
        "seconds_this_run": seconds,
        "history": history,
    }
    if run.origin:
        record["init_from"] = run.origin
    else:
        # The initializer of the run from scratch, which a resume keeps.
        record["conv_initializer"] = run.previous.get(
            "conv_initializer", config.conv_initializer)
    if run.origin:
        # Steps since the first run from scratch, through every warm start.
        record["total_steps"] = step + int(
            run.origin.get("total_steps", run.origin.get("steps")) or 0)
    return record
