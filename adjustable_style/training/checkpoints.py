"""Resuming from a model folder's checkpoints, damaged ones included.

A run restores the newest checkpoint that reads whole, going back through
older ones with one warning line for each one skipped. Skipped checkpoints
are moved to `checkpoints/damaged/`, so the resumed run, which saves the
same step numbers again, never overwrites them. The `checkpoint` state file
is always rebuilt from the checkpoint files present: a corrupt one would
otherwise read as "no checkpoint", and the run would start at step 0 and
delete the older checkpoints as it saved new ones.

Each checkpoint also carries the run's identity (style image, model type,
layers, loss network), so that a resumed run with other settings is refused
before anything is restored.

TensorFlow is imported only to read or restore a TensorFlow checkpoint:
the runs on other backends share `identity` and `check_identity`.
"""

import json
import os
import re

from absl import logging

from adjustable_style import model_files
from adjustable_style.errors import UserError, one_line
from adjustable_style.training.config import NAMED_VGG_WEIGHTS

PREFIX = "ckpt"
STATE_FILE = "checkpoint"
DAMAGED_DIR = "damaged"
IDENTITY = "run_identity"
_IDENTITY_KEY = f"{IDENTITY}/.ATTRIBUTES/VARIABLE_VALUE"
_INDEX = re.compile(rf"^{PREFIX}-(\d+)\.index$")


