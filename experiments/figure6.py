r"""Does alpha = w look like retraining with w? The paper's Figure 6, measured.

    python experiments/figure6.py --model=starry_night --content=photos/ \
        --vgg_weights=vgg19.weights.h5 [--bases=experiments/figure6/starry_night]

The paper's claim: the adjustable model at alpha = w looks like the base
model (Johnson et al.: the same T with plain instance normalization, no
Lambda) trained with fixed style weights w. Base models come from --bases
(default experiments/figure6/<model name>/): each sub-folder a model folder
that train.py wrote (model.keras + model.json) with --model_type=base and
--style_weights=w; w is read from its model.json. Train them with
experiments/train_figure6_bases.sh, which repeats the shipped adjustable
model's recipe, Eq. 8 normalization and step budget for each w, or train
an adjustable model and its bases together with experiments/train_figure6.sh
(one recipe, a budget this CPU pays, and one set of frozen Eq. 8 constants
for all, so base(w)'s objective is the adjustable model's at alpha = w):

    python experiments/figure6.py --model=experiments/figure6/matched/adjustable \
        --bases=experiments/figure6/matched/bases --style_image=van_gogh_starry_night.jpg \
        --content=photos/ --vgg_weights=vgg19.weights.h5

They must share
the adjustable model's style image (sha256 in model.json), style layers,
loss network and loss normalization, and have different w, each in [0, 1] (an alpha).

On every held-out photo c (resized so the shorter side is --image_size,
then centre-cropped square, as in adjustability.py), for each base w:
base(w)(c) and adjustable(c; alpha = w). Three distances between two
stylized images x and y of the same photo:

- `pixel_rmse`: sqrt(mean((x - y)^2)) over pixels and channels, in levels
  of 255;
- `gram`: the Gram distance at the style layers, each layer's squared
  Frobenius distance ||G_l(x) - G_l(y)||^2 (the model's style loss, Grams
  normalized by H*W*C, `losses.gram_matrix`) divided by the photo's own
  distance to the style ||G_l(c) - G_l(s)||^2, then averaged over the layers:
  0 is the same style statistics, 1 is as far apart as the photo is from
  the painting; every layer counts alike whatever its scale;
- `dssim`: 1 - SSIM (tf.image.ssim, 11 px Gaussian window), reported but
  not part of the claim.

D_adj(w) = d(adjustable(alpha = w), base(w)) and D_base(w, w') =
d(base(w), base(w')) for every other base w'. The full matrix per distance
(rows base(w) and adjustable(alpha = w), columns base(w')) is reported per
photo and as medians over photos. The claim for w and a distance, on
medians: median over photos of D_adj(w) < min over w' != w of the median
over photos of D_base(w, w'); per photo: D_adj(w) < min over w' of
D_base(w, w') on that photo (the fraction of photos is reported).

Loss parity (the measure of "You Only Train Once", Dosovitskiy & Djolonga,
ICLR 2020): the training objective at w,

    L_w(x) = alpha_c * f_c * L_c(x, c) + sum_l w_l * f_l * L_l(x),

with Eq. 8's factors f_k = sum_i EMA_i / EMA_k from the adjustable model's
recorded loss EMAs and alpha_c its content weight (`figure6_measures.
normalized_objective`; raw losses when it was trained with
--loss_normalization=none), averaged over the photos, for every output.
Reported per w: L_w(adjustable(alpha = w)) / L_w(base(w)), and for every
other base L_w(base(w')) / L_w(base(w)). Whether each base was trained
with the same constants (EMAs, content weight, normalization), so that
L_w is exactly the objective it minimized, is reported too
(experiments/train_figure6.sh trains them so).

`claim_holds` is true when, for every w, (1) the distance claim holds on
medians for both claim distances (CLAIM_DISTANCES: pixel RMSE and Gram),
(2) L_w(adjustable(w)) / L_w(base(w)) <= PARITY_BOUND (1.1), and (3) every
other base is worse than base(w) under L_w (ratio > 1).
`claim_holds_distances` and `claim_holds_loss_parity` give the parts.

Outputs in --output_dir (default experiments/results/<model name>, beside
adjustability.py's results): figure6.json (every number, per photo too),
figure6.md (tables and the command) and figure6.jpg (one photo: base(w)
per w on top, adjustable(alpha = w) below, under the content and style).
Nothing is written until everything has been computed.
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import os
import time

import numpy as np
from absl import flags

from adjustable_style import cli, images, model_files
from adjustable_style.cli import UsageError
from experiments import harness
from experiments.evaluators import Evaluator, PairEvaluator
from experiments.figure6_bases import find_bases, objective_constants, total_steps, weights_label
from experiments.figure6_measures import (
    CLAIM_DISTANCES,
    DISTANCES,
    PARITY_BOUND,
    claim_checks,
    criterion_text,
    measure_photo,
    parity_checks,
)
from experiments.plots import picture_with_header

PROGRAM = "experiments/figure6.py"
BASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figure6")
DISTANCE_NAMES = {
    "pixel_rmse": "pixel RMSE (levels of 255)",
    "gram": "Gram distance (style layers, / photo's)",
    "dssim": "1 - SSIM",
}
FILES = ("figure6.json", "figure6.md", "figure6.jpg")


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS)."""
    fv = harness.define_run_flags(
        flag_values,
        FILES,
        "figure_photo",
        "Which photo (0-based, in sorted order) figure6.jpg shows.",
        batch_help="Images per forward pass (memory grows with it).",
    )
    flags.DEFINE_string(
        "bases",
        None,
        "Folder of base models, one model folder (model.keras + model.json, "
        "--model_type=base) per sub-folder. Default: experiments/figure6/<model name>.",
        flag_values=fv,
    )


