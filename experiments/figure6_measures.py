"""Figure 6's numbers (numpy only): the distances between two stylized
images, the claim on them, and loss parity under the training objective L_w
of the paper's Eq. 8.

Apart from figure6.py, which loads the models and writes the report, so
that each rule can be tested by hand on small matrices.
"""

import numpy as np

DISTANCES = ("pixel_rmse", "gram", "dssim")
CLAIM_DISTANCES = ("pixel_rmse", "gram")
# Loss parity: the adjustable model at alpha = w may reach at most this
# times base(w)'s objective L_w (YOTO's comparison, with a 10% margin).
PARITY_BOUND = 1.1


def pixel_rmse(a, b):
    """Root mean squared difference of two [0, 1] images, in levels of 255."""
    difference = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.sqrt(np.mean(np.square(difference))) * 255.0)


def gram_distance(grams_x, grams_y, photo_style_losses):
    """Mean over style layers of ||G_l(x) - G_l(y)||^2 / ||G_l(c) - G_l(s)||^2.

    `grams_x`, `grams_y`: one (C, C) Gram matrix per style layer;
    `photo_style_losses`: the photo's style loss per layer (its Gram
    distance to the style image). Returns (mean, per-layer values).
    """
    per_layer = [
        float(np.sum(np.square(np.asarray(gx, np.float64) - np.asarray(gy, np.float64))) / scale)
        for gx, gy, scale in zip(grams_x, grams_y, photo_style_losses)
    ]
    return float(np.mean(per_layer)), per_layer


def claim_checks(per_photo, labels):
    """The claim for every w and distance, from per-photo matrices.

    `per_photo`: {distance: (P, 2n, n)}, rows base(w_0..w_n-1) then
    adjustable(alpha = w_0..), columns base(w_0..). Returns rows with the
    medians compared, the nearest other base, and the per-photo count.
    """
    rows = []
    for distance, matrices in per_photo.items():
        matrices = np.asarray(matrices, np.float64)
        n = matrices.shape[2]
        for i, label in enumerate(labels):
            others = [j for j in range(n) if j != i]
            d_adj = matrices[:, n + i, i]
            d_base = matrices[:, i, others]
            per_photo_holds = d_adj < d_base.min(axis=1)
            median_base = np.median(d_base, axis=0)
            nearest = int(np.argmin(median_base))
            median_adj = float(np.median(d_adj))
            rows.append(
                {
                    "w": label,
                    "distance": distance,
                    "in_claim": distance in CLAIM_DISTANCES,
                    "d_adj_median": median_adj,
                    "d_base_min_median": float(median_base[nearest]),
                    "nearest_other_base": labels[others[nearest]],
                    "met_on_medians": bool(median_adj < median_base[nearest]),
                    "photos_holding": int(per_photo_holds.sum()),
                    "num_photos": int(len(d_adj)),
                    "fraction_of_photos": float(per_photo_holds.mean()),
                    "per_photo": [bool(h) for h in per_photo_holds],
                }
            )
    return rows


def eq8_factors(ema):
    """Eq. 8's factors sum_i EMA_i / EMA_k (content first, then each style layer)."""
    ema = np.asarray(ema, np.float64)
    return np.sum(ema) / np.maximum(ema, 1e-12)


def normalized_objective(raw_losses, weights, content_weight, ema, normalization="eq8"):
    """The training objective of outputs with raw losses under style weights w.

    `raw_losses` (..., 1 + L): the content loss, then each style layer's;
    `weights` (L,): w (or alpha); `ema` (1 + L,): the loss EMAs the models
    were trained with (`ema` in model.json). With Eq. 8 each loss is
    multiplied by sum(EMA) / EMA_k, as `losses.LossNormalizer` does; with
    normalization "none" the losses are taken raw. Returns (...,):
    content_weight * L~_c + sum_l w_l * L~_l, the trainer's per-sample loss.
    """
    raw = np.asarray(raw_losses, np.float64)
    factors = eq8_factors(ema) if normalization == "eq8" else np.ones(raw.shape[-1])
    coefficients = np.concatenate([[float(content_weight)], np.asarray(weights, np.float64)])
    return np.sum(raw * factors * coefficients, axis=-1)


