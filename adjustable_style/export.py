"""Export a trained stylizer as a SavedModel (TF Hub style) or a TFLite file.

Both compute what `inference.FastStylizer` computes (the sub-pixel
upsampling, the row-split output convolution, the one-pass moments; see
`inference.StylizerGraph`), not the Keras graph: the same function within
float32 rounding, faster. The SavedModel is a `tf.Module` with

    __call__(content, alpha) -> stylized     TF Hub style, for
                                             `tf.saved_model.load` / `hub.load`
    signatures["serving_default"]            content float32 [B, H, W, 3] in
        (content, alpha) -> {"stylized"}     [0, 1], alpha float32 [B, L] in
                                             [0, 1] -> float32 [B, H, W, 3]
    signatures["serving_uint8"]              image uint8 [B, H, W, 3], alpha
        (image, alpha) -> {"stylized"}       float32 [B, L] -> uint8 [B, H, W, 3]
    signatures["serving_alpha_map"]          content as above, alpha_map float32
        (content, alpha_map) -> {"stylized"} [B or 1, H', W', L] in [0, 1], any
                                             size: one alpha per pixel (see
                                             `alpha_maps`); also the method
                                             `stylize_with_map(content, alpha_map)`
    signatures["serving_preserve_color"]     as serving_default, with the
        (content, alpha) -> {"stylized"}     content's colours kept (`color`);
                                             also `stylize_preserving_color`
    style_layers                             tf.Variable of strings [L]: the
                                             loss-network layer each alpha
                                             entry weights
    training_record                          tf.Variable, a JSON string: the
                                             model.json training record

Batch, height and width are free (the network pads to a multiple of 4 and
crops back, so the output has the input's size). An alpha batch of 1
broadcasts over the content batch.

The base (non-adjustable) model has no alpha, and its export says so: its
`__call__` and its signatures take only the image (`content` / `image`),
it has no alpha map signature, and `style_layers` is empty. An ignored alpha input would let a client believe it
was adjusting something; a missing one fails loudly instead.

TFLite needs static shapes, so `export_tflite` fixes the input at
[1, height, width, 3] (and alpha at [1, L]). The size is baked in (the
padding to a multiple of 4 is folded into constants), so a different size
needs another conversion rather than `Interpreter.resize_tensor_input`.
"""

import contextlib
import json
import math
import os
import shutil
import tempfile
import warnings

import numpy as np

from adjustable_style import cli, model_files
from adjustable_style.errors import first_line

SERVING_DEFAULT = "serving_default"
SERVING_UINT8 = "serving_uint8"
SERVING_ALPHA_MAP = "serving_alpha_map"
SERVING_PRESERVE_COLOR = "serving_preserve_color"
CONTENT = "content"
IMAGE = "image"
ALPHA = "alpha"
ALPHA_MAP = "alpha_map"
STYLIZED = "stylized"

DEFAULT_TFLITE_SIZE = 256
DEFAULT_TFLITE_TOLERANCE = 1e-3


class ExportError(model_files.ModelFileError):
    """An export that cannot be done as asked (one-line message)."""


# ---------------------------------------------------------------------------
# SavedModel.
# ---------------------------------------------------------------------------


# The serving_uint8 signature's conversions, as TensorFlow ops: they run
# inside the exported graph, where `images.to_uint8` (numpy) cannot.
def _tf_to_float(image):
    import tensorflow as tf

    return tf.cast(image, tf.float32) / 255.0


def _tf_to_uint8(image):
    import tensorflow as tf

    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)


