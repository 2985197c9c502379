r"""The machine's practical matrix-multiply peak, float32 and bfloat16, in GFLOP/s.

    python benchmarks/matmul_peak.py                 # 2048 and 4096, 5 rounds
    python benchmarks/matmul_peak.py --sizes=4096 --rounds=9 --threads=2

A square `tf.matmul` of N x N by N x N (2 N^3 floating-point operations) in
each dtype, the dtypes alternating within every round so that changes in
machine load hit both alike; the median over rounds is reported, with the
bfloat16 / float32 speed ratio per round. Also printed: whether the CPU has
native bfloat16 (the AMX or AVX512_BF16 flags); without it TensorFlow
emulates bfloat16 and the ratio is well below 1. `benchmarks/inference.py`
reports the fraction of the float32 peak the stylizer reaches.
"""

import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["2048", "4096"], "Matrix sides N.")
flags.DEFINE_integer("rounds", 5, "Timed rounds per size (each runs both dtypes).")
flags.DEFINE_integer("threads", os.cpu_count(), "CPU threads for TensorFlow.")
DTYPES = ("float32", "bfloat16")


def main(argv):
    del argv
    from adjustable_style import cli, hardware

    cli.quiet_tensorflow_import()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    native = hardware.native_bfloat16_flags()
    print(
        f"{hardware.cpu_name()}, {os.cpu_count()} logical CPUs, {FLAGS.threads} threads; "
        f"TensorFlow {tf.__version__}; native bfloat16: "
        + (", ".join(native) if native else "no (no amx_bf16 or avx512_bf16 flag: emulated)")
    )
    print(f"\n{'N':>6} {'float32 GFLOP/s':>16} {'bfloat16 GFLOP/s':>17} {'bf16/f32':>17}")
    for n in (int(s) for s in FLAGS.sizes):
        fns = {}
        for dtype in DTYPES:
            a = tf.cast(tf.random.normal([n, n]), dtype)
            b = tf.cast(tf.random.normal([n, n]), dtype)
            fns[dtype] = tf.function(lambda a=a, b=b: tf.matmul(a, b))
            fns[dtype]().numpy()  # Warm up (and trace).
        times = {dtype: [] for dtype in DTYPES}
        for r in range(FLAGS.rounds):
            for dtype in DTYPES if r % 2 == 0 else DTYPES[::-1]:
                start = time.perf_counter()
                fns[dtype]().numpy()
                times[dtype].append(time.perf_counter() - start)
        gflops = {d: 2 * n**3 / statistics.median(t) / 1e9 for d, t in times.items()}
        ratios = [f / b for f, b in zip(times["float32"], times["bfloat16"])]
        ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(f"{n:>6} {gflops['float32']:>16.1f} {gflops['bfloat16']:>17.1f} {ratio:>17}")
    print(
        "\nReproduce: python benchmarks/matmul_peak.py "
        f"--sizes={','.join(FLAGS.sizes)} --rounds={FLAGS.rounds} --threads={FLAGS.threads}"
    )


if __name__ == "__main__":
    app.run(main)