def figure(outputs, labels, content, style, name, photo, checks, parity):
    """Figure 6 for one photo: base(w) on top, adjustable(alpha = w) below."""
    from adjustable_style.stylize import figures

    n = len(labels)
    cells = np.stack([outputs[:n], outputs[n:]])
    grid = figures.compose_grid(
        cells,
        row_labels=["base(w)", "alpha = w"],
        col_labels=[
            f"w = {p['w']}, L ratio {p['ratio_adjustable']:.2f}"
            for p in sorted(parity, key=lambda p: labels.index(p["w"]))
        ],
        corner_label="",
    )
    rmse = {c["w"]: c for c in checks if c["distance"] == "pixel_rmse"}
    title = (
        f"{name}: Figure 6, base models trained with w (top), the adjustable model at "
        "alpha = w (bottom); L ratio: L_w(alpha = w) / L_w(base(w)) over the photos",
        f"{photo}; pixel RMSE to base(w) on this photo, alpha = w / nearest other base: "
        + "; ".join(
            f"{label}: {rmse[label]['this_photo'][0]:.1f} / {rmse[label]['this_photo'][1]:.1f}"
            for label in labels
        ),
    )
    return picture_with_header(grid, [(content, "content"), (style, "style")], title)


def markdown(results):
    """figure6.md: settings, command, the claim, the matrices, per photo."""
    settings, model = results["settings"], results["model"]
    g = harness.format_number
    labels = [b["w"] for b in results["bases"]]
    lines = [
        f"## Figure 6 for `{model['name']}`: alpha = w against base models trained with w",
        "",
        f"Model `{model['name']}` (style `{model['style_image']}`, "
        f"{model['total_steps'] if model['total_steps'] is not None else '?'} training steps "
        f"in all), {len(labels)} base models from `{settings['bases']}`, "
        f"{settings['num_photos']} photos from `{settings['content']}` at "
        f"{settings['image_size']}x{settings['image_size']}, loss network "
        f"{settings['loss_network']} (`{settings['vgg_weights']}`). "
        f"{results['seconds']:.0f} s on {settings['device']}. Produced by:",
        "",
        "    " + results["command"],
        "",
        "| base | w | training steps (all stages) | style image |",
        "|---|---|---:|---|",
    ]
    for b in results["bases"]:
        steps = b["total_steps"] if b["total_steps"] is not None else "?"
        lines.append(f"| `{b['folder']}` | {b['w']} | {steps} | `{b['style_image']}` |")
    lines += [
        "",
        "### The claim",
        "",
        results["criterion"] + ".",
        "",
        "| w | distance | D_adj (median) | min D_base (median) | nearest w' | met | photos |",
        "|---|---|---:|---:|---|:---:|---:|",
    ]
    for c in results["checks"]:
        name = DISTANCE_NAMES[c["distance"]] + ("" if c["in_claim"] else " (not in the claim)")
        lines.append(
            f"| {c['w']} | {name} | {g(c['d_adj_median'])} | {g(c['d_base_min_median'])} | "
            f"{c['nearest_other_base']} | {'yes' if c['met_on_medians'] else 'no'} | "
            f"{c['photos_holding']} of {c['num_photos']} |"
        )
    lines += [
        "",
        f"Distances: **{'hold' if results['claim_holds_distances'] else 'do not hold'}**.",
        "",
        "### Loss parity",
        "",
        results["definitions"]["loss_parity"] + ". " + results["objective"]["note"],
        "",
        "| w | L_w(alpha = w) / L_w(base(w)) | <= "
        f"{PARITY_BOUND:g} | per photo (median) | "
        + " | ".join(f"L_w(base({label})) / L_w(base(w))" for label in labels)
        + " | others worse |",
        "|---|---:|:---:|---:|" + "---:|" * len(labels) + ":---:|",
    ]
    for p in results["loss_parity"]:
        others = ["-" if label == p["w"] else g(p["ratio_other_bases"][label]) for label in labels]
        lines.append(
            f"| {p['w']} | {g(p['ratio_adjustable'])} | {'yes' if p['met_parity'] else 'no'} | "
            f"{g(p['ratio_adjustable_per_photo_median'])} | "
            + " | ".join(others)
            + f" | {'yes' if p['others_worse'] else 'no'} |"
        )
    lines += [
        "",
        f"Loss parity: **{'holds' if results['claim_holds_loss_parity'] else 'does not hold'}**.",
        "",
        f"**claim_holds: {'yes' if results['claim_holds'] else 'no'}**",
        "",
    ]
    for distance in DISTANCES:
        matrix = results["distances"][distance]["median"]
        lines += [
            f"### {DISTANCE_NAMES[distance]}: medians over photos",
            "",
            results["definitions"][distance] + ".",
            "",
            "| | " + " | ".join(f"base({label})" for label in labels) + " |",
            "|---|" + "---:|" * len(labels),
        ]
        for r, row_label in enumerate(results["distances"][distance]["rows"]):
            cells = []
            for c, value in enumerate(matrix[r]):
                text = "-" if r == c else g(value)
                if r == len(labels) + c:  # D_adj: the diagonal of the lower half.
                    text = f"**{text}**"
                cells.append(text)
            lines.append(f"| {row_label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "### Per photo",
        "",
        "D_adj(w) / min over w' of D_base(w, w'), pixel RMSE then Gram distance; "
        "a `*` where D_adj is not the smaller.",
        "",
        "| photo | " + " | ".join(f"w = {label}" for label in labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    n = len(labels)
    for p, photo in enumerate(settings["photos"]):
        cells = []
        for i in range(n):
            parts = []
            for distance in CLAIM_DISTANCES:
                m = np.asarray(results["distances"][distance]["per_photo"][p], np.float64)
                d_adj = m[n + i, i]
                d_base = min(m[i, j] for j in range(n) if j != i)
                parts.append(f"{g(d_adj)} / {g(d_base)}{'' if d_adj < d_base else '*'}")
            cells.append("; ".join(parts))
        lines.append(f"| {photo} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"![Figure 6: base(w) on top, alpha = w below, on {settings['figure_photo']}](figure6.jpg)",
        "",
    ]
    return "\n".join(lines)


def _check(fv):
    harness.check_flags(fv, "figure_photo")
    harness.check_vgg_weights(fv)


def run(fv):
    """Measures on parsed flags `fv`, writes the outputs and returns the results dict."""
    _check(fv)
    started = time.perf_counter()

    # Fail on paths and records before TensorFlow starts.
    given = harness.inputs(fv, "figure_photo")
    model_path, photos, name = given.model_path, given.photos, given.name
    record = model_files.read_record(model_path)
    if record.get("model_type") == "base":
        raise UsageError(
            f"--model={fv.model or model_files.DEFAULT_MODEL} is a base (non-adjustable) "
            "model; pass the adjustable model as --model and the base models in --bases"
        )
    bases_dir = fv.bases or os.path.join(BASES_DIR, name)
    bases = find_bases(bases_dir, record)
    objective = objective_constants(record, bases)

    cli.quiet_tensorflow_import()
    from adjustable_style.model import networks

    loaded = harness.load_models(
        fv.model, model_path, fv.style_image, fv.vgg_weights, fv.style_scale
    )
    style_layers = loaded.style_layers
    stylizers = []
    for entry, path, _, weights in bases:
        stylizer, _ = model_files.load_stylizer(path)
        if networks.is_adjustable(stylizer):
            raise UsageError(
                f"base {os.path.join(bases_dir, entry)} is an adjustable model (it takes "
                "alpha), not a base model"
            )
        if len(weights) != len(style_layers):
            raise UsageError(
                f"base {os.path.join(bases_dir, entry)} has {len(weights)} style weights, "
                f"the adjustable model {len(style_layers)} style layers"
            )
        stylizers.append(stylizer)
    model = PairEvaluator(Evaluator.of(loaded, fv.batch_size), stylizers)
    weights = [b[3] for b in bases]
    labels = [weights_label(w) for w in weights]
    print(
        f"Model {name} ({model_path}): bases {', '.join(labels)} from {bases_dir}; "
        f"{len(photos)} photos at {fv.image_size} px; set-up "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )

    per_photo = {d: [] for d in DISTANCES}
    per_layer, objectives = [], []
    figure_outputs = figure_content = None
    for i, path in enumerate(photos):
        tick = time.perf_counter()
        content = images.load_center_square(path, fv.image_size)
        result = measure_photo(
            model,
            content,
            weights,
            (objective["content_weight"], objective["ema"], objective["normalization"]),
        )
        objectives.append(result["objectives"])
        for d in DISTANCES:
            per_photo[d].append(result["matrices"][d])
        per_layer.append(result["gram_per_layer"])
        if i == fv.figure_photo:
            figure_outputs, figure_content = result["outputs"], content
        n = len(weights)
        rmse = result["matrices"]["pixel_rmse"]
        print(
            f"[{i + 1}/{len(photos)}] {os.path.basename(path)}: pixel RMSE D_adj "
            + ", ".join(f"{labels[k]} {rmse[n + k, k]:.1f}" for k in range(n))
            + f"; {time.perf_counter() - tick:.1f} s",
            flush=True,
        )

    checks = claim_checks({d: per_photo[d] for d in DISTANCES}, labels)
    parity = parity_checks(objectives, labels)
    holds_distances = all(c["met_on_medians"] for c in checks if c["in_claim"])
    holds_parity = all(p["met_parity"] and p["others_worse"] for p in parity)
    # The figure's photo: its own D_adj and nearest other base, per w.
    f = fv.figure_photo
    for c in checks:
        m = per_photo[c["distance"]][f]
        k = labels.index(c["w"])
        c["this_photo"] = [
            float(m[len(labels) + k, k]),
            float(min(m[k, j] for j in range(len(labels)) if j != k)),
        ]
    rows = [f"base({label})" for label in labels] + [f"alpha = {label}" for label in labels]
    columns = [f"base({label})" for label in labels]
    distances = {
        d: {
            "rows": rows,
            "columns": columns,
            "median": np.median(np.stack(per_photo[d]), axis=0).tolist(),
            "per_photo": [m.tolist() for m in per_photo[d]],
        }
        for d in DISTANCES
    }
    layer_medians = np.median(np.stack(per_layer), axis=0)
    distances["gram"]["median_per_layer"] = {
        layer: layer_medians[k].tolist() for k, layer in enumerate(style_layers)
    }
    results = harness.finite_or_none(
        {
            "command": harness.command_line(PROGRAM, fv, ("bases", "max_images", "figure_photo")),
            "claim_holds": holds_distances and holds_parity,
            "claim_holds_distances": holds_distances,
            "claim_holds_loss_parity": holds_parity,
            "criterion": criterion_text(),
            "loss_parity": parity,
            "objective": objective,
            "objectives": {
                "rows": [f"base({label})" for label in labels]
                + [f"alpha = {label}" for label in labels],
                "columns": [f"L_w, w = {label}" for label in labels],
                "mean": np.mean(np.stack(objectives), axis=0).tolist(),
                "per_photo": [o.tolist() for o in objectives],
            },
            "claim_distances": list(CLAIM_DISTANCES),
            "checks": checks,
            "model": {
                "name": name,
                "path": harness.recorded_path(model_path),
                "style_layers": style_layers,
                "content_layer": loaded.spec.content_layer,
                "style_image": os.path.basename(loaded.style_path),
                "style_image_matches_training_record": loaded.same_style,
                "training_steps": record.get("steps"),
                "total_steps": total_steps(record),
            },
            "bases": [
                {
                    "folder": entry,
                    "path": harness.recorded_path(path),
                    "w": weights_label(w),
                    "style_weights": w,
                    "training_steps": r.get("steps"),
                    "total_steps": total_steps(r),
                    "style_image": r.get("style_image"),
                    "loss_normalization": r.get("loss_normalization", "eq8"),
                    "style_image_sha256": r.get("style_image_sha256"),
                }
                for entry, path, r, w in bases
            ],
            "settings": {
                "content": harness.portable_path(fv.content, "HELD_OUT_PHOTOS/"),
                "bases": bases_dir,
                "photos": [os.path.basename(p) for p in photos],
                "num_photos": len(photos),
                "image_size": fv.image_size,
                "figure_photo": os.path.basename(photos[fv.figure_photo]),
                "loss_network": loaded.network,
                "vgg_weights": os.path.basename(fv.vgg_weights),
                "device": harness.device_name(),
            },
            "definitions": {
                "pixel_rmse": "sqrt(mean((x - y)^2)) over pixels and channels, in levels of 255",
                "gram": "mean over the style layers l of ||G_l(x) - G_l(y)||_F^2 / "
                "||G_l(photo) - G_l(style)||_F^2, Grams normalized by H*W*C (the model's style "
                "loss between the two images, over the photo's own style loss); "
                "median_per_layer holds each layer's term",
                "dssim": "1 - SSIM(x, y) (tf.image.ssim, 11 px Gaussian window, sigma 1.5), "
                "not part of claim_holds",
                "D_adj": "d(adjustable(alpha = w), base(w)): the lower half's diagonal",
                "D_base": "d(base(w), base(w')) for w' != w: the upper half off its diagonal",
                "loss_parity": "L_w(x) = content_weight * f_c * L_c(x, photo) + sum_l w_l * "
                "f_l * L_l(x), f_k = sum_i EMA_i / EMA_k (Eq. 8) from the adjustable model's "
                "recorded EMAs, averaged over the photos; the ratios divide by base(w)'s "
                f"L_w; parity holds for w when the adjustable model's ratio is <= "
                f"{PARITY_BOUND:g} and every other base's is > 1",
                "rows": "base(w) for each w, then the adjustable model at alpha = w",
                "columns": "base(w') for each w'",
            },
            "distances": distances,
            "seconds": time.perf_counter() - started,
        }
    )
    report = markdown(results)
    picture = figure(
        figure_outputs,
        labels,
        figure_content,
        loaded.style,
        name,
        os.path.basename(photos[fv.figure_photo]),
        results["checks"],
        results["loss_parity"],
    )

    # Everything is computed: now write.
    harness.write_outputs(
        given.output_dir,
        {"figure6.json": results},
        {"figure6.md": report},
        {"figure6.jpg": picture},
        started,
    )
    return results


main = harness.command_main(run)

if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
