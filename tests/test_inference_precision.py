"""--precision: bfloat16 only where the CPU computes it and the output stays close."""

import numpy as np
import pytest

from adjustable_style.errors import UsageError
from adjustable_style.inference import precision as inference_precision
from adjustable_style.stylize import options as stylize_options

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
NATIVE = {"avx2", "amx_bf16"}
EMULATED = {"avx2", "fma"}


def test_resolve_follows_the_cpu():
    warnings = []
    assert inference_precision.resolve("auto", EMULATED, warnings.append) == "float32"
    assert inference_precision.resolve("auto", NATIVE, warnings.append) == "auto"
    assert inference_precision.resolve("float32", NATIVE, warnings.append) == "float32"
    assert inference_precision.resolve("bfloat16", NATIVE, warnings.append) == "bfloat16"
    assert warnings == []
    assert inference_precision.resolve("bfloat16", EMULATED, warnings.append) == "bfloat16"
    assert len(warnings) == 1 and "emulated" in warnings[0] and "\n" not in warnings[0]


def test_psnr():
    a = np.zeros((4, 4, 3))
    assert inference_precision.psnr(a, a) == np.inf
    assert inference_precision.psnr(a, a + 0.01) == pytest.approx(40.0)


@pytest.fixture(scope="module")
def adjustable():
    import keras

    from adjustable_style.model import networks

    keras.utils.set_random_seed(11)
    return networks.build_adjustable_stylizer(STYLE_LAYERS)


def test_auto_checks_each_size_once_and_keeps_float32_below_the_threshold(adjustable, monkeypatch):
    from adjustable_style.inference.stylizer import FastStylizer

    stylizer = inference_precision.PrecisionStylizer(adjustable, "auto")
    exact = FastStylizer(adjustable)
    rng = np.random.default_rng(0)
    content = rng.random((1, 24, 32, 3), np.float32)
    alpha = rng.random((1, 3), np.float32)
    assert stylizer.precision_for(24, 32) is None
    # The first image of a size gets float32 while bfloat16 is measured.
    np.testing.assert_allclose(stylizer(content, alpha), exact(content, alpha), atol=1e-6)
    measured = stylizer.verdicts[24, 32]
    # bfloat16 convolutions are close to float32 but not equal.
    assert 25 < measured < np.inf
    calls = []
    fast_call = stylizer.fast.__call__
    monkeypatch.setattr(stylizer, "fast", lambda c, a: calls.append(1) or fast_call(c, a))
    monkeypatch.setattr(inference_precision, "MIN_PSNR_DB", measured + 1)
    assert stylizer.precision_for(24, 32) == "float32"
    np.testing.assert_allclose(stylizer(content, alpha), exact(content, alpha), atol=1e-6)
    assert calls == []
    monkeypatch.setattr(inference_precision, "MIN_PSNR_DB", measured - 1)
    assert stylizer.precision_for(24, 32) == "bfloat16"
    stylizer(content, alpha)
    assert calls == [1] and len(stylizer.verdicts) == 1


def test_precision_option_is_checked(tmp_path):
    with pytest.raises(UsageError, match="--precision must be auto, float32 or bfloat16"):
        stylize_options.Options(precision="float16").validate()
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(UsageError, match="SavedModel runs in float32"):
        stylize_options.Options(model=str(tmp_path / "saved"), precision="bfloat16").validate()
    assert stylize_options.Options().precision == "auto"
