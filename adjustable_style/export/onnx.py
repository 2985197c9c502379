"""Export a stylizer to ONNX, checked in onnxruntime against Keras.

The ONNX graph is `inference.graph.StylizerGraph.stylize` (what the SavedModel and
`FastStylizer` compute), frozen and converted with tf2onnx:

    inputs   content  float32 [B, H, W, 3] in [0, 1]  (batch, height and
                                                       width free)
             alpha    float32 [B or 1, L] in [0, 1]   (adjustable models)
    output   stylized float32 [B, H, W, 3] in [0, 1]

Height and width stay dynamic: every op of the graph converts with symbolic
shapes (the paddings are slices and concatenations, the crop a slice).
tf2onnx and onnxruntime are the optional extra `onnx`
(`pip install -e '.[onnx]'`).
"""

import contextlib
import logging
import os

import numpy as np

from adjustable_style import model_files
from adjustable_style.errors import first_line
from adjustable_style.export import output_files
from adjustable_style.export import saved_model as export

# Opset 17 is what onnxruntime releases of the last years all run; the graph
# needs nothing newer.
DEFAULT_OPSET = 17
# tf2onnx 1.17's README: "We support and test ONNX opset-14 to opset-18".
MIN_OPSET, MAX_OPSET = 14, 18
DEFAULT_TOLERANCE = 1e-3
# The check image's size: not a multiple of 4, so the padding and the crop
# back are exercised too.
CHECK_HEIGHT, CHECK_WIDTH = 61, 83


def _require(module):
    try:
        return __import__(module)
    except ImportError:
        raise output_files.ExportError(
            f"ONNX export needs {module}: pip install tf2onnx onnxruntime "
            "(or pip install -e '.[onnx]')"
        ) from None


@contextlib.contextmanager
def _quiet_tf2onnx():
    """tf2onnx logs every rewrite and optimizer pass at INFO; keep warnings."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with output_files.quiet():
            yield
    finally:
        logger.setLevel(level)


def is_onnx_file(path):
    """True for a file that parses as an ONNX model with a graph."""
    try:
        import onnx

        return bool(onnx.load(path, load_external_data=False).graph.node)
    except Exception:  # Not ONNX, unreadable, or onnx missing: not ours to replace.
        return False


def convert_onnx(stylizer, opset=DEFAULT_OPSET):
    """Serialized ONNX model bytes of the stylizer (see the module doc)."""
    _require("tf2onnx")
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants

    from adjustable_style.inference.graph import StylizerGraph

    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    # onnxruntime has its own convolutions: TensorFlow's direct form converts.
    graph = StylizerGraph(stylizer, fused_norms=False, convolutions="direct")
    specs = [tf.TensorSpec([None, None, None, 3], tf.float32, name=export.CONTENT)]
    if adjustable:
        specs.append(tf.TensorSpec([None, len(style_layers)], tf.float32, name=export.ALPHA))

    def stylize(*inputs):
        return tf.identity(graph.stylize(*inputs), name=export.STYLIZED)

    # Frozen first: tf2onnx would otherwise turn the captured kernels into
    # extra graph inputs (and Lambda's variables need freezing anyway).
    with output_files.quiet():
        frozen = convert_to_constants.convert_variables_to_constants_v2(
            tf.function(stylize).get_concrete_function(*specs)
        )
    graph_def = frozen.graph.as_graph_def()
    inputs = [t.name for t in frozen.inputs]
    outputs = [t.name for t in frozen.outputs]
    rename = {name: name.split(":")[0] for name in inputs}
    rename[outputs[0]] = export.STYLIZED

    import tf2onnx

    try:
        with _quiet_tf2onnx():
            model, _ = tf2onnx.convert.from_graph_def(
                graph_def,
                input_names=inputs,
                output_names=outputs,
                opset=opset,
                tensors_to_rename=rename,
            )
    except Exception as error:
        raise output_files.ExportError(f"ONNX conversion failed: {first_line(error)}") from None
    return model.SerializeToString()


def onnx_runner(model_bytes, threads=None, spinning=True):
    """A function `(content, alpha=None) -> stylized` over an ONNX model (onnxruntime).

    `spinning=False` stops onnxruntime's threads from busy-waiting for the
    next run after each one: side by side with other runtimes (a
    benchmark), the spinning threads would take the cores from them.
    """
    _require("onnxruntime")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def run(content, alpha=None):
        feed = {export.CONTENT: np.asarray(content, np.float32)}
        if export.ALPHA in names:
            feed[export.ALPHA] = np.asarray(alpha, np.float32)
        return session.run([export.STYLIZED], feed)[0]

    return run


def compare_onnx(stylizer, model_bytes, content, alphas=None):
    """Max |onnxruntime - Keras| over `content` and each alpha [L] (None: base model)."""
    return output_files.worst_difference(onnx_runner(model_bytes), stylizer, content, alphas)


def checked_onnx(
    stylizer, tolerance=DEFAULT_TOLERANCE, opset=DEFAULT_OPSET, seed=0, target="the model"
):
    """(ONNX bytes, max |onnxruntime - Keras|): converted, then checked before any write.

    The check runs both on `output_files.check_image` (61x83) at two alphas (all
    0.25 and a random one; the base model at its one setting) and refuses
    (ExportError, naming `target` as what is not written) a model whose
    outputs differ by more than `tolerance`.
    """
    from adjustable_style import alpha_vectors

    output_files.check_tolerance(tolerance)
    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    model_bytes = convert_onnx(stylizer, opset)
    alphas = None
    if adjustable:
        num = len(style_layers)
        alphas = [np.full(num, 0.25, np.float32), alpha_vectors.sample_alpha(1, num, seed + 1)[0]]
    content = output_files.check_image(CHECK_HEIGHT, CHECK_WIDTH, seed)
    difference = compare_onnx(stylizer, model_bytes, content, alphas)
    if not difference <= tolerance:
        raise output_files.ExportError(
            f"the ONNX model differs from Keras by {difference:.3g} "
            f"(> --tolerance={tolerance:g}); not writing {target}"
        )
    return model_bytes, difference


def export_onnx(
    stylizer, output, tolerance=DEFAULT_TOLERANCE, overwrite=False, opset=DEFAULT_OPSET, seed=0
):
    """Converts, checks in onnxruntime against Keras (`checked_onnx`), and writes `output`.

    `output` must end in `.onnx`. Returns the largest difference of the check.
    """
    output_files.check_tolerance(tolerance)
    if os.path.splitext(output or "")[1].lower() != ".onnx":
        raise output_files.ExportError(f"{output}: the output must end in .onnx")
    path = output_files.check_output_path(
        output, overwrite, is_dir=False, file_kind=("an ONNX model", is_onnx_file)
    )
    model_bytes, difference = checked_onnx(stylizer, tolerance, opset, seed, target=output)
    model_files.atomic_write_bytes(path, model_bytes)
    return difference
