"""Inference speed: the adjustable stylizer against the base network.

    python benchmarks/inference.py                       # 256, 512, 1024 px
    python benchmarks/inference.py --sizes=512 --repeats=20 --jit=off

The paper reports 47.5 fps with the alpha network Lambda against 52.0 fps
without it (GeForce 1080, Table 3). Lambda is a small MLP that runs once per
alpha, (B, L) -> (B, 4230) gammas and betas, not once per pixel, so its
cost should vanish next to the convolutions; the CIN layers then do the same
arithmetic as the base model's instance norm, with per-sample instead of
shared gamma and beta.

Method: both models (random weights: speed does not depend on them) are
compiled with `tf.function` (and, with --jit, XLA), warmed up, and then timed
side by side: each repetition runs every variant once, in an order that
rotates between repetitions, so drifts in machine load hit all of them
alike. The table shows the median over repetitions as images per second,
and the throughput ratio adjustable / base (1.00 = no overhead) as the
median of the per-repetition ratios, each taken from two back-to-back runs,
with their range: pairing cancels most of what other processes on the
machine add. The `Lambda` column is the alpha network alone, per batch.
"""

import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_list("sizes", ["256", "512", "1024"], "Square image sizes in pixels.")
flags.DEFINE_integer("batch_size", 1, "Images per forward pass.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions per variant (median is shown).")
flags.DEFINE_integer("warmup", 1, "Untimed calls per variant after compiling.")
flags.DEFINE_enum("jit", "both", ["off", "on", "both"],
                  "tf.function without XLA, with XLA (jit_compile=True), or both.")
flags.DEFINE_integer("seed", 0, "Seed of the random weights and inputs.")

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


def _timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    result.numpy()  # Waits for the device.
    return time.perf_counter() - start


def main(argv):
    del argv
    from adjustable_style import stylize

    stylize.quiet_tensorflow_import()
    import keras
    import numpy as np
    import tensorflow as tf

    from adjustable_style import networks

    sizes = [int(s) for s in FLAGS.sizes]
    jit_modes = {"off": [False], "on": [True], "both": [False, True]}[FLAGS.jit]
    keras.utils.set_random_seed(FLAGS.seed)
    adjustable = networks.build_adjustable_stylizer(STYLE_LAYERS)
    base = networks.build_base_stylizer()
    alpha_network = adjustable.get_layer("alpha_network")

    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
              if gpus else f"CPU ({os.cpu_count()} cores visible)")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {device}; "
          f"batch {FLAGS.batch_size}, median of {FLAGS.repeats}")
    print()
    header = (f"{'size':>6} {'XLA':>4} {'adjustable img/s':>17} {'base img/s':>11} "
              f"{'adj/base':>9} {'(range)':>13} {'Lambda ms':>10}")
    print(header)
    print("-" * len(header))

    rng = np.random.default_rng(FLAGS.seed)
    for size in sizes:
        content = tf.constant(rng.random((FLAGS.batch_size, size, size, 3), np.float32))
        alpha = tf.constant(rng.random((FLAGS.batch_size, len(STYLE_LAYERS)), np.float32))
        for jit in jit_modes:
            variants = {
                "adjustable": (tf.function(
                    lambda c, a: adjustable([c, a], training=False),
                    jit_compile=jit), (content, alpha)),
                "base": (tf.function(lambda c: base(c, training=False),
                                     jit_compile=jit), (content,)),
                "lambda": (tf.function(lambda a: alpha_network(a),
                                       jit_compile=jit), (alpha,)),
            }
            for fn, args in variants.values():
                for _ in range(1 + FLAGS.warmup):
                    _timed(fn, *args)
            times = {name: [] for name in variants}
            names = list(variants)
            for rep in range(FLAGS.repeats):
                shift = rep % len(names)
                for name in names[shift:] + names[:shift]:
                    fn, args = variants[name]
                    times[name].append(_timed(fn, *args))
            median = {name: statistics.median(t) for name, t in times.items()}
            adj_ips = FLAGS.batch_size / median["adjustable"]
            base_ips = FLAGS.batch_size / median["base"]
            ratios = [b / a for a, b in zip(times["adjustable"], times["base"])]
            spread = f"({min(ratios):.2f}-{max(ratios):.2f})"
            print(f"{size:>6} {'on' if jit else 'off':>4} {adj_ips:>17.2f} "
                  f"{base_ips:>11.2f} {statistics.median(ratios):>9.3f} {spread:>13} "
                  f"{1000 * median['lambda']:>10.3f}", flush=True)

    print()
    command = " ".join(["python benchmarks/inference.py"] + [
        f"--sizes={','.join(map(str, sizes))}", f"--batch_size={FLAGS.batch_size}",
        f"--repeats={FLAGS.repeats}", f"--warmup={FLAGS.warmup}",
        f"--jit={FLAGS.jit}", f"--seed={FLAGS.seed}"])
    print(f"Reproduce: {command}")


if __name__ == "__main__":
    app.run(main)