def build_module(stylizer, record=None, convolutions=None):
    """The `tf.Module` that `save_saved_model` writes (see the module doc).

    Calling it in process gives the same results as the SavedModel.
    `convolutions` ("direct" or "matmul", see `inference.StylizerGraph`) is
    fixed in the graph; by default what pays on the exporting CPU.
    """
    import tensorflow as tf

    from adjustable_style import color
    from adjustable_style.inference.graph import StylizerGraph

    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    content_spec = tf.TensorSpec([None, None, None, 3], tf.float32, name=CONTENT)
    image_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name=IMAGE)

    class _StylizerModule(tf.Module):
        def __init__(self):
            super().__init__(name="adjustable_stylizer" if adjustable else "base_stylizer")
            # What `inference.FastStylizer` runs (sub-pixel upsampling,
            # row-split output convolution, one-pass moments, fused norms
            # for one image), not the Keras graph: the same function, faster.
            self._graph = StylizerGraph(stylizer, convolutions=convolutions)
            self.style_layers = tf.Variable(
                tf.constant(style_layers, tf.string, shape=[len(style_layers)]),
                trainable=False,
                name="style_layers",
            )
            self.training_record = tf.Variable(
                json.dumps(record or {}, sort_keys=True), trainable=False, name="training_record"
            )

    if adjustable:
        alpha_spec = tf.TensorSpec([None, len(style_layers)], tf.float32, name=ALPHA)
        map_spec = tf.TensorSpec([None, None, None, len(style_layers)], tf.float32, name=ALPHA_MAP)

        class AdjustableStylizerModule(_StylizerModule):
            def _stylize(self, content, alpha):
                return self._graph.stylize(content, alpha)

            @tf.function(input_signature=[content_spec, alpha_spec])
            def __call__(self, content, alpha):
                return self._stylize(content, alpha)

            @tf.function(input_signature=[content_spec, alpha_spec])
            def serving_default(self, content, alpha):
                return {STYLIZED: self._stylize(content, alpha)}

            @tf.function(input_signature=[image_spec, alpha_spec])
            def serving_uint8(self, image, alpha):
                return {STYLIZED: _tf_to_uint8(self._stylize(_tf_to_float(image), alpha))}

            @tf.function(input_signature=[content_spec, map_spec])
            def stylize_with_map(self, content, alpha_map):
                return self._graph.stylize_map(content, alpha_map)

            @tf.function(input_signature=[content_spec, map_spec])
            def serving_alpha_map(self, content, alpha_map):
                return {STYLIZED: self._graph.stylize_map(content, alpha_map)}

            @tf.function(input_signature=[content_spec, alpha_spec])
            def stylize_preserving_color(self, content, alpha):
                return color.preserve_color(content, self._stylize(content, alpha))

            @tf.function(input_signature=[content_spec, alpha_spec])
            def serving_preserve_color(self, content, alpha):
                return {STYLIZED: color.preserve_color(content, self._stylize(content, alpha))}

        return AdjustableStylizerModule()

    class BaseStylizerModule(_StylizerModule):
        def _stylize(self, content):
            return self._graph.stylize(content)

        @tf.function(input_signature=[content_spec])
        def __call__(self, content):
            return self._stylize(content)

        @tf.function(input_signature=[content_spec])
        def serving_default(self, content):
            return {STYLIZED: self._stylize(content)}

        @tf.function(input_signature=[image_spec])
        def serving_uint8(self, image):
            return {STYLIZED: _tf_to_uint8(self._stylize(_tf_to_float(image)))}

        @tf.function(input_signature=[content_spec])
        def stylize_preserving_color(self, content):
            return color.preserve_color(content, self._stylize(content))

        @tf.function(input_signature=[content_spec])
        def serving_preserve_color(self, content):
            return {STYLIZED: color.preserve_color(content, self._stylize(content))}

    return BaseStylizerModule()


def signature_names(adjustable):
    """The SavedModel's signatures, in the order `save_saved_model` lists them."""
    names = [SERVING_DEFAULT, SERVING_UINT8, SERVING_PRESERVE_COLOR]
    return names + [SERVING_ALPHA_MAP] if adjustable else names


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


def _replace_dir(tmp, path):
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


def save_saved_model(stylizer, output_dir, record=None, overwrite=False, convolutions=None):
    """Writes the SavedModel to `output_dir` through a temporary folder.

    The folder appears complete or not at all: it is written beside its
    final place under a hidden name and renamed when `tf.saved_model.save`
    has finished. `convolutions`: see `build_module`.
    """
    import tensorflow as tf

    path = check_output_path(output_dir, overwrite, is_dir=True)
    module = build_module(stylizer, record, convolutions)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=os.path.dirname(path))
    try:
        adjustable = model_files.describe_stylizer(stylizer)[1]
        signatures = {
            name: getattr(module, name).get_concrete_function()
            for name in signature_names(adjustable)
        }
        with _quiet():
            tf.saved_model.save(module, tmp, signatures=signatures)
        model_files.atomic_write_bytes(
            os.path.join(tmp, EXPORT_MARKER),
            (
                json.dumps(
                    {
                        "format": "adjustable_style SavedModel",
                        "style_layers": model_files.describe_stylizer(stylizer)[0],
                    },
                    sort_keys=True,
                )
                + "\n"
            ).encode(),
        )
        # mkdtemp made the folder 0700; give it a plain mkdir's mode.
        os.chmod(tmp, 0o777 & ~model_files.current_umask())
        _replace_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


# ---------------------------------------------------------------------------
# TFLite.
# ---------------------------------------------------------------------------


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ExportError(f"--{name} must be a positive integer, got {value!r}")
    return int(value)


@contextlib.contextmanager
def _quiet():
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


