"""What every training run shares, whatever its Keras backend.

`training` (TensorFlow: tf.data, `tf.distribute`, `tf.train.Checkpoint`,
TensorBoard) and `run_backends` (JAX and PyTorch: a Python data
pipeline and `.weights.h5` checkpoints) build a `Run` their own way and
share the rest (the model folder and its clean-up are `run_folder`'s, the
start from another model's weights or loss EMAs `warm_start`'s): the `fit`
in windows of `log_every` steps with checkpoints every
`save_every` (`fit`, `finish`), and `model.keras` + `model.json`, the
training record, at each save (`write_model`, `record`).

Nothing here imports TensorFlow.
"""

import dataclasses
import math
import os
import time

import keras

from adjustable_style import model_files
from adjustable_style.model import loss_network, networks
from adjustable_style.training import callbacks as training_callbacks
from adjustable_style.training import checkpoints, content_files, distill
from adjustable_style.training import trainer as trainer_lib
from adjustable_style.training.config import NAMED_VGG_WEIGHTS, TrainConfig
from adjustable_style.training.run_folder import CHECKPOINT_DIR, AlreadyTrained, TrainingError
from adjustable_style.training.warm_start import float32_copy, take_loss_emas, warm_start


def check_steps_left(config, previous, newest):
    """Refuses a --train_steps below the steps done; `AlreadyTrained` at them.

    `newest` is the step of the newest checkpoint (None for none). The run is
    finished when that checkpoint, model.json and model.keras all say the
    same step: a rerun of the same command then writes nothing. A checkpoint
    newer than the record (a run killed between the two) still goes on, to
    write the model of that step.
    """
    if newest is None:
        return
    if config.train_steps < newest:
        raise TrainingError(
            f"--train_steps={config.train_steps} is below the {newest} steps already "
            f"trained in --model_dir={config.model_dir}; pass --train_steps={newest} or "
            "more, or train into a new --model_dir"
        )
    model = os.path.join(config.model_dir, model_files.MODEL_FILE)
    if config.train_steps == newest and previous.get("steps") == newest and os.path.isfile(model):
        raise AlreadyTrained(model, newest)


def style_and_identity(config, spec):
    """(style image array, the run's identity, the checkpoint folder).

    The identity (see `checkpoints.identity`) is what a checkpoint must
    share with a run that resumes from it.
    """
    style = content_files.style_image_array(
        config.style_image,
        config.style_image_size or config.image_size,
        max_pixels=config.max_pixels,
    )
    identity = checkpoints.identity(config, spec)
    return style, identity, os.path.join(config.model_dir, CHECKPOINT_DIR)


def set_policy(policy, why):
    """Makes `policy` the global Keras dtype policy and says why; returns it."""
    keras.config.set_dtype_policy(policy)
    print(f"Precision: {why}", flush=True)
    return policy


def build_trainer(run, jit_compile):
    """The stylizer, loss network, trainer and its Adam into `run`.

    The optimizer's slots are made now, so that a checkpoint restores into
    them instead of waiting for the first step.
    """
    config, spec = run.config, run.spec
    vgg = loss_network.build_loss_network(spec, weights=config.vgg_weights)
    architecture = networks.ARCHITECTURES[config.architecture]
    if config.model_type == "adjustable":
        run.stylizer = networks.build_adjustable_stylizer(
            spec.style_layers, conv_init=config.conv_initializer, architecture=architecture
        )
    else:
        run.stylizer = networks.build_base_stylizer(
            conv_init=config.conv_initializer, architecture=architecture
        )
    if config.teacher:
        run.trainer = distill.DistillationTrainer(
            run.stylizer,
            distill.load_teacher(config, spec),
            vgg,
            spec,
            feature_weight=config.feature_weight,
            ema_decay=config.ema_decay,
            seed=config.seed,
            alpha_edge_probability=config.alpha_edge_probability,
        )
    else:
        run.trainer = trainer_lib.StyleTransferTrainer(
            run.stylizer,
            vgg,
            spec,
            run.style,
            style_weights=config.style_weights,
            content_weight=config.content_weight,
            ema_decay=config.ema_decay,
            seed=config.seed,
            alpha_edge_probability=(
                config.alpha_edge_probability if config.model_type == "adjustable" else 0.0
            ),
            loss_normalization=config.loss_normalization,
            zero_alpha_color_weight=config.zero_alpha_color_weight,
        )
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=0.9, beta_2=0.999)
    run.trainer.compile(optimizer=optimizer, jit_compile=jit_compile)
    run.trainer.optimizer.build(run.stylizer.trainable_variables)


