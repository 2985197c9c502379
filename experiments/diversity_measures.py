"""The numbers of diversity.py (Figures 5 and 8), numpy only: the four
sources of randomness and their draws, what each photo's samples measure,
the calibration of (d)'s noise, the medians over photos, and the claims
checked on them (see diversity.py's docstring for the definitions).

Apart from diversity.py, which loads the models and writes the report, so
that each rule can be tested by hand without a model.
"""

import math

import numpy as np

from experiments.measures import pairs, pixel_diversity, summary
from experiments.palette import palette_distance, palette_quantiles

SOURCES = ("alpha", "noise", "both", "gamma_beta_noise")
LABELS = {
    "alpha": "(a) random alpha",
    "noise": "(b) noise mask",
    "both": "(c) alpha + noise",
    "gamma_beta_noise": "(d) gamma/beta noise",
}
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


def feature_diversity(features, reference):
    """Mean pairwise mean absolute difference of features over mean |reference|.

    The reference (the alpha = 1 output's features) is the same for every
    source of a photo, so sources compare on one scale.
    """
    features = np.asarray(features, np.float64)
    scale = float(np.mean(np.abs(reference)))
    distance = np.mean(
        [np.mean(np.abs(features[i] - features[j])) for i, j in pairs(len(features))]
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

    `style_palette`: the style image's `palette_quantiles`.
    """
    photo_style, content_features = model.evaluator.photo(content)
    rows = source_rows(content, ones, random_params, masks, unit_noise, sigma)
    contents = np.concatenate([content[None]] + [rows[s][0] for s in SOURCES]).astype(np.float32)
    params = np.concatenate([ones] + [rows[s][1] for s in SOURCES]).astype(np.float32)
    stylized, style, content_loss, feats = model.measure(contents, params, content_features)
    ratios = style.astype(np.float64) / photo_style.astype(np.float64)
    quantiles = [palette_quantiles(image) for image in stylized]
    palette = np.array([palette_distance(q, style_palette) for q in quantiles])
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
    result["photo_palette"] = palette_distance(content, style_palette)
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
                        palette_distance(quantiles[1 + k * n + i], quantiles[1 + k * n + j])
                        for i, j in pairs(n)
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
        medians = {m: summary(values[m]) for m in measures}
        medians["style_ratio_per_layer"] = {
            layer: summary(layers[:, k]) for k, layer in enumerate(style_layers)
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
            "style_ratio": summary([r["style_ratio"] for r in ref]),
            "content_loss": summary([r["content_loss"] for r in ref]),
            "palette": summary([r["palette"] for r in ref]),
            "photo_palette": summary([p["photo_palette"] for p in per_photo]),
            "style_ratio_per_layer": {
                layer: summary(layers[:, k]) for k, layer in enumerate(style_layers)
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
