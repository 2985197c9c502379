"""Stylizing images with a trained model: the library behind `stylize.py`.

`run(Options(...))` does everything the command does, so tests and notebooks
call it in process; `stylize.py` only maps its flags onto `Options`.

One call makes one of three kinds of output per content image:

- images: one stylized image per sample (`--num_samples`), at the alpha the
  user set (`--alpha`), or at random alphas (`--random_alpha`), optionally
  with the content multiplied by a random noise mask (`--content_noise`);
- a sweep (`--sweep`): the paper's Figure 3 as one picture, a row per style
  layer whose alpha goes 0 -> 1 across the columns while the other layers
  stay at `--sweep_fixed`; or, with `--sweep_layers=a,b`, Figure 9's grid of
  two layers (a grows down, b grows right);
- an animation (`--animate`): a looping random walk through alpha space, as
  a GIF or animated WebP (Pillow) or an MP4 (imageio with ffmpeg).

Reproducibility: every random choice derives from `--seed` (a fresh one
when not given). Sample k of a run with `--seed=S` is exactly what
`--seed=S+k --num_samples=1` gives, and every output line prints the flags
that reproduce it (`--alpha=...` in `alpha.format_alpha` form, plus
`--content_noise --seed=...` when a noise mask was used).

All or nothing: outputs are written to a hidden staging folder beside their
final place and moved there only when every image has been made, so a bad
input anywhere leaves no output file behind.
"""

import collections
import dataclasses
import os
import secrets
import shutil
import tempfile
from typing import Optional

import numpy as np

from adjustable_style import alpha as alpha_lib
from adjustable_style import (
    alpha_maps,
    color,
    figures,
    images,
    model_files,
    noise,
    stylize_video,
)
from adjustable_style.errors import UsageError
from adjustable_style.inference import runtime
from adjustable_style.inference.precision import resolve as resolve_precision

IMAGE_EXTENSIONS = images.SAVE_EXTENSIONS
ANIMATION_EXTENSIONS = (".gif", ".mp4", ".webp")
# Seconds between the keyframes of an animation's alpha walk.
ANIMATION_KEYFRAME_SECONDS = 1.5


@dataclasses.dataclass
class Output:
    """One written file and the flags that reproduce it."""

    path: str
    content: str
    description: str
    alpha: Optional[np.ndarray] = None


# ---------------------------------------------------------------------------
# Shipped models.
# ---------------------------------------------------------------------------


def list_models(out=print):
    """Prints the shipped models, their style and training summary."""
    names = model_files.shipped_models()
    if not names:
        out(
            "No shipped models are installed. Train one with train.py and "
            "pass --model=MODEL_DIR (or a .keras file, or an exported "
            "SavedModel folder)."
        )
        return names
    for name in names:
        path = model_files.resolve_model_path(name)
        try:
            record = model_files.read_record(path)
        except ValueError:
            record = {}
        default = " (default)" if name == model_files.DEFAULT_MODEL else ""
        out(f"{name}{default}: {model_files.record_summary(record)}")
    return names


# ---------------------------------------------------------------------------
# Checking options and planning outputs (all before TensorFlow starts).
# ---------------------------------------------------------------------------


def _missing_folder(folder):
    """Why `folder` cannot hold outputs: missing, or not a folder at all."""
    if os.path.exists(folder):
        return f"{folder} is not a folder"
    return f"folder {folder} does not exist"


def _output_is_folder(output):
    return (
        output.endswith(("/", os.sep)) or os.path.isdir(output) or not os.path.splitext(output)[1]
    )


def _suffix_for(kind):
    return {"images": "", "sweep": "_sweep", "animation": ""}[kind]


def _unique_stems(files):
    """Output names for content files: `photo` for photo.jpg, made unique.

    a.jpg and a.png become a_jpg and a_png; the same name in two folders
    becomes x and x_2.
    """
    split = [os.path.splitext(os.path.basename(f)) for f in files]
    extensions = collections.defaultdict(set)
    for stem, ext in split:
        extensions[stem].add(ext.lower())
    unique, used = [], set()
    for stem, ext in split:
        if len(extensions[stem]) > 1:
            stem += "_" + ext.lstrip(".").lower()
        candidate, n = stem, 1
        while candidate in used:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(candidate)
        unique.append(candidate)
    return unique


