"""A training run on JAX or PyTorch, on a machine without TensorFlow.

`train(config)` is what `train.py` calls when `KERAS_BACKEND` is `jax` or
`torch`. It does what `training.run_tf.train` does on TensorFlow (the steps they
share are in `run_common`), with what needs no TensorFlow:

- content crops from a `keras.utils.PyDataset` read with Pillow and numpy
  (`content_files.content_crops`), batch k a function of (seed, step) only;
- checkpoints as `<model_dir>/checkpoints/state-<step>.weights.h5` (the
  trainer's whole state: weights, Adam's slots and step, loss EMAs), each
  with a `state-<step>.json` naming its step and the run's identity, both
  written under a temporary name and renamed; the newest three are kept,
  and a rerun resumes from the newest that loads;
- `model.keras` + `model.json` at each save, as the TensorFlow run writes
  them, which TensorFlow loads, stylizes with and exports.

TensorFlow-only settings (`--content_tfds`, `--strategy`, `--tpu`, and
`--jit_compile` on PyTorch; JAX always compiles the step) are refused in
one line. There are no TensorBoard logs: the losses go to the progress
output and to `model.json`. Several JAX devices share each batch
(`keras.distribution.DataParallel`); torch uses one.

Nothing here imports TensorFlow.
"""

import json
import os
import re
import sys

import keras

from adjustable_style import hardware, model_files
from adjustable_style.errors import UsageError
from adjustable_style.training import checkpoints, content_files, run_folder
from adjustable_style.training import run_common as training_run
from adjustable_style.training.run_folder import TrainingError

PREFIX = "state"
KEEP = 3
_STATE = re.compile(rf"^{PREFIX}-(\d+)\.json$")


def check_backend_flags(config, backend):
    """Refuses, in one line, the settings only the TensorFlow run has."""
    hint = "; they need KERAS_BACKEND=tensorflow"
    if config.content_tfds:
        raise UsageError(
            f"--content_tfds reads TensorFlow Datasets, which the {backend} "
            f"backend cannot{hint} (or use --content_images)"
        )
    if config.strategy != "default":
        raise UsageError(
            f"--strategy={config.strategy} is a tf.distribute strategy, which "
            f"the {backend} backend has not{hint}"
        )
    if config.tpu:
        raise UsageError(f"--tpu is for --strategy=tpu{hint}")
    if config.jit_compile and backend == "torch":
        raise UsageError(f"--jit_compile compiles with XLA, which the torch backend has not{hint}")


