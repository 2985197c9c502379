r"""Does the output at alpha = 0 follow the photo's colour? A probe.

    python experiments/probe_zero_alpha_color.py --model=starry_night \
        --content=HELD_OUT_PHOTOS/ [--max_images=5] [--output=probe.md]

Each photo (shorter side 256 px, centre-cropped square) is stylized at
alpha = 0 as it is and tinted warmer and cooler (red x1.15 and blue x0.85,
and the reverse). If the network passed the photo's colour through, the
output's mean chroma (Cb, Cr, levels of 255) would move with the input's;
the table gives, per photo, both and the fraction of the input's change
that reaches the output (the "follow" column: 1 passes it through, 0 paints
the same mean colour whatever the photo's). T's instance norms remove each
channel's mean at every layer, which predicts a fraction near 0.
"""

import glob
import os

import numpy as np
from absl import app, flags

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "model", "starry_night", "A shipped model's name, a .keras file or a run folder."
)
flags.DEFINE_string("content", None, "A folder of photos.", required=True)
flags.DEFINE_integer("max_images", 5, "Use at most this many photos.")
flags.DEFINE_string("output", None, "Also write the table to this Markdown file.")

TINTS = {"warmer": (1.15, 1.0, 0.85), "cooler": (0.85, 1.0, 1.15)}


def mean_chroma(image):
    from adjustable_style import color

    mean = np.reshape(image, (-1, 3)).mean(axis=0)
    return 255.0 * np.asarray(color.ycbcr(mean))[1:]


def main(argv):
    del argv
    from adjustable_style import images
    from adjustable_style.inference import runtime

    photos = sorted(glob.glob(os.path.join(FLAGS.content, "*")))[: FLAGS.max_images]
    if not photos:
        raise app.UsageError(f"--content={FLAGS.content}: no photos there")
    model = runtime.load_model(FLAGS.model)
    zero = np.zeros(model.num_layers, np.float32)
    rows = [
        "| photo | input (Cb, Cr) | output (Cb, Cr) | warmer: input -> output | "
        "cooler: input -> output | follow |",
        "|---|---|---|---|---|---:|",
    ]
    follows = []
    for path in photos:
        photo = images.load_center_square(path, 256)
        cells, moves_in, moves_out = [], [], []
        base_in, base_out = mean_chroma(photo), mean_chroma(model.stylize(photo, zero)[0])
        for tint in TINTS.values():
            tinted = np.clip(photo * np.asarray(tint, np.float32), 0.0, 1.0)
            chroma_in, chroma_out = mean_chroma(tinted), mean_chroma(model.stylize(tinted, zero)[0])
            cells.append(f"{np.round(chroma_in, 1)} -> {np.round(chroma_out, 1)}")
            moves_in.append(chroma_in - base_in)
            moves_out.append(chroma_out - base_out)
        moves_in, moves_out = np.concatenate(moves_in), np.concatenate(moves_out)
        follow = float(moves_out @ moves_in / (moves_in @ moves_in))
        follows.append(follow)
        rows.append(
            f"| {os.path.basename(path)} | {np.round(base_in, 1)} | {np.round(base_out, 1)} | "
            f"{cells[0]} | {cells[1]} | {follow:.2f} |"
        )
    rows.append(f"| median | | | | | {np.median(follows):.2f} |")
    table = "\n".join(rows) + "\n"
    print(table)
    if FLAGS.output:
        with open(FLAGS.output, "w") as file:
            file.write(f"`{FLAGS.model}` at alpha = 0, {len(photos)} photos\n\n" + table)


if __name__ == "__main__":
    app.run(main)