def plan_outputs(files, kind, num_samples, output, grid=False):
    """Final output paths: `plan[i]` lists those of `files[i]`.

    `output` is a file when it has an image extension (one output in all),
    otherwise a folder (made if missing; its parent must exist), where each
    output is named after its content file.
    """
    allowed = ANIMATION_EXTENSIONS if kind == "animation" else IMAGE_EXTENSIONS
    per_file = num_samples if kind == "images" else 1
    total = len(files) * per_file
    if not output:
        raise UsageError("no output given; pass --output=FILE or FOLDER")
    if _output_is_folder(output):
        folder = output
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise images.ImageError(
                f"{output}: exists and is not a folder; give a file name with "
                f"an extension ({', '.join(allowed)}) or a folder"
            )
        if not os.path.isdir(folder):
            parent = os.path.dirname(os.path.abspath(folder))
            if not os.path.isdir(parent):
                raise images.ImageError(
                    f"{output}: cannot make this output folder, {_missing_folder(parent)}"
                )
        ext = ".gif" if kind == "animation" else ".png"
        plan = []
        for path, stem in zip(files, _unique_stems(files)):
            stem += "_grid" if grid else _suffix_for(kind)
            if per_file == 1:
                names = [stem + ext]
            else:
                names = [f"{stem}_{k}{ext}" for k in range(per_file)]
            plan.append([os.path.join(folder, n) for n in names])
    else:
        ext = os.path.splitext(output)[1].lower()
        if ext not in allowed:
            what = "an animation" if kind == "animation" else "an image"
            raise images.ImageError(
                f"{output}: cannot save {what} with extension {ext!r}; use one of "
                f"{', '.join(allowed)} (or a folder name without an extension)"
            )
        folder = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(folder):
            raise images.ImageError(f"{output}: {_missing_folder(folder)}")
        if os.path.exists(output) and not os.path.isfile(output):
            raise images.ImageError(f"{output}: exists and is not a regular file")
        if ext == ".mp4":
            figures.check_mp4_support()
        if total > 1:
            raise UsageError(
                f"--output={output} is one file but this run makes {total} outputs; "
                "give a folder (a name without an extension)"
            )
        plan = [[output]]
    inputs = {os.path.realpath(f) for f in files}
    for paths in plan:
        for path in paths:
            if os.path.realpath(path) in inputs:
                raise UsageError(
                    f"{path}: would overwrite a content image; choose another --output"
                )
            if os.path.isdir(path):
                raise images.ImageError(f"{path}: is a folder, not a file name")
    return plan


