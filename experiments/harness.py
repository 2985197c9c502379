"""What every experiment command shares: its flags (the inputs, the photos
it uses and shows, the batch size, where outputs go) and their checks, loading
the model, its style and the loss network, the photos, the reproducing command
line, the paths results name, and writing the outputs (each file atomically).

A command is then its own flags, its measurements and its report:

    def define_flags(flag_values=None):
        fv = harness.define_run_flags(flag_values, FILES, "figure_photo", ...)
        flags.DEFINE_integer("samples", ...)

    def run(fv):
        harness.check_flags(fv, "figure_photo", (("samples", 2),))
        ...

    main = harness.command_main(run)
"""

import json
import math
import os
import shlex
import time

import numpy as np
from absl import flags

from adjustable_style import cli, image_files, images, model_files
from adjustable_style.cli import UsageError

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
RESULTS_DIR = os.path.join(_HERE, "results")
MIN_IMAGE_SIZE = 16  # VGG's block 4 sees 1/8 of the image.
DEFAULT_STYLE_IMAGE_SIZE = 256
# What a reproducing command names a path outside the repository by.
PATH_PLACEHOLDERS = {
    "content": "HELD_OUT_PHOTOS/",
    "vgg_weights": "vgg19.weights.h5",
    "model": "MODEL",
    "output_dir": "OUTPUT_DIR",
}


def define_input_flags(fv):
    """Defines the flags every experiment shares on FlagValues `fv`.

    --model, --content, --vgg_weights, --style_image and --image_size.
    """
    flags.DEFINE_string(
        "model",
        None,
        "A .keras file, a training model folder (model.keras + model.json) or "
        f"the name of a shipped model. Default: {model_files.DEFAULT_MODEL}.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "content",
        None,
        "Held-out content photos (not used in training): a file, a folder, a "
        "glob or a comma-separated list of those.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "vgg_weights",
        "imagenet",
        "The loss network's weights: 'imagenet' (Keras download, needs "
        "internet) or the path of a Keras VGG weights file (include_top="
        "False), ideally the one the model was trained with.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "style_image",
        None,
        "The style image. Default: style.jpg in the model's folder, else the "
        "file the training record names (absolute, or in the model's folder).",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "image_size",
        256,
        "Photos are resized so that the shorter side is this many pixels, "
        "then centre-cropped square.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "style_scale",
        "training",
        "The size the style image's Grams are taken at: 'training' (its shorter "
        "side at the model's --style_image_size, as in training), 'short:N' "
        "(shorter side N px) or 'long:N' (longer side N px, e.g. long:512, the "
        "size people tend to view a painting at).",
        flag_values=fv,
    )


# The flags `define_input_flags` defines, in the order a reproducing command
# names them.
INPUT_FLAGS = ("model", "content", "style_image", "vgg_weights", "image_size", "style_scale")
# Flags a reproducing command leaves out when 0 (their default).
OMIT_ZERO = ("max_images", "figure_photo", "sweep_photo", "seed")


def define_run_flags(flag_values, files, photo, photo_help, batch_size=8, batch_help=None):
    """Defines the input flags, then --`photo` (which photo the pictures
    show), --max_images, --batch_size and --output_dir (where `files` go).

    `flag_values` defaults to absl's FLAGS; returns the FlagValues.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    define_input_flags(fv)
    flags.DEFINE_integer(photo, 0, photo_help, flag_values=fv)
    flags.DEFINE_integer("max_images", 0, "Use at most this many photos (0 = all).", flag_values=fv)
    flags.DEFINE_integer(
        "batch_size",
        batch_size,
        batch_help or "Stylized images per forward pass (memory grows with it).",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "output_dir",
        None,
        f"Where {', '.join(files)} go. Default: experiments/results/<model name>.",
        flag_values=fv,
    )
    return fv


def check_flags(fv, photo, minimums=()):
    """--content is given, and each of `define_run_flags`' numbers and of
    `minimums` ((flag, least value) pairs) is at least its least value."""
    if not fv.content:
        raise UsageError("--content is required: the held-out photos to measure on")
    for name, minimum in (
        ("image_size", MIN_IMAGE_SIZE),
        *minimums,
        ("max_images", 0),
        (photo, 0),
        ("batch_size", 1),
    ):
        if fv[name].value < minimum:
            raise UsageError(f"--{name} must be at least {minimum}, got {fv[name].value}")


def command_main(run):
    """The `main(argv, flag_values=None)` of a command whose work is `run(fv)`.

    It returns None (absl's `app.run` exits with main's return value); the
    numbers are in the JSON file, or returned by `run`.
    """

    def main(argv, flag_values=None):
        cli.check_no_arguments(argv)
        run(flags.FLAGS if flag_values is None else flag_values)

    return main


def inputs(fv, photo):
    """What a command resolves before TensorFlow starts (so that it fails on
    paths first): model_path, photos, name and output_dir."""
    import types

    model_path = model_files.resolve_model_path(fv.model or None)
    photos = list_photos(fv, photo)
    name = model_name(fv.model, model_path)
    output_dir = fv.output_dir or os.path.join(RESULTS_DIR, name)
    return types.SimpleNamespace(
        model_path=model_path, photos=photos, name=name, output_dir=output_dir
    )


def model_name(spec, path):
    """A short name for the model: the shipped name or its folder's name."""
    if spec and spec in model_files.shipped_models() and not os.path.exists(spec):
        return spec
    if spec is None or spec == "":
        return model_files.DEFAULT_MODEL
    folder, file = os.path.split(os.path.abspath(path))
    if file == model_files.MODEL_FILE:
        return os.path.basename(folder) or "model"
    return os.path.splitext(file)[0]


