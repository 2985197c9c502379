r"""Diversity that stays in style? The paper's Figures 5 and 8, measured with the real VGG-19.

    python experiments/diversity.py --model=starry_night --content=photos/ \
        --vgg_weights=vgg19.weights.h5 [--samples=8] [--image_size=256] \
        [--noise_depth=1]

On every held-out content photo c (resized so the shorter side is
--image_size, then centre-cropped square, as in adjustability.py), the
stylizer makes --samples outputs from each of four sources of randomness:

(a) `alpha`: alpha ~ U(0, 1) per style layer (`alpha.sample_alpha`), the
    photo as it is;
(b) `noise`: the content-noise mask (`noise.noise_mask`: a few soft dark
    spots multiplied into the photo, as deep as --noise_depth: the mask's
    default, 1 for the first mask's dips to black), alpha = 1 on every layer;
(c) `both`: (a) and (b) together, the paper's recipe for diversity;
(d) `gamma_beta_noise`: the baseline of Figure 8, alpha = 1 and Gaussian
    noise N(0, sigma^2) added to every CIN gamma and beta at run time (all
    2 x 2115 values of Lambda(1), the same sigma for all). sigma is
    calibrated so that (d) is as diverse in pixels as (c): bisection on
    log(sigma) until the mean pairwise pixel L1 of (d), averaged over the
    first --calibration_images photos, is within --calibration_tolerance
    (relative) of (c)'s there.

Sample k draws from seeds of its own, the streams `stylize.py` uses: alpha
from [seed + k, 0] and the mask from [seed + k, 1], so sample k of (c) is
`stylize.py --random_alpha --content_noise --seed=SEED+k` on the cropped
photo; (d)'s noise comes from [seed + k, 3]. Every photo gets the same
draws, and a run with the same flags gives the same numbers.

Per source and photo (medians over photos in the tables):

- Diversity, pixels: the mean over the N(N-1)/2 pairs of samples of their
  mean absolute difference, in levels of 255.
- Diversity, features: the same pairs' mean absolute difference of VGG
  `block4_conv4` features (the deepest style layer when a model has no
  `block4_conv4`), divided by the mean absolute feature of the
  deterministic output T(c; alpha = 1): 1 means the samples differ by as
  much as a typical feature's size.
- Style ratio: per style layer l, L_l(sample) / L_l(c), the Gram distance
  to the style as a fraction of the unstylized photo's (adjustability.py's
  ratio); a sample's style ratio is the mean over its layers, so each layer
  counts alike whatever its loss scale. The photo's value is the median
  over its samples; per-layer medians are reported too.
- Content loss: L_c(sample, c) at the model's content layer against the
  photo without the mask, median over samples.
- Palette distance: the sliced Wasserstein distance between the colour
  distributions of the sample and of the style image in CIELAB
  (`palette.palette_distance`, in CIELAB units: 0 is the painting's colours
  in its proportions), median over samples. The Gram ratio is blind to a
  re-tint that keeps textures (Figure 8's (d) turns the picture purple or
  green and its style ratio barely moves); the palette sees it.
- Palette spread: the mean palette distance between the pairs of a
  photo's samples: how much the samples' colours differ from each other
  (a re-tint per sample shows here even when each tint is as far from the
  painting as the others). Added after the first palette run, and part of
  no criterion.

The same is measured for the reference T(c; alpha = 1) without noise.
The paper's claim, as `claim_holds` (the thresholds are CLAIM):
(c) is diverse: its median pixel and feature diversity are each at least
0.9 x the larger of (a)'s and (b)'s; (c) stays in style: its median style
ratio is at most 1.25 x the reference's; the comparison is at matched
diversity: (d)'s median pixel diversity over all photos is within 20% of
(c)'s; and (d) leaves the style: its median style ratio is at least
1.25 x (c)'s.

Beside it, with the same thresholds and fixed before any run measured a
palette, `claim_holds_palette` (PALETTE_CLAIM): the same diversity and
matching checks, with the palette distance in place of the style ratio:
(c) keeps the palette (median palette distance of (c) at most 1.25 x the
alpha = 1 output's) and (d) leaves it (at least 1.25 x (c)'s).

Outputs in --output_dir (default experiments/results/<model name>, beside
adjustability.py's results): diversity.json (every number, per photo too,
the calibration's trace and the claim's checks), diversity.md (tables and
the command), diversity_figure5.jpg ((a), (b), (c) on one photo, a row
each) and diversity_figure8.jpg ((c) against (d)). Nothing is written until
everything has been computed.
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
from experiments.diversity_measures import (
    CLAIM,
    LABELS,
    PALETTE_CLAIM,
    SOURCES,
    calibrate,
    check_claim,
    check_palette_claim,
    criterion_text,
    draws,
    measure_photo,
    over_photos,
    palette_criterion_text,
)
from experiments.evaluators import Evaluator, SampleEvaluator
from experiments.plots import picture_with_header

PROGRAM = "experiments/diversity.py"
FEATURE_LAYER = "block4_conv4"
FILES = ("diversity.json", "diversity.md", "diversity_figure5.jpg", "diversity_figure8.jpg")


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS)."""
    fv = harness.define_run_flags(
        flag_values,
        FILES,
        "figure_photo",
        "Which photo (0-based, in sorted order) the figures show.",
    )
    flags.DEFINE_integer("samples", 8, "Samples per photo and source (N).", flag_values=fv)
    flags.DEFINE_integer(
        "seed", 0, "Sample k uses seeds [seed + k, purpose] (see the docstring).", flag_values=fv
    )
    flags.DEFINE_float(
        "noise_depth",
        None,
        "How deep the noise mask's dips go, in (0, 1] (1: to black, the first mask). "
        "Default: the mask's default, noise.DEFAULT_DEPTH.",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "calibration_images",
        2,
        "(d)'s sigma is calibrated on the first this many photos.",
        flag_values=fv,
    )
    flags.DEFINE_float(
        "calibration_tolerance",
        0.02,
        "Relative tolerance of (d)'s pixel diversity against (c)'s when calibrating.",
        flag_values=fv,
    )


