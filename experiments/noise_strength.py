r"""How deep should the content-noise mask's dips go? Diversity and style against depth.

    python experiments/noise_strength.py --model=starry_night --content=photos/ \
        --vgg_weights=vgg19.weights.h5 [--depths=0.1,0.2,0.3,0.5,0.75,1] [--samples=6]

The paper multiplies the content by noise "with small magnitude" so that
the stylizer places its style elements elsewhere. `noise.noise_mask`'s
`depth` is that magnitude: each dip's centre is multiplied by 1 - depth;
depth 1 is the first mask (dips to black), which makes the stylizer paint
near-black blotches. This measures, at alpha = 1 and for each depth on the
grid, on held-out photos (resized so the shorter side is --image_size,
centre-cropped square, as in adjustability.py), with --samples masks per
photo (sample k from the seed [seed + k, 1], stylize.py's and
diversity.py's; the same dips at every depth, only shallower):

- `pixel_l1`: diversity, the mean pairwise mean absolute difference of the
  samples, levels of 255 (diversity.py's (b));
- `away_change`: how much the picture changes away from the dips: the
  mean absolute difference to the noise-free output T(c; alpha = 1) over
  the pixels where the mask is not darkened (the depth-1 darkness < 0.1),
  levels of 255, median over samples. Style elements that move show here;
  a blotch does not;
- `core_darkening`: the blotch: how much darker the output is than the
  noise-free one in the dips' cores (depth-1 darkness >= 0.5), mean
  luminance difference in levels of 255, median over samples;
- `style_ratio`: mean over style layers of L_l(sample) / L_l(photo)
  (diversity.py's), median over samples;
- `palette`: sliced Wasserstein distance of the sample's CIELAB colours to
  the style image's (`palette.palette_distance`), median over samples.

Each is a median over photos in the tables. The rule for the default
depth, fixed before any run (RULE): the largest depth on the grid whose
median core darkening is at most 10 levels of 255 and whose median style
ratio and palette distance are each at most 1.1 x the noise-free output's;
if no depth qualifies, the smallest. `chosen_depth` is reported beside
`noise.DEFAULT_DEPTH`.

Outputs in --output_dir (default experiments/results/<model name>):
noise_strength.json, noise_strength.md and noise_strength.jpg (one photo:
per depth a row with the masked input of sample 0 and the first samples'
outputs). Nothing is written until everything has been computed.
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import os
import time

import numpy as np
from absl import flags

from adjustable_style import cli, images
from adjustable_style.cli import UsageError
from experiments import harness, palette
from experiments.diversity_measures import MASK_STREAM
from experiments.evaluators import Evaluator, SampleEvaluator
from experiments.measures import pixel_diversity
from experiments.plots import picture_with_header

PROGRAM = "experiments/noise_strength.py"
FILES = ("noise_strength.json", "noise_strength.md", "noise_strength.jpg")
MEASURES = ("pixel_l1", "away_change", "core_darkening", "style_ratio", "palette")
# Where a dip's depth-1 darkness counts as its core, and as clear of it.
CORE_DARKNESS, CLEAR_DARKNESS = 0.5, 0.1
# The default's rule, fixed before any run.
RULE = {
    "max_core_darkening_levels": 10.0,
    "max_style_ratio_to_noise_free": 1.1,
    "max_palette_to_noise_free": 1.1,
}
# Rec. 601 luma, as adjustable_style.color uses.
LUMA = np.array([0.299, 0.587, 0.114])
FIGURE_SAMPLES = 4


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS)."""
    fv = harness.define_run_flags(
        flag_values, FILES, "figure_photo", "Which photo (0-based, sorted) the picture shows."
    )
    flags.DEFINE_list(
        "depths",
        ["0.1", "0.2", "0.3", "0.5", "0.75", "1"],
        "Mask depths to measure, each in (0, 1] (1: the first mask, dips to black).",
        flag_values=fv,
    )
    flags.DEFINE_integer("samples", 6, "Masks per photo and depth (N).", flag_values=fv)
    flags.DEFINE_integer(
        "num_points",
        None,
        "Dips per mask, 1..9. Default: random in 1..9 from the seed, as stylize.py.",
        flag_values=fv,
    )
    flags.DEFINE_integer("seed", 0, "Sample k's mask comes from [seed + k, 1].", flag_values=fv)


