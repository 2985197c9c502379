"""What every export shares: its error, its output paths, and its checks against Keras.

An export is written beside its final place and renamed when complete, and
`--overwrite` replaces only an earlier export of ours. Each export command
compares the exported model with the Keras model on a test image before it
keeps the file (`check_image`, `max_difference`, `check_tolerance`).
"""

import contextlib
import math
import os
import shutil
import tempfile
import warnings

import numpy as np

from adjustable_style import cli, model_files


class ExportError(model_files.ModelFileError):
    """An export that cannot be done as asked (one-line message)."""


# Written into every SavedModel folder we export: `--overwrite` replaces
# only folders that hold it (or, for exports made before it existed, our
# SavedModel's own variables), never an unrelated folder.
EXPORT_MARKER = "adjustable_style_export.json"
# Bytes 4..8 of every TFLite flatbuffer (its file identifier).
TFLITE_IDENTIFIER = b"TFL3"


def is_our_export(path):
    """True for a SavedModel folder written by `save_saved_model`."""
    if os.path.isfile(os.path.join(path, EXPORT_MARKER)):
        return True
    if not model_files.is_saved_model_dir(path):
        return False
    try:
        import tensorflow as tf

        keys = tf.train.list_variables(os.path.join(path, "variables", "variables"))
    except Exception:  # Not readable as a SavedModel's variables.
        return False
    names = {name.split("/")[0] for name, _ in keys}
    return {"style_layers", "training_record"} <= names


def is_tflite_file(path):
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == TFLITE_IDENTIFIER
    except OSError:
        return False


def check_output_path(output, overwrite, is_dir, file_kind=("a TFLite model", None)):
    """Refuses an output that exists (unless `overwrite`) or has no folder.

    With `overwrite`, only an earlier output of ours is replaced: a folder
    that `is_our_export`, or a file of `file_kind` ((words, test); the test
    defaults to `is_tflite_file`).
    """
    if not output:
        raise ExportError("no output given; pass --output")
    path = os.path.abspath(output)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        why = "is not a folder" if os.path.exists(parent) else "does not exist"
        raise ExportError(f"{output}: folder {parent} {why}")
    if os.path.lexists(path):
        if not overwrite:
            raise ExportError(f"{output}: already exists; pass --overwrite to replace it")
        if os.path.islink(path):
            raise ExportError(f"{output}: is a symbolic link; refusing to replace it")
        if is_dir != os.path.isdir(path):
            kind = "a folder" if os.path.isdir(path) else "not a folder"
            raise ExportError(f"{output}: is {kind}; refusing to replace it")
        if is_dir and not is_our_export(path):
            raise ExportError(
                f"{output}: is not a SavedModel exported by "
                "export/saved_model.py; --overwrite replaces only those, so "
                "remove it yourself or choose another --output"
            )
        if not is_dir and not (file_kind[1] or is_tflite_file)(path):
            raise ExportError(
                f"{output}: is not {file_kind[0]}; --overwrite replaces only "
                "those, so remove it yourself or choose another --output"
            )
    return path


def replace_dir(tmp, path):
    """Moves the finished folder `tmp` to `path`, replacing what is there."""
    if not os.path.exists(path):
        os.replace(tmp, path)
        return
    trash = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=os.path.dirname(path))
    os.rmdir(trash)
    os.replace(path, trash)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(trash, path)
        raise
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def quiet():
    """Hides TensorFlow's INFO chatter (absl and native) during a step.

    Saving and converting log a dozen INFO lines per call (signature
    renames, sharding callbacks, MLIR notes); they say nothing a user can
    act on. Native output is shown again if the step fails.
    """
    from absl import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity(min(verbosity, logging.WARNING))
    try:
        with cli.quiet_native_stderr(), warnings.catch_warnings():
            # tf.lite.Interpreter warns that it moves to ai_edge_litert; it
            # still ships with TensorFlow and is what the check needs.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            warnings.filterwarnings("ignore", message=".*trackable_obj")
            yield
    finally:
        logging.set_verbosity(verbosity)


def max_difference(a, b):
    """max |a - b|, infinite when either holds NaN or inf."""
    difference = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return float(difference.max()) if np.isfinite(difference).all() else math.inf


def check_image(height, width, seed=0):
    """A deterministic test picture: smooth gradients, a disc, a little noise.

    Real photos have large smooth areas and edges; uniform noise would not
    exercise the network the way a photo does.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y /= max(height - 1, 1)
    x /= max(width - 1, 1)
    disc = ((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.08).astype(np.float32)
    rng = np.random.default_rng(seed)
    image = np.stack([x, y, 0.5 * disc + 0.25 * (1 - x)], axis=-1)
    image += 0.05 * rng.standard_normal(image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0)[None]


def check_tolerance(tolerance):
    """Refuses a --tolerance that no conversion could meet, before converting."""
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ExportError(f"--tolerance must be a number >= 0, got {tolerance!r}")
    return tolerance
