"""What every training run shares, whatever its Keras backend.

`training` (TensorFlow: tf.data, `tf.distribute`, `tf.train.Checkpoint`,
TensorBoard) and `run_backends` (JAX and PyTorch: a Python data
pipeline and `.weights.h5` checkpoints) build a `Run` their own way and
share the rest: the model folder and its clean-up (`run_guarded`,
`prepare_model_dir`), the warm start from `--init_from` (`warm_start`),
the `fit` in windows of `log_every` steps with checkpoints every
`save_every` (`fit`, `finish`), and `model.keras` + `model.json`, the
training record, at each save (`write_model`, `record`).

Nothing here imports TensorFlow.
"""

import dataclasses
import math
import os
import re
import shutil
import tempfile
import time

import keras
import numpy as np

from adjustable_style import model_files
from adjustable_style.errors import UserError
from adjustable_style.model import loss_network, networks
from adjustable_style.training import callbacks as training_callbacks
from adjustable_style.training import checkpoints, content_files, distill, run_lock
from adjustable_style.training import trainer as trainer_lib
from adjustable_style.training.config import NAMED_VGG_WEIGHTS, TrainConfig

CHECKPOINT_DIR = "checkpoints"


class TrainingError(UserError, RuntimeError):
    """Training cannot go on (one-line message)."""


class AlreadyTrained(Exception):
    """The folder's run already has the steps asked for: nothing to do.

    Raised before any model is built and caught by `run_guarded`, which
    says so and returns `path` (model.keras) without writing anything.
    """

    def __init__(self, path, step):
        super().__init__(path)
        self.path, self.step = path, step


def float32_copy(stylizer, config, spec):
    """The stylizer rebuilt in float32 with the trained weights."""
    if stylizer.dtype_policy.name == "float32":
        return stylizer
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    architecture = networks.architecture_of(stylizer)
    try:
        if config.model_type == "adjustable":
            copy = networks.build_adjustable_stylizer(spec.style_layers, architecture=architecture)
        else:
            copy = networks.build_base_stylizer(architecture=architecture)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(stylizer.get_weights())
    return copy


def warm_start(stylizer, normalizer, config, spec, style_sha256):
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
            f"{config.model_type} one (--model_type)"
        )
    source_layers = list(spec.style_layers)
    if kind == "adjustable":
        source_layers = list(networks.style_layer_names(source))
        # As many layers, other ones: T and Lambda keep their shapes, and the
        # run re-learns what each slider means (a layer-set change); another
        # count changes Lambda's input, which no warm start can bridge.
        if len(source_layers) != len(spec.style_layers):
            raise TrainingError(
                f"--init_from={config.init_from} weights the style layers "
                f"{','.join(source_layers)}, but this run's are "
                f"{','.join(spec.style_layers)}"
            )
    theirs = [tuple(w.shape) for w in source.weights]
    ours = [tuple(w.shape) for w in stylizer.weights]
    if theirs != ours:
        raise TrainingError(
            f"--init_from={config.init_from} has another architecture "
            f"({networks.architecture_of(source).name}: {len(theirs)} weight tensors, "
            f"not {len(ours)} of the same shapes; pass its --architecture)"
        )
    # Values only: the slider names stay this run's.
    stylizer.set_weights(source.get_weights())

    same_losses = (
        record.get("style_image_sha256") == style_sha256
        and record.get("loss_network") == config.loss_network
        and record.get("content_layer") == spec.content_layer
        and len(record.get("ema") or []) == normalizer.num_losses
        and source_layers == list(spec.style_layers)
    )
    if same_losses:
        normalizer.ema.assign(np.asarray(record["ema"], np.float32))
        normalizer.count.assign(1)
    origin = {
        "model": config.init_from,
        "sha256": model_files.file_sha256(path),
        "emas": "taken over" if same_losses else "fresh",
    }
    if source_layers != list(spec.style_layers):
        origin["style_layers"] = source_layers
    # The source's own record, so model.json keeps every stage back to the
    # first run (a chain of warm starts nests).
    for key in (
        "style_image",
        "style_image_sha256",
        "steps",
        "total_steps",
        "image_size",
        "content_weight",
        "ema",
        "history",
        "init_from",
    ):
        if key in record:
            origin[key] = record[key]
    print(
        f"Starting from the weights of {path} "
        f"({record.get('steps', '?')} steps on "
        f"{record.get('style_image', 'an unknown style')}; "
        f"loss EMAs {origin['emas']})",
        flush=True,
    )
    return origin


def take_loss_emas(normalizer, config, spec, style_sha256):
    """Sets Eq. 8's EMAs to those recorded by `config.loss_ema_from`.

    The source must have measured the same losses: the same style image,
    loss network, content and style layers; EMAs of other losses would
    weigh this run's by scales that are not theirs. The count is set past
    the first update, so the first batch does not overwrite them. Returns
    the origin for `model.json`.
    """
    name = f"--loss_ema_from={config.loss_ema_from}"
    path = model_files.resolve_model_path(config.loss_ema_from)
    record = model_files.read_record(path)
    ema = record.get("ema") or []
    if len(ema) != normalizer.num_losses:
        raise TrainingError(
            f"{name}: its record has {len(ema)} loss EMAs, this run needs "
            f"{normalizer.num_losses} (the content loss and each style layer's)"
        )
    for key, what, ours in (
        ("style_image_sha256", "style image", style_sha256),
        ("loss_network", "loss network", config.loss_network),
        ("content_layer", "content layer", spec.content_layer),
        ("style_layers", "style layers", list(spec.style_layers)),
    ):
        if record.get(key) != ours:
            theirs = record.get(key)
            if key == "style_image_sha256":
                theirs, ours = record.get("style_image"), os.path.basename(config.style_image)
            raise TrainingError(
                f"{name} was trained with another {what} ({theirs}; this run: {ours}), "
                "so its loss EMAs are not this run's losses' scales"
            )
    values = np.asarray(ema, np.float32)
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        raise TrainingError(f"{name}: its loss EMAs are not all positive numbers: {ema}")
    normalizer.ema.assign(values)
    normalizer.count.assign(1)
    print(f"Loss EMAs (Eq. 8) from {path}: {', '.join(f'{v:.6g}' for v in values)}", flush=True)
    return {
        "model": config.loss_ema_from,
        "sha256": model_files.file_sha256(path),
        "ema": [float(v) for v in values],
    }