# ---------------------------------------------------------------------------
# Pictures.
# ---------------------------------------------------------------------------


def figure5(result, content, style, name, photo, seed):
    """Rows (a), (b), (c) of one photo's samples, under content, style and alpha = 1."""
    from adjustable_style.stylize import figures

    sources = ("alpha", "noise", "both")
    cells = np.stack([result["samples"][s] for s in sources])
    grid = figures.compose_grid(
        cells,
        row_labels=[f"{LABELS[s]}: {result['sources'][s]['pixel_l1']:.1f}" for s in sources],
        col_labels=[str(seed + k) for k in range(cells.shape[1])],
        corner_label="seed:",
    )
    title = (
        f"{name}: Figure 5, {cells.shape[1]} samples per source of randomness",
        f"{photo}; after each row's name: its mean pairwise pixel L1 (levels of 255)",
    )
    thumbnails = [(content, "content"), (style, "style"), (result["reference_image"], "alpha = 1")]
    return picture_with_header(grid, thumbnails, title)


def figure8(result, content, style, name, photo, seed, sigma):
    """(c) against (d) on one photo, each row labelled with its pixel L1 and style ratio."""
    from adjustable_style.stylize import figures

    sources = ("both", "gamma_beta_noise")
    cells = np.stack([result["samples"][s] for s in sources])
    label = lambda s: (
        f"{LABELS[s]}: {result['sources'][s]['pixel_l1']:.1f}, "
        f"style {result['sources'][s]['style_ratio']:.2f}, "
        f"palette {result['sources'][s]['palette']:.1f}"
    )
    grid = figures.compose_grid(
        cells,
        row_labels=[label(s) for s in sources],
        col_labels=[str(seed + k) for k in range(cells.shape[1])],
        corner_label="seed:",
    )
    title = (
        f"{name}: Figure 8, alpha + noise mask against gamma/beta noise (sigma {sigma:.3g})",
        f"{photo}; per row: mean pairwise pixel L1 (levels), median style ratio and palette "
        "distance (lower: nearer the style)",
    )
    thumbnails = [(content, "content"), (style, "style"), (result["reference_image"], "alpha = 1")]
    return picture_with_header(grid, thumbnails, title)


# ---------------------------------------------------------------------------
# Reports.
# ---------------------------------------------------------------------------


