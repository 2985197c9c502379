"""The numbers of adjustability.py, numpy only: what one photo measures, the
medians over photos (Figure 7's curves, Figure 3 in numbers, each slider
with the others at 1), and the targets the project holds its shipped models
to (see adjustability.py's docstring for the definitions).

Apart from adjustability.py, which loads the models and writes the report,
so that each target can be tested by hand without a model.
"""

import math

import numpy as np

from experiments.measures import (
    chroma_shift,
    element_size,
    mean_abs_levels,
    psnr,
    spearman,
    summary,
)

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


def curve_alphas(num_layers, steps):
    """{(others, layer index): (steps, L) alphas} for the Figure 7 curves."""
    from adjustable_style import alpha_vectors as alpha_lib

    return {
        (others, index): alpha_lib.sweep_alphas(num_layers, index, steps, fixed=float(others))
        for others in (0, 1)
        for index in range(num_layers)
    }


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


def figure7_stats(alphas, raw):
    """Normalized curve statistics of one layer and setting over photos.

    `raw` is (photos, steps) style losses; each row is divided by its value
    at alpha_l = 0 (the first step).
    """
    raw = np.asarray(raw, dtype=np.float64)
    normalized = raw / np.maximum(raw[:, :1], np.finfo(np.float64).tiny)
    q25, median, q75 = np.percentile(normalized, [25, 50, 75], axis=0)
    per_photo = [spearman(alphas, row) for row in raw]
    pooled = spearman(np.tile(alphas, len(raw)), normalized.ravel())
    return {
        "raw": raw.tolist(),
        "normalized_median": median.tolist(),
        "normalized_q25": q25.tolist(),
        "normalized_q75": q75.tolist(),
        "end_ratio": summary(normalized[:, -1]),
        "spearman_pooled": pooled,
        "spearman_per_photo": per_photo,
        "spearman_per_photo_median": float(np.median(per_photo)),
        "num_points": int(raw.size),
    }


def over_photos(per_photo, style_layers, steps):
    """The medians (and per-photo values) over photos, a section each:
    style_at_alpha_1, content_at_alpha_0, figure7, figure3, others_at_1."""
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
    alphas = np.linspace(0.0, 1.0, steps)
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
    return {
        "style_at_alpha_1": style_at_1,
        "content_at_alpha_0": content_at_0,
        "figure7": figure7,
        "figure3": figure3,
        "others_at_1": others_at_1,
    }


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
