"""What every export shares: its error, its output paths, and its checks against Keras.

An export is written beside its final place and renamed when complete, and
`--overwrite` replaces only an earlier export of ours. Each export command
compares the exported model with the Keras model on a test image before it
keeps the file (`check_image`, `max_difference`, `check_tolerance`).
"""

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
import warnings

import numpy as np

from adjustable_style import cli, model_files


class ExportError(model_files.ModelFileError):
    """An export that cannot be done as asked (one-line message)."""


# Written into every SavedModel folder we export, listing each file the
# export wrote with its sha256: `--overwrite` replaces a folder only when
# every file in it is one of those, unchanged, so that nothing a user put
# there (notes, another model) is ever deleted.
EXPORT_MARKER = "adjustable_style_export.json"
# What a SavedModel export wrote before the marker listed its files: these
# names, and no others, may be replaced in such a folder.
_LEGACY_EXPORT_FILES = re.compile(
    r"^(saved_model\.pb|fingerprint\.pb|variables/variables\.index"
    r"|variables/variables\.data-\d+-of-\d+)$"
)
# Bytes 4..8 of every TFLite flatbuffer (its file identifier).
TFLITE_IDENTIFIER = b"TFL3"


def _files_below(path):
    """Every entry below `path` that is not a folder, as relative '/' paths.

    Symbolic links (to files or folders) count as files: they are never
    followed, and no export writes one.
    """
    found = []
    for folder, dirs, files in os.walk(path):
        for name in list(dirs):
            if os.path.islink(os.path.join(folder, name)):
                files.append(name)
                dirs.remove(name)
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), path)
            found.append(relative.replace(os.sep, "/"))
    return sorted(found)


def export_manifest(path):
    """{relative path: sha256} of every file in the folder `path` (for the marker)."""
    return {name: model_files.file_sha256(os.path.join(path, name)) for name in _files_below(path)}


def _read_marker(path):
    """The marker's JSON object, or None (missing or unreadable)."""
    try:
        with open(os.path.join(path, EXPORT_MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _has_our_variables(path):
    if not model_files.is_saved_model_dir(path):
        return False
    try:
        import tensorflow as tf

        keys = tf.train.list_variables(os.path.join(path, "variables", "variables"))
    except Exception:  # Not readable as a SavedModel's variables.
        return False
    names = {name.split("/")[0] for name, _ in keys}
    return {"style_layers", "training_record"} <= names


def foreign_file(path, marker_format=None):
    """The first file in export folder `path` that the export did not write, or None.

    Returns (relative name, why). With a marker that lists the export's files
    (with their sha256), any other file, or a listed one that changed, is
    foreign. A folder from before the marker listed its files must be a
    SavedModel with our variables, holding only what such an export wrote.
    `marker_format` (words, as the marker's "format" says them): the folder
    must be that kind of export, with a marker; formats newer than the
    marker have no unmarked folders to recognise.
    """
    marker = _read_marker(path)
    listed = marker.get("files") if marker else None
    if marker_format is not None and (
        not isinstance(listed, dict) or marker.get("format") != marker_format
    ):
        return "", f"is not {marker_format} (no {EXPORT_MARKER} of one)"
    present = [name for name in _files_below(path) if name != EXPORT_MARKER]
    if isinstance(listed, dict):
        for name in present:
            if name not in listed:
                return name, "was not written by the export"
            if os.path.islink(os.path.join(path, name)) or (
                model_files.file_sha256(os.path.join(path, name)) != listed[name]
            ):
                return name, "changed since the export wrote it"
        return None
    if not _has_our_variables(path):
        return "", "is not a SavedModel exported by export/saved_model.py"
    for name in present:
        if not _LEGACY_EXPORT_FILES.match(name) or os.path.islink(os.path.join(path, name)):
            return name, "was not written by the export"
    return None


def is_our_export(path):
    """True for a SavedModel folder written by `save_saved_model`, and nothing else in it."""
    return os.path.isdir(path) and foreign_file(path) is None


def is_tflite_file(path):
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == TFLITE_IDENTIFIER
    except OSError:
        return False


def check_output_path(
    output, overwrite, is_dir, file_kind=("a TFLite model", None), marker_format=None
):
    """Refuses an output that exists (unless `overwrite`) or has no folder.

    With `overwrite`, only an earlier output of ours is replaced: a folder
    that holds nothing but what our export wrote (`foreign_file`, which
    takes `marker_format`), or a file of `file_kind` ((words, test); the
    test defaults to `is_tflite_file`).
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
        if is_dir:
            foreign = foreign_file(path, marker_format)
            if foreign is not None:
                name, why = foreign
                where = os.path.join(output, name) if name else output
                raise ExportError(
                    f"{where}: {why}; --overwrite replaces only an earlier export's own "
                    "files, so move it away or choose another --output"
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


def worst_difference(run, stylizer, content, alphas=None):
    """Max |run - Keras| over `content` and each alpha [L] (None: base model).

    `run(content[, alpha])` is an exported model's runner (TFLite, ONNX).
    """
    if alphas is None:
        return max_difference(run(content), stylizer(content, training=False))
    worst = 0.0
    for alpha in alphas:
        alpha = np.asarray(alpha, np.float32)[None]
        expected = stylizer([content, alpha], training=False)
        worst = max(worst, max_difference(run(content, alpha), expected))
    return worst


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
