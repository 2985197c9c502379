r"""Does alpha adjust the style? The paper's claims, measured with the real VGG-19.

    python experiments/adjustability.py --content=photos/ \
        --vgg_weights=vgg19.weights.h5 [--model=starry_night] [--image_size=256]

On every held-out content photo c (resized so the shorter side is
--image_size, then centre-cropped square), with the stylizer called as
T(c; alpha) and the losses of the loss network the model was trained with:

1. Style at alpha = 1 (every layer): per style layer l, the style loss
   L_l(T(c; 1)) against the style loss of the unstylized photo L_l(c). The
   ratio says how much of the photo's Gram distance to the style the
   stylizer removes; it should be far below 1.
2. Content at alpha = 0 (every layer): the only remaining objective is the
   content loss, so T(c; 0) should reconstruct c: its content loss (and, for
   reference, the content loss at alpha = 1) and PSNR(T(c; 0), c) in dB.
3. The paper's Figure 7: for each style layer l, alpha_l goes from 0 to 1 in
   --steps steps while the other layers stay at 0, and again with the others
   at 1. L_l should fall as alpha_l grows. Each photo's curve is divided by
   its value at alpha_l = 0; `figure7.png` plots the median over photos with
   the 25-75% band, and the Spearman rank correlation between alpha_l and L_l
   is reported pooled over all photos' (normalized) points and as the median
   of the per-photo correlations. Strongly negative means "more alpha_l, less
   style loss at layer l", i.e. the knob does what it says.
4. The paper's Figure 3, in numbers: the single-layer outputs (one
   alpha_l = 1, the others 0) of each photo. How different they are: the
   mean absolute difference of every pair, in levels of 255. How large
   their style elements are: the residual output - photo (grey), its power
   spectrum's power-weighted mean spatial frequency f, and the element size
   1 / f in pixels. The paper shows deeper layers giving larger elements.
5. `sweep.png`: Figure 3 for one photo, a row per style layer whose alpha
   goes 0 -> 1 across --sweep_steps columns, the others at 0.
6. The targets: each figure above against the threshold the project holds
   its shipped models to (TARGETS), passed or not, in results.md.

Outputs in --output_dir (default experiments/results/<model name>):
results.json (every number, per photo too), results.md (Markdown tables for
the README, with the command that produced them), figure7.png, sweep.png.
Nothing is written until everything has been computed.

Forward passes are batched: the distinct alphas one photo needs (the
Figure 7 curves share their end points) run --batch_size at a time through
the stylizer and the loss network in one compiled function. Plots are drawn
with Pillow, so the script needs nothing beyond the package's dependencies.
"""

import math
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path[0] = _REPO
if _REPO not in sys.path:  # Imported by path (the tests): for `experiments.`.
    sys.path.insert(0, _REPO)

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from adjustable_style import cli, images, model_files  # noqa: E402
from adjustable_style.cli import UsageError  # noqa: E402

# The shared pieces, also under this module's names for the scripts that
# import them from here (figure6.py, diversity.py).
from experiments.harness import (  # noqa: E402, F401
    DEFAULT_STYLE_IMAGE_SIZE,
    INPUT_FLAGS,
    MIN_IMAGE_SIZE,
    RESULTS_DIR,
    _device,
    _finite_or_none,
    _g,
    check_vgg_weights,
    command_line,
    define_input_flags,
    find_style_image,
    list_photos,
    load_models,
    model_name,
    portable_path,
    style_shorter_side,
    write_outputs,
)
from experiments.measures import (  # noqa: E402, F401
    Evaluator,
    chroma_shift,
    curve_alphas,
    element_size,
    figure7_stats,
    mean_abs_levels,
    psnr,
    rankdata,
    spearman,
    summary,
)
from experiments.plots import picture_with_header, plot_figure7, sweep_picture  # noqa: E402, F401

