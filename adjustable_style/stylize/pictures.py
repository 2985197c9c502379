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
that reproduce it (`--alpha=...` in `alpha_vectors.format_alpha` form, plus
`--content_noise --seed=...` when a noise mask was used).

All or nothing: outputs are written to a hidden staging folder beside their
final place and moved there only when every image has been made, so a bad
input anywhere leaves no output file behind.
"""

import dataclasses
import os
import secrets
from typing import Optional

import numpy as np

from adjustable_style import (
    alpha_maps,
    alpha_vectors,
    color,
    dataclass_flags,
    image_files,
    images,
    limits,
    model_files,
    noise,
)
from adjustable_style.errors import UsageError
from adjustable_style.inference import runtime
from adjustable_style.inference.precision import resolve as resolve_precision
from adjustable_style.stylize import figures, output_plan
from adjustable_style.stylize import options as stylize_options
from adjustable_style.stylize import video as stylize_video

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
# Building the outputs.
# ---------------------------------------------------------------------------


def _stream(seed, sample, purpose):
    """An independent seed for `purpose` (0 alpha, 1 noise, 2 walk) of a sample."""
    return [seed + sample, purpose]


def _alpha_flag(options, alpha, model):
    return dataclass_flags.to_flags(
        options, ("alpha",), alpha=alpha_vectors.format_alpha(alpha, model.style_layers)
    )


def _noise_flags(options, seed):
    return dataclass_flags.to_flags(
        options, stylize_options.NOISE_FLAGS, content_noise=True, seed=seed
    )


def _noisy(image, options, seed, sample):
    if not options.content_noise:
        return image
    h, w = image.shape[:2]
    mask = noise.noise_mask(
        h,
        w,
        _stream(seed, sample, 1),
        options.noise_points,
        options.noise_sigma,
        depth=options.noise_depth,
    )
    return noise.apply_noise_mask(image, mask)


def _label(x):
    return f"{round(float(x), 2):g}"


def sweep_alphas(model, options):
    """(alphas [R*C, L], R, C, row labels, column labels, corner, description)."""
    names = model.style_layers
    try:
        fixed = alpha_vectors.parse_alpha(options.sweep_fixed or "0", names, default=0.0)
    except alpha_vectors.AlphaError as error:
        raise alpha_vectors.AlphaError(f"--sweep_fixed={options.sweep_fixed}: {error}") from None
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
                raise alpha_vectors.AlphaError(
                    f"unknown style layer {layer!r} in --sweep_layers; valid "
                    f"layers: {', '.join(names)}"
                )
        i, j = names.index(layers[0]), names.index(layers[1])
        alphas = alpha_vectors.grid_alphas(len(names), i, j, steps, fixed)
        row_labels = [f"{layers[0]} = {_label(v)}" for v in values]
        col_labels = [_label(v) for v in values]
        corner = f"{layers[1]} ="

        description = (
            f"grid: {layers[0]} 0->1 down, {layers[1]} 0->1 right, "
            f"{steps}x{steps}; others "
            f"--sweep_fixed={alpha_vectors.format_alpha(fixed, names)}"
        )
        return alphas, steps, steps, row_labels, col_labels, corner, description
    alphas = np.concatenate(
        [alpha_vectors.sweep_alphas(len(names), i, steps, fixed) for i in range(len(names))]
    )
    description = (
        f"sweep: a row per layer ({', '.join(names)}), its alpha 0->1 "
        f"in {steps} steps; others "
        f"--sweep_fixed={alpha_vectors.format_alpha(fixed, names)}"
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
    if stylize_options.is_video_content(options.content, options.output):
        path, description = stylize_video.run(options, out, model)
        return [Output(path, options.content, description)]
    if model is None:
        model_files.check_model_spec(options.model)
    files = image_files.list_image_files(options.content)
    kind = options.kind()
    plan = output_plan.plan_outputs(
        files, kind, options.num_samples, options.output, grid=bool(options.sweep_layers)
    )
    output_plan.check_existing((path for paths in plan for path in paths), options.overwrite)

    if model is None:
        precision = "float32"
        if not (options.model and model_files.is_saved_model_dir(options.model)):
            precision = resolve_precision(options.precision)
        model = runtime.load_model(options.model, precision)
    _check_alpha_flags(model, options)
    check_memory(files, options, kind, model)
    names = model.style_layers
    base_alpha = None
    if model.adjustable and not options.random_alpha and kind != "sweep":
        if options.alpha is None:
            base_alpha = np.ones(len(names), np.float32)
        else:
            base_alpha = alpha_vectors.parse_alpha(options.alpha, names, default=1.0)
    alpha_map = _alpha_map(model, options) if options.alpha_map else None
    sweep = sweep_alphas(model, options) if kind == "sweep" else None
    needs_seed = options.random_alpha or options.content_noise or kind == "animation"
    seed = options.seed
    if seed is None and needs_seed:
        seed = secrets.randbelow(2**31)

    folder = os.path.dirname(os.path.abspath(plan[0][0]))
    staging = output_plan.Staging(folder, out)
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


def check_memory(files, options, kind, model):
    """Refuses, before any image is stylized, a run that needs more memory than is free.

    The need is worked out from each image's header and the flags, as a lower
    bound: the decoded photo, the batch in the stylizer, and what a sweep or
    an animation keeps of every cell or frame.
    """
    batch = options.batch_size
    if kind == "sweep":
        steps = options.sweep_steps
        cells = steps * steps if options.sweep_layers else steps * max(1, model.num_layers)
    for path in files:
        size = images.header_size(path)
        if size is None:
            continue  # Unreadable: loading it says why.
        width, height = size
        fitted = images._fit_long_side((height, width), options.max_size) or (height, width)
        pixels = fitted[0] * fitted[1]
        needed = width * height * limits.FLOAT_PIXEL_BYTES
        if kind == "images":
            what = f"--batch_size={batch}"
            needed += (
                min(batch, options.num_samples)
                * pixels
                * (limits.FORWARD_BYTES_PER_PIXEL + 2 * limits.FLOAT_PIXEL_BYTES)
            )
        elif kind == "sweep":
            what = f"{cells} sweep cells"
            needed += min(batch, cells) * pixels * limits.FORWARD_BYTES_PER_PIXEL
            needed += cells * pixels * (2 * limits.FLOAT_PIXEL_BYTES + limits.UINT8_PIXEL_BYTES)
        else:
            what = f"--frames={options.frames}"
            needed += min(batch, options.frames) * pixels * limits.FORWARD_BYTES_PER_PIXEL
            needed += 2 * options.frames * pixels * limits.UINT8_PIXEL_BYTES
        limits.check_memory(f"{path}: stylizing it at {fitted[1]}x{fitted[0]} with {what}", needed)


def _alpha_map(model, options):
    """The (H, W, L) alphas of --alpha_map (a mask blended with --alpha_outside)."""
    names = model.style_layers
    alpha_map = alpha_maps.load_alpha_map(options.alpha_map, names, options.max_pixels or None)
    if options.alpha_outside is None:
        return alpha_map
    try:
        outside = alpha_vectors.parse_alpha(options.alpha_outside, names, default=1.0)
    except alpha_vectors.AlphaError as error:
        raise alpha_vectors.AlphaError(
            f"--alpha_outside={options.alpha_outside}: {error}"
        ) from None
    inside = np.ones(len(names), np.float32)
    if options.alpha is not None:
        inside = alpha_vectors.parse_alpha(options.alpha, names, default=1.0)
    return alpha_maps.blend_mask(alpha_map, inside, outside, options.alpha_map)


def _map_flags(model, options):
    names = model.style_layers
    spelled = lambda text: alpha_vectors.format_alpha(alpha_vectors.parse_alpha(text, names), names)
    outside = options.alpha_outside
    return dataclass_flags.to_flags(
        options,
        ("alpha_map", "alpha_map_statistics", "alpha", "alpha_outside"),
        alpha_map_statistics=None
        if options.alpha_map_statistics == "fast"
        else options.alpha_map_statistics,
        # Under a mask, the alpha inside it and outside, both spelled out.
        alpha=None if outside is None else spelled("1" if options.alpha is None else options.alpha),
        alpha_outside=None if outside is None else spelled(outside),
    )


def _colors_kept(options, content, stylized):
    """`stylized` with `content`'s colours under --preserve_color (else as it is)."""
    if not options.preserve_color:
        return stylized
    return np.asarray(color.preserve_color(content, stylized))