def find_style_image(override, model_path, record):
    """The style image to measure against; see --style_image."""
    if override:
        if not os.path.isfile(override):
            raise images.ImageError(f"{override}: style image not found")
        return override
    folder = os.path.dirname(os.path.abspath(model_path))
    thumbnail = os.path.join(folder, model_files.STYLE_THUMBNAIL)
    if os.path.isfile(thumbnail):
        return thumbnail
    named = record.get("style_image")
    if named:
        for candidate in (named, os.path.join(folder, named)):
            if os.path.isfile(candidate):
                return candidate
    raise UsageError(
        f"no style image found for {model_path} (no {model_files.STYLE_THUMBNAIL} "
        f"beside it{', and the recorded ' + repr(named) + ' is not there' if named else ''}); "
        "pass --style_image"
    )


def parse_style_scale(scale):
    """--style_scale as (side, pixels): ('training', None), ('short', N) or ('long', N)."""
    if scale == "training":
        return "training", None
    side, _, pixels = scale.partition(":")
    if side not in ("short", "long") or not pixels.isdigit() or int(pixels) < MIN_IMAGE_SIZE:
        raise UsageError(
            f"--style_scale={scale!r}: use 'training', 'short:N' or 'long:N' with N >= "
            f"{MIN_IMAGE_SIZE}"
        )
    return side, int(pixels)


def style_shorter_side(style_path, scale, recorded_size):
    """The shorter side, in pixels, that puts the style image at `scale`."""
    side, pixels = parse_style_scale(scale)
    if side == "training":
        return int(recorded_size or DEFAULT_STYLE_IMAGE_SIZE)
    if side == "short":
        return pixels
    height, width = images.load_image(style_path).shape[:2]
    return max(1, round(pixels * min(height, width) / max(height, width)))


def portable_path(path, placeholder=None):
    """`path` as a committed result may name it: relative to the repository
    when inside it, else `placeholder` (or the file's own name), never a
    folder of the machine it ran on."""
    if path is None:
        return None
    absolute = os.path.abspath(path)
    if absolute == REPO or absolute.startswith(REPO + os.sep):
        return os.path.relpath(absolute, REPO)
    if os.path.isabs(path) or path.startswith(".."):
        return placeholder or os.path.basename(path.rstrip(os.sep))
    return path


def recorded_path(path):
    """`path` relative to the repository when inside it, else its file name."""
    return portable_path(os.path.abspath(path))


