"""Export a trained stylizer as a TFLite file.

It computes what `inference.stylizer.FastStylizer` computes, converted from
`inference.graph.StylizerGraph`. TFLite needs static shapes, so `export_tflite` fixes the input at
[1, height, width, 3] (and alpha at [1, L]). The size is baked in (the
padding to a multiple of 4 is folded into constants), so a different size
needs another conversion rather than `Interpreter.resize_tensor_input`.
"""

import os

import numpy as np

from adjustable_style import model_files
from adjustable_style.errors import first_line
from adjustable_style.export import output_files
from adjustable_style.export.output_files import ExportError
from adjustable_style.export.saved_model import ALPHA, CONTENT, SERVING_DEFAULT, STYLIZED

DEFAULT_TFLITE_SIZE = 256
DEFAULT_TFLITE_TOLERANCE = 1e-3


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ExportError(f"--{name} must be a positive integer, got {value!r}")
    return int(value)


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
    with output_files.quiet():
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
        with output_files.quiet():
            return converter.convert()
    except Exception as error:
        raise ExportError(f"TFLite conversion failed: {first_line(error)}") from None


def tflite_runner(model_bytes, threads=None):
    """A function `(content, alpha=None) -> stylized` over a TFLite model.

    Runs the flatbuffer's `serving_default` signature with the TFLite
    interpreter that ships with TensorFlow, on `threads` CPU threads (all
    the machine's by default). The interpreter's own default is one thread:
    left at it, TFLite ran at 0.58x its two-thread speed at 256 px on a
    two-core CPU, which the export benchmark once took for TFLite's speed.
    """
    import tensorflow as tf

    threads = threads or os.cpu_count() or 1
    with output_files.quiet():
        interpreter = tf.lite.Interpreter(model_content=model_bytes, num_threads=threads)
        runner = interpreter.get_signature_runner(SERVING_DEFAULT)

    def run(content, alpha=None):
        inputs = {CONTENT: np.asarray(content, np.float32)}
        if alpha is not None:
            inputs[ALPHA] = np.asarray(alpha, np.float32)
        with output_files.quiet():  # The first call announces the XNNPACK delegate.
            return runner(**inputs)[STYLIZED]

    return run


def compare_tflite(stylizer, model_bytes, content, alphas=None):
    """Max |TFLite - Keras| over `content` [1, H, W, 3] and each alpha [L]."""
    return output_files.worst_difference(tflite_runner(model_bytes), stylizer, content, alphas)


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
    from adjustable_style import alpha_vectors

    output_files.check_tolerance(tolerance)
    if os.path.splitext(output or "")[1].lower() != ".tflite":
        raise ExportError(f"{output}: the output must end in .tflite")
    path = output_files.check_output_path(output, overwrite, is_dir=False)
    height, width = _check_size("height", height), _check_size("width", width)
    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    if content is None:
        content = output_files.check_image(height, width, seed)
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
            alpha_vectors.sample_alpha(1, num, seed)[0],
        ]
    difference = compare_tflite(stylizer, model_bytes, content, alphas)
    if not difference <= tolerance:
        raise ExportError(
            f"the TFLite model differs from Keras by {difference:.3g} "
            f"(> --tolerance={tolerance:g}); not writing {output}"
        )
    model_files.atomic_write_bytes(path, model_bytes)
    return difference