def _flags(options, *groups, **values):
    """One reproduce line: `to_flags` groups, then the noise and colour flags.

    `values["noise_seed"]` is the noise mask's seed (None: the command's).
    """
    noise_seed = values.pop("noise_seed", None)
    words = [word for group in groups for word in group]
    if options.content_noise:
        words += _noise_flags(options, noise_seed)
    if options.preserve_color:
        words += dataclass_flags.to_flags(options, ("preserve_color",))
    return dataclass_flags.command_line(words)


def _batches(finals, batch_size):
    """(first sample number, that batch's output paths): --num_samples a batch at a time."""
    for start in range(0, len(finals), batch_size):
        yield start, finals[start : start + batch_size]


def _make_mapped_images(model, options, image, path, finals, alpha_map, seed, staging):
    results = []
    for start, chunk in _batches(finals, options.batch_size):
        numbers = range(start, start + len(chunk))
        contents = np.stack([_noisy(image, options, seed, k) for k in numbers])
        try:
            stylized = model.stylize_map(
                contents,
                alpha_map,
                options.batch_size,
                exact=options.alpha_map_statistics == "exact",
            )
        except alpha_maps.AlphaMapError as error:  # Too many alphas for exact statistics.
            raise alpha_maps.AlphaMapError(f"{options.alpha_map}: {error}") from None
        stylized = _colors_kept(options, image, stylized)
        for k, final, picture in zip(numbers, chunk, stylized):
            flags = _flags(
                options, _map_flags(model, options), noise_seed=None if seed is None else seed + k
            )
            images.save_image(picture, staging.path_for(final))
            results.append(Output(final, path, flags))
    return results


