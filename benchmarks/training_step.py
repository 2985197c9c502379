r"""Seconds per training step: ours against the same step written plainly in PyTorch.

    pip install -e '.[bench]'   # or: pip install torch
    python benchmarks/training_step.py --configs=256x8 --rounds=3 --steps=2

For each configuration (crop size x batch) one run builds our adjustable
`StyleTransferTrainer` (its compiled `train_step`, as `fit` runs it) and
`torch_reference.TrainingStep` (the same T with Lambda and conditional
instance norm, VGG-19 to block4_conv4, the same losses and EMA
normalization, Adam; NCHW, no torch.compile), warms both up, then times them
in interleaved rounds (the order alternating between rounds) so that both
see the same machine load. The loss networks have random weights (speed does
not depend on them) and the content is synthetic, so the numbers are the
step itself, not the input pipeline.

The table gives the median seconds per step of each, and the ratio
PyTorch / ours (above 1: ours is faster) as the median of the per-round
ratios, with their range. The headline is float32 against float32;
`--mixed_precision` adds a row for ours under `mixed_bfloat16`, labelled as
such, still against PyTorch in float32. Both frameworks get `--threads`
threads (TensorFlow's intra-op pool; PyTorch's `set_num_threads`).
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from absl import app, flags, logging

flags.DEFINE_list("configs", ["256x8"], "SIZExBATCH entries, e.g. 256x8,128x4.")
flags.DEFINE_integer("steps", 2, "Timed steps per round and contender.")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds.")
flags.DEFINE_integer(
    "warmup", 1, "Untimed steps per contender after building (ours: after tracing and compiling)."
)
flags.DEFINE_enum(
    "jit", "off", ["off", "on", "both"], "Our step compiled without XLA, with it, or both rows."
)
flags.DEFINE_bool(
    "mixed_precision", False, "Add a row for ours under mixed_bfloat16 (not the headline)."
)
flags.DEFINE_integer("threads", os.cpu_count(), "Threads for both frameworks (TF intra-op, torch).")
FLAGS = flags.FLAGS


def _parse_config(entry):
    try:
        size, batch = (int(v) for v in entry.lower().split("x"))
    except ValueError:
        raise app.UsageError(f"--configs entry {entry!r} is not SIZExBATCH") from None
    if size % 4 or size < 32 or batch < 1:
        raise app.UsageError(
            f"--configs entry {entry!r}: size must be a multiple "
            "of 4 and at least 32, batch at least 1"
        )
    return size, batch


class Ours:
    """Our adjustable trainer, stepped with `train_on_batch` on one batch.

    `train_on_batch` runs the same compiled `train_step` as `fit`. Short
    `fit` calls would time more than the step: after its last step each one
    tears down its own dataset iterator, and here that sometimes held a call
    until 10 ms * 2^k after it began (a 1.3 s step read as 2.56 s).
    """

    def __init__(self, size, batch, jit, policy):
        import keras
        import numpy as np

        from adjustable_style.model import loss_network, networks
        from adjustable_style.training import trainer

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            spec = loss_network.default_spec("vgg19")
            vgg = loss_network.build_loss_network(spec, weights="random")
            stylizer = networks.build_adjustable_stylizer(spec.style_layers)
            style = np.random.default_rng(0).random((size, size, 3), np.float32)
            self.trainer = trainer.StyleTransferTrainer(stylizer, vgg, spec, style)
            self.trainer.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
        finally:
            keras.config.set_dtype_policy(previous)
        self.content = np.random.default_rng(1).random((batch, size, size, 3), np.float32)
        # Traces (and with XLA compiles) the step, then warms it up.
        self.run(1 + FLAGS.warmup)

    def run(self, steps):
        for _ in range(steps):
            # Returns the logs as numbers, so the step has finished.
            self.trainer.train_on_batch(self.content)


class Torch:
    """`torch_reference.TrainingStep` on a repeated batch."""

    def __init__(self, size, batch):
        import torch
        import torch_reference

        torch.manual_seed(0)
        self.step = torch_reference.TrainingStep(torch.rand(1, 3, size, size))
        self.content = torch.rand(batch, 3, size, size)
        self.run(FLAGS.warmup)

    def run(self, steps):
        for _ in range(steps):
            self.step(self.content)


def main(argv):
    del argv
    from adjustable_style import hardware

    try:
        import torch
    except ImportError:
        print(
            "benchmarks/training_step.py compares against PyTorch, which is "
            "not installed: pip install torch (or pip install -e '.[bench]')"
        )
        sys.exit(1)
    import keras
    import numpy as np
    import tensorflow as tf

    logging.set_verbosity(logging.ERROR)
    threads = FLAGS.threads
    torch.set_num_threads(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    configs = [_parse_config(entry) for entry in FLAGS.configs]
    jits = {"off": [False], "on": [True], "both": [False, True]}[FLAGS.jit]
    policies = ["float32"] + (["mixed_bfloat16"] if FLAGS.mixed_precision else [])

    print(
        f"CPU: {hardware.cpu_name()}, {os.cpu_count()} cores; {threads} threads each. "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"PyTorch {torch.__version__}. "
        f"Load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )

    contenders = []  # (config, label, runner)
    for size, batch in configs:
        print(f"building PyTorch, {size} px, batch {batch}", flush=True)
        contenders.append(((size, batch), "torch", Torch(size, batch)))
        for policy in policies:
            for jit in jits:
                label = (
                    f"ours {'bfloat16' if policy != 'float32' else 'float32'}, "
                    f"XLA {'on' if jit else 'off'}"
                )
                print(f"building {label}, {size} px, batch {batch}", flush=True)
                contenders.append(((size, batch), label, Ours(size, batch, jit, policy)))

    times = {(config, label): [] for config, label, _ in contenders}
    for r in range(FLAGS.rounds):
        # Alternate the order, so that neither side always runs first.
        for config, label, runner in contenders if r % 2 == 0 else contenders[::-1]:
            start = time.perf_counter()
            runner.run(FLAGS.steps)
            seconds = (time.perf_counter() - start) / FLAGS.steps
            times[(config, label)].append(seconds)
            print(
                f"  round {r + 1}: {label:<24} {config[0]}x{config[1]} {seconds:.2f} s/step",
                flush=True,
            )

    header = (
        f"{'size':>5} {'batch':>5}  {'ours':<22} {'ours s/step':>11} "
        f"{'PyTorch s/step':>14} {'PyTorch/ours':>12}  range"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for config in configs:
        torch_times = np.array(times[(config, "torch")])
        for c, label, _ in contenders:
            if c != config or label == "torch":
                continue
            ours = np.array(times[(config, label)])
            ratios = torch_times / ours
            print(
                f"{config[0]:>5} {config[1]:>5}  {label[5:]:<22} "
                f"{np.median(ours):>11.2f} {np.median(torch_times):>14.2f} "
                f"{np.median(ratios):>12.2f}  {ratios.min():.2f}-{ratios.max():.2f}"
            )
    print(
        f"Load average at the end: "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}. Other busy "
        "processes have slowed PyTorch's OpenMP threads more than "
        "TensorFlow's here: quote ratios from a quiet machine."
    )
    if FLAGS.mixed_precision:
        print(
            "bfloat16 rows: ours under mixed_bfloat16 against PyTorch in float32; "
            "the headline is float32 against float32."
        )
    print(
        "\nReproduce: python benchmarks/training_step.py "
        f"--configs={','.join(FLAGS.configs)} --rounds={FLAGS.rounds} "
        f"--steps={FLAGS.steps} --warmup={FLAGS.warmup} --jit={FLAGS.jit} "
        f"--threads={threads}" + (" --mixed_precision" if FLAGS.mixed_precision else "")
    )


if __name__ == "__main__":
    app.run(main)
