r"""`adjustable-style-export saved_model` (and `export/saved_model.py`).

    adjustable-style-export saved_model --model=starry_night --output=exported/starry_night

Writes a SavedModel for tf.saved_model.load / hub.load / TF Serving: the
folder holds `__call__(content, alpha)`, the signatures `serving_default`
(content, alpha -> stylized, float32), `serving_uint8` (image, alpha ->
stylized, uint8), `serving_preserve_color` (the content's colours kept) and
`serving_alpha_map` (content, alpha_map -> stylized: one alpha per pixel),
and `style_layers`. See adjustable_style/export.py and
docs/stylize_and_export.md.
"""

from absl import flags

from adjustable_style import cli, hardware, model_files

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None, model_files.MODEL_FLAG_HELP)
flags.DEFINE_string("output", None, "The SavedModel folder to write (required).")
flags.DEFINE_string(
    "convolutions",
    "auto",
    "How the graph computes its residual and upsampling convolutions: direct "
    "(tf.nn.conv2d; fastest on CPUs with AVX-512) or matmul (matrix products; "
    "nearly twice as fast on x86 CPUs with AVX2 only); auto picks for this CPU. "
    "Fixed in the SavedModel: export on the kind of CPU that will serve it.",
)
flags.DEFINE_bool(
    "overwrite",
    False,
    "Replace --output if it is an earlier export of this command (any other folder is refused).",
)


def _main(argv):
    from adjustable_style.export import output_files
    from adjustable_style.export import saved_model as export

    cli.check_no_arguments(argv)
    if not FLAGS.output:
        raise cli.UsageError("no output folder; pass --output=DIR")
    if FLAGS.convolutions not in ("auto",) + hardware.CONVOLUTION_KERNELS:
        raise cli.UsageError(
            f"--convolutions must be auto, {' or '.join(hardware.CONVOLUTION_KERNELS)}, "
            f"got {FLAGS.convolutions!r}"
        )
    output_files.check_output_path(FLAGS.output, FLAGS.overwrite, is_dir=True)
    model_files.resolve_model_path(FLAGS.model)
    cli.quiet_tensorflow_import()
    stylizer, record = model_files.load_stylizer(FLAGS.model)
    convolutions = (
        hardware.convolution_kernels() if FLAGS.convolutions == "auto" else FLAGS.convolutions
    )
    path = export.save_saved_model(
        stylizer, FLAGS.output, record, overwrite=FLAGS.overwrite, convolutions=convolutions
    )
    names, adjustable = model_files.describe_stylizer(stylizer)
    inputs = "content, alpha" if adjustable else "content"
    print(
        f"{path}: SavedModel, __call__({inputs}); signatures "
        f"{', '.join(export.signature_names(adjustable))}; style layers: "
        f"{', '.join(names) or 'none (base model, no alpha)'}; {convolutions} convolutions"
    )


def main(program="adjustable-style-export saved_model"):
    cli.run(_main, program, flags_of=__name__)