def _make_images(model, options, image, path, finals, base_alpha, seed, staging):
    results = []
    for start, chunk in _batches(finals, options.batch_size):
        contents, alphas, descriptions = [], [], []
        for k in range(start, start + len(chunk)):
            contents.append(_noisy(image, options, seed, k))
            alpha_flag = []
            if model.adjustable:
                if options.random_alpha:
                    a = alpha_vectors.sample_alpha(1, model.num_layers, _stream(seed, k, 0))[0]
                else:
                    a = base_alpha
                alphas.append(a)
                alpha_flag = _alpha_flag(options, a, model)
            descriptions.append(
                _flags(options, alpha_flag, noise_seed=None if seed is None else seed + k)
            )
        stylized = model.stylize(
            np.stack(contents), np.stack(alphas) if alphas else None, options.batch_size
        )
        stylized = _colors_kept(options, image, stylized)
        for i, final in enumerate(chunk):
            images.save_image(stylized[i], staging.path_for(final))
            results.append(Output(final, path, descriptions[i], alphas[i] if alphas else None))
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
    return Output(
        final, path, " ".join(filter(None, [description, _flags(options, noise_seed=seed)]))
    )


def _make_animation(model, options, image, path, final, base_alpha, seed, staging):
    content = _noisy(image, options, seed, 0)
    # At least three keyframes: a looping walk through two is a palindrome
    # (there and back along one path), which repeats frames.
    period = max(1, min(int(round(ANIMATION_KEYFRAME_SECONDS * options.fps)), options.frames // 3))
    start = base_alpha if options.alpha is not None else None
    walk = alpha_vectors.alpha_walk(
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
    walk_flags = dataclass_flags.to_flags(
        options, ("animate", "frames", "fps", "seed"), animate=True, seed=seed
    )
    alpha_flag = _alpha_flag(options, base_alpha, model) if options.alpha is not None else []
    return Output(final, path, "alpha walk " + _flags(options, walk_flags, alpha_flag))