def numbers(checkpoint_dir):
    """Step numbers of the checkpoints in `checkpoint_dir`, newest first."""
    try:
        names = os.listdir(checkpoint_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [int(m.group(1)) for m in map(_INDEX.match, names) if m]
    return sorted(found, reverse=True)


def prefix(checkpoint_dir, number):
    return os.path.join(checkpoint_dir, f"{PREFIX}-{number}")


def _brief(error):
    """What a damaged checkpoint's error says, cut to fit a warning line."""
    return one_line(error)[:200] or type(error).__name__


def read_checkpoint(path):
    """(tensor shapes by key, identity dict or None), reading every tensor.

    Reading each tensor (not only the index) is what finds a truncated or
    corrupted data file. Raises ValueError with a short reason.
    """
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(path)
        shapes = reader.get_variable_to_shape_map()
        for key in shapes:
            reader.get_tensor(key)
    except Exception as error:  # TF reports damage in many ways.
        raise ValueError(_brief(error)) from None
    identity = None
    if _IDENTITY_KEY in shapes:
        value = reader.get_tensor(_IDENTITY_KEY)
        try:
            identity = json.loads(value.decode("utf-8") if isinstance(value, bytes) else str(value))
        except ValueError:
            identity = None
    return shapes, identity


def write_state(checkpoint_dir, kept, latest):
    """Writes the `checkpoint` state file for `kept` (numbers), atomically."""
    from adjustable_style import model_files

    kept = sorted(kept)
    lines = [f'model_checkpoint_path: "{PREFIX}-{latest}"']
    lines += [f'all_model_checkpoint_paths: "{PREFIX}-{n}"' for n in kept]
    # CheckpointManager tracks (and later deletes, past max_to_keep) only
    # the checkpoints that have a timestamp here.
    lines += [
        "all_model_checkpoint_timestamps: "
        f"{os.path.getmtime(prefix(checkpoint_dir, n) + '.index'):.6f}"
        for n in kept
    ]
    model_files.atomic_write_bytes(
        os.path.join(checkpoint_dir, STATE_FILE), ("\n".join(lines) + "\n").encode()
    )


def set_aside(checkpoint_dir, number):
    """Moves checkpoint `number`'s files into `checkpoints/damaged/`."""
    target = os.path.join(checkpoint_dir, DAMAGED_DIR)
    os.makedirs(target, exist_ok=True)
    stem = f"{PREFIX}-{number}."
    for name in os.listdir(checkpoint_dir):
        if name.startswith(stem):
            destination = os.path.join(target, name)
            if os.path.exists(destination):  # Damaged twice at one step.
                destination += f".{os.getpid()}"
            os.replace(os.path.join(checkpoint_dir, name), destination)
    return target


def find_restorable(checkpoint_dir):
    """(number, identity, skipped) of the newest checkpoint that reads whole.

    `number` is None when there is none; `skipped` lists (number, reason)
    of the newer ones that did not read, each also logged as one warning.
    """
    skipped = []
    for number in numbers(checkpoint_dir):
        try:
            _, identity = read_checkpoint(prefix(checkpoint_dir, number))
        except ValueError as error:
            logging.warning("skipping damaged checkpoint %s-%d: %s", PREFIX, number, error)
            skipped.append((number, str(error)))
            continue
        return number, identity, skipped
    return None, None, skipped


# ---------------------------------------------------------------------------
# Resuming the same run.
# ---------------------------------------------------------------------------


class CheckpointError(UserError, RuntimeError):
    """Checkpoints that this run must not resume from (one-line message)."""


def identity(config, spec):
    """What a checkpoint must share with a run that resumes from it."""
    weights = config.vgg_weights
    if weights not in NAMED_VGG_WEIGHTS:
        weights = "sha256:" + model_files.file_sha256(weights)
    identity = {
        "model_type": config.model_type,
        "style_image": os.path.basename(config.style_image),
        "style_image_sha256": model_files.file_sha256(config.style_image),
        "loss_network": config.loss_network,
        "vgg_weights": weights,
        "content_layer": spec.content_layer,
        "style_layers": list(spec.style_layers),
        "loss_normalization": config.loss_normalization,
        "architecture": config.architecture,
        "teacher_sha256": (
            model_files.file_sha256(model_files.resolve_model_path(config.teacher))
            if config.teacher
            else None
        ),
    }
    if config.model_type == "base":
        identity["style_weights"] = [float(w) for w in config.style_weights]
    return identity


_IDENTITY_FLAGS = {
    "model_type": "--model_type",
    "style_image_sha256": "--style_image",
    "loss_network": "--loss_network",
    "vgg_weights": "--vgg_weights",
    "content_layer": "--content_layer",
    "style_layers": "--style_layers",
    "style_weights": "--style_weights",
    "loss_normalization": "--loss_normalization",
    "architecture": "--architecture",
    "teacher_sha256": "--teacher",
}
# What a checkpoint written before a key existed had.
_IDENTITY_DEFAULTS = {"loss_normalization": "eq8", "architecture": "paper", "teacher_sha256": None}


def check_identity(config, ours, theirs):
    """Refuses to resume a run whose checkpoints were trained otherwise."""

    def shown(key, identity):
        value = identity.get(key)
        if key == "style_image_sha256":
            return f"{identity.get('style_image', '?')} (sha256 {str(value)[:12]})"
        if isinstance(value, list):
            return ",".join(map(str, value)) or "none"
        return str(value)

    theirs = {**_IDENTITY_DEFAULTS, **theirs}
    differences = [
        f"{_IDENTITY_FLAGS[key]}: {shown(key, theirs)} there, {shown(key, ours)} now"
        for key in _IDENTITY_FLAGS
        if key in theirs and key in ours and theirs[key] != ours[key]
    ]
    if differences:
        raise CheckpointError(
            f"--model_dir={config.model_dir} holds checkpoints of another "
            f"run ({'; '.join(differences)}); resume with its settings, or "
            "train into a new --model_dir with "
            f"--init_from={config.model_dir} to start from its weights"
        )


def find_checkpoint(config, checkpoint_dir, ours, previous):
    """(number, has identity, skipped) of the checkpoint to resume from.

    Refuses a run whose settings differ from the checkpoint's, before any
    model is built. See `checkpoints` for damaged
    """
    number, theirs, skipped = find_restorable(checkpoint_dir)
    if number is None:
        if skipped:
            raise CheckpointError(
                f"no checkpoint in {checkpoint_dir} can be read (newest: "
                f"{PREFIX}-{skipped[0][0]}: {skipped[0][1]}); "
                "not starting over at step 0 over them. Move the folder "
                "away to start a new run"
            )
        return None, False, skipped
    if theirs is None:
        # A checkpoint from before identities were saved: the record tells,
        # except for the VGG weights, which it names only by file name.
        check_identity(config, ours, {k: v for k, v in previous.items() if k != "vgg_weights"})
        return number, False, skipped
    check_identity(config, ours, theirs)
    return number, True, skipped


def restore(root, checkpoint_dir, number, skipped, is_chief):
    """Restores checkpoint `number`; sets the damaged newer ones aside."""
    import tensorflow as tf

    path = prefix(checkpoint_dir, number)
    try:
        root.restore(path).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        raise CheckpointError(
            f"{path} does not fit this run's network (another --model_type "
            "or --style_layers?): "
            f"{' '.join(str(error).split())[:200]}"
        ) from None
    if is_chief:
        for newer, _ in skipped:
            set_aside(checkpoint_dir, newer)
        kept = [n for n in numbers(checkpoint_dir) if n <= number]
        write_state(checkpoint_dir, kept, number)
    return path
