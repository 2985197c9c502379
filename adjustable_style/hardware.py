"""Which compute precision pays on this machine.

bfloat16 halves a training step on CPUs that compute it natively (Intel
AMX, or the AVX512_BF16 dot products of recent Intel and AMD cores), and
on GPUs (float16 there) and TPUs. A CPU without either emulates it through
float32 conversions: a training step ran 5.5x slower than in float32 on
such a machine (a 2-core AMD EPYC with AVX2 only). So mixed precision is
only used where it is native, and otherwise falls back to float32 with
one warning line rather than running slowly in silence.
"""

import os
import platform
import sys

# How inference computes its residual and upsampling convolutions:
# `tf.nn.conv2d`, or matrix products (`inference.kernels.matmul_conv`).
CONVOLUTION_KERNELS = ("direct", "matmul")
# /proc/cpuinfo flags of native bfloat16 arithmetic.
NATIVE_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags (an empty set where they cannot be read)."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_name(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name, for reports that say which machine a figure comes from."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def native_bfloat16_flags(flags=None):
    """The flags of `flags` (default: this CPU's) that compute bfloat16."""
    flags = cpu_flags() if flags is None else set(flags)
    return [f for f in NATIVE_BFLOAT16_FLAGS if f in flags]


def training_policy(mixed_precision, accelerator=None, flags=None, warn=None):
    """(Keras dtype policy name, a few words saying why) for a training run.

    `mixed_precision` is what was asked for; `accelerator` is "gpu",
    "gpu_bfloat16" (a GPU with native bfloat16: compute capability 8 and
    up), "tpu" or None (the CPU). On a GPU it means float16, or bfloat16
    where native (float32's range: no loss scaling), on a TPU bfloat16; on a
    CPU bfloat16 where the CPU computes it natively, else float32 with a
    warning through `warn` (default: a line on stderr).
    """
    if not mixed_precision:
        return "float32", "float32"
    if accelerator == "gpu_bfloat16":
        return "mixed_bfloat16", "mixed_bfloat16 (GPU with native bfloat16)"
    if accelerator == "gpu":
        return "mixed_float16", "mixed_float16 (GPU)"
    if accelerator == "tpu":
        return "mixed_bfloat16", "mixed_bfloat16 (TPU)"
    native = native_bfloat16_flags(flags)
    if native:
        return "mixed_bfloat16", f"mixed_bfloat16 (CPU has {', '.join(native)})"
    message = (
        "warning: --mixed_precision: this CPU has no native bfloat16 "
        f"({' or '.join(NATIVE_BFLOAT16_FLAGS)}), where it runs several "
        "times slower than float32; training in float32"
    )
    (warn or (lambda line: print(line, file=sys.stderr, flush=True)))(message)
    return "float32", "float32 (no native bfloat16 on this CPU)"


def convolution_kernels(flags=None, environ=None):
    """ "direct" or "matmul": how inference computes its residual and upsampling
    convolutions on this CPU.

    TensorFlow's convolutions take NHWC only, and oneDNN has a direct NHWC
    float32 convolution only with AVX-512; on an x86 CPU with AVX2 alone it
    falls back to an im2col GEMM, which reached 61 GFLOP/s on 2 Zen 4 cores
    held to AVX2, where the same sums as matrix products
    (`inference.kernels.matmul_conv`) reached 86-129. With AVX-512 the direct
    convolution is the faster (about 200 GFLOP/s against 150-165).
    `ONEDNN_MAX_CPU_ISA` (in `environ`, default: this process's), which
    holds oneDNN below the CPU's own instructions, counts as the CPU.
    """
    flags = cpu_flags() if flags is None else set(flags)
    environ = os.environ if environ is None else environ
    isa = environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    avx512 = "avx512f" in flags and (not isa or isa == "ALL" or "AVX512" in isa or "AVX10" in isa)
    return "matmul" if "avx2" in flags and not avx512 else "direct"