def state_numbers(checkpoint_dir):
    """Steps of the `state-<step>.json` checkpoints there, newest first."""
    try:
        names = os.listdir(checkpoint_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted((int(m.group(1)) for m in map(_STATE.match, names) if m), reverse=True)


class WeightsCheckpoints:
    """The run's checkpoints as `.weights.h5` files; the manager `fit` saves through."""

    def __init__(self, trainer, directory, identity, keep=KEEP):
        self.trainer = trainer
        self.directory = directory
        self.identity = identity
        self.keep = keep

    def weights_path(self, number):
        return os.path.join(self.directory, f"{PREFIX}-{number}.weights.h5")

    def json_path(self, number):
        return os.path.join(self.directory, f"{PREFIX}-{number}.json")

    @property
    def latest_checkpoint(self):
        numbers = state_numbers(self.directory)
        return self.weights_path(numbers[0]) if numbers else None

    def save(self, checkpoint_number):
        """Writes checkpoint `checkpoint_number`; drops those past `keep`."""
        os.makedirs(self.directory, exist_ok=True)
        final = self.weights_path(checkpoint_number)
        # Keras wants the `.weights.h5` ending on the temporary name too.
        tmp = os.path.join(self.directory, f".tmp-{os.getpid()}-{os.path.basename(final)}")
        try:
            self.trainer.save_weights(tmp)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        # The JSON last: a checkpoint counts only once both are whole.
        model_files.atomic_write_bytes(
            self.json_path(checkpoint_number),
            (
                json.dumps(
                    {
                        "step": int(checkpoint_number),
                        "backend": keras.backend.backend(),
                        "identity": self.identity,
                    },
                    indent=1,
                    sort_keys=True,
                )
                + "\n"
            ).encode(),
        )
        for old in state_numbers(self.directory)[self.keep :]:
            for path in (self.json_path(old), self.weights_path(old)):
                if os.path.exists(path):
                    os.remove(path)
        return final

    def restore_newest(self):
        """Loads the newest checkpoint that reads whole; its path, or None.

        A damaged one is moved to `checkpoints/damaged/` with one warning
        line, and the next older one is tried.
        """
        numbers = state_numbers(self.directory)
        for number in numbers:
            path = self.weights_path(number)
            try:
                self.trainer.load_weights(path)
                return path
            except Exception as error:  # noqa: BLE001 - h5py and Keras fail many ways
                reason = " ".join(str(error).split())[:200] or type(error).__name__
                print(
                    f"warning: skipping damaged checkpoint {path}: {reason}",
                    file=sys.stderr,
                    flush=True,
                )
                damaged = os.path.join(self.directory, checkpoints.DAMAGED_DIR)
                os.makedirs(damaged, exist_ok=True)
                for name in (self.json_path(number), path):
                    if os.path.exists(name):
                        os.replace(name, os.path.join(damaged, os.path.basename(name)))
        if numbers:
            raise checkpoints.CheckpointError(
                f"no checkpoint in {self.directory} can be read; not starting "
                "over at step 0. Move the folder away to start a new run"
            )
        return None


def _check_checkpoints(config, checkpoint_dir, identity):
    """Refuses a model folder this run must not resume, before any model is built."""
    if not state_numbers(checkpoint_dir) and checkpoints.numbers(checkpoint_dir):
        raise checkpoints.CheckpointError(
            f"--model_dir={config.model_dir} holds TensorFlow checkpoints; resume "
            "it with KERAS_BACKEND=tensorflow, or train into a new --model_dir "
            f"with --init_from={config.model_dir}"
        )
    for number in state_numbers(checkpoint_dir):
        try:
            with open(
                os.path.join(checkpoint_dir, f"{PREFIX}-{number}.json"), encoding="utf-8"
            ) as f:
                theirs = json.load(f).get("identity") or {}
        except (OSError, ValueError, AttributeError):
            continue  # Damaged: `restore_newest` sets it aside.
        checkpoints.check_identity(config, identity, theirs)
        return


def _accelerator(backend):
    """What `hardware.training_policy` calls this machine's first device."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "tpu":
            return "tpu"
        if device.platform != "gpu":
            return None
        capability = getattr(device, "compute_capability", "0")
        return "gpu_bfloat16" if float(capability or 0) >= 8 else "gpu"
    import torch

    if not torch.cuda.is_available():
        return None
    return "gpu_bfloat16" if torch.cuda.get_device_capability()[0] >= 8 else "gpu"


def _data_parallel(config, backend):
    """Spreads each batch over every JAX device when there are several.

    `keras.distribution.DataParallel`: one program over the global batch,
    the weights replicated, so the batch means (the EMAs') are the global
    ones. Returns the number of devices.
    """
    if backend != "jax":
        return 1
    import jax

    devices = jax.devices()
    if len(devices) < 2:
        return 1
    if config.batch_size % len(devices):
        raise UsageError(
            f"--batch_size={config.batch_size} must be a multiple of the "
            f"{len(devices)} devices it is split over"
        )
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    print(f"Data parallel over {len(devices)} devices", flush=True)
    return len(devices)


def _set_random_seed(seed):
    """`keras.utils.set_random_seed`, without starting TensorFlow.

    Keras also seeds TensorFlow there whenever it can import it; where it
    is installed, that would load it (seconds, and gigabytes on a GPU) into
    a run that never uses it. Marking it absent for the call makes Keras
    skip it.
    """
    absent = "tensorflow" not in sys.modules
    if absent:
        sys.modules["tensorflow"] = None
    try:
        keras.utils.set_random_seed(seed)
    finally:
        if absent:
            del sys.modules["tensorflow"]


def train(config):
    """Runs (or resumes) a training run; returns the path of model.keras."""
    previous = keras.distribution.distribution()
    try:
        return run_folder.run_guarded(config, _train)
    finally:
        keras.distribution.set_distribution(previous)


def _train(config, held):
    backend = keras.backend.backend()
    if backend not in ("jax", "torch"):
        raise TrainingError(f"backend_training runs on jax or torch, not {backend}")
    check_backend_flags(config, backend)
    config.validate()
    spec = config.loss_spec()
    previous, started = run_folder.prepare_model_dir(config.model_dir)
    run_folder.hold_lock(config.model_dir, held)
    style, identity, checkpoint_dir = training_run.style_and_identity(config, spec)
    _check_checkpoints(config, checkpoint_dir, identity)
    training_run.check_steps_left(config, previous, next(iter(state_numbers(checkpoint_dir)), None))
    policy = training_run.set_policy(
        *hardware.training_policy(config.mixed_precision, _accelerator(backend))
    )
    replicas = _data_parallel(config, backend)
    _set_random_seed(config.seed)
    stats = content_files.DecodeStats()
    dataset = content_files.content_crops(
        config.content_images,
        config.image_size,
        config.batch_size,
        seed=config.seed,
        max_pixels=config.max_pixels,
        stats=stats,
    )
    run = training_run.Run(
        config=config,
        spec=spec,
        previous=previous,
        started=started,
        is_chief=True,
        identity=identity,
        policy=policy,
        style=style,
        stats=stats,
        dataset=dataset,
        checkpoint_dir=checkpoint_dir,
        replicas=replicas,
        jit_compile=backend == "jax",
    )
    training_run.build_trainer(run, jit_compile=run.jit_compile)
    run.manager = WeightsCheckpoints(run.trainer, checkpoint_dir, identity)
    run.latest = run.manager.restore_newest()
    training_run.resume_or_warm_start(run)
    dataset.first_step = run.start_step
    training_run.fit(run)
    return training_run.finish(run)