class _Staging:
    """Collects outputs in a hidden folder; moves them into place on commit."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        near = self.folder if os.path.isdir(self.folder) else os.path.dirname(self.folder)
        try:
            self.dir = tempfile.mkdtemp(prefix=".stylize-partial-", dir=near)
        except OSError as error:
            # mkdtemp's message names the hidden staging folder, which the
            # user never asked for.
            raise images.ImageError(
                f"{near}: cannot write outputs there ({error.strerror or error})"
            ) from None
        self.moves = []

    def path_for(self, final):
        staged = os.path.join(self.dir, f"{len(self.moves)}-{os.path.basename(final)}")
        self.moves.append((staged, final))
        return staged

    def commit(self):
        try:
            os.makedirs(self.folder, exist_ok=True)
            for staged, final in self.moves:
                os.replace(staged, final)
        except OSError as error:
            raise images.ImageError(
                f"{error.filename or self.folder}: cannot write the output "
                f"({error.strerror or error})"
            ) from None
        self.discard()

    def discard(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Building the outputs.
# ---------------------------------------------------------------------------


def _stream(seed, sample, purpose):
    """An independent seed for `purpose` (0 alpha, 1 noise, 2 walk) of a sample."""
    return [seed + sample, purpose]


def _noise_flags(options, seed):
    flags = "--content_noise" if seed is None else f"--content_noise --seed={seed}"
    if options.noise_points is not None:
        flags += f" --noise_points={options.noise_points}"
    if options.noise_sigma is not None:
        flags += f" --noise_sigma={options.noise_sigma:g}"
    return flags


def _noisy(image, options, seed, sample):
    if not options.content_noise:
        return image
    h, w = image.shape[:2]
    mask = noise.noise_mask(
        h, w, _stream(seed, sample, 1), options.noise_points, options.noise_sigma
    )
    return noise.apply_noise_mask(image, mask)


def _label(x):
    return f"{round(float(x), 2):g}"


def sweep_alphas(model, options):
    """(alphas [R*C, L], R, C, row labels, column labels, corner, description)."""
    names = model.style_layers
    try:
        fixed = alpha_lib.parse_alpha(options.sweep_fixed or "0", names, default=0.0)
    except alpha_lib.AlphaError as error:
        raise alpha_lib.AlphaError(f"--sweep_fixed={options.sweep_fixed}: {error}") from None
    steps = options.sweep_steps
    values = np.linspace(0.0, 1.0, steps)
    if options.sweep_layers:
        layers = options.sweep_layers
        if isinstance(layers, str):
            layers = layers.split(",")
        layers = [n.strip() for n in layers if n.strip()]
        if len(layers) != 2 or layers[0] == layers[1]:
            raise UsageError(
                f"--sweep_layers needs two different style layers, got "
                f"{','.join(layers) or '(none)'}; the model's layers: "
                f"{', '.join(names)}"
            )
        for layer in layers:
            if layer not in names:
                raise alpha_lib.AlphaError(
                    f"unknown style layer {layer!r} in --sweep_layers; valid "
                    f"layers: {', '.join(names)}"
                )
        i, j = names.index(layers[0]), names.index(layers[1])
        alphas = alpha_lib.grid_alphas(len(names), i, j, steps, fixed)
        row_labels = [f"{layers[0]} = {_label(v)}" for v in values]
        col_labels = [_label(v) for v in values]
        corner = f"{layers[1]} ="

        description = (
            f"grid: {layers[0]} 0->1 down, {layers[1]} 0->1 right, "
            f"{steps}x{steps}; others "
            f"--sweep_fixed={alpha_lib.format_alpha(fixed, names)}"
        )
        return alphas, steps, steps, row_labels, col_labels, corner, description
    alphas = np.concatenate(
        [alpha_lib.sweep_alphas(len(names), i, steps, fixed) for i in range(len(names))]
    )
    description = (
        f"sweep: a row per layer ({', '.join(names)}), its alpha 0->1 "
        f"in {steps} steps; others "
        f"--sweep_fixed={alpha_lib.format_alpha(fixed, names)}"
    )
    return (
        alphas,
        len(names),
        steps,
        list(names),
        [_label(v) for v in values],
        "alpha =",
        description,
    )


def _check_alpha_flags(model, options):
    if model.adjustable:
        return
    given = [
        flag
        for flag, used in (
            ("alpha", options.alpha is not None),
            ("alpha_map", options.alpha_map is not None),
            ("random_alpha", options.random_alpha),
            ("sweep", options.sweep or bool(options.sweep_layers)),
            ("sweep_fixed", options.sweep_fixed is not None),
            ("animate", options.animate),
        )
        if used
    ]
    if given:
        raise UsageError(
            f"--{given[0]}: this model has no alpha (it is a base model "
            "with fixed style weights, not an adjustable one)"
        )


def run(options, out=print, model=None):
    """Does what `stylize.py` does; returns the list of `Output`s written.

    `out` receives each line to print. `model`, a `Model` from `load_model`,
    replaces `options.model`, so that a notebook or a test loads it once.
    Raises the user errors of `cli.user_errors()` (one-line messages) and
    leaves no output file behind when it does.
    """
    if options.list_models:
        list_models(out)
        return []
    options.validate()
    if stylize_video.is_video_content(options.content, options.output):
        path, description = stylize_video.run(options, out, model)
        return [Output(path, options.content, description)]
    if model is None:
        model_files.check_model_spec(options.model)
    files = images.list_image_files(options.content)
    kind = options.kind()
    plan = plan_outputs(
        files, kind, options.num_samples, options.output, grid=bool(options.sweep_layers)
    )

    if model is None:
        precision = "float32"
        if not (options.model and model_files.is_saved_model_dir(options.model)):
            precision = resolve_precision(options.precision)
        model = runtime.load_model(options.model, precision)
    _check_alpha_flags(model, options)
    names = model.style_layers
    base_alpha = None
    if model.adjustable and not options.random_alpha and kind != "sweep":
        if options.alpha is None:
            base_alpha = np.ones(len(names), np.float32)
        else:
            base_alpha = alpha_lib.parse_alpha(options.alpha, names, default=1.0)
    alpha_map = _alpha_map(model, options) if options.alpha_map else None
    sweep = sweep_alphas(model, options) if kind == "sweep" else None
    needs_seed = options.random_alpha or options.content_noise or kind == "animation"
    seed = options.seed
    if seed is None and needs_seed:
        seed = secrets.randbelow(2**31)

    folder = os.path.dirname(os.path.abspath(plan[0][0]))
    staging = _Staging(folder)
    results = []
    try:
        for path, finals in zip(files, plan):
            image = images.load_image(path, options.max_pixels or None, options.max_size)
            if kind == "images" and alpha_map is not None:
                results += _make_mapped_images(
                    model, options, image, path, finals, alpha_map, seed, staging
                )
            elif kind == "images":
                results += _make_images(
                    model, options, image, path, finals, base_alpha, seed, staging
                )
            elif kind == "sweep":
                results.append(
                    _make_sweep(model, options, image, path, finals[0], sweep, seed, staging)
                )
            else:
                results.append(
                    _make_animation(
                        model, options, image, path, finals[0], base_alpha, seed, staging
                    )
                )
        staging.commit()
    except BaseException:
        staging.discard()
        raise
    for result in results:
        out(f"{result.path}: {result.description}" if result.description else result.path)
    return results


def _alpha_map(model, options):
    """The (H, W, L) alphas of --alpha_map (a mask blended with --alpha_outside)."""
    names = model.style_layers
    alpha_map = alpha_maps.load_alpha_map(options.alpha_map, names, options.max_pixels or None)
    if options.alpha_outside is None:
        return alpha_map
    try:
        outside = alpha_lib.parse_alpha(options.alpha_outside, names, default=1.0)
    except alpha_lib.AlphaError as error:
        raise alpha_lib.AlphaError(f"--alpha_outside={options.alpha_outside}: {error}") from None
    inside = np.ones(len(names), np.float32)
    if options.alpha is not None:
        inside = alpha_lib.parse_alpha(options.alpha, names, default=1.0)
    return alpha_maps.blend_mask(alpha_map, inside, outside, options.alpha_map)


def _map_flags(model, options):
    flags = f"--alpha_map={options.alpha_map}"
    if options.alpha_map_statistics != "fast":
        flags += f" --alpha_map_statistics={options.alpha_map_statistics}"
    if options.alpha_outside is not None:
        names = model.style_layers
        inside = options.alpha if options.alpha is not None else "1"
        flags += (
            f" --alpha={alpha_lib.format_alpha(alpha_lib.parse_alpha(inside, names), names)}"
            f" --alpha_outside="
            f"{alpha_lib.format_alpha(alpha_lib.parse_alpha(options.alpha_outside, names), names)}"
        )
    return flags


def _colors_kept(options, content, stylized):
    """`stylized` with `content`'s colours under --preserve_color (else as it is)."""
    if not options.preserve_color:
        return stylized
    return np.asarray(color.preserve_color(content, stylized))