PROGRAM = "experiments/adjustability.py"
# What a shipped model must reach (medians over held-out photos): the style
# ratio at alpha = 1 per style layer (in order; the paper's three), Figure
# 7's end ratio with the others at 0 and Spearman's correlation with the
# others at 0 and 1, the PSNR and the colour shift at alpha = 0, the mean
# absolute difference of every pair of single-layer outputs, how much the
# output moves when one slider goes 1 -> 0 with the others at 1 (and that
# its own loss rises), and how much larger each deeper layer's elements are.
TARGETS = {
    "style_ratio_max": (0.15, 0.25, 0.5),
    "figure7_end_ratio_max": 0.6,
    "figure7_spearman_max": -0.9,
    "psnr_alpha0_min_db": 18.0,
    "single_layer_difference_min_levels": 15.0,
    "chroma_shift_alpha0_max_levels": 4.0,
    "switch_off_min_levels": 10.0,
    "switch_off_own_loss_ratio_min": 1.0,
    "element_growth_min": 1.25,
}


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS).

    Only the command (or a test, on its own FlagValues) defines them, so
    importing this module never clashes with other commands' flags.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    define_input_flags(fv)
    flags.DEFINE_integer(
        "steps", 11, "Values of alpha_l from 0 to 1 on each Figure 7 curve.", flag_values=fv
    )
    flags.DEFINE_integer(
        "sweep_steps", 5, "Columns of sweep.png (alpha_l from 0 to 1).", flag_values=fv
    )
    flags.DEFINE_integer(
        "sweep_photo", 0, "Which photo (0-based, in sorted order) sweep.png shows.", flag_values=fv
    )
    flags.DEFINE_integer("max_images", 0, "Use at most this many photos (0 = all).", flag_values=fv)
    flags.DEFINE_integer(
        "batch_size", 11, "Stylized images per forward pass (memory grows with it).", flag_values=fv
    )
    flags.DEFINE_string(
        "output_dir",
        None,
        "Where results.json, results.md, figure7.png and sweep.png go. "
        "Default: experiments/results/<model name>.",
        flag_values=fv,
    )


# ---------------------------------------------------------------------------
# Statistics (numpy only).
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------


def check_targets(style_layers, style_at_1, content_at_0, figure7, figure3, others_at_1):
    """Each TARGETS entry against the measured medians: a list of rows."""
    rows = []

    def row(what, value, bound, at_most):
        met = (
            value is not None
            and math.isfinite(value)
            and (value <= bound if at_most else value >= bound)
        )
        rows.append(
            {
                "what": what,
                "value": value,
                "target": f"{'<=' if at_most else '>='} {bound:g}",
                "met": bool(met),
            }
        )

    bounds = TARGETS["style_ratio_max"]
    for k, layer in enumerate(style_layers):
        if k < len(bounds):
            row(
                f"style ratio at alpha = 1, {layer}",
                style_at_1[layer]["ratio"]["median"],
                bounds[k],
                True,
            )
    for layer in style_layers:
        row(
            f"Figure 7 end ratio, others at 0, {layer}",
            figure7["others_0"][layer]["end_ratio"]["median"],
            TARGETS["figure7_end_ratio_max"],
            True,
        )
    for others in (0, 1):
        for layer in style_layers:
            row(
                f"Figure 7 Spearman (median per photo), others at {others}, {layer}",
                figure7[f"others_{others}"][layer]["spearman_per_photo_median"],
                TARGETS["figure7_spearman_max"],
                True,
            )
    row(
        "PSNR vs photo at alpha = 0 (dB)",
        content_at_0["psnr_db_alpha0"]["median"],
        TARGETS["psnr_alpha0_min_db"],
        False,
    )
    row(
        "colour shift at alpha = 0, mean (Cb, Cr) vs photo (levels)",
        content_at_0["chroma_shift_alpha0"]["median"],
        TARGETS["chroma_shift_alpha0_max_levels"],
        True,
    )
    for pair, values in figure3["differences"].items():
        row(
            f"Figure 3 single-layer outputs differ, {pair} (levels of 255)",
            values["median"],
            TARGETS["single_layer_difference_min_levels"],
            False,
        )
    for pair, value in figure3["element_growth"].items():
        row(
            f"element size grows with depth, {pair} (ratio)",
            value,
            TARGETS["element_growth_min"],
            False,
        )
    for layer in style_layers:
        row(
            f"slider 1 -> 0 with the others at 1 changes the output, {layer} (levels)",
            others_at_1[layer]["levels"]["median"],
            TARGETS["switch_off_min_levels"],
            False,
        )
        row(
            f"slider 1 -> 0 with the others at 1 raises its own loss, {layer} (ratio)",
            others_at_1[layer]["own_loss_ratio"]["median"],
            TARGETS["switch_off_own_loss_ratio_min"],
            False,
        )
    return rows