def convert_tflite(stylizer, height=DEFAULT_TFLITE_SIZE, width=DEFAULT_TFLITE_SIZE):
    """TFLite flatbuffer bytes of the stylizer at a fixed [1, H, W, 3] input.

    The signature `serving_default` takes `content` (and `alpha` [1, L] for
    an adjustable model) and returns `stylized`, like the SavedModel's.
    Floats stay float32 (no quantization), so results match Keras closely.
    """
    import tensorflow as tf

    # Public since TF 2.0 in all but name; the TFLite docs use it too.
    from tensorflow.python.framework import convert_to_constants

    height, width = _check_size("height", height), _check_size("width", width)
    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    specs = [tf.TensorSpec([1, height, width, 3], tf.float32, name=CONTENT)]
    if adjustable:
        specs.append(tf.TensorSpec([1, len(style_layers)], tf.float32, name=ALPHA))

    from adjustable_style.inference.graph import StylizerGraph

    # The fast arithmetic (as in the SavedModel), not the Keras graph.
    # XNNPACK has its own convolutions: TensorFlow's direct form converts.
    call = StylizerGraph(stylizer, fused_norms=False, convolutions="direct").stylize

    # Keras 3 variables reach the converter as resource variables that it
    # keeps (VAR_HANDLE / READ_VARIABLE with no initializer), and the
    # converted model then reads uninitialized memory. Freezing the weights
    # into constants first gives a self-contained flatbuffer; the frozen
    # function is wrapped again to restore the named signature.
    with _quiet():
        frozen = convert_to_constants.convert_variables_to_constants_v2(
            tf.function(call).get_concrete_function(*specs)
        )

    if adjustable:

        @tf.function(input_signature=specs)
        def serving_default(content, alpha):
            return {STYLIZED: frozen(content, alpha)[0]}
    else:

        @tf.function(input_signature=specs)
        def serving_default(content):
            return {STYLIZED: frozen(content)[0]}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serving_default.get_concrete_function()], tf.Module()
    )
    try:
        with _quiet():
            return converter.convert()
    except Exception as error:
        raise ExportError(f"TFLite conversion failed: {first_line(error)}") from None


def tflite_runner(model_bytes):
    """A function `(content, alpha=None) -> stylized` over a TFLite model.

    Runs the flatbuffer's `serving_default` signature with the TFLite
    interpreter that ships with TensorFlow.
    """
    import tensorflow as tf

    with _quiet():
        interpreter = tf.lite.Interpreter(model_content=model_bytes)
        runner = interpreter.get_signature_runner(SERVING_DEFAULT)

    def run(content, alpha=None):
        inputs = {CONTENT: np.asarray(content, np.float32)}
        if alpha is not None:
            inputs[ALPHA] = np.asarray(alpha, np.float32)
        with _quiet():  # The first call announces the XNNPACK delegate.
            return runner(**inputs)[STYLIZED]

    return run


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


def compare_tflite(stylizer, model_bytes, content, alphas=None):
    """Max |TFLite - Keras| over `content` [1, H, W, 3] and each alpha [L]."""
    run = tflite_runner(model_bytes)
    if alphas is None:
        return max_difference(run(content), stylizer(content, training=False))
    worst = 0.0
    for alpha in alphas:
        alpha = np.asarray(alpha, np.float32)[None]
        expected = stylizer([content, alpha], training=False)
        worst = max(worst, max_difference(run(content, alpha), expected))
    return worst


def check_tolerance(tolerance):
    """Refuses a --tolerance that no conversion could meet, before converting."""
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ExportError(f"--tolerance must be a number >= 0, got {tolerance!r}")
    return tolerance


def export_tflite(
    stylizer,
    output,
    height=DEFAULT_TFLITE_SIZE,
    width=DEFAULT_TFLITE_SIZE,
    content=None,
    tolerance=DEFAULT_TFLITE_TOLERANCE,
    overwrite=False,
    seed=0,
):
    """Converts, checks against Keras, and writes `output` (a `.tflite`).

    The check runs the converted model and the Keras model on `content`
    ([1, height, width, 3]; default `check_image`) at three alphas (all 0,
    all 1, a random one) and refuses to write a file whose outputs differ by
    more than `tolerance`. Returns the largest difference.
    """
    from adjustable_style import alpha as alpha_lib

    check_tolerance(tolerance)
    if os.path.splitext(output or "")[1].lower() != ".tflite":
        raise ExportError(f"{output}: the output must end in .tflite")
    path = check_output_path(output, overwrite, is_dir=False)
    height, width = _check_size("height", height), _check_size("width", width)
    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    if content is None:
        content = check_image(height, width, seed)
    content = np.asarray(content, np.float32)
    if content.shape != (1, height, width, 3):
        raise ExportError(
            f"check image has shape {content.shape}, expected (1, {height}, {width}, 3)"
        )
    model_bytes = convert_tflite(stylizer, height, width)
    alphas = None
    if adjustable:
        num = len(style_layers)
        alphas = [
            np.zeros(num, np.float32),
            np.ones(num, np.float32),
            alpha_lib.sample_alpha(1, num, seed)[0],
        ]
    difference = compare_tflite(stylizer, model_bytes, content, alphas)
    if not difference <= tolerance:
        raise ExportError(
            f"the TFLite model differs from Keras by {difference:.3g} "
            f"(> --tolerance={tolerance:g}); not writing {output}"
        )
    model_files.atomic_write_bytes(path, model_bytes)
    return difference
