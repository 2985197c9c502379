r"""What a deployment gets: each export against PyTorch, side by side.

    python benchmarks/exports.py                          # 256 and 512 px
    python benchmarks/exports.py --sizes=256,512,1024 --repeats=5 --threads=2

A shorter run than `benchmarks/inference.py`, for the exports alone: the
adjustable model (random weights; speed does not depend on them) is
exported by the export code itself, loaded back as a user would, and timed
at batch 1, alpha fixed, against the plain PyTorch network
(`benchmarks/torch_reference.py`, `torch.inference_mode`):

- `saved_model`: `tf.saved_model.load(...)(content, alpha)`;
- `onnxruntime`: the `export/onnx.py` file in onnxruntime's CPU provider;
- `tflite`: the `export/tflite.py` file in the TFLite interpreter, at
  `--tflite_size` only;
- `fast`: `inference.stylizer.FastStylizer`, what `stylize.py` runs;
- `fast_bfloat16`: the same with its convolutions in bfloat16 (what
  `stylize.py --precision=auto` picks), only on a CPU with native
  bfloat16 (AMX or AVX512_BF16), against PyTorch in float32.

Every repetition runs each variant once, in a new random order, with a
short pause before each call (so that one runtime's idle threads, which
spin for a while after a call, do not slow the next); ratios are medians
of per-repetition ratios (with their range).
"""

import os
import statistics
import sys
import tempfile
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
# Before each timed call: OpenMP's and onnxruntime's threads spin for up to
# tens of milliseconds after a call before they sleep.
PAUSE_SECONDS = 0.1
flags.DEFINE_list("sizes", ["256", "512"], "Square image sizes in pixels.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions per variant and size.")
flags.DEFINE_integer("warmup", 1, "Untimed calls per variant before timing.")
flags.DEFINE_integer("threads", os.cpu_count(), "CPU threads for every runtime.")
flags.DEFINE_integer(
    "tflite_size", 256, "The one size the TFLite row is measured at (if among --sizes)."
)
flags.DEFINE_integer("seed", 0, "Seed of the weights and inputs.")
flags.DEFINE_bool(
    "bfloat16",
    True,
    "Include the bfloat16 FastStylizer row (only on a CPU with native bfloat16; "
    "--nobfloat16 where ONEDNN_MAX_CPU_ISA hides it from oneDNN).",
)
STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


def _cell(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv):
    del argv
    from adjustable_style import cli, hardware

    cli.quiet_tensorflow_import()
    import keras
    import numpy as np
    import tensorflow as tf
    import torch

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    torch.set_num_threads(FLAGS.threads)
    torch.manual_seed(FLAGS.seed)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_reference

    from adjustable_style.export import output_files
    from adjustable_style.export import saved_model as export
    from adjustable_style.export import tflite as tflite_export
    from adjustable_style.inference.stylizer import FastStylizer
    from adjustable_style.model import networks

    keras.utils.set_random_seed(FLAGS.seed)
    model = networks.build_adjustable_stylizer(STYLE_LAYERS)
    folder = tempfile.mkdtemp(prefix="exports-bench-")
    saved = tf.saved_model.load(export.save_saved_model(model, f"{folder}/saved_model"))
    runners = {}
    try:
        from adjustable_style.export import onnx as onnx_export

        # Not spinning: its idle threads would otherwise busy-wait through
        # the next variant's run.
        runners["onnxruntime"] = onnx_export.onnx_runner(
            onnx_export.convert_onnx(model), threads=FLAGS.threads, spinning=False
        )
    except output_files.ExportError as error:
        print(f"no onnxruntime row: {error}")
    tflite = None
    if FLAGS.tflite_size in (int(s) for s in FLAGS.sizes):
        tflite = tflite_export.tflite_runner(
            tflite_export.convert_tflite(model, FLAGS.tflite_size, FLAGS.tflite_size),
            threads=FLAGS.threads,
        )
    fast = FastStylizer(model)
    fast_bfloat16 = None
    if FLAGS.bfloat16 and hardware.native_bfloat16_flags():
        fast_bfloat16 = FastStylizer(model, "bfloat16")
    net = torch_reference.StylizingNetwork().eval()

    print(
        f"{hardware.cpu_name()}, {os.cpu_count()} logical CPUs, {FLAGS.threads} threads; "
        f"TensorFlow {tf.__version__}, PyTorch {torch.__version__}; batch 1, "
        f"{FLAGS.repeats} repetitions"
    )
    rng = np.random.default_rng(FLAGS.seed)
    rows = []
    for size in (int(s) for s in FLAGS.sizes):
        content = rng.random((1, size, size, 3), np.float32)
        alpha = rng.random((1, len(STYLE_LAYERS)), np.float32)
        nchw = torch.from_numpy(np.ascontiguousarray(content.transpose(0, 3, 1, 2)))

        def run_torch():
            with torch.inference_mode():
                return net(nchw)

        variants = {
            "pytorch": run_torch,
            "saved_model": lambda: saved(tf.constant(content), tf.constant(alpha)).numpy(),
            "fast": lambda: fast(content, alpha),
        }
        if fast_bfloat16:
            variants["fast_bfloat16"] = lambda: fast_bfloat16(content, alpha)
        for name, run in runners.items():
            variants[name] = lambda run=run: run(content, alpha)
        if tflite and size == FLAGS.tflite_size:
            variants["tflite"] = lambda: tflite(content, alpha)
        for fn in variants.values():
            for _ in range(FLAGS.warmup):
                fn()
        times = {name: [] for name in variants}
        names = list(variants)
        for rep in range(FLAGS.repeats):
            # A new order each repetition: in a rotated fixed order each
            # variant always follows the same one, and inherits its idle
            # threads' spinning. The pause lets those threads go to sleep.
            for name in rng.permutation(names):
                time.sleep(PAUSE_SECONDS)
                start = time.perf_counter()
                variants[name]()
                times[name].append(time.perf_counter() - start)
        rows.append((size, times))
        print(f"measured {size} px", flush=True)

    print("\nMedian ms per image, and speed over PyTorch (median of per-repetition ratios)")
    for size, times in rows:
        print(f"\n{size} px")
        for name, values in times.items():
            ratio = [p / t for p, t in zip(times["pytorch"], values)]
            cell = _cell(ratio) if name != "pytorch" else "1"
            print(f"  {name:>13} {1000 * statistics.median(values):>9.1f} ms   x{cell}")
    print(
        f"\nReproduce: python benchmarks/exports.py --sizes={','.join(FLAGS.sizes)} "
        f"--repeats={FLAGS.repeats} --warmup={FLAGS.warmup} --threads={FLAGS.threads} "
        f"--tflite_size={FLAGS.tflite_size} --seed={FLAGS.seed}"
        + ("" if FLAGS.bfloat16 else " --nobfloat16")
    )


if __name__ == "__main__":
    app.run(main)