def _color_flag(options):
    return " --preserve_color" if options.preserve_color else ""


def _make_mapped_images(model, options, image, path, finals, alpha_map, seed, staging):
    contents = np.stack([_noisy(image, options, seed, k) for k in range(len(finals))])
    try:
        stylized = model.stylize_map(
            contents, alpha_map, options.batch_size, exact=options.alpha_map_statistics == "exact"
        )
    except alpha_maps.AlphaMapError as error:  # Too many alphas for exact statistics.
        raise alpha_maps.AlphaMapError(f"{options.alpha_map}: {error}") from None
    stylized = _colors_kept(options, image, stylized)
    results = []
    for k, final in enumerate(finals):
        flags = _map_flags(model, options)
        if options.content_noise:
            flags += " " + _noise_flags(options, seed + k)
        images.save_image(stylized[k], staging.path_for(final))
        results.append(Output(final, path, flags + _color_flag(options)))
    return results


def _make_images(model, options, image, path, finals, base_alpha, seed, staging):
    contents, alphas, descriptions = [], [], []
    for k, final in enumerate(finals):
        contents.append(_noisy(image, options, seed, k))
        flags = []
        if model.adjustable:
            if options.random_alpha:
                a = alpha_lib.sample_alpha(1, model.num_layers, _stream(seed, k, 0))[0]
            else:
                a = base_alpha
            alphas.append(a)
            flags.append(f"--alpha={alpha_lib.format_alpha(a, model.style_layers)}")
        if options.content_noise:
            flags.append(_noise_flags(options, seed + k))
        descriptions.append(" ".join(flags))
    stylized = model.stylize(
        np.stack(contents), np.stack(alphas) if alphas else None, options.batch_size
    )
    stylized = _colors_kept(options, image, stylized)
    results = []
    for k, final in enumerate(finals):
        images.save_image(stylized[k], staging.path_for(final))
        description = (descriptions[k] + _color_flag(options)).strip()
        results.append(Output(final, path, description, alphas[k] if alphas else None))
    return results