# ---------------------------------------------------------------------------
# Measures (numpy only).
# ---------------------------------------------------------------------------


def away_change(noisy, clean, darkness):
    """Mean |noisy - clean| where the mask is clear of dips, levels of 255 (nan if nowhere)."""
    clear = darkness < CLEAR_DARKNESS
    if not clear.any():
        return float("nan")
    difference = np.abs(np.asarray(noisy, np.float64) - np.asarray(clean, np.float64))
    return float(np.mean(difference[clear]) * 255.0)


def core_darkening(noisy, clean, darkness):
    """Mean luminance of clean minus noisy in the dips' cores, levels of 255."""
    core = darkness >= CORE_DARKNESS
    if not core.any():
        return float("nan")
    drop = (np.asarray(clean, np.float64) - np.asarray(noisy, np.float64)) @ LUMA
    return float(np.mean(drop[core]) * 255.0)


def choose_depth(depths, medians, reference):
    """RULE applied: (the chosen depth, {depth: [reasons it fails]}).

    `medians`: {depth: {measure: median over photos}}; `reference`: the
    noise-free output's {"style_ratio", "palette"} medians.
    """
    failures = {}
    for depth in depths:
        m, reasons = medians[depth], []
        if not m["core_darkening"] <= RULE["max_core_darkening_levels"]:
            reasons.append(f"core darkening {m['core_darkening']:.3g} levels")
        style_bound = RULE["max_style_ratio_to_noise_free"] * reference["style_ratio"]
        if not m["style_ratio"] <= style_bound:
            reasons.append(f"style ratio {m['style_ratio']:.3g} > {style_bound:.3g}")
        palette_bound = RULE["max_palette_to_noise_free"] * reference["palette"]
        if not m["palette"] <= palette_bound:
            reasons.append(f"palette {m['palette']:.3g} > {palette_bound:.3g}")
        failures[depth] = reasons
    passing = [d for d in depths if not failures[d]]
    return (max(passing) if passing else min(depths)), failures


def rule_text():
    r = RULE
    return (
        "default depth = the largest depth on the grid whose median core darkening is at most "
        f"{r['max_core_darkening_levels']:g} levels of 255 and whose median style ratio and "
        f"palette distance are at most {r['max_style_ratio_to_noise_free']:g} x and "
        f"{r['max_palette_to_noise_free']:g} x the noise-free output's; the smallest depth "
        "if none qualifies"
    )


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------


def masks_for(depths, samples, height, width, seed, num_points):
    """({depth: (N, H, W, 1) masks}, (N, H, W) depth-1 darkness)."""
    from adjustable_style import noise

    def masks(depth):
        return np.stack(
            [
                noise.noise_mask(height, width, [seed + k, MASK_STREAM], num_points, depth=depth)
                for k in range(samples)
            ]
        )

    darkness = 1.0 - masks(noise.ORIGINAL_DEPTH)[..., 0]
    return {d: masks(d) for d in depths}, darkness


def measure_photo(model, content, ones, masks, darkness, style_palette):
    """One photo's numbers per depth, the noise-free reference and the outputs."""
    photo_style, content_features = model.evaluator.photo(content)
    depths = list(masks)
    n = len(darkness)
    contents = np.concatenate([content[None]] + [content[None] * masks[d] for d in depths])
    params = np.repeat(ones, len(contents), axis=0)
    stylized, style, _, _ = model.measure(
        contents.astype(np.float32), params.astype(np.float32), content_features
    )
    ratios = np.mean(style.astype(np.float64) / photo_style.astype(np.float64), axis=1)
    palettes = np.array([palette.palette_distance(x, style_palette) for x in stylized])
    clean = stylized[0]
    result = {
        "reference": {"style_ratio": float(ratios[0]), "palette": float(palettes[0])},
        "depths": {},
        "outputs": {},
        "inputs": {},
    }
    for k, depth in enumerate(depths):
        rows = slice(1 + k * n, 1 + (k + 1) * n)
        outputs = stylized[rows]
        result["outputs"][depth] = outputs
        result["inputs"][depth] = contents[rows]
        result["depths"][depth] = {
            "pixel_l1": pixel_diversity(outputs),
            "away_change": float(
                np.nanmedian([away_change(o, clean, d) for o, d in zip(outputs, darkness)])
            ),
            "core_darkening": float(
                np.nanmedian([core_darkening(o, clean, d) for o, d in zip(outputs, darkness)])
            ),
            "style_ratio": float(np.median(ratios[rows])),
            "palette": float(np.median(palettes[rows])),
        }
    result["reference_image"] = clean
    return result