def objective_matrix(raw_losses, weights, content_weight, ema, normalization):
    """(R, n): L_{w_j} of each of R outputs, from their (R, 1 + L) raw losses."""
    return np.stack(
        [normalized_objective(raw_losses, w, content_weight, ema, normalization) for w in weights],
        axis=1,
    )


def parity_checks(objectives, labels):
    """Loss parity for every w, from per-photo (P, 2n, n) objective matrices.

    Rows of a matrix: base(w_0..), then adjustable(alpha = w_0..); columns:
    the objective L_{w_j}. The ratios are of the means over photos (the
    objective is an expectation over photos); the per-photo ratios' medians
    are reported beside them.
    """
    objectives = np.asarray(objectives, np.float64)
    n = objectives.shape[2]
    mean = objectives.mean(axis=0)
    rows = []
    for i, label in enumerate(labels):
        others = {labels[j]: float(mean[j, i] / mean[i, i]) for j in range(n) if j != i}
        ratio = float(mean[n + i, i] / mean[i, i])
        per_photo = objectives[:, n + i, i] / objectives[:, i, i]
        rows.append(
            {
                "w": label,
                "objective_base": float(mean[i, i]),
                "objective_adjustable": float(mean[n + i, i]),
                "ratio_adjustable": ratio,
                "ratio_adjustable_per_photo_median": float(np.median(per_photo)),
                "ratio_adjustable_per_photo": per_photo.tolist(),
                "met_parity": bool(ratio <= PARITY_BOUND),
                "ratio_other_bases": others,
                "others_worse": bool(all(r > 1.0 for r in others.values())),
            }
        )
    return rows


def criterion_text():
    """The claim's rule, in words (for the JSON and the markdown)."""
    return (
        "claim_holds = for every base w: (1) for each of the distances "
        f"{' and '.join(CLAIM_DISTANCES)}, the median over photos of D_adj(w) = "
        "d(adjustable(alpha = w), base(w)) is below the smallest, over the other bases w', "
        "of the median over photos of D_base(w, w') = d(base(w), base(w')); (2) loss "
        "parity: L_w(adjustable(alpha = w)) / L_w(base(w)) <= "
        f"{PARITY_BOUND:g}, L_w the training objective at w with the adjustable model's "
        "Eq. 8 constants, averaged over the photos; and (3) every other base w' is worse "
        "than base(w) under L_w (L_w(base(w')) / L_w(base(w)) > 1). Per photo the distance "
        "comparison is also made on that photo's values and reported as a fraction of "
        "photos; dssim is reported but not part of claim_holds"
    )


def measure_photo(model, content, weights, objective):
    """One photo's outputs, its (2n, n) matrices per distance (and per layer)
    and its (2n, n) objectives (`objective`: content_weight, ema and
    normalization for `objective_matrix`)."""
    n = len(weights)
    photo_style, content_features = model.evaluator.photo(content)
    outputs = model.outputs(content, weights)
    raw = model.raw_losses(outputs, content_features)
    objectives = objective_matrix(raw, weights, *objective)
    grams = model.grams(outputs)
    matrices = {d: np.zeros((2 * n, n)) for d in DISTANCES}
    per_layer = np.zeros((len(grams), 2 * n, n))
    for r in range(2 * n):
        for c in range(n):
            if r == c:  # base(w) against itself.
                continue
            matrices["pixel_rmse"][r, c] = pixel_rmse(outputs[r], outputs[c])
            mean, layers = gram_distance([g[r] for g in grams], [g[c] for g in grams], photo_style)
            matrices["gram"][r, c] = mean
            per_layer[:, r, c] = layers
            matrices["dssim"][r, c] = 1.0 - model.ssim(outputs[r], outputs[c])
    return {
        "outputs": outputs,
        "matrices": matrices,
        "gram_per_layer": per_layer,
        "raw_losses": raw,
        "objectives": objectives,
    }