def _make_sweep(model, options, image, path, final, sweep, seed, staging):
    alphas, rows, cols, row_labels, col_labels, corner, description = sweep
    content = _noisy(image, options, seed, 0)
    stylized = _colors_kept(
        options, image, model.stylize(content[None], alphas, options.batch_size)
    )
    cells = stylized.reshape((rows, cols) + stylized.shape[1:])
    if options.sweep_labels:
        picture = figures.compose_grid(cells, row_labels, col_labels, corner)
    else:
        picture = figures.compose_grid(cells)
    images.save_image(picture, staging.path_for(final))
    if options.content_noise:
        description += " " + _noise_flags(options, seed)
    return Output(final, path, description + _color_flag(options))


def _make_animation(model, options, image, path, final, base_alpha, seed, staging):
    content = _noisy(image, options, seed, 0)
    # At least three keyframes: a looping walk through two is a palindrome
    # (there and back along one path), which repeats frames.
    period = max(1, min(int(round(ANIMATION_KEYFRAME_SECONDS * options.fps)), options.frames // 3))
    start = base_alpha if options.alpha is not None else None
    walk = alpha_lib.alpha_walk(
        options.frames, model.num_layers, _stream(seed, 0, 2), period=period, start=start, loop=True
    )
    frames = []
    for begin in range(0, len(walk), options.batch_size):
        chunk = walk[begin : begin + options.batch_size]
        stylized = model.stylize(content[None], chunk, len(chunk))
        frames.append(images.to_uint8(_colors_kept(options, image, stylized)))
    staged = staging.path_for(final)
    try:
        figures.save_animation(
            np.concatenate(frames), staged, options.fps, os.path.splitext(final)[1].lower()
        )
    except (OSError, ValueError) as error:
        raise images.ImageError(
            f"{final}: could not write the animation ({' '.join(str(error).split())})"
        ) from None
    flags = f"--animate --frames={options.frames} --fps={options.fps:g} --seed={seed}"
    if options.alpha is not None:
        flags += f" --alpha={alpha_lib.format_alpha(base_alpha, model.style_layers)}"
    if options.content_noise:
        flags += " " + _noise_flags(options, None)
    return Output(final, path, f"alpha walk {flags}{_color_flag(options)}")
