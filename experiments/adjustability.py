r"""Does alpha adjust the style? The paper's claims, measured with the real VGG-19.

    python experiments/adjustability.py --content=photos/ \
        --vgg_weights=vgg19.weights.h5 [--model=starry_night] [--image_size=256]

On every held-out content photo c (resized so the shorter side is
--image_size, then centre-cropped square), with the stylizer called as
T(c; alpha) and the losses of the loss network the model was trained with:

1. Style at alpha = 1 (every layer): per style layer l, the style loss
   L_l(T(c; 1)) against the style loss of the unstylized photo L_l(c). The
   ratio says how much of the photo's Gram distance to the style the
   stylizer removes; it should be far below 1.
2. Content at alpha = 0 (every layer): the only remaining objective is the
   content loss, so T(c; 0) should reconstruct c: its content loss (and, for
   reference, the content loss at alpha = 1) and PSNR(T(c; 0), c) in dB.
3. The paper's Figure 7: for each style layer l, alpha_l goes from 0 to 1 in
   --steps steps while the other layers stay at 0, and again with the others
   at 1. L_l should fall as alpha_l grows. Each photo's curve is divided by
   its value at alpha_l = 0; `figure7.png` plots the median over photos with
   the 25-75% band, and the Spearman rank correlation between alpha_l and L_l
   is reported pooled over all photos' (normalized) points and as the median
   of the per-photo correlations. Strongly negative means "more alpha_l, less
   style loss at layer l", i.e. the knob does what it says.
4. The paper's Figure 3, in numbers: the single-layer outputs (one
   alpha_l = 1, the others 0) of each photo. How different they are: the
   mean absolute difference of every pair, in levels of 255. How large
   their style elements are: the residual output - photo (grey), its power
   spectrum's power-weighted mean spatial frequency f, and the element size
   1 / f in pixels. The paper shows deeper layers giving larger elements.
5. `sweep.png`: Figure 3 for one photo, a row per style layer whose alpha
   goes 0 -> 1 across --sweep_steps columns, the others at 0.
6. The targets: each figure above against the threshold the project holds
   its shipped models to (TARGETS), passed or not, in results.md.

Outputs in --output_dir (default experiments/results/<model name>):
results.json (every number, per photo too), results.md (Markdown tables for
the README, with the command that produced them), figure7.png, sweep.png.
Nothing is written until everything has been computed.

Forward passes are batched: the distinct alphas one photo needs (the
Figure 7 curves share their end points) run --batch_size at a time through
the stylizer and the loss network in one compiled function. Plots are drawn
with Pillow, so the script needs nothing beyond the package's dependencies.
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import os
import time

import numpy as np
from absl import flags

from adjustable_style import cli, images
from experiments import harness
from experiments.adjustability_measures import check_targets, measure_photo, over_photos
from experiments.evaluators import Evaluator
from experiments.plots import plot_figure7, sweep_picture

PROGRAM = "experiments/adjustability.py"
FILES = ("results.json", "results.md", "figure7.png", "sweep.png")


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS).

    Only the command (or a test, on its own FlagValues) defines them, so
    importing this module never clashes with other commands' flags.
    """
    fv = harness.define_run_flags(
        flag_values,
        FILES,
        "sweep_photo",
        "Which photo (0-based, in sorted order) sweep.png shows.",
        batch_size=11,
    )
    flags.DEFINE_integer(
        "steps", 11, "Values of alpha_l from 0 to 1 on each Figure 7 curve.", flag_values=fv
    )
    flags.DEFINE_integer(
        "sweep_steps", 5, "Columns of sweep.png (alpha_l from 0 to 1).", flag_values=fv
    )


