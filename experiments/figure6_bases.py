"""Figure 6's base models, from their records (no TensorFlow): which models
in --bases to compare with, checked against the adjustable model's record,
their style weights w, step budgets, and whether they were trained with the
constants of the objective L_w that loss parity compares under.

Apart from figure6.py so that a refusal (a base on another style image,
two bases with one w) reads as one rule each, before any model loads.
"""

import os

import numpy as np

from adjustable_style import model_files
from adjustable_style.cli import UsageError

TRAIN_SCRIPT = "experiments/train_figure6_bases.sh"
MATCHED_SCRIPT = "experiments/train_figure6.sh"


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
