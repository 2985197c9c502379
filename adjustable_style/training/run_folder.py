"""A training run's model folder: made, locked, cleaned, and left as it was on a refusal.

`run_guarded` wraps a run's steps: the locks it took are released and a
--model_dir it made is removed again if the run is refused before its first
save. `prepare_model_dir` checks the folder takes files, `hold_lock` takes
its `train.lock`, and `remove_leftovers` clears what a killed run left
half-written. Shared by every backend's run (`run_tf`, `run_backends`).
"""

import os
import re
import shutil
import tempfile
import time

import keras

from adjustable_style import model_files
from adjustable_style.errors import UserError
from adjustable_style.training import checkpoints, run_lock

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
