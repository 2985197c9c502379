r"""How close is a distilled (lite) stylizer to its teacher? Issue 31's targets.

    python experiments/lite_measures.py --model=STUDENT --teacher=starry_night \
        --content=HELD_OUT_PHOTOS/ --sizes=256,512 \
        --student_results=STUDENT_ADJ/results.json --teacher_results=TEACHER_ADJ/results.json

On every held-out photo (shorter side resized to each of --sizes, centre
cropped square), both models stylize a grid of alphas (every combination of
--grid values, one per style layer), in float32:

1. PSNR of the student's output against the teacher's, per alpha and size
   (target: the median over photos and alphas at least 25 dB at every size,
   and the worst photo's median reported).
2. Each slider's effect kept: the single-layer outputs (one alpha_l = 1, the
   others 0) of each photo, the mean absolute difference of every pair in
   levels of 255, for the student and the teacher; their ratio, student over
   teacher (target: within 20% of 1 for every pair, medians over photos).
3. The style ratios at alpha = 1 (experiments/adjustability.py's first
   measure, read from each model's results.json when given): student over
   teacher per style layer (target: within 15% of 1).
4. `side_by_side.png`: one photo, the teacher's row over the student's, at
   alpha = 1, each layer alone, and 0.

Outputs in --output_dir: lite.json (every number), lite.md (the table and the
reproducing command), side_by_side.png.
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import itertools
import json
import time

import numpy as np
from absl import flags

from adjustable_style import cli, images, model_files
from adjustable_style.cli import UsageError
from experiments import harness
from experiments.measures import mean_abs_levels, pairs, psnr

FILES = ("lite.json", "lite.md", "side_by_side.png")
TARGET_PSNR_DB = 25.0
TARGET_SLIDER_RATIO = 0.20
TARGET_STYLE_RATIO = 0.15


def define_flags(flag_values=None):
    fv = harness.define_run_flags(
        flag_values, FILES, "figure_photo", "Which photo (index) the picture shows.", 8
    )
    flags.DEFINE_string(
        "teacher", None, "The teacher: a shipped name, .keras file or folder.", flag_values=fv
    )
    flags.DEFINE_string("sizes", "256,512", "Square sizes the PSNR is measured at.", flag_values=fv)
    flags.DEFINE_string("grid", "0,0.5,1", "Values of each alpha entry.", flag_values=fv)
    flags.DEFINE_string(
        "student_results", None, "adjustability.py's results.json of the student.", flag_values=fv
    )
    flags.DEFINE_string(
        "teacher_results", None, "adjustability.py's results.json of the teacher.", flag_values=fv
    )
    return fv


def alpha_grid(values, num_layers):
    """(N, L): every combination of `values`, one per layer."""
    return np.array(list(itertools.product(values, repeat=num_layers)), np.float32)


def single_layer_differences(outputs, names):
    """{"a vs b": levels} of the single-layer outputs (one per layer, in order)."""
    return {
        f"{names[i]} vs {names[j]}": mean_abs_levels(outputs[i], outputs[j])
        for i, j in pairs(len(names))
    }


def style_ratio_comparison(student, teacher):
    """{layer: student / teacher} of adjustability.py's median style ratios at alpha = 1."""
    ours, theirs = student["style_at_alpha_1"], teacher["style_at_alpha_1"]
    return {
        layer: ours[layer]["ratio"]["median"] / theirs[layer]["ratio"]["median"]
        for layer in theirs
        if layer in ours
    }


def targets(psnr_by_size, slider_ratios, style_ratios):
    """[(what, value, bound, passed)] against issue 31's targets."""
    rows = [
        (
            f"PSNR vs teacher at {size} px (median, dB)",
            value,
            f">= {TARGET_PSNR_DB:g}",
            value >= TARGET_PSNR_DB,
        )
        for size, value in psnr_by_size.items()
    ]
    for pair, ratio in slider_ratios.items():
        rows.append(
            (
                f"single-layer difference, {pair} (student / teacher)",
                ratio,
                f"1 +- {TARGET_SLIDER_RATIO:g}",
                abs(ratio - 1) <= TARGET_SLIDER_RATIO,
            )
        )
    for layer, ratio in style_ratios.items():
        rows.append(
            (
                f"style ratio at alpha = 1, {layer} (student / teacher)",
                ratio,
                f"1 +- {TARGET_STYLE_RATIO:g}",
                abs(ratio - 1) <= TARGET_STYLE_RATIO,
            )
        )
    return rows


def _read_results(path, flag):
    if not path:
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise UsageError(f"--{flag}={path}: {error}") from None


