r"""What an alpha map costs over uniform alpha, side by side.

    python benchmarks/alpha_map.py                      # 512 px, 2 threads
    python benchmarks/alpha_map.py --size=1024 --rounds=5

Variants, interleaved round by round so that changes in machine load hit
all alike, each on the same photo and float32 (`FastStylizer`):

- `uniform`: one alpha for the whole image (Lambda cached), the baseline;
- `halves`: a map with the left half at alpha 1 and the right at 0.2 (two
  regions, the common painted case);
- `strokes`: five soft brush strokes of different alphas on a 0.2 ground
  (a few dozen regions where strokes blend into the ground);
- `gradient`: alpha rising smoothly left to right, each layer at its own
  rate (every cell its own region: the worst case);
- `halves exact`: the halves with `--alpha_map_statistics=exact` (two
  extra whole-image passes for the statistics).

Printed: the median seconds per image and each map's time over uniform's,
as the median of per-round ratios (with their range).
"""

import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "The model (default: the default shipped model).")
flags.DEFINE_integer("size", 512, "Long side of the photo, in pixels.")
flags.DEFINE_integer("rounds", 7, "Timed rounds (one image per variant each).")
flags.DEFINE_integer("threads", 2, "CPU threads for TensorFlow.")


def maps(height, width, layers):
    """The benchmark's alpha maps, (1, H, W, L) float32 each, by name."""
    import numpy as np

    halves = np.full((1, height, width, layers), 0.2, np.float32)
    halves[:, :, : width // 2] = 1.0
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    strokes = np.full((1, height, width, layers), 0.2, np.float32)
    rng = np.random.default_rng(0)
    for _ in range(5):
        cy, cx = rng.random(2) * (height, width)
        radius = 0.12 * min(height, width)
        weight = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))[None, ..., None]
        strokes = strokes * (1 - weight) + weight * rng.random(layers).astype(np.float32)
    rates = np.linspace(1.0, 0.5, layers, dtype=np.float32)
    gradient = (xx[None, ..., None] / max(width - 1, 1)) * rates
    return {"halves": halves, "strokes": strokes, "gradient": gradient.astype(np.float32)}


def main(argv):
    del argv
    from adjustable_style import cli, hardware, images, model_files
    from adjustable_style.inference.stylizer import FastStylizer
    from adjustable_style.stylize.options import DEFAULT_CONTENT

    cli.quiet_tensorflow_import()
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    stylizer, _ = model_files.load_stylizer(FLAGS.model)
    fast = FastStylizer(stylizer)
    photo = images.load_image(DEFAULT_CONTENT)
    scale = FLAGS.size / max(photo.shape[:2])
    photo = images.resize_image(
        photo, round(photo.shape[0] * scale), round(photo.shape[1] * scale)
    )[None]
    height, width = photo.shape[1:3]
    layers = len(fast.style_layers)
    uniform = np.full((1, layers), 0.5, np.float32)
    variants = {"uniform": lambda: fast(photo, uniform)}
    for name, alpha_map in maps(height, width, layers).items():
        variants[name] = lambda m=alpha_map: fast.stylize_map(photo, m)
    halves = maps(height, width, layers)["halves"]
    variants["halves exact"] = lambda: fast.stylize_map(photo, halves, exact=True)
    for fn in variants.values():  # Trace and warm up.
        fn()
    times = {name: [] for name in variants}
    names = list(variants)
    for r in range(FLAGS.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)

    print(
        f"{hardware.cpu_name()}, {os.cpu_count()} logical CPUs, {FLAGS.threads} threads; "
        f"TensorFlow {tf.__version__}; {width}x{height}, float32, {FLAGS.rounds} rounds"
    )
    print("\n| variant | s/image | time / uniform (range) |\n| --- | --- | --- |")
    for name in names:
        median = statistics.median(times[name])
        if name == "uniform":
            print(f"| {name} | {median:.3f} | 1 |")
            continue
        ratios = [t / u for t, u in zip(times[name], times["uniform"])]
        print(
            f"| {name} | {median:.3f} | {statistics.median(ratios):.3f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    print(
        f"\nReproduce: python benchmarks/alpha_map.py --size={FLAGS.size} "
        f"--rounds={FLAGS.rounds} --threads={FLAGS.threads}"
        + (f" --model={FLAGS.model}" if FLAGS.model else "")
    )


if __name__ == "__main__":
    app.run(main)