def load_models(model_spec, model_path, style_image, vgg_weights, style_scale="training"):
    """The adjustable stylizer, its record, the style image and the loss network.

    `model_spec` is --model as given, `model_path` what it resolves to.
    Notes (printed) when the style image or the VGG weights differ from what
    training recorded; a UsageError for a base model, which has no alpha.
    Returns a namespace: stylizer, record, style_layers, network (the loss
    network's name), spec, style_path, style_size, style (the image in
    [0, 1]), same_style (None when the record has no checksum), loss_net.
    """
    import types

    from adjustable_style.model import loss_network, networks
    from adjustable_style.training import data

    stylizer, record = model_files.load_stylizer(model_spec or None)
    if not networks.is_adjustable(stylizer):
        raise UsageError(
            f"{model_path} is a base (non-adjustable) model; these "
            "experiments need a model that takes alpha"
        )
    style_layers = networks.style_layer_names(stylizer)
    network = record.get("loss_network", "vgg19")
    spec = loss_network.default_spec(
        network, content_layer=record.get("content_layer"), style_layers=style_layers
    )
    style_path = find_style_image(style_image, model_path, record)
    style_size = style_shorter_side(style_path, style_scale, record.get("style_image_size"))
    style = data.style_image_tensor(style_path, style_size).numpy()[0]
    style_sha = model_files.file_sha256(style_path)
    same_style = (
        style_sha == record["style_image_sha256"] if record.get("style_image_sha256") else None
    )
    if same_style is False:
        print(
            f"Note: {style_path} is not byte-identical to the training style "
            f"image {record.get('style_image')!r} (a thumbnail or another "
            "file); the style losses use it as given."
        )
    recorded_weights = record.get("vgg_weights")
    if recorded_weights and os.path.basename(str(recorded_weights)) != os.path.basename(
        vgg_weights
    ):
        print(
            f"Note: the model was trained with VGG weights {recorded_weights!r}, "
            f"measuring with {vgg_weights!r}."
        )
    loss_net = loss_network.build_loss_network(spec, weights=vgg_weights)
    return types.SimpleNamespace(
        stylizer=stylizer,
        record=record,
        style_layers=style_layers,
        network=network,
        spec=spec,
        style_path=style_path,
        style_size=style_size,
        style=style,
        same_style=same_style,
        loss_net=loss_net,
    )


def finite_or_none(value):
    """JSON-safe numbers: NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def format_number(value, digits=3):
    """A report's number: `digits` significant digits, "n/a" when missing."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def command_line(program, fv, names):
    """The command that reproduces a run, quoted: `python PROGRAM`, the input
    flags, the flags `names` of `fv`, then --output_dir.

    Unset flags are left out, and so are those of OMIT_ZERO when 0; paths
    outside the repository are named by PATH_PLACEHOLDERS.
    """
    parts = ["python", program]
    for name in (*INPUT_FLAGS, *names, "output_dir"):
        value = fv[name].value
        if value is None or (name in OMIT_ZERO and value == 0):
            continue
        if isinstance(value, str) and (
            os.path.isabs(value) or value.startswith("..") or os.path.exists(value)
        ):
            value = portable_path(value, PATH_PLACEHOLDERS.get(name))
        if isinstance(value, (list, tuple)):
            # A list flag takes its values comma-separated, as typed.
            value = ",".join(str(v) for v in value)
        parts.append(f"--{name}={value}")
    return " ".join(shlex.quote(p) for p in parts)


def list_photos(fv, picked):
    """The photos of --content (at most --max_images), checking that the
    photo flag `picked` (the one a figure shows) names one of them."""
    photos = image_files.list_image_files(fv.content)
    if fv.max_images:
        photos = photos[: fv.max_images]
    if fv[picked].value >= len(photos):
        raise UsageError(f"--{picked}={fv[picked].value} but there are only {len(photos)} photos")
    return photos


def check_vgg_weights(fv):
    """--vgg_weights names a file that exists (or a named set of weights)."""
    if fv.vgg_weights not in ("imagenet", "random") and not os.path.isfile(fv.vgg_weights):
        raise UsageError(f"--vgg_weights: {fv.vgg_weights}: no such file")


def write_outputs(output_dir, results, report, pictures, started):
    """Writes an experiment's pictures, JSON and markdown, and prints the report.

    `results` and `report` are {file name: dict} and {file name: text} of
    one entry each; `pictures` is {file name: image}. Each file is written
    atomically, so an interrupted run leaves the old ones whole.
    """
    os.makedirs(output_dir, exist_ok=True)
    for file, picture in pictures.items():
        images.save_image(picture, os.path.join(output_dir, file))
    for file, value in results.items():
        model_files.atomic_write_bytes(
            os.path.join(output_dir, file),
            (json.dumps(value, indent=2, allow_nan=False) + "\n").encode(),
        )
    for file, text in report.items():
        model_files.atomic_write_bytes(os.path.join(output_dir, file), text.encode())
    print()
    print(*report.values())
    names = [*results, *report, *pictures]
    print(f"Wrote {', '.join(names[:-1])} and {names[-1]} to {output_dir}")
    print(f"Total time: {time.perf_counter() - started:.1f} s")


def device_name():
    """The GPU measured on, else "CPU (N cores)"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", "GPU")
    return f"CPU ({os.cpu_count()} cores)"
