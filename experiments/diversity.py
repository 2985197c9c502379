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
  (`common.palette_distance`, in CIELAB units: 0 is the painting's colours
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
from experiments import adjustability as adj  # noqa: E402
from experiments import common  # noqa: E402

PROGRAM = "experiments/diversity.py"
SOURCES = ("alpha", "noise", "both", "gamma_beta_noise")
LABELS = {
    "alpha": "(a) random alpha",
    "noise": "(b) noise mask",
    "both": "(c) alpha + noise",
    "gamma_beta_noise": "(d) gamma/beta noise",
}
FEATURE_LAYER = "block4_conv4"
# Seed stream purposes: 0 and 1 are stylize.py's (alpha, mask); 2 is its
# walk; 3 is (d)'s gamma/beta noise.
ALPHA_STREAM, MASK_STREAM, PARAMETER_STREAM = 0, 1, 3
# The claim's thresholds, fixed before the shipped model was measured.
CLAIM = {
    # (c) at least comparable to the more diverse of (a) and (b).
    "diverse_fraction_of_best_single": 0.9,
    # (c)'s style ratio at most this times the alpha = 1 output's.
    "in_style_max_ratio_to_alpha_1": 1.25,
    # (d) at most this far (relative) from (c)'s pixel diversity.
    "matched_pixel_diversity_tolerance": 0.2,
    # (d)'s style ratio at least this times (c)'s.
    "leaves_style_min_ratio_to_both": 1.25,
}
# The palette claim's thresholds, fixed before any palette was measured: the
# style ratio's, so that the two criteria differ in the measure only.
PALETTE_CLAIM = {
    # (c)'s palette distance at most this times the alpha = 1 output's.
    "in_palette_max_ratio_to_alpha_1": 1.25,
    # (d)'s palette distance at least this times (c)'s.
    "leaves_palette_min_ratio_to_both": 1.25,
}
FILES = ("diversity.json", "diversity.md", "diversity_figure5.jpg", "diversity_figure8.jpg")


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS)."""
    fv = flags.FLAGS if flag_values is None else flag_values
    adj.define_input_flags(fv)
    flags.DEFINE_integer("samples", 8, "Samples per photo and source (N).", flag_values=fv)
    flags.DEFINE_integer(
        "seed", 0, "Sample k uses seeds [seed + k, purpose] (see the docstring).", flag_values=fv
    )
    flags.DEFINE_integer("max_images", 0, "Use at most this many photos (0 = all).", flag_values=fv)
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
    flags.DEFINE_integer(
        "figure_photo",
        0,
        "Which photo (0-based, in sorted order) the figures show.",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "batch_size", 8, "Stylized images per forward pass (memory grows with it).", flag_values=fv
    )
    flags.DEFINE_string(
        "output_dir",
        None,
        f"Where {', '.join(FILES)} go. Default: experiments/results/<model name>.",
        flag_values=fv,
    )


# ---------------------------------------------------------------------------
# Distances and the calibration (numpy only).
# ---------------------------------------------------------------------------


def _pairs(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def pixel_diversity(samples):
    """Mean pairwise mean absolute difference of [0, 1] images, in levels of 255."""
    return float(
        np.mean([adj.mean_abs_levels(samples[i], samples[j]) for i, j in _pairs(len(samples))])
    )


def feature_diversity(features, reference):
    """Mean pairwise mean absolute difference of features over mean |reference|.

    The reference (the alpha = 1 output's features) is the same for every
    source of a photo, so sources compare on one scale.
    """
    features = np.asarray(features, np.float64)
    scale = float(np.mean(np.abs(reference)))
    distance = np.mean(
        [np.mean(np.abs(features[i] - features[j])) for i, j in _pairs(len(features))]
    )
    return float(distance / scale) if scale > 0 else float("nan")


def calibrate_sigma(diversity_at, target, tolerance, start=0.1, max_evaluations=30):
    """The sigma at which `diversity_at(sigma)` is within `tolerance` of `target`.

    `diversity_at` should grow with sigma (it does on average: more noise,
    more different samples). Steps of 4x up or down from `start` bracket
    the target, then bisection halves log(sigma)'s interval. Returns
    {"sigma", "pixel_l1", "target", "tolerance", "reached", "trace"}, where
    the trace lists every (sigma, diversity) tried; if the tolerance is not
    reached within `max_evaluations`, the closest sigma tried.
    """
    trace = []

    def close(value):
        return abs(value / target - 1.0) <= tolerance

    def result(reached):
        sigma, value = min(trace, key=lambda t: abs(t[1] - target))
        return {
            "sigma": sigma,
            "pixel_l1": value,
            "target": target,
            "tolerance": tolerance,
            "reached": reached,
            "trace": [{"sigma": s, "pixel_l1": v} for s, v in trace],
        }

    def evaluate(sigma):
        value = float(diversity_at(sigma))
        trace.append((sigma, value))
        return value

    if target <= 0:  # Nothing to match: no noise matches it.
        trace.append((0.0, 0.0))
        return result(True)
    low = high = None
    sigma = start
    while len(trace) < max_evaluations:  # Bracket: low too little, high too much.
        value = evaluate(sigma)
        if close(value):
            return result(True)
        if value < target:
            low = sigma
            if high is not None:
                break
            sigma *= 4.0
        else:
            high = sigma
            if low is not None:
                break
            sigma /= 4.0
    while len(trace) < max_evaluations and low is not None and high is not None:
        sigma = math.sqrt(low * high)
        value = evaluate(sigma)
        if close(value):
            return result(True)
        if value < target:
            low = sigma
        else:
            high = sigma
    return result(False)


# ---------------------------------------------------------------------------
# Random draws: the same for every photo, from per-sample seeds.
# ---------------------------------------------------------------------------


def draws(num_samples, num_layers, num_parameters, height, width, seed, depth=None):
    """(alphas (N, L), masks (N, H, W, 1), unit parameter noise (N, P)).

    `depth`: the masks' (None: the mask's default).
    """
    from adjustable_style import alpha_vectors as alpha_lib
    from adjustable_style import noise

    alphas = np.concatenate(
        [
            alpha_lib.sample_alpha(1, num_layers, [seed + k, ALPHA_STREAM])
            for k in range(num_samples)
        ]
    )
    masks = np.stack(
        [
            noise.noise_mask(height, width, [seed + k, MASK_STREAM], depth=depth)
            for k in range(num_samples)
        ]
    )
    unit_noise = np.stack(
        [
            np.random.default_rng([seed + k, PARAMETER_STREAM]).standard_normal(num_parameters)
            for k in range(num_samples)
        ]
    ).astype(np.float32)
    return alphas, masks, unit_noise


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------


class SampleEvaluator:
    """Compiled forward passes with explicit gammas and betas.

    The stylizer runs as `inference.StylizerGraph`: Lambda(alpha) gives the
    (B, 2 x 2115) gammas and betas, and `forward` takes them as they are, so
    (d) can add noise between the two. The losses and features are
    adjustability.py's (its Evaluator's loss network and style Grams).
    """

    def __init__(self, stylizer, evaluator, feature_layer, batch_size):
        import tensorflow as tf

        from adjustable_style.inference import graph as inference
        from adjustable_style.model import losses

        graph = inference.StylizerGraph(stylizer)
        content_layer = evaluator.content_layer
        self.batch_size = batch_size
        self.evaluator = evaluator
        image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        params_spec = tf.TensorSpec([None, None], tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
        def parameters(alphas):
            return graph.parameters(alphas)

        @tf.function(input_signature=[image_spec, params_spec])
        def stylize(contents, params):
            return graph.forward(contents, params)

        @tf.function(input_signature=[image_spec, params_spec, tf.TensorSpec(None, tf.float32)])
        def measure(contents, params, content_features):
            stylized = graph.forward(contents, params)
            feats = evaluator.features(stylized)
            content_loss = losses.content_loss(feats[content_layer], content_features)
            return stylized, evaluator.style_losses(feats), content_loss, feats[feature_layer]

        self._parameters, self._stylize, self._measure = parameters, stylize, measure

    def parameters(self, alphas):
        """(N, 4230) gammas then betas for alphas (N, L)."""
        return self._parameters(np.asarray(alphas, np.float32)).numpy()

    def stylize(self, contents, params):
        """Stylized (N, H, W, 3) of contents (N, H, W, 3) with params (N, 4230)."""
        return np.concatenate(
            [
                self._stylize(contents[s : s + self.batch_size], params[s : s + self.batch_size])
                for s in range(0, len(contents), self.batch_size)
            ]
        )

    def measure(self, contents, params, content_features):
        """(stylized, style losses (N, L), content losses (N,), features) per row."""
        parts = [[], [], [], []]
        for s in range(0, len(contents), self.batch_size):
            values = self._measure(
                contents[s : s + self.batch_size], params[s : s + self.batch_size], content_features
            )
            for part, value in zip(parts, values):
                part.append(value.numpy())
        return tuple(np.concatenate(part) for part in parts)


def source_rows(content, ones, random_params, masks, unit_noise, sigma):
    """{source: (contents (N, H, W, 3), params (N, 4230))}: what each source stylizes."""
    n = len(masks)
    plain = np.repeat(content[None], n, axis=0)
    masked = plain * masks
    constant = np.repeat(ones, n, axis=0)
    return {
        "alpha": (plain, random_params),
        "noise": (masked, constant),
        "both": (masked, random_params),
        "gamma_beta_noise": (plain, constant + sigma * unit_noise),
    }


def measure_photo(model, content, ones, random_params, masks, unit_noise, sigma, style_palette):
    """Every number of one photo, and its samples (for the figures).

    `style_palette`: the style image's `common.palette_quantiles`.
    """
    photo_style, content_features = model.evaluator.photo(content)
    rows = source_rows(content, ones, random_params, masks, unit_noise, sigma)
    contents = np.concatenate([content[None]] + [rows[s][0] for s in SOURCES]).astype(np.float32)
    params = np.concatenate([ones] + [rows[s][1] for s in SOURCES]).astype(np.float32)
    stylized, style, content_loss, feats = model.measure(contents, params, content_features)
    ratios = style.astype(np.float64) / photo_style.astype(np.float64)
    quantiles = [common.palette_quantiles(image) for image in stylized]
    palette = np.array([common.palette_distance(q, style_palette) for q in quantiles])
    n = len(masks)
    reference = {
        "style_ratio": float(np.mean(ratios[0])),
        "style_ratio_per_layer": ratios[0].tolist(),
        "content_loss": float(content_loss[0]),
        "palette": float(palette[0]),
    }
    result = {"reference_alpha_1": reference, "sources": {}, "samples": {}}
    # The photo's own distance to the painting's colours: the scale a
    # palette distance is read against.
    result["photo_palette"] = common.palette_distance(content, style_palette)
    for k, source in enumerate(SOURCES):
        rows_k = slice(1 + k * n, 1 + (k + 1) * n)
        result["samples"][source] = stylized[rows_k]
        result["sources"][source] = {
            "pixel_l1": pixel_diversity(stylized[rows_k]),
            "feature_distance": feature_diversity(feats[rows_k], feats[0]),
            "style_ratio": float(np.median(np.mean(ratios[rows_k], axis=1))),
            "style_ratio_per_layer": np.median(ratios[rows_k], axis=0).tolist(),
            "content_loss": float(np.median(content_loss[rows_k])),
            "palette": float(np.median(palette[rows_k])),
            "palette_spread": float(
                np.mean(
                    [
                        common.palette_distance(quantiles[1 + k * n + i], quantiles[1 + k * n + j])
                        for i, j in _pairs(n)
                    ]
                )
            ),
        }
    result["reference_image"] = stylized[0]
    return result


def calibrate(model, contents, ones, random_params, masks, unit_noise, tolerance):
    """(d)'s sigma, matched to (c)'s pixel diversity on `contents`."""

    def diversity(source, sigma):
        values = []
        for content in contents:
            rows = source_rows(content, ones, random_params, masks, unit_noise, sigma)
            values.append(pixel_diversity(model.stylize(*rows[source])))
        return float(np.mean(values))

    target = diversity("both", 0.0)
    return calibrate_sigma(lambda sigma: diversity("gamma_beta_noise", sigma), target, tolerance)


# ---------------------------------------------------------------------------
# Statistics over photos and the claim.
# ---------------------------------------------------------------------------


def over_photos(per_photo, style_layers):
    """{source: {"per_photo": {...}, "medians": {measure: summary}}}, the reference too."""
    measures = (
        "pixel_l1",
        "feature_distance",
        "style_ratio",
        "content_loss",
        "palette",
        "palette_spread",
    )
    sources = {}
    for source in SOURCES:
        values = {m: [p["sources"][source][m] for p in per_photo] for m in measures}
        layers = np.array([p["sources"][source]["style_ratio_per_layer"] for p in per_photo])
        values["style_ratio_per_layer"] = {
            layer: layers[:, k].tolist() for k, layer in enumerate(style_layers)
        }
        medians = {m: adj.summary(values[m]) for m in measures}
        medians["style_ratio_per_layer"] = {
            layer: adj.summary(layers[:, k]) for k, layer in enumerate(style_layers)
        }
        sources[source] = {"label": LABELS[source], "per_photo": values, "medians": medians}
    ref = [p["reference_alpha_1"] for p in per_photo]
    layers = np.array([r["style_ratio_per_layer"] for r in ref])
    reference = {
        "per_photo": {
            "style_ratio": [r["style_ratio"] for r in ref],
            "content_loss": [r["content_loss"] for r in ref],
            "palette": [r["palette"] for r in ref],
            "photo_palette": [p["photo_palette"] for p in per_photo],
        },
        "medians": {
            "style_ratio": adj.summary([r["style_ratio"] for r in ref]),
            "content_loss": adj.summary([r["content_loss"] for r in ref]),
            "palette": adj.summary([r["palette"] for r in ref]),
            "photo_palette": adj.summary([p["photo_palette"] for p in per_photo]),
            "style_ratio_per_layer": {
                layer: adj.summary(layers[:, k]) for k, layer in enumerate(style_layers)
            },
        },
    }
    return sources, reference


def _claim_row(rows, key, what, value, bound, at_most):
    met = math.isfinite(value) and (value <= bound if at_most else value >= bound)
    sign = "<=" if at_most else ">="
    rows.append(
        {"key": key, "what": what, "value": value, "bound": f"{sign} {bound:.4g}", "met": bool(met)}
    )


def check_claim(sources, reference):
    """The claim's checks (see the docstring and CLAIM): a list of rows."""
    med = lambda source, measure: sources[source]["medians"][measure]["median"]
    rows = []
    row = lambda *args: _claim_row(rows, *args)

    fraction = CLAIM["diverse_fraction_of_best_single"]
    for measure, name in (("pixel_l1", "pixel L1"), ("feature_distance", "feature distance")):
        best = max(med("alpha", measure), med("noise", measure))
        row(
            f"diverse_{measure}",
            f"(c) diverse: {name} vs {fraction:g} x max((a), (b))",
            med("both", measure),
            fraction * best,
            False,
        )
    style_c = med("both", "style_ratio")
    in_style = CLAIM["in_style_max_ratio_to_alpha_1"]
    row(
        "in_style",
        f"(c) in style: style ratio vs {in_style:g} x alpha = 1's",
        style_c,
        in_style * reference["medians"]["style_ratio"]["median"],
        True,
    )
    tolerance = CLAIM["matched_pixel_diversity_tolerance"]
    matched = med("gamma_beta_noise", "pixel_l1") / med("both", "pixel_l1") - 1.0
    row("matched", "(d) matched: abs(pixel L1 (d) / (c) - 1)", abs(matched), tolerance, True)
    leaves = CLAIM["leaves_style_min_ratio_to_both"]
    row(
        "leaves_style",
        f"(d) leaves the style: style ratio vs {leaves:g} x (c)'s",
        med("gamma_beta_noise", "style_ratio"),
        leaves * style_c,
        False,
    )
    return rows