def figure(result, content, style, name, photo, depths, seed):
    """Per depth: the masked input of sample 0, then the first samples' outputs."""
    from adjustable_style.stylize import figures

    count = min(FIGURE_SAMPLES, len(result["outputs"][depths[0]]))
    cells = np.stack(
        [np.concatenate([result["inputs"][d][:1], result["outputs"][d][:count]]) for d in depths]
    )
    grid = figures.compose_grid(
        cells,
        row_labels=[f"depth {d:g}" for d in depths],
        col_labels=[f"input, seed {seed}"] + [f"seed {seed + k}" for k in range(count)],
        corner_label="",
    )
    title = (
        f"{name}: the content-noise mask against its depth, alpha = 1",
        f"{photo}; a row per depth (1: the first mask); the same dips in every row",
    )
    thumbnails = [(content, "content"), (style, "style"), (result["reference_image"], "no noise")]
    return picture_with_header(grid, thumbnails, title)


def markdown(results):
    settings, g = results["settings"], harness.format_number
    lines = [
        f"## The content-noise mask's depth for `{results['model']['name']}`",
        "",
        f"{settings['num_photos']} photos from `{settings['content']}` at "
        f"{settings['image_size']}x{settings['image_size']}, alpha = 1, {settings['samples']} "
        f"masks per photo and depth (seeds {settings['seed']}.."
        f"{settings['seed'] + settings['samples'] - 1}, "
        f"{settings['num_points'] or 'random 1..9'} dips), loss network "
        f"`{settings['vgg_weights']}`. {results['seconds']:.0f} s on {settings['device']}. "
        "Produced by:",
        "",
        "    " + results["command"],
        "",
        "Medians over photos. Pixel L1: the samples' mean pairwise difference (levels of 255). "
        "Away change: mean |output - noise-free output| where the mask is clear of dips "
        "(levels). Core darkening: how much darker than the noise-free output the dips' "
        "cores are (luminance, levels). Style ratio: L_l(output) / L_l(photo), mean over the "
        "style layers. Palette: CIELAB sliced Wasserstein distance to the style image.",
        "",
        "| depth | pixel L1 | away change | core darkening | style ratio | palette | "
        "passes the rule |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for depth in settings["depths"]:
        m = results["medians"][str(depth)]
        fails = results["rule_failures"][str(depth)]
        lines.append(
            f"| {depth:g} | {g(m['pixel_l1'])} | {g(m['away_change'])} | "
            f"{g(m['core_darkening'])} | {g(m['style_ratio'])} | {g(m['palette'])} | "
            + ("yes" if not fails else "no: " + "; ".join(fails))
            + " |"
        )
    ref = results["reference_medians"]
    lines += [
        f"| no noise | 0 | 0 | 0 | {g(ref['style_ratio'])} | {g(ref['palette'])} | |",
        "",
        f"Rule, fixed before the run: {results['rule']}.",
        "",
        f"**chosen depth: {results['chosen_depth']:g}** (noise.DEFAULT_DEPTH is "
        f"{results['default_depth']:g}).",
        "",
        f"![The mask's depth on {settings['figure_photo']}](noise_strength.jpg)",
        "",
    ]
    return "\n".join(lines)


def _command(fv):
    """The command line that reproduces the run (flags that change results)."""
    command = harness.command_line(
        PROGRAM, fv, ("samples", "num_points", "seed", "max_images", "figure_photo")
    )
    # A list flag: written back as the comma-separated text it was given as.
    return command + " --depths=" + ",".join(fv.depths)


def _depths(fv):
    try:
        depths = sorted({float(d) for d in fv.depths})
    except ValueError:
        raise UsageError(f"--depths must be numbers, got {','.join(fv.depths)}") from None
    if not depths or not all(0 < d <= 1 for d in depths):
        raise UsageError(f"--depths must each be in (0, 1], got {','.join(fv.depths)}")
    return depths


def _check(fv):
    harness.check_flags(fv, "figure_photo", (("samples", 2), ("seed", 0)))
    if fv.num_points is not None and not 1 <= fv.num_points <= 9:
        raise UsageError(f"--num_points must be in 1..9, got {fv.num_points}")
    harness.check_vgg_weights(fv)
    return _depths(fv)


def run(fv):
    """Measures on parsed flags `fv`, writes the outputs and returns the results dict."""
    depths = _check(fv)
    started = time.perf_counter()
    given = harness.inputs(fv, "figure_photo")
    photos, name = given.photos, given.name

    cli.quiet_tensorflow_import()
    from adjustable_style import noise

    loaded = harness.load_models(
        fv.model, given.model_path, fv.style_image, fv.vgg_weights, fv.style_scale
    )
    evaluator = Evaluator.of(loaded, fv.batch_size)
    model = SampleEvaluator(loaded.stylizer, evaluator, loaded.style_layers[-1], fv.batch_size)
    contents = [images.load_center_square(p, fv.image_size) for p in photos]
    height, width = contents[0].shape[:2]
    ones = model.parameters(np.ones((1, len(loaded.style_layers)), np.float32))
    masks, darkness = masks_for(depths, fv.samples, height, width, fv.seed, fv.num_points)
    style_palette = palette.palette_quantiles(loaded.style)

    per_photo, figure_result = [], None
    for i, (path, content) in enumerate(zip(photos, contents)):
        tick = time.perf_counter()
        result = measure_photo(model, content, ones, masks, darkness, style_palette)
        if i == fv.figure_photo:
            figure_result = result
        per_photo.append({"reference": result["reference"], "depths": result["depths"]})
        print(
            f"[{i + 1}/{len(photos)}] {os.path.basename(path)}: core darkening "
            + ", ".join(f"{d:g}: {result['depths'][d]['core_darkening']:.1f}" for d in depths)
            + f"; {time.perf_counter() - tick:.1f} s",
            flush=True,
        )

    medians = {
        d: {m: float(np.nanmedian([p["depths"][d][m] for p in per_photo])) for m in MEASURES}
        for d in depths
    }
    reference = {
        m: float(np.median([p["reference"][m] for p in per_photo]))
        for m in ("style_ratio", "palette")
    }
    chosen, failures = choose_depth(depths, medians, reference)
    results = harness.finite_or_none(
        {
            "command": _command(fv),
            "rule": rule_text(),
            "rule_thresholds": RULE,
            "chosen_depth": chosen,
            "default_depth": noise.DEFAULT_DEPTH,
            "rule_failures": {str(d): failures[d] for d in depths},
            "medians": {str(d): medians[d] for d in depths},
            "reference_medians": reference,
            "per_photo": {
                str(d): {m: [p["depths"][d][m] for p in per_photo] for m in MEASURES}
                for d in depths
            },
            "reference_per_photo": {
                m: [p["reference"][m] for p in per_photo] for m in ("style_ratio", "palette")
            },
            "model": {
                "name": name,
                "style_image": os.path.basename(loaded.style_path),
                "style_layers": loaded.style_layers,
            },
            "settings": {
                "content": harness.portable_path(fv.content, "HELD_OUT_PHOTOS/"),
                "photos": [os.path.basename(p) for p in photos],
                "num_photos": len(photos),
                "image_size": fv.image_size,
                "depths": depths,
                "samples": fv.samples,
                "num_points": fv.num_points,
                "seed": fv.seed,
                "figure_photo": os.path.basename(photos[fv.figure_photo]),
                "vgg_weights": os.path.basename(fv.vgg_weights),
                "device": harness.device_name(),
            },
            "seconds": time.perf_counter() - started,
        }
    )
    report = markdown(results)
    picture = figure(
        figure_result,
        contents[fv.figure_photo],
        loaded.style,
        name,
        os.path.basename(photos[fv.figure_photo]),
        depths,
        fv.seed,
    )
    harness.write_outputs(
        given.output_dir,
        {"noise_strength.json": results},
        {"noise_strength.md": report},
        {"noise_strength.jpg": picture},
        started,
    )
    return results


main = harness.command_main(run)

if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