def markdown(results):
    """diversity.md: settings, command, the claim, and the tables."""
    settings, model = results["settings"], results["model"]
    layers = model["style_layers"]
    g = harness.format_number
    cal = results["calibration"]
    lines = [
        f"## Diversity of `{model['name']}` on held-out photos (Figures 5 and 8)",
        "",
        f"Model `{model['name']}` (style `{model['style_image']}`), {settings['num_photos']} "
        f"photos from `{settings['content']}` at {settings['image_size']}x{settings['image_size']}, "
        f"{settings['samples']} samples per photo and source (seeds {settings['seed']}.."
        f"{settings['seed'] + settings['samples'] - 1}), noise mask depth "
        f"{settings['noise_depth']:g}, loss network {settings['loss_network']} "
        f"(`{settings['vgg_weights']}`). {results['seconds']:.0f} s on {settings['device']}. "
        "Produced by:",
        "",
        "    " + results["command"],
        "",
        "### The claim",
        "",
        results["criterion"] + ".",
        "",
        "| check | value | bound | met |",
        "|---|---:|---:|:---:|",
    ]
    for c in results["checks"]:
        lines.append(
            f"| {c['what']} | {g(c['value'])} | {c['bound']} | {'yes' if c['met'] else 'no'} |"
        )
    lines += [
        "",
        f"**claim_holds: {'yes' if results['claim_holds'] else 'no'}**",
        "",
        "### The claim with the palette in place of the style ratio",
        "",
        results["palette_criterion"] + ".",
        "",
        "| check | value | bound | met |",
        "|---|---:|---:|:---:|",
    ]
    for c in results["palette_checks"]:
        lines.append(
            f"| {c['what']} | {g(c['value'])} | {c['bound']} | {'yes' if c['met'] else 'no'} |"
        )
    lines += [
        "",
        f"**claim_holds_palette: {'yes' if results['claim_holds_palette'] else 'no'}**",
        "",
        "### Medians over photos",
        "",
        "Pixel L1: mean pairwise absolute difference of a photo's samples (levels of 255). "
        f"Feature distance: the same at `{settings['feature_layer']}`, over the mean absolute "
        "feature of the alpha = 1 output. Style ratio: L_l(sample) / L_l(photo), mean over the "
        "style layers, median over samples (lower: closer to the style). Content loss: "
        f"L_c(sample, photo) at `{model['content_layer']}`, median over samples. "
        "Palette: sliced Wasserstein distance of the sample's CIELAB colours to the style "
        "image's, median over samples (lower: nearer the painting's colours; the unstylized "
        f"photo's: {g(results['reference_alpha_1']['medians']['photo_palette']['median'])}). "
        "Palette spread: the mean palette distance between pairs of samples (how much their "
        "colours differ; in no criterion). Medians [min, max] over photos.",
        "",
        "| source | pixel L1 | feature distance | style ratio | palette | palette spread "
        "| content loss |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    span = lambda s: f"{g(s['median'])} [{g(s['min'])}, {g(s['max'])}]"
    for source in SOURCES:
        m = results["sources"][source]["medians"]
        lines.append(
            f"| {LABELS[source]} | {span(m['pixel_l1'])} | {span(m['feature_distance'])} | "
            f"{span(m['style_ratio'])} | {span(m['palette'])} | {span(m['palette_spread'])} | "
            f"{span(m['content_loss'])} |"
        )
    r = results["reference_alpha_1"]["medians"]
    lines.append(
        f"| alpha = 1, no noise (reference) | 0 | 0 | {span(r['style_ratio'])} | "
        f"{span(r['palette'])} | 0 | {span(r['content_loss'])} |"
    )
    lines += [
        "",
        "Style ratio per layer (medians over photos):",
        "",
        "| source | " + " | ".join(f"`{layer}`" for layer in layers) + " |",
        "|---|" + "---:|" * len(layers),
    ]
    for source in SOURCES:
        per = results["sources"][source]["medians"]["style_ratio_per_layer"]
        lines.append(
            f"| {LABELS[source]} | " + " | ".join(g(per[x]["median"]) for x in layers) + " |"
        )
    per = r["style_ratio_per_layer"]
    lines.append(
        "| alpha = 1 (reference) | " + " | ".join(g(per[x]["median"]) for x in layers) + " |"
    )
    lines += [
        "",
        "### (d)'s noise strength",
        "",
        f"Gaussian noise of standard deviation sigma = {cal['sigma']:.4g} on every gamma and "
        f"beta of Lambda(1), calibrated on {', '.join(cal['photos'])}: (d)'s mean pixel L1 there "
        f"{cal['pixel_l1']:.2f} against (c)'s {cal['target']:.2f} (tolerance "
        f"{cal['tolerance']:.0%}, {'reached' if cal['reached'] else 'NOT reached'}, "
        f"{len(cal['trace'])} tries).",
        "",
        "### Per photo",
        "",
        "| photo | "
        + " | ".join(f"{LABELS[s][:3]} pixel L1" for s in SOURCES)
        + " | (c) style | (d) style | alpha = 1 style | (c) palette | (d) palette "
        "| alpha = 1 palette |",
        "|---|" + "---:|" * (len(SOURCES) + 6),
    ]
    for i, photo in enumerate(settings["photos"]):
        cell = lambda s, m: g(results["sources"][s]["per_photo"][m][i])
        lines.append(
            f"| {photo} | "
            + " | ".join(cell(s, "pixel_l1") for s in SOURCES)
            + f" | {cell('both', 'style_ratio')} | {cell('gamma_beta_noise', 'style_ratio')} | "
            f"{g(results['reference_alpha_1']['per_photo']['style_ratio'][i])} | "
            f"{cell('both', 'palette')} | {cell('gamma_beta_noise', 'palette')} | "
            f"{g(results['reference_alpha_1']['per_photo']['palette'][i])} |"
        )
    lines += [
        "",
        f"![Figure 5: random alpha, noise mask and both on {settings['figure_photo']}]"
        "(diversity_figure5.jpg)",
        "",
        f"![Figure 8: alpha + noise mask against gamma/beta noise on {settings['figure_photo']}]"
        "(diversity_figure8.jpg)",
        "",
    ]
    return "\n".join(lines)


def _check(fv):
    harness.check_flags(
        fv, "figure_photo", (("samples", 2), ("seed", 0), ("calibration_images", 1))
    )
    if fv.noise_depth is not None and not 0 < fv.noise_depth <= 1:
        raise UsageError(f"--noise_depth must be in (0, 1], got {fv.noise_depth}")
    if not 0 < fv.calibration_tolerance < 1:
        raise UsageError(
            f"--calibration_tolerance must be between 0 and 1, got {fv.calibration_tolerance}"
        )
    harness.check_vgg_weights(fv)


def run(fv):
    """Measures on parsed flags `fv`, writes the outputs and returns the results dict."""
    _check(fv)
    started = time.perf_counter()

    given = harness.inputs(fv, "figure_photo")  # Fails on paths before TensorFlow starts.
    model_path, photos, name = given.model_path, given.photos, given.name

    cli.quiet_tensorflow_import()
    from adjustable_style import noise

    depth = noise.DEFAULT_DEPTH if fv.noise_depth is None else fv.noise_depth
    loaded = harness.load_models(
        fv.model, model_path, fv.style_image, fv.vgg_weights, fv.style_scale
    )
    style_layers = loaded.style_layers
    feature_layer = FEATURE_LAYER if FEATURE_LAYER in loaded.spec.layers else style_layers[-1]
    evaluator = Evaluator.of(loaded, fv.batch_size)
    model = SampleEvaluator(loaded.stylizer, evaluator, feature_layer, fv.batch_size)
    contents = [images.load_center_square(p, fv.image_size) for p in photos]
    height, width = contents[0].shape[:2]
    ones = model.parameters(np.ones((1, len(style_layers)), np.float32))
    alphas, masks, unit_noise = draws(
        fv.samples, len(style_layers), ones.shape[1], height, width, fv.seed, depth
    )
    style_palette = palette.palette_quantiles(loaded.style)
    random_params = model.parameters(alphas)
    print(
        f"Model {name} ({model_path}): alpha over {', '.join(style_layers)}; "
        f"{len(photos)} photos at {fv.image_size} px, {fv.samples} samples per source; "
        f"set-up {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    tick = time.perf_counter()
    calibration_photos = contents[: fv.calibration_images]
    calibration = calibrate(
        model, calibration_photos, ones, random_params, masks, unit_noise, fv.calibration_tolerance
    )
    calibration["photos"] = [os.path.basename(p) for p in photos[: fv.calibration_images]]
    sigma = calibration["sigma"]
    print(
        f"(d) calibrated: sigma {sigma:.4g}, pixel L1 {calibration['pixel_l1']:.2f} for "
        f"(c)'s {calibration['target']:.2f} ({len(calibration['trace'])} tries, "
        f"{time.perf_counter() - tick:.1f} s)",
        flush=True,
    )

    per_photo, figure_result = [], None
    for i, (path, content) in enumerate(zip(photos, contents)):
        tick = time.perf_counter()
        result = measure_photo(
            model, content, ones, random_params, masks, unit_noise, sigma, style_palette
        )
        if i == fv.figure_photo:
            figure_result = result
        per_photo.append({k: result[k] for k in ("sources", "reference_alpha_1", "photo_palette")})
        print(
            f"[{i + 1}/{len(photos)}] {os.path.basename(path)}: pixel L1 "
            + ", ".join(f"{s} {result['sources'][s]['pixel_l1']:.1f}" for s in SOURCES)
            + f"; {time.perf_counter() - tick:.1f} s",
            flush=True,
        )

    sources, reference = over_photos(per_photo, style_layers)
    checks = check_claim(sources, reference)
    palette_checks = check_palette_claim(sources, reference)
    results = harness.finite_or_none(
        {
            "command": harness.command_line(
                PROGRAM,
                fv,
                (
                    "samples",
                    "seed",
                    "max_images",
                    "noise_depth",
                    "calibration_images",
                    "calibration_tolerance",
                    "figure_photo",
                ),
            ),
            "claim_holds": all(c["met"] for c in checks),
            "criterion": criterion_text(),
            "checks": checks,
            "claim_thresholds": CLAIM,
            "claim_holds_palette": all(c["met"] for c in palette_checks),
            "palette_criterion": palette_criterion_text(),
            "palette_checks": palette_checks,
            "palette_claim_thresholds": PALETTE_CLAIM,
            "model": {
                "name": name,
                "path": harness.recorded_path(model_path),
                "style_layers": style_layers,
                "content_layer": loaded.spec.content_layer,
                "style_image": os.path.basename(loaded.style_path),
                "style_image_matches_training_record": loaded.same_style,
                "training_steps": loaded.record.get("steps"),
            },
            "settings": {
                "content": harness.portable_path(fv.content, "HELD_OUT_PHOTOS/"),
                "photos": [os.path.basename(p) for p in photos],
                "num_photos": len(photos),
                "image_size": fv.image_size,
                "samples": fv.samples,
                "seed": fv.seed,
                "noise_depth": depth,
                "alphas": alphas.tolist(),
                "feature_layer": feature_layer,
                "figure_photo": os.path.basename(photos[fv.figure_photo]),
                "loss_network": loaded.network,
                "vgg_weights": os.path.basename(fv.vgg_weights),
                "device": harness.device_name(),
            },
            "definitions": {
                "pixel_l1": "mean over pairs of samples of their mean absolute difference, "
                "levels of 255",
                "feature_distance": f"mean over pairs of the mean absolute difference of "
                f"{feature_layer} features, divided by the mean absolute {feature_layer} "
                "feature of the alpha = 1 output",
                "style_ratio": "per sample the mean over style layers of L_l(sample) / "
                "L_l(photo); per photo the median over samples",
                "content_loss": "L_c(sample, photo without mask); per photo the median over "
                "samples",
                "palette": "sliced Wasserstein-1 distance between the CIELAB colours of the "
                f"sample and of the style image ({palette.PALETTE_DIRECTIONS} fixed directions, "
                f"{palette.PALETTE_QUANTILES} quantiles), CIELAB units; per photo the median "
                "over samples",
                "palette_spread": "mean over pairs of samples of their palette distance to "
                "each other, CIELAB units (in no criterion)",
                "gamma_beta_noise": "alpha = 1, every gamma and beta of Lambda(1) plus "
                "N(0, sigma^2), sigma from calibration",
            },
            "calibration": calibration,
            "sources": sources,
            "reference_alpha_1": reference,
            "seconds": time.perf_counter() - started,
        }
    )
    report = markdown(results)
    photo_name = os.path.basename(photos[fv.figure_photo])
    content = contents[fv.figure_photo]
    pictures = {
        "diversity_figure5.jpg": figure5(
            figure_result, content, loaded.style, name, photo_name, fv.seed
        ),
        "diversity_figure8.jpg": figure8(
            figure_result, content, loaded.style, name, photo_name, fv.seed, sigma
        ),
    }

    # Everything is computed: now write.
    harness.write_outputs(
        given.output_dir, {"diversity.json": results}, {"diversity.md": report}, pictures, started
    )
    return results


main = harness.command_main(run)

if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