def check_palette_claim(sources, reference):
    """The palette claim's checks (PALETTE_CLAIM): the claim's diversity and
    matching rows, and the palette distance in place of the style ratio."""
    med = lambda source, measure: sources[source]["medians"][measure]["median"]
    rows = [
        r for r in check_claim(sources, reference) if r["key"] not in ("in_style", "leaves_style")
    ]
    palette_c = med("both", "palette")
    in_palette = PALETTE_CLAIM["in_palette_max_ratio_to_alpha_1"]
    _claim_row(
        rows,
        "in_palette",
        f"(c) keeps the palette: palette distance vs {in_palette:g} x alpha = 1's",
        palette_c,
        in_palette * reference["medians"]["palette"]["median"],
        True,
    )
    leaves = PALETTE_CLAIM["leaves_palette_min_ratio_to_both"]
    _claim_row(
        rows,
        "leaves_palette",
        f"(d) leaves the palette: palette distance vs {leaves:g} x (c)'s",
        med("gamma_beta_noise", "palette"),
        leaves * palette_c,
        False,
    )
    return rows


def criterion_text():
    """The claim's criterion, in words (for the JSON and the markdown)."""
    c = CLAIM
    return (
        "claim_holds = (c) is diverse [median pixel L1 and median feature distance of (c) each "
        f">= {c['diverse_fraction_of_best_single']:g} x the larger of (a)'s and (b)'s] AND (c) "
        f"stays in style [median style ratio of (c) <= {c['in_style_max_ratio_to_alpha_1']:g} x "
        "that of the deterministic alpha = 1 output] AND (d) is at matched diversity [its median "
        f"pixel L1 within {c['matched_pixel_diversity_tolerance']:.0%} of (c)'s] AND (d) leaves "
        f"the style [median style ratio of (d) >= {c['leaves_style_min_ratio_to_both']:g} x (c)'s]"
    )