def markdown(results):
    """results.md: the settings, the command and a table per measurement."""
    settings, model = results["settings"], results["model"]
    layers = model["style_layers"]
    g = harness.format_number
    lines = [
        f"## Adjustability of `{model['name']}` on held-out photos",
        "",
        f"Model `{model['name']}` (style `{model['style_image']}`, "
        f"{model['training_steps'] if model['training_steps'] is not None else '?'} "
        f"training steps), {settings['num_photos']} photos from "
        f"`{settings['content']}` at {settings['image_size']}x"
        f"{settings['image_size']}, style Grams at {model.get('style_scale', 'training')} "
        f"({model['style_image_size']} px on the shorter side), loss network "
        f"{settings['loss_network']} "
        f"(`{settings['vgg_weights']}`), content layer "
        f"`{model['content_layer']}`. {results['seconds']:.0f} s on "
        f"{settings['device']}. Produced by:",
        "",
        "    " + results["command"],
        "",
        "### Targets (medians over photos)",
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|:---:|",
    ]
    for t in results["targets"]:
        lines.append(
            f"| {t['what']} | {g(t['value'])} | {t['target']} | {'yes' if t['met'] else 'no'} |"
        )
    met = sum(t["met"] for t in results["targets"])
    lines += [
        "",
        f"{met} of {len(results['targets'])} targets met.",
        "",
        "### Style at alpha = 1: style loss of the output relative to the photo's",
        "",
        "Per style layer l, L_l(T(c; alpha=1)) / L_l(c): the stylized image's "
        "Gram distance to the style as a fraction of the unstylized photo's "
        "(below 1: closer to the style than the photo).",
        "",
        "| style layer | median ratio | mean ratio | min | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in layers:
        r = results["style_at_alpha_1"][name]["ratio"]
        lines.append(
            f"| `{name}` | {g(r['median'])} | {g(r['mean'])} | {g(r['min'])} | {g(r['max'])} |"
        )
    c = results["content_at_alpha_0"]
    lines += [
        "",
        "### Content at alpha = 0: how close the output stays to the photo",
        "",
        f"Content loss L_c(T(c; alpha), c) at `{model['content_layer']}` "
        "(mean squared feature difference) and PSNR(T(c; alpha), c), with "
        "alpha the same for every style layer; medians (means) over photos.",
        "",
        "| alpha (all layers) | content loss | PSNR vs photo (dB) |",
        "|---:|---:|---:|",
    ]
    for a in ("0", "1"):
        loss, db = c[f"content_loss_alpha{a}"], c[f"psnr_db_alpha{a}"]
        lines.append(
            f"| {a} | {g(loss['median'])} ({g(loss['mean'])}) | "
            f"{db['median']:.2f} ({db['mean']:.2f}) |"
        )
    f7 = results["figure7"]
    lines += [
        "",
        "### Figure 7: each layer's style loss as its alpha grows",
        "",
        f"alpha_l goes 0 -> 1 in {settings['steps']} steps, the other layers "
        "fixed at 0 or at 1. End ratio: L_l at alpha_l = 1 over L_l at "
        "alpha_l = 0, median [25%, 75%] over photos. Spearman's rank "
        "correlation between alpha_l and L_l, pooled over all photos' points "
        "(each photo's curve divided by its value at alpha_l = 0) and the "
        "median of the per-photo correlations; -1 = L_l falls at every step.",
        "",
        "| style layer | others | end ratio | Spearman (pooled) | Spearman (median per photo) |",
        "|---|---:|---:|---:|---:|",
    ]
    for others in ("0", "1"):
        for name in layers:
            s = f7[f"others_{others}"][name]
            end = s["end_ratio"]
            q25, q75 = s["normalized_q25"][-1], s["normalized_q75"][-1]
            lines.append(
                f"| `{name}` | {others} | {g(end['median'])} "
                f"[{g(q25)}, {g(q75)}] | {s['spearman_pooled']:+.3f} | "
                f"{s['spearman_per_photo_median']:+.3f} |"
            )
    f3 = results["figure3"]
    lines += [
        "",
        "### Figure 3 in numbers: the single-layer outputs",
        "",
        "One alpha_l = 1, the others 0. Mean absolute difference of each pair "
        "of outputs (levels of 255), and the size of the style elements each "
        "adds: 1 / the power-weighted mean spatial frequency of output - "
        "photo (grey), in pixels. Medians [min, max] over photos.",
        "",
        "| pair | mean absolute difference |",
        "|---|---:|",
    ]
    for pair, v in f3["differences"].items():
        lines.append(f"| {pair} | {g(v['median'])} [{g(v['min'])}, {g(v['max'])}] |")
    lines += ["", "| layer alone | element size (px) |", "|---|---:|"]
    for layer, v in f3["element_size_px"].items():
        lines.append(f"| `{layer}` | {g(v['median'])} [{g(v['min'])}, {g(v['max'])}] |")
    lines += [
        "",
        "Deeper layers give larger elements (median sizes increasing with "
        f"depth): {'yes' if f3['deeper_layers_larger_elements'] else 'no'}.",
        "",
        "### Each slider with the others at 1",
        "",
        "alpha_l goes 1 -> 0 while the other sliders stay at 1: how much the "
        "output changes (mean absolute difference, levels of 255) and the "
        "layer's own style loss at alpha_l = 0 over its loss at 1 (above 1: "
        "switching the slider off gives up that layer's style). Medians "
        "[min, max] over photos.",
        "",
        "| slider | output change (levels) | own loss, off / on |",
        "|---|---:|---:|",
    ]
    for layer, v in results["others_at_1"].items():
        levels, ratio = v["levels"], v["own_loss_ratio"]
        lines.append(
            f"| `{layer}` | {g(levels['median'])} [{g(levels['min'])}, {g(levels['max'])}] "
            f"| {g(ratio['median'])} [{g(ratio['min'])}, {g(ratio['max'])}] |"
        )
    shift = c["chroma_shift_alpha0"]
    lines += [
        "",
        f"Colour shift at alpha = 0 (distance of the mean (Cb, Cr) from the "
        f"photo's, levels): median {g(shift['median'])} [{g(shift['min'])}, "
        f"{g(shift['max'])}].",
        "",
        "![Figure 7: normalized style loss per layer against its alpha](figure7.png)",
        "",
        f"![Figure 3: one style layer's alpha going 0 -> 1 per row, others "
        f"at 0, on {settings['sweep_photo']}](sweep.png)",
        "",
    ]
    return "\n".join(lines)


def run(fv):
    """Runs every measurement on parsed flags `fv`, writes the outputs and
    returns the results dict (what results.json holds)."""
    harness.check_flags(fv, "sweep_photo", (("steps", 2), ("sweep_steps", 2)))
    started = time.perf_counter()
    given = harness.inputs(fv, "sweep_photo")  # Fails on paths before TensorFlow starts.
    model_path, photos, name = given.model_path, given.photos, given.name

    cli.quiet_tensorflow_import()
    loaded = harness.load_models(
        fv.model, model_path, fv.style_image, fv.vgg_weights, fv.style_scale
    )
    record, style_layers = loaded.record, loaded.style_layers
    network, spec = loaded.network, loaded.spec
    style_path, style_size, style = loaded.style_path, loaded.style_size, loaded.style
    same_style = loaded.same_style
    evaluator = Evaluator.of(loaded, fv.batch_size)
    setup_seconds = time.perf_counter() - started
    print(
        f"Model {name} ({model_path}): alpha over {', '.join(style_layers)}; "
        f"style {style_path} at {style_size} px; {len(photos)} photos at "
        f"{fv.image_size} px; set-up {setup_seconds:.1f} s",
        flush=True,
    )

    num_layers = len(style_layers)
    per_photo = []
    contents = []
    for i, path in enumerate(photos, start=1):
        tick = time.perf_counter()
        content = images.load_center_square(path, fv.image_size)
        contents.append(content)
        per_photo.append(measure_photo(evaluator, content, num_layers, fv.steps))
        print(
            f"[{i}/{len(photos)}] {os.path.basename(path)}: {time.perf_counter() - tick:.1f} s",
            flush=True,
        )

    # 1-5: style at alpha = 1, content at alpha = 0, Figures 7 and 3, the sliders.
    sections = over_photos(per_photo, style_layers, fv.steps)
    targets = check_targets(style_layers, *sections.values())
    figure7 = sections["figure7"]
    alphas = np.array(figure7["alphas"])

    # 6. The Figure 3 sweep on one photo.
    from adjustable_style import alpha_vectors as alpha_lib

    sweep_values = np.linspace(0.0, 1.0, fv.sweep_steps)
    sweep = np.concatenate(
        [alpha_lib.sweep_alphas(num_layers, k, fv.sweep_steps) for k in range(num_layers)], axis=0
    )
    sweep_content = contents[fv.sweep_photo]
    cells = evaluator.stylize(sweep_content, sweep).reshape(
        (num_layers, fv.sweep_steps) + sweep_content.shape
    )

    seconds = time.perf_counter() - started
    results = {
        "command": harness.command_line(
            PROGRAM, fv, ("steps", "sweep_steps", "sweep_photo", "max_images")
        ),
        "model": {
            "name": name,
            "path": harness.portable_path(model_path, "MODEL"),
            "style_layers": style_layers,
            "content_layer": spec.content_layer,
            "style_image": os.path.basename(style_path),
            "style_image_size": style_size,
            "style_scale": fv.style_scale,
            "style_image_matches_training_record": same_style,
            "training_steps": record.get("steps"),
        },
        "settings": {
            "content": harness.portable_path(fv.content, "HELD_OUT_PHOTOS/"),
            "photos": [os.path.basename(p) for p in photos],
            "num_photos": len(photos),
            "image_size": fv.image_size,
            "steps": fv.steps,
            "sweep_steps": fv.sweep_steps,
            "sweep_photo": os.path.basename(photos[fv.sweep_photo]),
            "loss_network": network,
            "vgg_weights": os.path.basename(fv.vgg_weights),
            "device": harness.device_name(),
        },
        **sections,
        "targets": targets,
        "all_targets_met": all(t["met"] for t in targets),
        "seconds": seconds,
    }
    results = harness.finite_or_none(results)
    report = markdown(results)

    # Everything is computed: now write, each file atomically.
    figure = plot_figure7(
        alphas,
        [
            (
                f"other layers' alpha = {others}",
                {
                    layer: tuple(
                        np.array(figure7[f"others_{others}"][layer][key])
                        for key in ("normalized_median", "normalized_q25", "normalized_q75")
                    )
                    for layer in style_layers
                },
            )
            for others in (0, 1)
        ],
        style_layers,
        f"{name}: style loss L_l at layer l as alpha_l goes 0 -> 1",
        f"median over {len(photos)} held-out photos (band: 25-75%), each "
        f"photo's curve divided by its value at alpha_l = 0",
    )
    picture = sweep_picture(
        sweep_content,
        style,
        cells,
        style_layers,
        sweep_values,
        (
            f"{name}: alpha_l of one style layer 0 -> 1 per row, the others at 0",
            os.path.basename(photos[fv.sweep_photo]),
        ),
    )
    harness.write_outputs(
        given.output_dir,
        {"results.json": results},
        {"results.md": report},
        {"figure7.png": figure, "sweep.png": picture},
        started,
    )
    return results


main = harness.command_main(run)

if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
