r"""Export a stylizer as a SavedModel for tf.saved_model.load / hub.load / TF Serving.

    python export/saved_model.py --model=starry_night --output=exported/starry_night

The folder holds `__call__(content, alpha)`, the signatures
`serving_default` (content, alpha -> stylized, float32) and `serving_uint8`
(image, alpha -> stylized, uint8), and `style_layers`. See
adjustable_style/export.py and docs/stylize_and_export.md.
"""

import os
import sys

# Run as `python export/NAME.py`, Python puts export/ first on the path; put
# the repository there instead, so `adjustable_style` imports and this
# folder's file names cannot shadow other modules.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # noqa: E402

from adjustable_style import cli, model_files  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "model", None,
    "A .keras file, a training model folder, or a shipped model name. "
    f"Default: {model_files.DEFAULT_MODEL}.")
flags.DEFINE_string("output", None, "The SavedModel folder to write (required).")
flags.DEFINE_bool(
    "overwrite", False,
    "Replace --output if it is an earlier export of this command (any other "
    "folder is refused).")


def main(argv):
    from adjustable_style import export, stylize

    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.output:
        raise cli.UsageError("no output folder; pass --output=DIR")
    export.check_output_path(FLAGS.output, FLAGS.overwrite, is_dir=True)
    model_files.resolve_model_path(FLAGS.model)
    stylize.quiet_tensorflow_import()
    stylizer, record = model_files.load_stylizer(FLAGS.model)
    path = export.save_saved_model(stylizer, FLAGS.output, record,
                                   overwrite=FLAGS.overwrite)
    names, adjustable = export.describe_stylizer(stylizer)
    inputs = "content, alpha" if adjustable else "content"
    print(f"{path}: SavedModel, __call__({inputs}); signatures "
          f"{export.SERVING_DEFAULT}, {export.SERVING_UINT8}; style layers: "
          f"{', '.join(names) or 'none (base model, no alpha)'}")


if __name__ == "__main__":
    cli.run(main, "export/saved_model.py")