def palette_criterion_text():
    """The palette claim's criterion, in words."""
    c, p = CLAIM, PALETTE_CLAIM
    return (
        "claim_holds_palette = (c) is diverse and (d) is at matched diversity, as above, AND "
        "(c) keeps the palette [median palette distance (CIELAB sliced Wasserstein to the "
        f"style image) of (c) <= {p['in_palette_max_ratio_to_alpha_1']:g} x that of the "
        "deterministic alpha = 1 output] AND (d) leaves the palette [median palette distance "
        f"of (d) >= {p['leaves_palette_min_ratio_to_both']:g} x (c)'s]; the diversity "
        f"thresholds are the claim's ({c['diverse_fraction_of_best_single']:g}, "
        f"{c['matched_pixel_diversity_tolerance']:.0%})"
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
    return adj.picture_with_header(grid, thumbnails, title)


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
    return adj.picture_with_header(grid, thumbnails, title)


# ---------------------------------------------------------------------------
# Reports.
# ---------------------------------------------------------------------------


def markdown(results):
    """diversity.md: settings, command, the claim, and the tables."""
    settings, model = results["settings"], results["model"]
    layers = model["style_layers"]
    g = adj._g
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


def _command(fv):
    """The command line that reproduces the run (flags that change results)."""
    return adj.command_line(
        PROGRAM,
        fv,
        (
            *adj.INPUT_FLAGS,
            "samples",
            "seed",
            "max_images",
            "noise_depth",
            "calibration_images",
            "calibration_tolerance",
            "figure_photo",
            "output_dir",
        ),
        omit_zero=("max_images", "figure_photo", "seed"),
    )


def _check(fv):
    if not fv.content:
        raise UsageError("--content is required: the held-out photos to measure on")
    for name, minimum in (
        ("image_size", adj.MIN_IMAGE_SIZE),
        ("samples", 2),
        ("seed", 0),
        ("max_images", 0),
        ("calibration_images", 1),
        ("figure_photo", 0),
        ("batch_size", 1),
    ):
        if fv[name].value < minimum:
            raise UsageError(f"--{name} must be at least {minimum}, got {fv[name].value}")
    if fv.noise_depth is not None and not 0 < fv.noise_depth <= 1:
        raise UsageError(f"--noise_depth must be in (0, 1], got {fv.noise_depth}")
    if not 0 < fv.calibration_tolerance < 1:
        raise UsageError(
            f"--calibration_tolerance must be between 0 and 1, got {fv.calibration_tolerance}"
        )
    adj.check_vgg_weights(fv)


def main(argv, flag_values=None):
    """The command: measures, then writes the outputs; returns None."""
    cli.check_no_arguments(argv)
    run(flags.FLAGS if flag_values is None else flag_values)


def run(fv):
    """Measures on parsed flags `fv`, writes the outputs and returns the results dict."""
    _check(fv)
    started = time.perf_counter()

    # Fail on paths before TensorFlow starts.
    model_path = model_files.resolve_model_path(fv.model or None)
    photos = adj.list_photos(fv, "figure_photo")
    name = adj.model_name(fv.model, model_path)
    output_dir = fv.output_dir or os.path.join(adj.RESULTS_DIR, name)

    cli.quiet_tensorflow_import()
    from adjustable_style import noise

    depth = noise.DEFAULT_DEPTH if fv.noise_depth is None else fv.noise_depth
    loaded = adj.load_models(fv.model, model_path, fv.style_image, fv.vgg_weights, fv.style_scale)
    style_layers = loaded.style_layers
    feature_layer = FEATURE_LAYER if FEATURE_LAYER in loaded.spec.layers else style_layers[-1]
    evaluator = adj.Evaluator(
        loaded.stylizer,
        loaded.loss_net,
        loaded.spec.content_layer,
        style_layers,
        loaded.style,
        fv.batch_size,
    )
    model = SampleEvaluator(loaded.stylizer, evaluator, feature_layer, fv.batch_size)
    contents = [images.load_center_square(p, fv.image_size) for p in photos]
    height, width = contents[0].shape[:2]
    ones = model.parameters(np.ones((1, len(style_layers)), np.float32))
    alphas, masks, unit_noise = draws(
        fv.samples, len(style_layers), ones.shape[1], height, width, fv.seed, depth
    )
    style_palette = common.palette_quantiles(loaded.style)
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
    results = adj._finite_or_none(
        {
            "command": _command(fv),
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
                "path": common.recorded_path(model_path),
                "style_layers": style_layers,
                "content_layer": loaded.spec.content_layer,
                "style_image": os.path.basename(loaded.style_path),
                "style_image_matches_training_record": loaded.same_style,
                "training_steps": loaded.record.get("steps"),
            },
            "settings": {
                "content": fv.content,
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
                "device": adj._device(),
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
                f"sample and of the style image ({common.PALETTE_DIRECTIONS} fixed directions, "
                f"{common.PALETTE_QUANTILES} quantiles), CIELAB units; per photo the median "
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
    adj.write_outputs(
        output_dir, {"diversity.json": results}, {"diversity.md": report}, pictures, started
    )
    return results


if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