def step_of(trainer):
    """The optimizer steps `trainer` has taken."""
    return int(keras.ops.convert_to_numpy(trainer.optimizer.iterations))


def resume_or_warm_start(run):
    """After a restore (`run.latest` set) or none: says so, or warm-starts.

    Sets `run.origin` (for the record) and `run.start_step`.
    """
    config, trainer = run.config, run.trainer
    if run.latest:
        run.origin = run.previous.get("init_from")
        # The checkpoint holds the old learning rate; the flag wins.
        trainer.optimizer.learning_rate.assign(config.learning_rate)
        print(
            f"Resuming at step {step_of(trainer)} from {run.latest}"
            + (
                " (--init_from is ignored: the run's own checkpoint wins)"
                if config.init_from
                else ""
            ),
            flush=True,
        )
    elif config.init_from:
        run.origin = warm_start(
            run.stylizer, trainer.normalizer, config, run.spec, run.identity["style_image_sha256"]
        )
    if config.loss_ema_from and not run.latest:
        run.loss_emas = take_loss_emas(
            trainer.normalizer, config, run.spec, run.identity["style_image_sha256"]
        )
    run.start_step = step_of(trainer)


@dataclasses.dataclass
class Run:
    """What the steps of one training run hand to each other."""

    config: TrainConfig
    spec: object  # loss_network.LossNetworkSpec
    previous: dict  # The record of the runs before this one in model_dir.
    started: float
    is_chief: bool
    identity: dict
    policy: str
    style: object
    stats: object
    dataset: object
    checkpoint_dir: str
    # A `tf.distribute` strategy (TensorFlow), else None.
    strategy: object = None
    replicas: int = 1
    jit_compile: bool = False  # As the step was compiled, for the record.
    stylizer: object = None
    trainer: object = None
    # What `fit` and `finish` save through: `.save(checkpoint_number=step)`
    # and `.latest_checkpoint`, as `tf.train.CheckpointManager` has.
    manager: object = None
    latest: str = None  # The checkpoint this run resumed from.
    origin: dict = None  # --init_from's record, or the resumed run's.
    loss_emas: dict = None  # Where --loss_ema_from's EMAs came from.
    start_step: int = 0
    callback: object = None
    written: tuple = None  # (step, path) of the last model.keras written.


def fit(run, writer=None, preview=None):
    """Trains up to `train_steps`; checkpoints and records on the way.

    `writer` (a TensorBoard summary writer) gets the scalars of each window
    and stylized `preview` images (see `training_callbacks.RunCallback`).
    """
    config = run.config
    run.callback = training_callbacks.RunCallback(
        config,
        run.manager,
        writer,
        preview,
        run.stats,
        on_save=(lambda step: write_model(run, step)) if run.is_chief else None,
    )
    remaining = config.train_steps - run.start_step
    if remaining > 0:
        window = min(config.log_every, remaining)
        callbacks = [run.callback]
        if config.verbose:
            callbacks.append(training_callbacks.CompactProgbar(config.verbose, config.train_steps))
        run.trainer.fit(
            run.dataset,
            epochs=math.ceil(remaining / window),
            steps_per_epoch=window,
            callbacks=callbacks,
            verbose=0,
            initial_epoch=0,
            shuffle=False,
        )
    if run.callback.nan_step is not None:
        kept = run.manager.latest_checkpoint or "none saved yet"
        raise TrainingError(
            f"the loss became NaN at step {run.callback.nan_step}; stopped "
            f"without saving. Last good checkpoint: {kept}. Try a lower "
            "--learning_rate, or train without --mixed_precision"
        )


