r"""Seconds per training step of `StyleTransferTrainer` under each Keras backend.

    pip install -e '.[jax]'   # and torch, for its row
    python benchmarks/backend_step.py --size=128 --batch=4 --steps=5

Each backend runs in its own subprocess (Keras fixes its backend at import)
with the same model: the adjustable stylizer, VGG-19 to block4_conv4 with
random weights (speed does not depend on them), Adam, float32, synthetic
content and drawn alphas, through `train_on_batch` (the step `fit` runs:
a `tf.function`, a jit-compiled JAX step, eager torch). Each backend warms
up (tracing, compiling) and then times --steps steps; the table gives the
median seconds per step and the ratio to TensorFlow (above 1: slower). The
subprocesses run one after another, so a machine whose load changes over
the run skews the ratios: compare rows from one quiet run.
"""

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from absl import app, flags

flags.DEFINE_list(
    "backends", ["tensorflow", "jax", "torch"], "Keras backends to time; missing ones are skipped."
)
flags.DEFINE_integer("size", 128, "Content crop size (square).")
flags.DEFINE_integer("batch", 4, "Batch size.")
flags.DEFINE_integer("steps", 5, "Timed steps per backend.")
flags.DEFINE_integer("warmup", 2, "Untimed steps first (tracing, compiling).")
flags.DEFINE_bool(
    "worker", False, "Internal: time the backend of KERAS_BACKEND and print one JSON line."
)
FLAGS = flags.FLAGS


def _time_this_backend():
    import keras
    import numpy as np

    from adjustable_style.model import loss_network, networks
    from adjustable_style.training import trainer

    keras.utils.set_random_seed(0)
    spec = loss_network.default_spec("vgg19")
    vgg = loss_network.build_loss_network(spec, weights="random")
    stylizer = networks.build_adjustable_stylizer(spec.style_layers)
    rng = np.random.default_rng(0)
    style = rng.random((FLAGS.size, FLAGS.size, 3)).astype(np.float32)
    content = rng.random((FLAGS.batch, FLAGS.size, FLAGS.size, 3)).astype(np.float32)
    t = trainer.StyleTransferTrainer(stylizer, vgg, spec, style)
    t.compile(optimizer=keras.optimizers.Adam(1e-3))
    started = time.perf_counter()
    for _ in range(FLAGS.warmup):
        t.train_on_batch(content)
    warmup = time.perf_counter() - started
    times = []
    for _ in range(FLAGS.steps):
        started = time.perf_counter()
        logs = t.train_on_batch(content, return_dict=True)
        float(logs["loss"])  # Waits for asynchronous dispatch (JAX).
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "median": float(np.median(times)),
                "warmup": warmup,
            }
        )
    )


def main(argv):
    del argv
    if FLAGS.worker:
        _time_this_backend()
        return
    import importlib.util

    rows = {}
    for backend in FLAGS.backends:
        if backend != "tensorflow" and importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped")
            continue
        done = subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--worker",
                f"--size={FLAGS.size}",
                f"--batch={FLAGS.batch}",
                f"--steps={FLAGS.steps}",
                f"--warmup={FLAGS.warmup}",
            ],
            env=dict(os.environ, KERAS_BACKEND=backend),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            print(f"{backend}: failed\n{done.stderr[-2000:]}")
            continue
        rows[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"\n{FLAGS.size}x{FLAGS.size} px, batch {FLAGS.batch}, float32, "
        f"{os.cpu_count()} CPUs; median of {FLAGS.steps} steps\n"
    )
    print("| backend | s/step | vs TensorFlow | warm-up s |")
    print("| --- | ---: | ---: | ---: |")
    reference = rows.get("tensorflow", {}).get("median")
    for backend, row in rows.items():
        ratio = f"{row['median'] / reference:.2f}" if reference else "n/a"
        print(f"| {backend} | {row['median']:.3f} | {ratio} | {row['warmup']:.1f} |")


if __name__ == "__main__":
    app.run(main)
