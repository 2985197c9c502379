"""The fast inference path computes what the Keras stylizer computes."""

import graph_ops
import keras
import numpy as np
import pytest
import tensorflow as tf

from adjustable_style import model_files
from adjustable_style.inference import kernels
from adjustable_style.inference import stylizer as stylizer_module
from adjustable_style.inference.graph import StylizerGraph
from adjustable_style.inference.stylizer import FastStylizer
from adjustable_style.model import networks

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


def _randomize_norms(model, seed):
    """Moves gamma/beta (or Lambda's output bias) away from the identity init,
    so that a mistake in the normalization shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            if weight.path.endswith(("gamma", "beta", "gamma_beta/bias")):
                weight.assign(weight.numpy() + rng.normal(0, 0.3, weight.shape))


@pytest.fixture(scope="module")
def adjustable():
    keras.utils.set_random_seed(3)
    model = networks.build_adjustable_stylizer(STYLE_LAYERS)
    _randomize_norms(model, 0)
    return model, FastStylizer(model)


@pytest.fixture(scope="module")
def base():
    keras.utils.set_random_seed(4)
    model = networks.build_base_stylizer()
    _randomize_norms(model, 1)
    return model, FastStylizer(model)


@pytest.mark.parametrize("shape", [(2, 37, 51), (1, 64, 80), (1, 5, 3)])
def test_fast_path_matches_keras_adjustable(adjustable, shape):
    model, fast = adjustable
    rng = np.random.default_rng(sum(shape))
    content = rng.random(shape + (3,), np.float32)
    alpha = rng.random((shape[0], 3), np.float32)
    expected = model([content, alpha]).numpy()
    np.testing.assert_allclose(fast(content, alpha), expected, atol=1e-4)


def test_fast_path_matches_keras_base(base):
    model, fast = base
    content = np.random.default_rng(0).random((2, 44, 30, 3), np.float32)
    np.testing.assert_allclose(fast(content), model(content).numpy(), atol=1e-4)


@pytest.mark.parametrize(
    "kernel_shape, batch", [((3, 3, 5, 4), 1), ((2, 2, 3, 8), 2), ((2, 3, 4, 6), 1)]
)
def test_matmul_conv_is_the_convolution(kernel_shape, batch):
    rng = np.random.default_rng(sum(kernel_shape))
    padded = rng.normal(size=(batch, 9, 11, kernel_shape[2])).astype(np.float32)
    kernel = rng.normal(size=kernel_shape).astype(np.float32)
    expected = tf.nn.conv2d(padded, kernel, 1, "VALID")
    got = kernels.matmul_conv(
        padded, kernels.matmul_kernel(kernel), kernel_shape[0], kernel_shape[1]
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("convolutions", ["direct", "matmul"])
def test_both_convolution_kernels_compute_the_stylizer(adjustable, convolutions):
    model, _ = adjustable
    graph = StylizerGraph(model, convolutions=convolutions)
    specs = [tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([None, 3])]
    call = tf.function(graph.stylize, input_signature=specs)
    rng = np.random.default_rng(7)
    for shape in ((1, 36, 52), (2, 20, 24)):
        content = rng.random(shape + (3,), np.float32)
        alpha = rng.random((shape[0], 3), np.float32)
        expected = model([content, alpha]).numpy()
        np.testing.assert_allclose(call(content, alpha).numpy(), expected, atol=1e-4)
    with pytest.raises(ValueError, match="convolutions must be one of direct, matmul"):
        StylizerGraph(model, convolutions="winograd")


def test_fused_norms_serve_one_image_and_plain_ops_the_rest(adjustable):
    model, _ = adjustable
    fused = StylizerGraph(model)
    plain = StylizerGraph(model, fused_norms=False)
    specs = [tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([None, 3])]
    fused_call = tf.function(fused.stylize, input_signature=specs)
    plain_call = tf.function(plain.stylize, input_signature=specs)
    assert "FusedBatchNormV3" in graph_ops.op_types(fused_call.get_concrete_function())
    # What the TFLite and ONNX converters get: no batch-norm kernel, no cond.
    assert not {"FusedBatchNormV3", "If", "StatelessIf"} & graph_ops.op_types(
        plain_call.get_concrete_function()
    )
    rng = np.random.default_rng(5)
    # One image; a batch; one image under two alphas (the norm's batch is 2).
    for images, alphas in ((1, 1), (3, 3), (1, 2)):
        content = rng.random((images, 40, 28, 3), np.float32)
        alpha = rng.random((alphas, 3), np.float32)
        got = fused_call(content, alpha).numpy()
        assert got.shape[0] == max(images, alphas)
        np.testing.assert_allclose(got, plain_call(content, alpha).numpy(), atol=1e-5)
        np.testing.assert_allclose(got, model([content, alpha]).numpy(), atol=1e-4)


@pytest.mark.parametrize("rows", [4, 9, 256])
def test_streaming_equals_the_whole_image(adjustable, rows):
    model, fast = adjustable
    rng = np.random.default_rng(rows)
    image = rng.random((70, 45, 3), np.float32)
    alpha = rng.random((1, 3), np.float32)
    whole = model([image[None], alpha]).numpy()[0]
    streamed = fast.stylize_streaming(image, alpha, rows=rows)
    assert streamed.shape == image.shape and streamed.dtype == np.float32
    # Strip boundaries every `rows` rows leave no trace: the same numbers.
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_streaming_base_model(base):
    model, fast = base
    image = np.random.default_rng(5).random((33, 62, 3), np.float32)
    np.testing.assert_allclose(
        fast.stylize_streaming(image, rows=6), model(image[None]).numpy()[0], atol=1e-4
    )


def test_large_images_take_the_streaming_path(adjustable, monkeypatch):
    model, fast = adjustable
    rng = np.random.default_rng(9)
    content = rng.random((2, 40, 36, 3), np.float32)
    alpha = rng.random((2, 3), np.float32)
    calls = []
    original = fast.stylize_streaming
    monkeypatch.setattr(
        fast, "stylize_streaming", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    monkeypatch.setattr(stylizer_module, "STREAMING_PIXELS", 40 * 36 - 1)
    out = fast(content, alpha)
    assert len(calls) == 2
    np.testing.assert_allclose(out, model([content, alpha]).numpy(), atol=1e-4)


def test_subpixel_kernel_is_upsample_then_convolve():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 6, 7, 5)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 5, 4)).astype(np.float32)
    upsampled = np.repeat(np.repeat(x, 2, 1), 2, 2)
    padded = np.pad(upsampled, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    expected = tf.nn.conv2d(padded, kernel, 1, "VALID")
    low = np.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="symmetric")
    got = kernels.upsample_conv(low, kernels.subpixel_kernel(kernel))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_shipped_model_fast_path_matches_keras():
    model, _ = model_files.load_stylizer(None)
    fast = FastStylizer(model)
    rng = np.random.default_rng(1)
    content = rng.random((1, 48, 64, 3), np.float32)
    for alpha in ([0, 0, 0], [1, 1, 1], [0.2, 0.9, 0.5]):
        a = np.array([alpha], np.float32)
        np.testing.assert_allclose(fast(content, a), model([content, a]).numpy(), atol=1e-4)


def test_lambda_runs_once_per_alpha(adjustable, monkeypatch):
    model, fast = adjustable
    fast._cache.clear()
    calls = []
    original = fast._alpha_network
    monkeypatch.setattr(fast, "_alpha_network", lambda a: calls.append(len(a)) or original(a))
    content = np.random.default_rng(2).random((3, 16, 16, 3), np.float32)
    alpha = np.array([[0.1, 0.2, 0.3], [0.9, 0.8, 0.7], [0.1, 0.2, 0.3]], np.float32)
    first = fast(content, alpha)
    assert calls == [2]  # one batched call for the distinct rows it had not seen
    again = fast(content, alpha[::-1])
    assert calls == [2]  # every row cached
    np.testing.assert_allclose(again, model([content, alpha[::-1]]).numpy(), atol=1e-4)
    np.testing.assert_allclose(first, model([content, alpha]).numpy(), atol=1e-4)
    monkeypatch.setattr(stylizer_module, "PARAMETER_CACHE_SIZE", 2)
    fast(content[:1], np.array([[0.5, 0.5, 0.5]], np.float32))
    assert calls == [2, 1] and len(fast._cache) == 2
