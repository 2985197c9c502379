"""Mixed precision only where the hardware computes it natively."""

from adjustable_style import hardware


def test_cpu_without_native_bfloat16_falls_back_to_float32_with_a_warning():
    warnings = []
    policy, why = hardware.training_policy(
        True, flags={"avx2", "fma", "avx512f"}, warn=warnings.append
    )
    assert policy == "float32" and "no native bfloat16" in why
    assert len(warnings) == 1 and "training in float32" in warnings[0]


def test_native_bfloat16_cpus_train_in_mixed_bfloat16():
    for flags in ({"avx512_bf16", "avx2"}, {"amx_bf16", "amx_tile"}):
        warnings = []
        policy, why = hardware.training_policy(True, flags=flags, warn=warnings.append)
        assert policy == "mixed_bfloat16" and not warnings
        assert "bf16" in why


def test_accelerators_and_float32_requests():
    assert hardware.training_policy(True, "gpu", flags=set())[0] == "mixed_float16"
    assert hardware.training_policy(True, "tpu", flags=set())[0] == "mixed_bfloat16"
    # GPUs with native bfloat16 (compute capability 8+) need no loss scaling.
    assert hardware.training_policy(True, "gpu_bfloat16", flags=set())[0] == "mixed_bfloat16"
    warnings = []
    assert hardware.training_policy(False, flags=set(), warn=warnings.append)[0] == "float32"
    assert not warnings


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert hardware.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert hardware.native_bfloat16_flags({"fpu", "avx512_bf16"}) == ["avx512_bf16"]
    assert hardware.cpu_flags(str(tmp_path / "missing")) == set()


def test_convolutions_are_matrix_products_only_on_x86_without_avx512():
    avx2, avx512 = {"avx2", "fma"}, {"avx2", "fma", "avx512f"}
    assert hardware.convolution_kernels(avx2, environ={}) == "matmul"
    assert hardware.convolution_kernels(avx512, environ={}) == "direct"
    # oneDNN held to AVX2 on an AVX-512 CPU behaves as an AVX2 CPU.
    for isa, kernels in (("AVX2", "matmul"), ("avx512_core", "direct"), ("ALL", "direct")):
        assert hardware.convolution_kernels(avx512, {"ONEDNN_MAX_CPU_ISA": isa}) == kernels
    # Not x86 (or flags unreadable): TensorFlow's own convolutions.
    assert hardware.convolution_kernels(set(), environ={}) == "direct"
    assert hardware.convolution_kernels({"asimd", "sve"}, environ={}) == "direct"