def run(fv):
    harness.check_flags(fv, "figure_photo")
    harness.check_vgg_weights(fv)
    if not fv.teacher:
        raise UsageError("--teacher is required: the model the student was distilled from")
    started = time.perf_counter()
    found = harness.inputs(fv, "figure_photo")
    teacher_path = model_files.resolve_model_path(fv.teacher)
    sizes = [int(s) for s in fv.sizes.split(",")]
    grid = [float(v) for v in fv.grid.split(",")]
    student_results = _read_results(fv.student_results, "student_results")
    teacher_results = _read_results(fv.teacher_results, "teacher_results")
    cli.quiet_tensorflow_import()
    from adjustable_style.inference.stylizer import FastStylizer
    from adjustable_style.model import networks

    student, record = model_files.load_stylizer(found.model_path)
    teacher, _ = model_files.load_stylizer(teacher_path)
    names = networks.style_layer_names(student)
    if list(networks.style_layer_names(teacher)) != list(names):
        raise UsageError("the student and the teacher weight different style layers")
    fast = {"student": FastStylizer(student), "teacher": FastStylizer(teacher)}
    alphas = alpha_grid(grid, len(names))
    singles = np.eye(len(names), dtype=np.float32)

    def outputs(which, content, batch):
        return np.concatenate(
            [
                fast[which](
                    np.repeat(content[None], len(batch[k : k + fv.batch_size]), 0),
                    batch[k : k + fv.batch_size],
                )
                for k in range(0, len(batch), fv.batch_size)
            ]
        )

    per_photo = {size: [] for size in sizes}
    differences = {"student": [], "teacher": []}
    for index, path in enumerate(found.photos):
        for size in sizes:
            content = images.load_center_square(path, size)
            mse = np.mean(
                (outputs("student", content, alphas) - outputs("teacher", content, alphas)) ** 2,
                axis=(1, 2, 3),
            )
            per_photo[size].append(psnr(mse).tolist())
            if size == sizes[0]:
                for which in differences:
                    differences[which].append(
                        single_layer_differences(outputs(which, content, singles), names)
                    )
        print(f"photo {index + 1}/{len(found.photos)}", flush=True)

    psnr_by_size = {size: float(np.median(per_photo[size])) for size in sizes}
    worst_photo = {size: float(min(np.median(p) for p in per_photo[size])) for size in sizes}
    slider = {
        pair: float(
            np.median([s[pair] for s in differences["student"]])
            / np.median([t[pair] for t in differences["teacher"]])
        )
        for pair in differences["teacher"][0]
    }
    style = (
        style_ratio_comparison(student_results, teacher_results)
        if student_results and teacher_results
        else {}
    )
    rows = targets(psnr_by_size, slider, style)
    command = harness.command_line(
        "experiments/lite_measures.py",
        fv,
        ["teacher", "sizes", "grid", "student_results", "teacher_results", "max_images"],
    )
    results = {
        "command": command,
        "student": {"path": harness.recorded_path(found.model_path), "record": record},
        "teacher": fv.teacher,
        "photos": len(found.photos),
        "alphas": alphas.tolist(),
        "psnr_db": {
            "median": psnr_by_size,
            "worst_photo_median": worst_photo,
            "per_photo": per_photo,
        },
        "single_layer_differences": differences,
        "single_layer_ratio": slider,
        "style_ratio_over_teacher": style,
        "targets": [{"what": w, "value": v, "bound": b, "passed": p} for w, v, b, p in rows],
    }
    report = "\n".join(
        [
            f"Student {found.name} against teacher {fv.teacher}, {len(found.photos)} photos, "
            f"{len(alphas)} alphas",
            "",
            "| measure | value | target | met |",
            "|---|---:|---|---|",
            *(f"| {w} | {v:.3f} | {b} | {'yes' if p else 'no'} |" for w, v, b, p in rows),
            "",
            f"Command: `{command}`",
            "",
        ]
    )
    shown = images.load_center_square(found.photos[fv.figure_photo], sizes[0])
    columns = np.concatenate([np.ones((1, len(names))), singles, np.zeros((1, len(names)))])
    picture = np.concatenate(
        [
            np.concatenate(list(outputs(w, shown, columns.astype(np.float32))), 1)
            for w in ("teacher", "student")
        ]
    )
    harness.write_outputs(
        found.output_dir,
        {"lite.json": results},
        {"lite.md": report},
        {"side_by_side.png": picture},
        started,
    )


PROGRAM = "experiments/lite_measures.py"
main = harness.command_main(run)

if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
