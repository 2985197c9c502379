r"""`adjustable-style-export tflite` (and `export/tflite.py`): a checked TFLite file.

    adjustable-style-export tflite --model=starry_night --output=starry_night.tflite \
        --height=256 --width=256

TFLite needs static shapes: the model takes content float32 [1, H, W, 3] in
[0, 1] (and alpha float32 [1, L]) and returns stylized [1, H, W, 3]. The
converted model is run against Keras on a test image; the file is written
only if they agree within --tolerance. See docs/stylize_and_export.md.
"""

import os

from absl import flags

from adjustable_style import cli, dataclass_flags, images, limits, model_files

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None, model_files.MODEL_FLAG_HELP)
flags.DEFINE_string("output", None, "The .tflite file to write (required).")
dataclass_flags.define_integer(
    "height",
    256,
    f"Fixed input height of the TFLite model, 1..{limits.MAX_SIDE}; height x width at most "
    f"{limits.MAX_PIXELS / 1e6:g} megapixels.",
)
dataclass_flags.define_integer(
    "width", 256, f"Fixed input width of the TFLite model, 1..{limits.MAX_SIDE}."
)
flags.DEFINE_string(
    "test_image",
    None,
    "Image for the Keras/TFLite check, resized to --height x --width. "
    "Default: a synthetic picture.",
)
flags.DEFINE_float(
    "tolerance", 1e-3, "Largest allowed |TFLite - Keras| difference (pixels in [0, 1])."
)
flags.DEFINE_bool(
    "overwrite", False, "Replace --output if it is a TFLite model (any other file is refused)."
)


def _main(argv):
    from adjustable_style.export import output_files, tflite

    cli.check_no_arguments(argv)
    if not FLAGS.output:
        raise cli.UsageError("no output file; pass --output=FILE.tflite")
    for name in ("height", "width"):
        limits.check_side(f"--{name}", FLAGS[name].value)
    limits.check_pixels("--height x --width", FLAGS.height, FLAGS.width)
    # The check runs the model at this size in Keras and in TFLite.
    limits.check_memory(
        f"a TFLite model of {FLAGS.width}x{FLAGS.height}",
        2 * FLAGS.height * FLAGS.width * limits.FORWARD_BYTES_PER_PIXEL,
    )
    output_files.check_tolerance(FLAGS.tolerance)
    content = None
    if FLAGS.test_image:
        picture = images.load_image(FLAGS.test_image)
        content = images.resize_image(picture, FLAGS.height, FLAGS.width)[None]
    if os.path.splitext(FLAGS.output)[1].lower() != ".tflite":
        raise cli.UsageError(f"{FLAGS.output}: the output must end in .tflite")
    output_files.check_output_path(FLAGS.output, FLAGS.overwrite, is_dir=False)
    model_files.resolve_model_path(FLAGS.model)
    cli.quiet_tensorflow_import()
    stylizer, _ = model_files.load_stylizer(FLAGS.model)
    difference = tflite.export_tflite(
        stylizer,
        FLAGS.output,
        FLAGS.height,
        FLAGS.width,
        content=content,
        tolerance=FLAGS.tolerance,
        overwrite=FLAGS.overwrite,
    )
    names, adjustable = model_files.describe_stylizer(stylizer)
    inputs = f"content [1, {FLAGS.height}, {FLAGS.width}, 3]"
    if adjustable:
        inputs += f", alpha [1, {len(names)}] ({', '.join(names)})"
    print(f"{FLAGS.output}: TFLite, inputs {inputs}; max |TFLite - Keras| = {difference:.3g}")


def main(program="adjustable-style-export tflite"):
    cli.run(_main, program, flags_of=__name__)
