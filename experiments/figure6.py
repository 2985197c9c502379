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
recorded loss EMAs and alpha_c its content weight (`common.
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

PROGRAM = "experiments/figure6.py"
TRAIN_SCRIPT = "experiments/train_figure6_bases.sh"
MATCHED_SCRIPT = "experiments/train_figure6.sh"
BASES_DIR = os.path.join(_HERE, "figure6")
DISTANCES = ("pixel_rmse", "gram", "dssim")
CLAIM_DISTANCES = ("pixel_rmse", "gram")
DISTANCE_NAMES = {
    "pixel_rmse": "pixel RMSE (levels of 255)",
    "gram": "Gram distance (style layers, / photo's)",
    "dssim": "1 - SSIM",
}
FILES = ("figure6.json", "figure6.md", "figure6.jpg")
# Loss parity: the adjustable model at alpha = w may reach at most this
# times base(w)'s objective L_w (YOTO's comparison, with a 10% margin).
PARITY_BOUND = 1.1


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS)."""
    fv = flags.FLAGS if flag_values is None else flag_values
    adj.define_input_flags(fv)
    flags.DEFINE_string(
        "bases",
        None,
        "Folder of base models, one model folder (model.keras + model.json, "
        "--model_type=base) per sub-folder. Default: experiments/figure6/<model name>.",
        flag_values=fv,
    )
    flags.DEFINE_integer("max_images", 0, "Use at most this many photos (0 = all).", flag_values=fv)
    flags.DEFINE_integer(
        "figure_photo",
        0,
        "Which photo (0-based, in sorted order) figure6.jpg shows.",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "batch_size", 8, "Images per forward pass (memory grows with it).", flag_values=fv
    )
    flags.DEFINE_string(
        "output_dir",
        None,
        f"Where {', '.join(FILES)} go. Default: experiments/results/<model name>.",
        flag_values=fv,
    )


# ---------------------------------------------------------------------------
# The base models (records only: no TensorFlow).
# ---------------------------------------------------------------------------


def total_steps(record):
    """Optimizer steps since the first run from scratch, through every warm start."""
    if record.get("total_steps") is not None:
        return int(record["total_steps"])
    if record.get("steps") is None:
        return None
    origin = record.get("init_from")
    before = total_steps(origin) if isinstance(origin, dict) else 0
    return int(record["steps"]) + (before or 0)


def objective_constants(record, bases):
    """The constants of L_w (the adjustable model's), and whether each base shares them.

    Returns {"content_weight", "ema", "normalization", "same_for_all",
    "bases": {folder: {"same": bool, "differs": [what]}}, "note"}. A UsageError
    when the adjustable model's record has no EMAs and Eq. 8 needs them.
    """
    normalization = record.get("loss_normalization", "eq8")
    ema = record.get("ema")
    if normalization == "eq8" and not ema:
        raise UsageError(
            "the adjustable model's model.json has no loss EMAs (ema), so its training "
            "objective L_w is unknown; loss parity needs them"
        )
    content_weight = float(record.get("content_weight", 1.0))
    shared = {}
    for entry, _, theirs, _ in bases:
        differs = []
        their_ema = theirs.get("ema") or []
        if normalization == "eq8" and (
            len(their_ema) != len(ema) or not np.allclose(their_ema, ema, rtol=1e-6, atol=0)
        ):
            differs.append("loss EMAs")
        if float(theirs.get("content_weight", 1.0)) != content_weight:
            differs.append(f"content weight {theirs.get('content_weight', 1.0):g}")
        shared[entry] = {"same": not differs, "differs": differs}
    same = all(b["same"] for b in shared.values())
    if same:
        note = (
            "Every base was trained with these constants: L_w is exactly the objective "
            "base(w) minimized."
        )
    else:
        note = (
            "Not every base was trained with these constants ("
            + "; ".join(
                f"{entry}: {', '.join(b['differs'])}" for entry, b in shared.items() if b["differs"]
            )
            + "): L_w is the adjustable model's objective at alpha = w, not exactly theirs."
        )
    return {
        "content_weight": content_weight,
        "ema": [float(v) for v in ema] if ema else None,
        "normalization": normalization,
        "same_for_all": same,
        "bases": shared,
        "note": note,
    }


def weights_label(weights):
    """'1,0,0' for w = (1, 0, 0)."""
    return ",".join(f"{w:g}" for w in weights)


def find_bases(folder, record):
    """[(name, model path, record, w)] of the base models in `folder`, checked.

    `record` is the adjustable model's. Refuses, in one line each: a missing
    folder or fewer than two bases, an adjustable model among them, a base
    without style weights, or one trained on another style image, other
    style layers or another loss network than the adjustable model, w out
    of [0, 1] or of the wrong length, two bases with the same w.
    """
    hint = (
        f"train them with {TRAIN_SCRIPT} or, with their own adjustable model, "
        f"{MATCHED_SCRIPT} (see docs/figure6.md), or pass --bases"
    )
    if not os.path.isdir(folder):
        raise UsageError(f"no base models: {folder} is not a folder; {hint}")
    found = []
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry, model_files.MODEL_FILE)
        if os.path.isfile(path):
            found.append((entry, path))
    if len(found) < 2:
        raise UsageError(
            f"Figure 6 needs at least 2 base models, {folder} has {len(found)} "
            f"(sub-folders with {model_files.MODEL_FILE}); {hint}"
        )
    ours = {
        "style_sha": record.get("style_image_sha256"),
        "style": record.get("style_image"),
        "layers": record.get("style_layers"),
        "network": record.get("loss_network", "vgg19"),
        # Records from before --loss_normalization existed were Eq. 8's.
        "normalization": record.get("loss_normalization", "eq8"),
    }
    bases = []
    for entry, path in found:
        theirs = model_files.read_record(path)
        where = os.path.join(folder, entry)
        kind = theirs.get("model_type")
        if kind == "adjustable":
            raise UsageError(
                f"base {where} is an adjustable model (model_type adjustable in its "
                f"{model_files.RECORD_FILE}), not a base model; {hint}"
            )
        weights = theirs.get("style_weights")
        if kind != "base" or not weights:
            raise UsageError(
                f"base {where}: its {model_files.RECORD_FILE} has no model_type 'base' with "
                f"style_weights, so its w is unknown; {hint}"
            )
        if ours["style_sha"] and theirs.get("style_image_sha256"):
            same_style = theirs["style_image_sha256"] == ours["style_sha"]
        elif ours["style"] and theirs.get("style_image"):
            same_style = os.path.basename(theirs["style_image"]) == os.path.basename(ours["style"])
        else:
            same_style = True  # Nothing recorded to compare.
        if not same_style:
            raise UsageError(
                f"base {where} was trained on another style image "
                f"({theirs.get('style_image')}, sha256 "
                f"{str(theirs.get('style_image_sha256'))[:12]}) than the adjustable model "
                f"({ours['style']}, sha256 {str(ours['style_sha'])[:12]})"
            )
        if (
            ours["layers"]
            and theirs.get("style_layers")
            and theirs["style_layers"] != ours["layers"]
        ):
            raise UsageError(
                f"base {where} weights the style layers {','.join(theirs['style_layers'])}, "
                f"the adjustable model {','.join(ours['layers'])}"
            )
        if theirs.get("loss_network", "vgg19") != ours["network"]:
            raise UsageError(
                f"base {where} was trained with the loss network "
                f"{theirs.get('loss_network')}, the adjustable model with {ours['network']}"
            )
        if theirs.get("loss_normalization", "eq8") != ours["normalization"]:
            raise UsageError(
                f"base {where} was trained with --loss_normalization="
                f"{theirs.get('loss_normalization')}, the adjustable model with "
                f"{ours['normalization']}: its w weights other losses than alpha does"
            )
        weights = [float(w) for w in weights]
        if ours["layers"] and len(weights) != len(ours["layers"]):
            raise UsageError(
                f"base {where} has {len(weights)} style weights, the adjustable model "
                f"{len(ours['layers'])} style layers"
            )
        if not all(0.0 <= w <= 1.0 for w in weights):
            raise UsageError(
                f"base {where} has style weights {weights_label(weights)}, outside [0, 1] "
                "where alpha lives"
            )
        bases.append((entry, path, theirs, weights))
    seen = {}
    for entry, _, _, weights in bases:
        key = tuple(weights)
        if key in seen:
            raise UsageError(
                f"bases {seen[key]} and {entry} in {folder} have the same style weights "
                f"{weights_label(weights)}"
            )
        seen[key] = entry
    # Each layer alone first, in layer order, then the mixtures.
    bases.sort(key=lambda b: (sum(w > 0 for w in b[3]), [-w for w in b[3]], b[0]))
    return bases


# ---------------------------------------------------------------------------
# Distances and the claim (numpy only).
# ---------------------------------------------------------------------------


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


def objective_matrix(raw_losses, weights, content_weight, ema, normalization):
    """(R, n): L_{w_j} of each of R outputs, from their (R, 1 + L) raw losses."""
    return np.stack(
        [
            common.normalized_objective(raw_losses, w, content_weight, ema, normalization)
            for w in weights
        ],
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


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------


class PairEvaluator:
    """Compiled forward passes: the bases, the adjustable model at alpha = w, Grams.

    The adjustable outputs and the photo's style losses come from
    adjustability.py's Evaluator (the real loss network and the style
    image's Grams); the Grams of any image from its `features`.
    """

    def __init__(self, evaluator, bases):
        import tensorflow as tf

        from adjustable_style.model import losses

        self.evaluator = evaluator
        image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)

        def compiled(stylizer):
            return tf.function(
                lambda images: stylizer(images, training=False), input_signature=[image_spec]
            )

        self._bases = [compiled(stylizer) for stylizer in bases]

        @tf.function(input_signature=[image_spec])
        def grams(batch):
            feats = evaluator.features(batch)
            return [losses.gram_matrix(feats[name]) for name in evaluator.style_layers]

        @tf.function(input_signature=[image_spec, image_spec])
        def ssim(x, y):
            return tf.image.ssim(x, y, max_val=1.0)

        @tf.function(input_signature=[image_spec, tf.TensorSpec(None, tf.float32)])
        def raw_losses(batch, content_features):
            feats = evaluator.features(batch)
            content = losses.content_loss(feats[evaluator.content_layer], content_features)
            return tf.concat([content[:, None], evaluator.style_losses(feats)], axis=1)

        self._grams, self._ssim, self._raw_losses = grams, ssim, raw_losses

    def raw_losses(self, batch, content_features):
        """(N, 1 + L): the content loss against the photo, then each style loss."""
        size = self.evaluator.batch_size
        return np.concatenate(
            [
                self._raw_losses(batch[s : s + size], content_features).numpy()
                for s in range(0, len(batch), size)
            ]
        ).astype(np.float64)

    def outputs(self, content, weights):
        """(2n, H, W, 3): base(w_i)(c) for each i, then adjustable(c; alpha = w_i)."""
        based = [f(content[None]).numpy()[0] for f in self._bases]
        adjusted = self.evaluator.stylize(content, np.asarray(weights, np.float32))
        return np.concatenate([np.stack(based), adjusted]).astype(np.float32)

    def grams(self, batch):
        """One (N, C, C) array per style layer."""
        size = self.evaluator.batch_size
        parts = [
            [g.numpy() for g in self._grams(batch[s : s + size])]
            for s in range(0, len(batch), size)
        ]
        return [np.concatenate(layer) for layer in zip(*parts)]

    def ssim(self, x, y):
        return float(self._ssim(x[None], y[None]).numpy()[0])


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


# ---------------------------------------------------------------------------
# The picture and the report.
# ---------------------------------------------------------------------------


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
    return adj.picture_with_header(grid, [(content, "content"), (style, "style")], title)


def markdown(results):
    """figure6.md: settings, command, the claim, the matrices, per photo."""
    settings, model = results["settings"], results["model"]
    g = adj._g
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


def _command(fv):
    """The command line that reproduces the run (flags that change results)."""
    return adj.command_line(
        PROGRAM,
        fv,
        (
            *adj.INPUT_FLAGS,
            "bases",
            "max_images",
            "figure_photo",
            "output_dir",
        ),
        omit_zero=("max_images", "figure_photo"),
    )


def _check(fv):
    if not fv.content:
        raise UsageError("--content is required: the held-out photos to measure on")
    for name, minimum in (
        ("image_size", adj.MIN_IMAGE_SIZE),
        ("max_images", 0),
        ("figure_photo", 0),
        ("batch_size", 1),
    ):
        if fv[name].value < minimum:
            raise UsageError(f"--{name} must be at least {minimum}, got {fv[name].value}")
    adj.check_vgg_weights(fv)


def main(argv, flag_values=None):
    """The command: measures, then writes the outputs; returns None."""
    cli.check_no_arguments(argv)
    run(flags.FLAGS if flag_values is None else flag_values)


def run(fv):
    """Measures on parsed flags `fv`, writes the outputs and returns the results dict."""
    _check(fv)
    started = time.perf_counter()

    # Fail on paths and records before TensorFlow starts.
    model_path = model_files.resolve_model_path(fv.model or None)
    record = model_files.read_record(model_path)
    if record.get("model_type") == "base":
        raise UsageError(
            f"--model={fv.model or model_files.DEFAULT_MODEL} is a base (non-adjustable) "
            "model; pass the adjustable model as --model and the base models in --bases"
        )
    photos = adj.list_photos(fv, "figure_photo")
    name = adj.model_name(fv.model, model_path)
    bases_dir = fv.bases or os.path.join(BASES_DIR, name)
    bases = find_bases(bases_dir, record)
    objective = objective_constants(record, bases)
    output_dir = fv.output_dir or os.path.join(adj.RESULTS_DIR, name)

    cli.quiet_tensorflow_import()
    from adjustable_style.model import networks

    loaded = adj.load_models(fv.model, model_path, fv.style_image, fv.vgg_weights, fv.style_scale)
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
    evaluator = adj.Evaluator(
        loaded.stylizer,
        loaded.loss_net,
        loaded.spec.content_layer,
        style_layers,
        loaded.style,
        fv.batch_size,
    )
    model = PairEvaluator(evaluator, stylizers)
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
    results = adj._finite_or_none(
        {
            "command": _command(fv),
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
                "path": common.recorded_path(model_path),
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
                    "path": common.recorded_path(path),
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
                "content": fv.content,
                "bases": bases_dir,
                "photos": [os.path.basename(p) for p in photos],
                "num_photos": len(photos),
                "image_size": fv.image_size,
                "figure_photo": os.path.basename(photos[fv.figure_photo]),
                "loss_network": loaded.network,
                "vgg_weights": os.path.basename(fv.vgg_weights),
                "device": adj._device(),
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
    adj.write_outputs(
        output_dir,
        {"figure6.json": results},
        {"figure6.md": report},
        {"figure6.jpg": picture},
        started,
    )
    return results


if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