def finish(run):
    """The last checkpoint and model files; the path of model.keras (chief)."""
    callback, stats = run.callback, run.stats
    step = step_of(run.trainer)
    # Decided the same way on every worker: saving is a collective operation.
    if step != (
        callback.saved_step
        if callback.saved_step is not None
        else (run.start_step if run.latest else None)
    ):
        run.manager.save(checkpoint_number=step)
    if stats.bad:
        print(
            f"Skipped {stats.bad} undecodable content files (e.g. {stats.bad_files[0]})", flush=True
        )
    if not run.is_chief:
        return None
    path = write_model(run, step)
    print(f"Saved {path} after {step} steps", flush=True)
    return path


def write_model(run, step):
    """model.keras and model.json as of checkpoint `step` (once per step).

    Written at every save, so that an interrupted run leaves its record
    (every segment of `history`) and a model matching its newest checkpoint.
    """
    if run.written is None or run.written[0] != step:
        run.written = (
            step,
            model_files.save_model(
                run.config.model_dir,
                float32_copy(run.stylizer, run.config, run.spec),
                record(run, step),
            ),
        )
    return run.written[1]


def record(run, step):
    """The training record (model.json) as of `step`."""
    config, spec, start_step = run.config, run.spec, run.start_step
    seconds = round(time.time() - run.started, 1)
    # A resumed run keeps the record of the runs before it: each segment of
    # steps with the settings that may change on resume.
    # Steps after the restored checkpoint (a damaged newer one) are
    # trained again: the segment that made them ends where this begins.
    history = [
        dict(h, last_step=min(h.get("last_step", 0), start_step))
        for h in run.previous.get("history", [])
        if h.get("first_step", 0) < start_step
    ]
    recorded = history[-1]["last_step"] if history else 0
    if recorded < start_step:
        # A run killed (kill -9) between a checkpoint and its record.
        history.append(
            {
                "first_step": recorded,
                "last_step": start_step,
                "note": "trained by a run killed before it recorded its settings",
            }
        )
    history.append(
        {
            "first_step": start_step,
            "last_step": step,
            "seconds": seconds,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "image_size": config.image_size,
            "mixed_precision": config.mixed_precision,
            "precision": run.policy,
            "jit_compile": run.jit_compile,
            "backend": keras.backend.backend(),
            "alpha_edge_probability": config.alpha_edge_probability,
            "content_weight": config.content_weight,
            "ema_decay": config.ema_decay,
            "zero_alpha_color_weight": config.zero_alpha_color_weight,
        }
    )
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
        "vgg_weights": (
            config.vgg_weights
            if config.vgg_weights in NAMED_VGG_WEIGHTS
            else os.path.basename(config.vgg_weights)
        ),
        "content_layer": spec.content_layer,
        "style_layers": list(spec.style_layers),
        "style_weights": list(config.style_weights or []),
        "loss_normalization": config.loss_normalization,
        "content_weight": config.content_weight,
        "ema_decay": config.ema_decay,
        "alpha_edge_probability": config.alpha_edge_probability,
        "zero_alpha_color_weight": config.zero_alpha_color_weight,
        "ema": [float(v) for v in keras.ops.convert_to_numpy(run.trainer.normalizer.ema)],
        "final_losses": {k: float(v) for k, v in run.callback.last_logs.items()},
        "skipped_content_files": run.stats.bad,
        "mixed_precision": config.mixed_precision,
        "seed": config.seed,
        "strategy": config.strategy,
        "replicas": run.replicas,
        "backend": keras.backend.backend(),
        "seconds_this_run": seconds,
        "history": history,
        "architecture": networks.architecture_of(run.stylizer).name,
    }
    if config.teacher:
        record.update(distill.record_entries(config))
    loss_emas = run.loss_emas or run.previous.get("loss_ema_from")
    if loss_emas:
        record["loss_ema_from"] = loss_emas
    if run.origin:
        record["init_from"] = run.origin
        # Steps since the first run from scratch, through every warm start.
        record["total_steps"] = step + int(
            run.origin.get("total_steps", run.origin.get("steps")) or 0
        )
    else:
        # The initializer of the run from scratch, which a resume keeps.
        record["conv_initializer"] = run.previous.get("conv_initializer", config.conv_initializer)
    return record
