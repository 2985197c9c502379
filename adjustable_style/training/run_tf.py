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

This is the TensorFlow run; `run_backends` is the run on JAX and
PyTorch. What they share is in `run_common`.
"""

import json
import os

import keras
import tensorflow as tf
from absl import logging

from adjustable_style import cli, hardware, image_files, images
from adjustable_style.errors import first_line
from adjustable_style.training import checkpoints, run_folder
from adjustable_style.training import data as data_lib
from adjustable_style.training import run_backends as backend_training
from adjustable_style.training import run_common as training_run
from adjustable_style.training.config import TrainConfig
from adjustable_style.training.run_folder import CHECKPOINT_DIR, TrainingError

__all__ = ["train", "make_strategy", "TrainConfig", "TrainingError", "CHECKPOINT_DIR", "LOG_DIR"]

LOG_DIR = "logs"


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
    # The cluster comes from outside (TF_CONFIG, a TPU's address): what
    # TensorFlow raises about it is the user's to fix, in one line.
    where = "TF_CONFIG" if name == "multi_worker" else f"--tpu={tpu}"
    try:
        if name == "multi_worker":
            return tf.distribute.MultiWorkerMirroredStrategy()
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as error:
        raise TrainingError(
            f"--strategy={name}: cannot set up the cluster of {where} ({first_line(error, 300)})"
        ) from None


def _is_chief(strategy):
    """Whether this worker writes the checkpoints, logs and model."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def _content_dataset(config, stats):
    if config.content_tfds:
        return data_lib.content_dataset_from_tfds(
            config.content_tfds,
            split=config.tfds_split,
            data_dir=config.tfds_data_dir,
            image_size=config.image_size,
            batch_size=config.batch_size,
            seed=config.seed,
        )
    return data_lib.content_dataset_from_files(
        config.content_images,
        config.image_size,
        config.batch_size,
        seed=config.seed,
        max_pixels=config.max_pixels,
        stats=stats,
    )


def _preview_content(config):
    """One fixed content crop for the TensorBoard images, or None."""
    if not config.content_images:
        return None
    for path in image_files.list_image_files(config.content_images):
        try:
            return images.load_center_square(path, config.image_size, max_pixels=config.max_pixels)[
                None
            ]
        except images.ImageError:
            continue
    return None


def _dtype_policy(config):
    """The Keras dtype policy for the run, and why (see `hardware`)."""
    accelerator = (
        "tpu"
        if config.strategy == "tpu"
        else "gpu"
        if tf.config.list_physical_devices("GPU")
        else None
    )
    return hardware.training_policy(config.mixed_precision, accelerator)


def train(config):
    """Runs (or resumes) a training run; returns the path of model.keras."""
    return run_folder.run_guarded(config, _train)


def _train(config, held):
    """Build, restore, fit and record: the steps of `train`, in order."""
    config.validate()
    run, resume_from, has_identity, skipped = _prepare(config, held)
    checkpoint, legacy_checkpoint = _build(run)
    _restore_or_warm_start(run, checkpoint, legacy_checkpoint, resume_from, has_identity, skipped)
    writer = preview = None
    if run.is_chief:
        writer = tf.summary.create_file_writer(os.path.join(config.model_dir, LOG_DIR, "train"))
        preview = _preview_content(config)
    training_run.fit(run, writer, preview)
    return training_run.finish(run)


def _prepare(config, held):
    """Checks the folder and its checkpoints, holds the lock, reads the data.

    Returns the run and the checkpoint to resume from (number, whether it
    carries an identity, the damaged newer ones; see `checkpoints`).
    """
    spec = config.loss_spec()
    previous, started = run_folder.prepare_model_dir(config.model_dir)
    # TensorFlow's INFO lines (checkpoint sharding, ...) drown the progress.
    logging.set_verbosity(logging.WARNING)
    # Before any other TensorFlow op: multi-worker collectives must be
    # configured at start-up.
    # Device probing prints CUDA notes straight to stderr on machines
    # without a GPU; they would fill every redirected log.
    refused = None
    with cli.quiet_native_stderr():
        tf.config.list_physical_devices()
        try:
            strategy = make_strategy(config.strategy, config.tpu)
        except TrainingError as error:
            # Said in one line; TensorFlow's native notes would bury it.
            refused = error
    if refused is not None:
        raise refused
    is_chief = _is_chief(strategy)
    if is_chief:  # The other workers write only below tmp_workers/.
        run_folder.hold_lock(config.model_dir, held)
    style, identity, checkpoint_dir = training_run.style_and_identity(config, spec)
    resume_from, has_identity, skipped = checkpoints.find_checkpoint(
        config, checkpoint_dir, identity, previous
    )
    training_run.check_steps_left(config, previous, resume_from)
    if resume_from is None and backend_training.state_numbers(checkpoint_dir):
        raise checkpoints.CheckpointError(
            f"--model_dir={config.model_dir} holds checkpoints of a JAX or "
            "PyTorch run; resume it with that KERAS_BACKEND, or train into a "
            f"new --model_dir with --init_from={config.model_dir}"
        )
    policy = training_run.set_policy(*_dtype_policy(config))
    keras.utils.set_random_seed(config.seed)

    stats = data_lib.DecodeStats()
    dataset = _content_dataset(config, stats)
    options = tf.data.Options()
    # Files are read by Python through Pillow, not a file reader, so shard
    # by data between workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    run = training_run.Run(
        config=config,
        spec=spec,
        previous=previous,
        started=started,
        strategy=strategy,
        replicas=strategy.num_replicas_in_sync,
        jit_compile=config.jit_compile,
        is_chief=is_chief,
        identity=identity,
        policy=policy,
        style=style,
        stats=stats,
        dataset=dataset.with_options(options),
        checkpoint_dir=checkpoint_dir,
    )
    return run, resume_from, has_identity, skipped


def _build(run):
    """The stylizer, loss network, trainer and optimizer, and their checkpoints."""
    config = run.config
    with run.strategy.scope():
        training_run.build_trainer(run, jit_compile=config.jit_compile)

    identity_variable = tf.Variable(
        json.dumps(run.identity, sort_keys=True), trainable=False, name=checkpoints.IDENTITY
    )
    checkpoint = tf.train.Checkpoint(
        model=run.trainer,
        optimizer=run.trainer.optimizer,
        **{checkpoints.IDENTITY: identity_variable},
    )
    legacy_checkpoint = tf.train.Checkpoint(model=run.trainer, optimizer=run.trainer.optimizer)
    return checkpoint, legacy_checkpoint


def _restore_or_warm_start(run, checkpoint, legacy_checkpoint, resume_from, has_identity, skipped):
    """Resumes from the run's own checkpoint, or starts from --init_from."""
    config = run.config
    # Every worker resumes from the chief's checkpoints; each must also take
    # part in every save, but only the chief's copy is kept.
    if resume_from is not None:
        run.latest = checkpoints.restore(
            checkpoint if has_identity else legacy_checkpoint,
            run.checkpoint_dir,
            resume_from,
            skipped,
            run.is_chief,
        )
    checkpoint_dir = run.checkpoint_dir
    if not run.is_chief:
        checkpoint_dir = os.path.join(
            config.model_dir, "tmp_workers", f"worker_{run.strategy.cluster_resolver.task_id}"
        )
    run.manager = tf.train.CheckpointManager(
        checkpoint, checkpoint_dir, max_to_keep=3, checkpoint_name=checkpoints.PREFIX
    )
    training_run.resume_or_warm_start(run)
