r"""T's architectures side by side: how much faster is a smaller network?

    python benchmarks/architectures.py                    # 320x240, 2 threads
    python benchmarks/architectures.py --candidates=16/32/64x7,16/32/64x5

Each candidate (`W1/W2/W3xN`: the widths after the three downsampling
convolutions and N residual blocks, the 9x9 ends kept) is built with random
weights and run as `stylize.py` runs it, `inference.stylizer.FastStylizer`
at one alpha, batch 1, in float32 and in bfloat16 (where the CPU computes
it natively; see `inference.precision`). Every repetition runs every
variant once in an order that rotates, so changes in machine load hit all
alike; the table gives each candidate's speed over the paper's network as
the median of per-repetition ratios (with their range).

`--depthwise` adds the question of depthwise-separable residual
convolutions: one residual convolution of each width at the residual
blocks' resolution, as a plain 3x3 `conv2d` against a 3x3 depthwise
convolution followed by a 1x1 one (the usual separable replacement), in
float32 and bfloat16.
"""

import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("candidates", ["16/32/64x7", "16/32/64x5", "24/48/96x5"], "W1/W2/W3xN each.")
flags.DEFINE_integer("width", 320, "Image width.")
flags.DEFINE_integer("height", 240, "Image height.")
flags.DEFINE_integer("repeats", 15, "Timed repetitions of every variant.")
flags.DEFINE_integer("warmup", 2, "Untimed calls per variant before timing.")
flags.DEFINE_integer("threads", 2, "CPU threads for TensorFlow.")
flags.DEFINE_bool("depthwise", True, "Also time plain against depthwise-separable 3x3.")
flags.DEFINE_bool("stylizers", True, "Time the whole stylizers (--nostylizers: depthwise only).")
flags.DEFINE_integer("seed", 0, "Seed of the random weights and inputs.")

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


def parse_candidate(text):
    """`Architecture` of "W1/W2/W3xN" (a preset's name also works)."""
    from adjustable_style.model import networks

    if text in networks.ARCHITECTURES:
        return networks.ARCHITECTURES[text]
    widths, _, blocks = text.partition("x")
    return networks.Architecture(
        text, widths=tuple(int(w) for w in widths.split("/")), num_residual_blocks=int(blocks)
    )


def _ratio_cell(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def _run(variants, repeats, warmup):
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in variants}
    names = list(variants)
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _depthwise_variants(tf, np, precisions, rng):
    """Plain 3x3 against depthwise 3x3 + 1x1, per residual width and precision."""
    h, w = FLAGS.height // 4, FLAGS.width // 4
    variants = {}
    for channels in (128, 64):
        for precision in precisions:
            dtype = tf.dtypes.as_dtype(precision)
            # The map is an argument: a constant one would be folded away.
            x = tf.constant(rng.random((1, h + 2, w + 2, channels), np.float32), dtype)
            full = tf.constant(rng.normal(size=(3, 3, channels, channels)), dtype)
            depth = tf.constant(rng.normal(size=(3, 3, channels, 1)), dtype)
            point = tf.constant(rng.normal(size=(1, 1, channels, channels)), dtype)
            plain = tf.function(lambda x, k=full: tf.nn.conv2d(x, k, 1, "VALID"))
            separable = tf.function(
                lambda x, d=depth, p=point: tf.nn.conv2d(
                    tf.nn.depthwise_conv2d(x, d, [1, 1, 1, 1], "VALID"), p, 1, "VALID"
                )
            )
            variants[f"plain {channels} {precision}"] = lambda f=plain, x=x: f(x).numpy()
            variants[f"separable {channels} {precision}"] = lambda f=separable, x=x: f(x).numpy()
    return variants


def _print_stylizers(times, architectures, precisions):
    from adjustable_style.model import networks

    print("Speed over the paper's network in the same precision (median ratio, range)")
    print(f"{'architecture':>14} {'GFLOP':>6} {'channels':>8}", end="")
    for precision in precisions:
        print(f" {precision + ' ms':>12} {precision + ' ratio':>22}", end="")
    print()
    for architecture in architectures:
        flops = architecture.conv_flops(FLAGS.height, FLAGS.width) / 1e9
        line = f"{architecture.name:>14} {flops:>6.1f} {architecture.total_channels:>8}"
        for precision in precisions:
            own = times[(architecture.name, precision)]
            paper = times[(networks.PAPER.name, precision)]
            ratios = [p / t for p, t in zip(paper, own)]
            line += f" {1000 * statistics.median(own):>12.1f} {_ratio_cell(ratios):>22}"
        print(line)


def main(argv):
    del argv
    from adjustable_style import cli

    cli.quiet_tensorflow_import()
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    from adjustable_style import hardware
    from adjustable_style.inference.stylizer import FastStylizer
    from adjustable_style.model import networks

    precisions = ["float32"] + (["bfloat16"] if hardware.native_bfloat16_flags() else [])
    architectures = [networks.PAPER] + [parse_candidate(c) for c in FLAGS.candidates]
    keras.utils.set_random_seed(FLAGS.seed)
    rng = np.random.default_rng(FLAGS.seed)
    content = rng.random((1, FLAGS.height, FLAGS.width, 3), np.float32)
    alpha = rng.random((1, len(STYLE_LAYERS)), np.float32)
    variants = {}
    for architecture in architectures if FLAGS.stylizers else ():
        model = networks.build_adjustable_stylizer(STYLE_LAYERS, architecture=architecture)
        for precision in precisions:
            fast = FastStylizer(model, precision)
            variants[(architecture.name, precision)] = lambda f=fast: f(content, alpha)
    print(
        f"{hardware.cpu_name()}, {os.cpu_count()} logical CPUs, {FLAGS.threads} threads; "
        f"TensorFlow {tf.__version__}; {FLAGS.width}x{FLAGS.height}, batch 1, "
        f"{FLAGS.repeats} repetitions; precisions {', '.join(precisions)}\n",
        flush=True,
    )
    if variants:
        _print_stylizers(_run(variants, FLAGS.repeats, FLAGS.warmup), architectures, precisions)

    if FLAGS.depthwise:
        times = _run(_depthwise_variants(tf, np, precisions, rng), FLAGS.repeats, FLAGS.warmup)
        print(
            f"\nOne residual convolution at {FLAGS.width // 4}x{FLAGS.height // 4}: "
            "plain 3x3 over depthwise 3x3 + 1x1 (above 1: the separable one is faster)"
        )
        for channels in (128, 64):
            for precision in precisions:
                plain = times[f"plain {channels} {precision}"]
                separable = times[f"separable {channels} {precision}"]
                ratios = [p / s for p, s in zip(plain, separable)]
                print(
                    f"{channels:>4} channels {precision:>8}: plain "
                    f"{1000 * statistics.median(plain):.2f} ms, separable "
                    f"{1000 * statistics.median(separable):.2f} ms, ratio {_ratio_cell(ratios)}"
                )
    print(
        "\nReproduce: python benchmarks/architectures.py "
        f"--candidates={','.join(FLAGS.candidates)} --width={FLAGS.width} "
        f"--height={FLAGS.height} --repeats={FLAGS.repeats} --threads={FLAGS.threads} "
        f"--depthwise={str(FLAGS.depthwise).lower()} "
        f"--stylizers={str(FLAGS.stylizers).lower()} --seed={FLAGS.seed}"
    )


if __name__ == "__main__":
    app.run(main)
