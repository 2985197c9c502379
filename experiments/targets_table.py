r"""One targets table from several adjustability.py runs, a column per run.

    python experiments/targets_table.py experiments/results/probes/layers/training \
        experiments/results/probes/layers/long512 [...] [--output=table.md]

Each argument is a folder holding a results.json of experiments/adjustability.py
(or the file itself). Rows are the targets, in the order the first run lists
them, with each style layer named by its position (L1 the shallowest), so
models with other layer sets line up; a cell is the measured median, in bold where the target is missed. The
column heading names the model, the style scale and the image size, so runs
of one model at both style scales and both sizes sit side by side.
"""

import json
import os
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("output", None, "Also write the table to this Markdown file.")


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "results.json")
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise app.UsageError(f"{path}: not a readable results.json ({error})") from None


def heading(results):
    model, settings = results["model"], results["settings"]
    return (
        f"{model['name']}, style {model.get('style_scale', 'training')}, "
        f"{settings['image_size']} px"
    )


def cell(target):
    value = target["value"]
    text = "n/a" if value is None else f"{value:.3g}"
    return text if target["met"] else f"**{text}**"


def by_position(results):
    """{target with each style layer's name as its position (L1, L2, ...): target}.

    Runs of models with other layer sets then line up: the first style
    layer's row beside the first's.
    """
    layers = results["model"]["style_layers"]
    keyed = {}
    for target in results["targets"]:
        what = target["what"]
        for index, layer in enumerate(layers):
            what = what.replace(layer, f"L{index + 1}")
        keyed[what] = target
    return keyed


def table(runs):
    by_run = [by_position(results) for results in runs]
    rows = list(by_run[0])
    lines = [
        "| target | goal | " + " | ".join(heading(r) for r in runs) + " |",
        "|---|---:|" + "---:|" * len(runs),
        "| style layers L1, L2, L3 | | "
        + " | ".join(", ".join(r["model"]["style_layers"]) for r in runs)
        + " |",
    ]
    for what in rows:
        goal = by_run[0][what]["target"]
        cells = [cell(targets[what]) if what in targets else "-" for targets in by_run]
        lines.append(f"| {what} | {goal} | " + " | ".join(cells) + " |")
    met = [sum(t["met"] for t in results["targets"]) for results in runs]
    totals = [f"{m} of {len(r['targets'])}" for m, r in zip(met, runs)]
    lines.append("| targets met | | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("give one or more results folders (or results.json files)")
    text = table([load(path) for path in argv[1:]])
    sys.stdout.write(text)
    if FLAGS.output:
        with open(FLAGS.output, "w") as file:
            file.write(text)


if __name__ == "__main__":
    app.run(main)
