r"""Inference speed, side by side in one run: is Lambda free, how do we compare
with PyTorch, and how close do we get to the machine's matrix-multiply peak?

    python benchmarks/inference.py                      # 256, 512, 1024 px
    python benchmarks/inference.py --sizes=512 --repeats=9

Variants, all batch `--batch_size`, float32, random weights (speed does not
depend on them), on `--threads` CPU threads:

- `adjustable`: what `stylize.py` runs, `inference.stylizer.FastStylizer` on the
  adjustable model at one alpha (Lambda ran once for it, then its gammas
  and betas come from the cache, as when stylizing many images or frames
  at one setting);
- `new alpha`: the same with a different alpha at every call, so Lambda
  runs every time (a slider being dragged);
- `base`: the same path on the base model of Johnson et al. (no Lambda);
- `keras`: the adjustable Keras model called directly (`tf.function`), to
  show what the fast path saves;
- `saved_model`: the SavedModel that `export/saved_model.py` writes,
  loaded with `tf.saved_model.load` and called (`__call__`, the same
  function as `serving_default`), at one alpha;
- `onnxruntime`: the ONNX file of `export/onnx.py` in onnxruntime's CPU
  provider (if tf2onnx and onnxruntime are installed);
- `tflite`: the TFLite file of `export/tflite.py` in the TFLite interpreter
  (XNNPACK), at `--tflite_size` only (TFLite's input size is fixed);
- `pytorch`: the same network written plainly in PyTorch
  (`benchmarks/torch_reference.py`, NCHW, `torch.inference_mode`), if
  torch is installed;
- `matmul`: a float32 4096x4096 `tf.matmul`, the machine's practical peak,
  timed in the same rounds.

Every repetition runs each variant once, in an order that rotates between
repetitions, so drifts in machine load hit all of them alike. Ratios are the
median of per-repetition ratios (with their range): throughput of
adjustable / base (1.00 = Lambda costs nothing), adjustable / PyTorch, and
the achieved GFLOP/s of the adjustable model over the matmul peak. FLOPs
count each multiply-add of the convolutions as 2, as Table 2 defines them
(the normalizations, paddings and activations are not counted; the fast
path's 2x2 sub-pixel upsampling executes 11% fewer, so its rate is an
effective one).
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
flags.DEFINE_integer(
    "repeats",
    7,
    "Timed repetitions per variant at 1024 px; smaller sizes get more (x4 at "
    "256, x2 at 512), since their runs are short and noisier.",
)
flags.DEFINE_integer("warmup", 2, "Untimed calls per variant before timing.")
flags.DEFINE_integer("threads", os.cpu_count(), "CPU threads for TensorFlow and PyTorch.")
flags.DEFINE_bool("torch", True, "Include PyTorch (skipped with a note if not installed).")
flags.DEFINE_integer("matmul_size", 4096, "Side of the square matmul that measures the peak.")
flags.DEFINE_integer("seed", 0, "Seed of the random weights and inputs.")
flags.DEFINE_bool("exports", True, "Include the SavedModel, ONNX and TFLite rows.")
flags.DEFINE_integer("tflite_size", 256, "The one size the TFLite row is measured at.")

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


def stylizer_flops(height, width):
    """Floating-point operations of T's convolutions on one image (Table 2)."""
    from adjustable_style.model import networks

    return networks.PAPER.conv_flops(height, width)


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ratio_cell(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def _load_exports(stylizer):
    """{"saved_model": callable, "onnx": runner, "tflite": runner}: each export,
    written to a temporary folder by the export code and loaded back as a
    user would."""
    import tempfile

    import tensorflow as tf

    from adjustable_style.export import output_files, tflite
    from adjustable_style.export import saved_model as export

    folder = tempfile.mkdtemp(prefix="inference-bench-")
    loaded = tf.saved_model.load(export.save_saved_model(stylizer, f"{folder}/saved_model"))
    result = {"saved_model": loaded}
    try:
        from adjustable_style.export import onnx as onnx_export

        # Not spinning: its idle threads would otherwise busy-wait through
        # the next variant's run.
        result["onnx"] = onnx_export.onnx_runner(
            onnx_export.convert_onnx(stylizer), threads=FLAGS.threads, spinning=False
        )
    except output_files.ExportError as error:
        print(f"no onnxruntime row: {error}")
    result["tflite"] = tflite.tflite_runner(
        tflite.convert_tflite(stylizer, FLAGS.tflite_size, FLAGS.tflite_size),
        threads=FLAGS.threads,
    )
    return result


def _export_variants(exported, content, alpha, size):
    import tensorflow as tf

    variants = {}
    if "saved_model" in exported:
        model = exported["saved_model"]
        variants["saved_model"] = lambda: model(tf.constant(content), tf.constant(alpha)).numpy()
    if "onnx" in exported:
        variants["onnxruntime"] = lambda: exported["onnx"](content, alpha)
    if "tflite" in exported and size == FLAGS.tflite_size and len(content) == 1:
        variants["tflite"] = lambda: exported["tflite"](content, alpha)
    return variants


def _print_exports(rows):
    names = [
        n for n in ("saved_model", "onnxruntime", "tflite") if any(f"{n}_ips" in r for r in rows)
    ]
    if not names:
        return
    print("\nExports (images/s) and their speed over PyTorch (median of per-repetition ratios)")
    header = f"{'size':>5}"
    for name in names:
        header += f" {name:>12} {name + '/pytorch':>22}"
    print(header)
    for r in rows:
        line = f"{r['size']:>5}"
        for name in names:
            ips = f"{r[name + '_ips']:.2f}" if f"{name}_ips" in r else "-"
            ratio = _ratio_cell(r[f"{name}_torch"]) if f"{name}_torch" in r else "-"
            line += f" {ips:>12} {ratio:>22}"
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

    torch = reference = None
    torch_note = ""
    if FLAGS.torch:
        try:
            import torch

            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import torch_reference as reference

            torch.set_num_threads(FLAGS.threads)
            torch.manual_seed(FLAGS.seed)
        except ImportError:
            torch = None
            torch_note = "PyTorch not installed (pip install torch): its column is skipped."

    keras.utils.set_random_seed(FLAGS.seed)
    adjustable_model = networks.build_adjustable_stylizer(STYLE_LAYERS)
    base_model = networks.build_base_stylizer()
    fast_adjustable = FastStylizer(adjustable_model)
    fast_base = FastStylizer(base_model)
    keras_forward = tf.function(lambda c, a: adjustable_model([c, a], training=False))
    alpha_network = tf.function(adjustable_model.get_layer("alpha_network"))
    torch_net = reference.StylizingNetwork().eval() if torch else None
    exported = _load_exports(adjustable_model) if FLAGS.exports else {}

    n = FLAGS.matmul_size
    a_mat = tf.random.normal([n, n])
    b_mat = tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.matmul(a_mat, b_mat))

    print(
        f"{hardware.cpu_name()}, {os.cpu_count()} logical CPUs, {FLAGS.threads} threads; "
        f"TensorFlow {tf.__version__}"
        + (f", PyTorch {torch.__version__}" if torch else "")
        + f"; batch {FLAGS.batch_size}, {FLAGS.repeats} repetitions at 1024 px "
        "(x2 at 512, x4 at 256 and below)"
    )
    if torch_note:
        print(torch_note)
    print()

    rows = []
    rng = np.random.default_rng(FLAGS.seed)
    for size in (int(s) for s in FLAGS.sizes):
        content = rng.random((FLAGS.batch_size, size, size, 3), np.float32)
        alpha = rng.random((FLAGS.batch_size, len(STYLE_LAYERS)), np.float32)
        # Listed so that the pairs whose ratios are reported run back to
        # back in most repetitions (the order rotates).
        variants = {
            "base": lambda: fast_base(content),
            "adjustable": lambda: fast_adjustable(content, alpha),
            "new_alpha": lambda: fast_adjustable(content, rng.random(alpha.shape, np.float32)),
            "keras": lambda: keras_forward(content, alpha).numpy(),
            **_export_variants(exported, content, alpha, size),
            "lambda": lambda: alpha_network(alpha).numpy(),
            "matmul": lambda: matmul().numpy(),
        }
        if torch_net is not None:
            content_nchw = torch.from_numpy(np.ascontiguousarray(content.transpose(0, 3, 1, 2)))

            def run_torch():
                with torch.inference_mode():
                    return torch_net(content_nchw)

            # After `adjustable`, before `new_alpha`.
            variants = dict(
                list(variants.items())[:2] + [("pytorch", run_torch)] + list(variants.items())[2:]
            )
        for fn in variants.values():
            for _ in range(FLAGS.warmup):
                fn()
        times = {name: [] for name in variants}
        names = list(variants)
        repeats = FLAGS.repeats * max(1, min(4, (1024 // size) ** 2 // 2 or 1))
        for rep in range(repeats):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(_time(variants[name]))
        flops = stylizer_flops(size, size) * FLAGS.batch_size
        peak = [2 * n**3 / t for t in times["matmul"]]
        achieved = [flops / t for t in times["adjustable"]]
        row = {
            "size": size,
            "adj_ips": FLAGS.batch_size / statistics.median(times["adjustable"]),
            "base_ips": FLAGS.batch_size / statistics.median(times["base"]),
            "keras_ips": FLAGS.batch_size / statistics.median(times["keras"]),
            "adj_base": [b / a for a, b in zip(times["adjustable"], times["base"])],
            "new_base": [b / a for a, b in zip(times["new_alpha"], times["base"])],
            "fast_keras": [k / a for a, k in zip(times["adjustable"], times["keras"])],
            "lambda_ms": 1000 * statistics.median(times["lambda"]),
            "gflop": flops / 1e9 / FLAGS.batch_size,
            "gflops": statistics.median(achieved) / 1e9,
            "peak": statistics.median(peak) / 1e9,
            "of_peak": [x / p for x, p in zip(achieved, peak)],
        }
        if "pytorch" in times:
            row["torch_ips"] = FLAGS.batch_size / statistics.median(times["pytorch"])
            row["adj_torch"] = [p / a for a, p in zip(times["adjustable"], times["pytorch"])]
        for name in ("saved_model", "onnxruntime", "tflite"):
            if name in times:
                row[f"{name}_ips"] = FLAGS.batch_size / statistics.median(times[name])
                if "pytorch" in times:
                    row[f"{name}_torch"] = [p / t for t, p in zip(times[name], times["pytorch"])]
        rows.append(row)
        print(f"measured {size} px", flush=True)

    print("\nThroughput (images/s) and ratios (median of per-repetition ratios, range)")
    header = (
        f"{'size':>5} {'adjustable':>10} {'base':>7} {'adj/base':>17} "
        f"{'new alpha/base':>17} {'Lambda ms':>9} {'keras':>7} {'fast/keras':>17}"
    )
    if torch_net is not None:
        header += f" {'pytorch':>8} {'adj/pytorch':>17}"
    print(header)
    for r in rows:
        line = (
            f"{r['size']:>5} {r['adj_ips']:>10.2f} {r['base_ips']:>7.2f} "
            f"{_ratio_cell(r['adj_base']):>17} {_ratio_cell(r['new_base']):>17} "
            f"{r['lambda_ms']:>9.2f} "
            f"{r['keras_ips']:>7.2f} {_ratio_cell(r['fast_keras']):>17}"
        )
        if "torch_ips" in r:
            line += f" {r['torch_ips']:>8.2f} {_ratio_cell(r['adj_torch']):>17}"
        print(line)

    _print_exports(rows)
    print(
        f"\nArithmetic: GFLOP per image, achieved GFLOP/s of the adjustable "
        f"model, and the float32 {n}x{n} matmul peak measured in the same rounds"
    )
    print(f"{'size':>5} {'GFLOP/image':>11} {'GFLOP/s':>8} {'peak GFLOP/s':>12} {'of peak':>17}")
    for r in rows:
        print(
            f"{r['size']:>5} {r['gflop']:>11.1f} {r['gflops']:>8.1f} "
            f"{r['peak']:>12.1f} {_ratio_cell(r['of_peak']):>17}"
        )

    command = " ".join(
        [
            "python benchmarks/inference.py",
            f"--sizes={','.join(FLAGS.sizes)}",
            f"--batch_size={FLAGS.batch_size}",
            f"--repeats={FLAGS.repeats}",
            f"--warmup={FLAGS.warmup}",
            f"--threads={FLAGS.threads}",
            f"--seed={FLAGS.seed}",
            f"--exports={str(FLAGS.exports).lower()}",
            f"--tflite_size={FLAGS.tflite_size}",
        ]
    )
    print(f"\nReproduce: {command}")


if __name__ == "__main__":
    app.run(main)