def measure_photo(evaluator, content, num_layers, steps):
    """Every number of one photo (see the module docstring)."""
    photo_style, content_features = evaluator.photo(content)
    curves = curve_alphas(num_layers, steps)
    ones = np.ones((1, num_layers), np.float32)
    zeros = np.zeros((1, num_layers), np.float32)
    requested = np.concatenate([ones, zeros] + list(curves.values()), axis=0)
    # The curves share rows (alpha_l = 0 with others at 0 is all zeros, ...):
    # run each distinct alpha once.
    unique, inverse = np.unique(requested, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    style, content_loss, mse = evaluator.stylized(content, unique, content_features)
    style, content_loss, mse = style[inverse], content_loss[inverse], mse[inverse]
    result = {
        "photo_style_loss": photo_style.astype(np.float64),
        "style_loss_alpha1": style[0],
        "style_loss_alpha0": style[1],
        "content_loss_alpha1": content_loss[0],
        "content_loss_alpha0": content_loss[1],
        "mse_alpha1": mse[0],
        "mse_alpha0": mse[1],
        "curves": {},
    }
    row = 2
    for others, index in curves:
        # The swept layer's own loss at each step.
        result["curves"][(others, index)] = style[row : row + steps, index]
        row += steps
    # Figure 3's single-layer outputs (one alpha_l = 1, the others 0), then
    # all at 1, all at 0, and each slider switched off with the others at 1.
    switched_off = 1.0 - np.eye(num_layers, dtype=np.float32)
    outputs = evaluator.stylize(
        content, np.concatenate([np.eye(num_layers, dtype=np.float32), ones, zeros, switched_off])
    )
    singles = outputs[:num_layers]
    at_1, at_0 = outputs[num_layers], outputs[num_layers + 1]
    result["chroma_shift_alpha0"] = chroma_shift(at_0, content)
    result["switch_off_levels"] = [mean_abs_levels(at_1, off) for off in outputs[num_layers + 2 :]]
    # The switched-off layer's own loss over its loss with every slider at 1:
    # the first and last points of its Figure 7 curve with the others at 1.
    result["switch_off_own_loss_ratio"] = [
        float(result["curves"][(1, k)][0] / max(result["curves"][(1, k)][-1], 1e-30))
        for k in range(num_layers)
    ]
    result["single_layer_differences"] = {
        (i, j): mean_abs_levels(singles[i], singles[j])
        for i in range(num_layers)
        for j in range(i + 1, num_layers)
    }
    result["single_layer_element_size"] = [element_size(single, content) for single in singles]
    return result


# ---------------------------------------------------------------------------
# Pictures (Pillow only).
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Reports.
# ---------------------------------------------------------------------------


def markdown(results):
    """results.md: the settings, the command and a table per measurement."""
    settings, model = results["settings"], results["model"]
    layers = model["style_layers"]
    lines = [
        f"## Adjustability of `{model['name']}` on held-out photos",
        "",
        f"Model `{model['name']}` (style `{model['style_image']}`, "
        f"{model['training_steps'] if model['training_steps'] is not None else '?'} "
        f"training steps), {settings['num_photos']} photos from "
        f"`{settings['content']}` at {settings['image_size']}x"
        f"{settings['image_size']}, style Grams at {model.get('style_scale', 'training')} "
        f"({model['style_image_size']} px on the shorter side), loss network "
        f"{settings['loss_network']} "
        f"(`{settings['vgg_weights']}`), content layer "
        f"`{model['content_layer']}`. {results['seconds']:.0f} s on "
        f"{settings['device']}. Produced by:",
        "",
        "    " + results["command"],
        "",
        "### Targets (medians over photos)",
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|:---:|",
    ]
    for t in results["targets"]:
        lines.append(
            f"| {t['what']} | {_g(t['value'])} | {t['target']} | {'yes' if t['met'] else 'no'} |"
        )
    met = sum(t["met"] for t in results["targets"])
    lines += [
        "",
        f"{met} of {len(results['targets'])} targets met.",
        "",
        "### Style at alpha = 1: style loss of the output relative to the photo's",
        "",
        "Per style layer l, L_l(T(c; alpha=1)) / L_l(c): the stylized image's "
        "Gram distance to the style as a fraction of the unstylized photo's "
        "(below 1: closer to the style than the photo).",
        "",
        "| style layer | median ratio | mean ratio | min | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in layers:
        r = results["style_at_alpha_1"][name]["ratio"]
        lines.append(
            f"| `{name}` | {_g(r['median'])} | {_g(r['mean'])} | {_g(r['min'])} | {_g(r['max'])} |"
        )
    c = results["content_at_alpha_0"]
    lines += [
        "",
        "### Content at alpha = 0: how close the output stays to the photo",
        "",
        f"Content loss L_c(T(c; alpha), c) at `{model['content_layer']}` "
        "(mean squared feature difference) and PSNR(T(c; alpha), c), with "
        "alpha the same for every style layer; medians (means) over photos.",
        "",
        "| alpha (all layers) | content loss | PSNR vs photo (dB) |",
        "|---:|---:|---:|",
    ]
    for a in ("0", "1"):
        loss, db = c[f"content_loss_alpha{a}"], c[f"psnr_db_alpha{a}"]
        lines.append(
            f"| {a} | {_g(loss['median'])} ({_g(loss['mean'])}) | "
            f"{db['median']:.2f} ({db['mean']:.2f}) |"
        )
    f7 = results["figure7"]
    lines += [
        "",
        "### Figure 7: each layer's style loss as its alpha grows",
        "",
        f"alpha_l goes 0 -> 1 in {settings['steps']} steps, the other layers "
        "fixed at 0 or at 1. End ratio: L_l at alpha_l = 1 over L_l at "
        "alpha_l = 0, median [25%, 75%] over photos. Spearman's rank "
        "correlation between alpha_l and L_l, pooled over all photos' points "
        "(each photo's curve divided by its value at alpha_l = 0) and the "
        "median of the per-photo correlations; -1 = L_l falls at every step.",
        "",
        "| style layer | others | end ratio | Spearman (pooled) | Spearman (median per photo) |",
        "|---|---:|---:|---:|---:|",
    ]
    for others in ("0", "1"):
        for name in layers:
            s = f7[f"others_{others}"][name]
            end = s["end_ratio"]
            q25, q75 = s["normalized_q25"][-1], s["normalized_q75"][-1]
            lines.append(
                f"| `{name}` | {others} | {_g(end['median'])} "
                f"[{_g(q25)}, {_g(q75)}] | {s['spearman_pooled']:+.3f} | "
                f"{s['spearman_per_photo_median']:+.3f} |"
            )
    f3 = results["figure3"]
    lines += [
        "",
        "### Figure 3 in numbers: the single-layer outputs",
        "",
        "One alpha_l = 1, the others 0. Mean absolute difference of each pair "
        "of outputs (levels of 255), and the size of the style elements each "
        "adds: 1 / the power-weighted mean spatial frequency of output - "
        "photo (grey), in pixels. Medians [min, max] over photos.",
        "",
        "| pair | mean absolute difference |",
        "|---|---:|",
    ]
    for pair, v in f3["differences"].items():
        lines.append(f"| {pair} | {_g(v['median'])} [{_g(v['min'])}, {_g(v['max'])}] |")
    lines += ["", "| layer alone | element size (px) |", "|---|---:|"]
    for layer, v in f3["element_size_px"].items():
        lines.append(f"| `{layer}` | {_g(v['median'])} [{_g(v['min'])}, {_g(v['max'])}] |")
    lines += [
        "",
        "Deeper layers give larger elements (median sizes increasing with "
        f"depth): {'yes' if f3['deeper_layers_larger_elements'] else 'no'}.",
        "",
        "### Each slider with the others at 1",
        "",
        "alpha_l goes 1 -> 0 while the other sliders stay at 1: how much the "
        "output changes (mean absolute difference, levels of 255) and the "
        "layer's own style loss at alpha_l = 0 over its loss at 1 (above 1: "
        "switching the slider off gives up that layer's style). Medians "
        "[min, max] over photos.",
        "",
        "| slider | output change (levels) | own loss, off / on |",
        "|---|---:|---:|",
    ]
    for layer, v in results["others_at_1"].items():
        levels, ratio = v["levels"], v["own_loss_ratio"]
        lines.append(
            f"| `{layer}` | {_g(levels['median'])} [{_g(levels['min'])}, {_g(levels['max'])}] "
            f"| {_g(ratio['median'])} [{_g(ratio['min'])}, {_g(ratio['max'])}] |"
        )
    shift = c["chroma_shift_alpha0"]
    lines += [
        "",
        f"Colour shift at alpha = 0 (distance of the mean (Cb, Cr) from the "
        f"photo's, levels): median {_g(shift['median'])} [{_g(shift['min'])}, "
        f"{_g(shift['max'])}].",
        "",
        "![Figure 7: normalized style loss per layer against its alpha](figure7.png)",
        "",
        f"![Figure 3: one style layer's alpha going 0 -> 1 per row, others "
        f"at 0, on {settings['sweep_photo']}](sweep.png)",
        "",
    ]
    return "\n".join(lines)


def _command(fv):
    """The command line that reproduces the run (flags that change results)."""
    return command_line(
        PROGRAM,
        fv,
        (
            *INPUT_FLAGS,
            "steps",
            "sweep_steps",
            "sweep_photo",
            "max_images",
            "output_dir",
        ),
        omit_zero=("sweep_photo", "max_images"),
    )


def _check(fv):
    if not fv.content:
        raise UsageError("--content is required: the held-out photos to measure on")
    for name, minimum in (
        ("image_size", MIN_IMAGE_SIZE),
        ("steps", 2),
        ("sweep_steps", 2),
        ("batch_size", 1),
        ("max_images", 0),
        ("sweep_photo", 0),
    ):
        if fv[name].value < minimum:
            raise UsageError(f"--{name} must be at least {minimum}, got {fv[name].value}")


def main(argv, flag_values=None):
    """The command: runs every measurement and writes the outputs.

    Returns None (absl's `app.run` exits with main's return value); the
    numbers are in `results.json`, or returned by `run`.
    """
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    run(flags.FLAGS if flag_values is None else flag_values)


def run(fv):
    """Runs every measurement on parsed flags `fv`, writes the outputs and
    returns the results dict (what results.json holds)."""
    _check(fv)
    started = time.perf_counter()

    # Fail on paths before TensorFlow starts.
    model_path = model_files.resolve_model_path(fv.model or None)
    photos = list_photos(fv, "sweep_photo")
    name = model_name(fv.model, model_path)
    output_dir = fv.output_dir or os.path.join(RESULTS_DIR, name)

    cli.quiet_tensorflow_import()
    loaded = load_models(fv.model, model_path, fv.style_image, fv.vgg_weights, fv.style_scale)
    stylizer, record, style_layers = loaded.stylizer, loaded.record, loaded.style_layers
    network, spec, loss_net = loaded.network, loaded.spec, loaded.loss_net
    style_path, style_size, style = loaded.style_path, loaded.style_size, loaded.style
    same_style = loaded.same_style
    evaluator = Evaluator(
        stylizer, loss_net, spec.content_layer, style_layers, style, fv.batch_size
    )
    setup_seconds = time.perf_counter() - started
    print(
        f"Model {name} ({model_path}): alpha over {', '.join(style_layers)}; "
        f"style {style_path} at {style_size} px; {len(photos)} photos at "
        f"{fv.image_size} px; set-up {setup_seconds:.1f} s",
        flush=True,
    )

    num_layers = len(style_layers)
    per_photo = []
    contents = []
    for i, path in enumerate(photos, start=1):
        tick = time.perf_counter()
        content = images.load_center_square(path, fv.image_size)
        contents.append(content)
        per_photo.append(measure_photo(evaluator, content, num_layers, fv.steps))
        print(
            f"[{i}/{len(photos)}] {os.path.basename(path)}: {time.perf_counter() - tick:.1f} s",
            flush=True,
        )

    # 1. Style at alpha = 1.
    style_at_1 = {}
    for k, layer in enumerate(style_layers):
        photo_loss = np.array([p["photo_style_loss"][k] for p in per_photo])
        stylized = np.array([p["style_loss_alpha1"][k] for p in per_photo])
        style_at_1[layer] = {
            "ratio": summary(stylized / photo_loss),
            "ratio_per_photo": (stylized / photo_loss).tolist(),
            "style_loss_photo": photo_loss.tolist(),
            "style_loss_alpha1": stylized.tolist(),
            "style_loss_alpha0": [float(p["style_loss_alpha0"][k]) for p in per_photo],
        }
    # 2. Content at alpha = 0 (and 1 for reference).
    content_at_0 = {}
    for a in ("0", "1"):
        loss = np.array([p[f"content_loss_alpha{a}"] for p in per_photo])
        db = psnr([p[f"mse_alpha{a}"] for p in per_photo])
        content_at_0[f"content_loss_alpha{a}"] = summary(loss)
        content_at_0[f"content_loss_alpha{a}_per_photo"] = loss.tolist()
        content_at_0[f"psnr_db_alpha{a}"] = summary(db)
        content_at_0[f"psnr_db_alpha{a}_per_photo"] = db.tolist()
    shifts = [p["chroma_shift_alpha0"] for p in per_photo]
    content_at_0["chroma_shift_alpha0"] = {**summary(shifts), "per_photo": shifts}
    # 3. Figure 7.
    alphas = np.linspace(0.0, 1.0, fv.steps)
    figure7 = {"alphas": alphas.tolist()}
    for others in (0, 1):
        figure7[f"others_{others}"] = {
            layer: figure7_stats(alphas, [p["curves"][(others, k)] for p in per_photo])
            for k, layer in enumerate(style_layers)
        }

    # 4. Figure 3 in numbers: the single-layer outputs.
    figure3 = {"differences": {}, "element_size_px": {}}
    for i, j in per_photo[0]["single_layer_differences"]:
        values = [p["single_layer_differences"][(i, j)] for p in per_photo]
        figure3["differences"][f"{style_layers[i]} vs {style_layers[j]}"] = {
            **summary(values),
            "per_photo": values,
        }
    for k, layer in enumerate(style_layers):
        values = [p["single_layer_element_size"][k] for p in per_photo]
        figure3["element_size_px"][layer] = {**summary(values), "per_photo": values}
    sizes = [figure3["element_size_px"][layer]["median"] for layer in style_layers]
    figure3["deeper_layers_larger_elements"] = bool(all(a < b for a, b in zip(sizes, sizes[1:])))
    figure3["element_growth"] = {
        f"{deeper} / {shallower}": b / a if a > 0 else float("nan")
        for (shallower, a), (deeper, b) in zip(
            zip(style_layers, sizes), zip(style_layers[1:], sizes[1:])
        )
    }
    # 5. Each slider 1 -> 0 with the others at 1.
    others_at_1 = {
        layer: {
            key: {**summary(values), "per_photo": values}
            for key, values in (
                ("levels", [p["switch_off_levels"][k] for p in per_photo]),
                ("own_loss_ratio", [p["switch_off_own_loss_ratio"][k] for p in per_photo]),
            )
        }
        for k, layer in enumerate(style_layers)
    }
    targets = check_targets(style_layers, style_at_1, content_at_0, figure7, figure3, others_at_1)

    # 6. The Figure 3 sweep on one photo.
    from adjustable_style import alpha_vectors as alpha_lib

    sweep_values = np.linspace(0.0, 1.0, fv.sweep_steps)
    sweep = np.concatenate(
        [alpha_lib.sweep_alphas(num_layers, k, fv.sweep_steps) for k in range(num_layers)], axis=0
    )
    sweep_content = contents[fv.sweep_photo]
    cells = evaluator.stylize(sweep_content, sweep).reshape(
        (num_layers, fv.sweep_steps) + sweep_content.shape
    )

    seconds = time.perf_counter() - started
    results = {
        "command": _command(fv),
        "model": {
            "name": name,
            "path": portable_path(model_path, "MODEL"),
            "style_layers": style_layers,
            "content_layer": spec.content_layer,
            "style_image": os.path.basename(style_path),
            "style_image_size": style_size,
            "style_scale": fv.style_scale,
            "style_image_matches_training_record": same_style,
            "training_steps": record.get("steps"),
        },
        "settings": {
            "content": portable_path(fv.content, "HELD_OUT_PHOTOS/"),
            "photos": [os.path.basename(p) for p in photos],
            "num_photos": len(photos),
            "image_size": fv.image_size,
            "steps": fv.steps,
            "sweep_steps": fv.sweep_steps,
            "sweep_photo": os.path.basename(photos[fv.sweep_photo]),
            "loss_network": network,
            "vgg_weights": os.path.basename(fv.vgg_weights),
            "device": _device(),
        },
        "style_at_alpha_1": style_at_1,
        "content_at_alpha_0": content_at_0,
        "figure7": figure7,
        "figure3": figure3,
        "others_at_1": others_at_1,
        "targets": targets,
        "all_targets_met": all(t["met"] for t in targets),
        "seconds": seconds,
    }
    results = _finite_or_none(results)
    report = markdown(results)

    # Everything is computed: now write, each file atomically.
    figure = plot_figure7(
        alphas,
        [
            (
                f"other layers' alpha = {others}",
                {
                    layer: tuple(
                        np.array(figure7[f"others_{others}"][layer][key])
                        for key in ("normalized_median", "normalized_q25", "normalized_q75")
                    )
                    for layer in style_layers
                },
            )
            for others in (0, 1)
        ],
        style_layers,
        f"{name}: style loss L_l at layer l as alpha_l goes 0 -> 1",
        f"median over {len(photos)} held-out photos (band: 25-75%), each "
        f"photo's curve divided by its value at alpha_l = 0",
    )
    picture = sweep_picture(
        sweep_content,
        style,
        cells,
        style_layers,
        sweep_values,
        (
            f"{name}: alpha_l of one style layer 0 -> 1 per row, the others at 0",
            os.path.basename(photos[fv.sweep_photo]),
        ),
    )
    write_outputs(
        output_dir,
        {"results.json": results},
        {"results.md": report},
        {"figure7.png": figure, "sweep.png": picture},
        started,
    )
    return results


if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
