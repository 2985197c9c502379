r"""`adjustable-style-export onnx` (and `export/onnx.py`): a checked ONNX file.

    adjustable-style-export onnx --model=starry_night --output=stylizer.onnx

The ONNX model takes content float32 [B, H, W, 3] in [0, 1] (batch, height
and width dynamic) and alpha float32 [B or 1, L], and returns stylized
[B, H, W, 3]. It is run in onnxruntime against Keras at two alphas; the file
is written only if they agree within --tolerance. Needs the `onnx` extra
(tf2onnx, onnxruntime).
"""

import os

from absl import flags

from adjustable_style import cli, dataclass_flags, model_files
from adjustable_style.errors import check_int
from adjustable_style.export import onnx as onnx_export

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None, model_files.MODEL_FLAG_HELP)
flags.DEFINE_string(
    "output",
    None,
    "The .onnx file to write (required). Its input size is dynamic: any batch, height and width.",
)
flags.DEFINE_float(
    "tolerance", 1e-3, "Largest allowed |onnxruntime - Keras| difference (pixels in [0, 1])."
)
dataclass_flags.define_integer(
    "opset",
    onnx_export.DEFAULT_OPSET,
    f"ONNX opset to convert to, {onnx_export.MIN_OPSET}..{onnx_export.MAX_OPSET} "
    "(what tf2onnx supports).",
)
flags.DEFINE_bool(
    "overwrite", False, "Replace --output if it is an ONNX model (any other file is refused)."
)


def _main(argv):
    from adjustable_style.export import output_files

    cli.check_no_arguments(argv)
    if not FLAGS.output:
        raise cli.UsageError("no output file; pass --output=FILE.onnx")
    output_files.check_tolerance(FLAGS.tolerance)
    check_int("--opset", FLAGS.opset, onnx_export.MIN_OPSET, onnx_export.MAX_OPSET)
    if os.path.splitext(FLAGS.output)[1].lower() != ".onnx":
        raise cli.UsageError(f"{FLAGS.output}: the output must end in .onnx")
    output_files.check_output_path(
        FLAGS.output,
        FLAGS.overwrite,
        is_dir=False,
        file_kind=("an ONNX model", onnx_export.is_onnx_file),
    )
    model_files.resolve_model_path(FLAGS.model)
    # Before tf2onnx, which imports TensorFlow.
    cli.quiet_tensorflow_import()
    for module in ("tf2onnx", "onnxruntime"):
        onnx_export._require(module)
    stylizer, _ = model_files.load_stylizer(FLAGS.model)
    difference = onnx_export.export_onnx(
        stylizer, FLAGS.output, FLAGS.tolerance, overwrite=FLAGS.overwrite, opset=FLAGS.opset
    )
    names, adjustable = model_files.describe_stylizer(stylizer)
    inputs = "content [B, H, W, 3]"
    if adjustable:
        inputs += f", alpha [B, {len(names)}] ({', '.join(names)})"
    print(
        f"{FLAGS.output}: ONNX, inputs {inputs}; max |onnxruntime - Keras| = "
        f"{difference:.3g} at two alphas"
    )


def main(program="adjustable-style-export onnx"):
    cli.run(_main, program, flags_of=__name__)