def run_guarded(config, body):
    """`body(config, held)`, a run's steps, with the clean-up every run needs.

    `body` appends the `run_lock` locks it takes to `held`; they are
    released whatever happens. A run refused before its first save leaves
    no --model_dir behind that it made, and the global Keras dtype policy
    is restored afterwards, so a mixed precision run leaves no trace on the
    caller's later models.
    """
    previous_policy = keras.config.dtype_policy()
    held = []
    made = bool(config.model_dir) and not os.path.exists(config.model_dir)
    try:
        return body(config, held)
    except AlreadyTrained as done:
        print(
            f"{config.model_dir}: already trained to step {done.step}; nothing to do "
            f"(pass --train_steps above {done.step} to train on)",
            flush=True,
        )
        return done.path
    except BaseException:
        for lock in held:
            lock.release()
        held.clear()
        if made:
            remove_empty_folders(config.model_dir)
        raise
    finally:
        for lock in held:
            lock.release()
        keras.config.set_dtype_policy(previous_policy)


def remove_empty_folders(top):
    """Removes `top` and its subfolders if no file was written below them.

    A run refused before its first save leaves no empty --model_dir behind.
    """
    for folder, _, _ in sorted(os.walk(top), key=lambda t: -len(t[0])):
        try:
            os.rmdir(folder)
        except OSError:  # Not empty: keep it and everything above.
            pass


def prepare_model_dir(model_dir):
    """Makes `model_dir` (if needed) and checks that it takes files.

    Returns the record of the runs before this one there ({} if none) and
    the start time.
    Fails here, with the folder's own name, rather than later inside a
    checkpoint or log writer with an internal one.
    """
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise TrainingError(f"--model_dir={model_dir} is a file, not a folder")
    try:
        os.makedirs(model_dir, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=model_dir, prefix=".probe-")
        probe.close()
    except OSError as error:
        raise TrainingError(
            f"--model_dir={model_dir}: cannot write there ({error.strerror or error})"
        ) from None
    # A damaged record fails now, before any work.
    previous = model_files.read_record(os.path.join(model_dir, model_files.MODEL_FILE))
    return previous, time.time()


def hold_lock(model_dir, held):
    """Takes `<model_dir>/train.lock` (see `run_lock`), appending it to `held`.

    Then removes what a killed run left half-written (`remove_leftovers`):
    with the lock held, no other trainer is writing there.
    """
    lock = run_lock.RunLock(model_dir)
    lock.acquire()
    held.append(lock)
    if lock.stale_holder():
        print(lock.stale_holder(), flush=True)
    remove_leftovers(model_dir)


# The temporary names this project's training writes under before a rename
# (see `model_files.save_model`, `model_files.atomic_write_bytes`,
# `prepare_model_dir` and `run_backends.WeightsCheckpoints.save`), and the
# folder TensorFlow writes a checkpoint's shards into before it renames them
# (`ckpt-40_temp/part-...`). A run killed with -9 leaves them behind.
_LEFTOVER_FILES = {
    "": re.compile(r"^(\.tmp-\d+-model\.keras|\.tmp-[a-z0-9_]{8}|\.probe-[a-z0-9_]{8})$"),
    CHECKPOINT_DIR: re.compile(r"^(\.tmp-\d+-ckpt-\d+\.weights\.h5|\.tmp-[a-z0-9_]{8})$"),
}
_LEFTOVER_CHECKPOINT_DIR = re.compile(rf"^{checkpoints.PREFIX}-\d+_temp$")
_SHARD = re.compile(r"^part-\d+-of-\d+(\.data-\d+-of-\d+|\.index)$")


def remove_leftovers(model_dir):
    """Removes a killed run's temporary files from `model_dir`; says what went.

    Only names of the patterns above, and a `ckpt-N_temp` folder only when it
    holds nothing but TensorFlow's shard files: nothing a user put there.
    Returns the paths removed, relative to `model_dir`.
    """
    removed = []
    for sub, pattern in _LEFTOVER_FILES.items():
        folder = os.path.join(model_dir, sub)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                if pattern.match(name) and os.path.isfile(path) and not os.path.islink(path):
                    os.remove(path)
                    removed.append(os.path.join(sub, name))
                elif (
                    sub == CHECKPOINT_DIR
                    and _LEFTOVER_CHECKPOINT_DIR.match(name)
                    and os.path.isdir(path)
                    and not os.path.islink(path)
                    and all(_SHARD.match(n) for n in os.listdir(path))
                ):
                    shutil.rmtree(path)
                    removed.append(os.path.join(sub, name) + os.sep)
            except OSError:
                continue  # Kept: the run goes on, and the next one tries again.
    if removed:
        print(
            f"Removed what an interrupted run left in {model_dir}: {', '.join(removed)}",
            flush=True,
        )
    return removed


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
