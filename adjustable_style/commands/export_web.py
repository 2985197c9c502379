r"""`adjustable-style-export web`: a static page that stylizes in the browser.

    npm ci --prefix web                  # once: the browser runtime (onnxruntime-web)
    adjustable-style-export web --model=starry_night --output=page
    python -m http.server --directory page 8000    # any static server; then open the page

The folder holds the page, the model as ONNX (checked in onnxruntime against
Keras before anything is written), a description of the model and the
runtime's files: nothing is loaded from outside it. See docs/web.md.
"""

from absl import flags

from adjustable_style import cli, dataclass_flags, model_files
from adjustable_style.errors import check_int
from adjustable_style.export import onnx as onnx_export
from adjustable_style.export import web

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None, model_files.MODEL_FLAG_HELP)
flags.DEFINE_string("output", None, "The folder to write the page to (required).")
flags.DEFINE_string(
    "runtime_dir",
    None,
    "onnxruntime-web's dist folder to copy the runtime from. Default: "
    "web/node_modules/onnxruntime-web/dist in the repository (`npm ci --prefix web` makes it).",
)
dataclass_flags.define_integer(
    "size",
    web.DEFAULT_SIZE,
    "The long side, in pixels, that the page stylizes at until the user picks another: one "
    f"of {', '.join(map(str, web.SIZES))}.",
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
    "overwrite",
    False,
    "Replace --output if it is an earlier page export whose files are unchanged "
    "(any other folder is refused).",
)


def _main(argv):
    from adjustable_style.export import output_files

    cli.check_no_arguments(argv)
    if not FLAGS.output:
        raise cli.UsageError("no output folder; pass --output=DIR")
    output_files.check_tolerance(FLAGS.tolerance)
    check_int("--opset", FLAGS.opset, onnx_export.MIN_OPSET, onnx_export.MAX_OPSET)
    web.check_size(FLAGS.size)
    output_files.check_output_path(
        FLAGS.output, FLAGS.overwrite, is_dir=True, marker_format=web.MARKER_FORMAT
    )
    # Both before TensorFlow starts: a missing runtime or model costs no start-up.
    web.runtime_files(FLAGS.runtime_dir)
    model_files.resolve_model_path(FLAGS.model)
    cli.quiet_tensorflow_import()
    for module in ("tf2onnx", "onnxruntime"):
        onnx_export._require(module)
    stylizer, record = model_files.load_stylizer(FLAGS.model)
    path, difference = web.export_web(
        stylizer,
        FLAGS.output,
        runtime_dir=FLAGS.runtime_dir,
        name=web.model_name(FLAGS.model),
        record=record,
        style_image=web.style_thumbnail(FLAGS.model),
        overwrite=FLAGS.overwrite,
        tolerance=FLAGS.tolerance,
        opset=FLAGS.opset,
        size=FLAGS.size,
    )
    names, adjustable = model_files.describe_stylizer(stylizer)
    layers = f"sliders {', '.join(names)}" if adjustable else "a base model (no sliders)"
    print(
        f"{path}: web page, {layers}; max |onnxruntime - Keras| = {difference:.3g}; "
        f"serve it with any static server, e.g. python -m http.server --directory {FLAGS.output}"
    )


def main(program="adjustable-style-export web"):
    cli.run(_main, program, flags_of=__name__)
