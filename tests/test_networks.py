"""The stylizing network T, Lambda, the base network, and `.keras` files."""

import keras
import numpy as np
import pytest

from adjustable_style.model import layers, networks

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


@pytest.fixture(scope="module")
def stylizer():
    keras.utils.set_random_seed(0)
    return networks.build_adjustable_stylizer(STYLE_LAYERS)


@pytest.fixture(scope="module")
def base():
    keras.utils.set_random_seed(0)
    return networks.build_base_stylizer()


def test_table2_has_2115_normalized_channels(stylizer):
    norms = [l for l in stylizer.layers if isinstance(l, layers.ConditionalInstanceNormalization)]
    assert len(norms) == 3 + 2 * 7 + 2 + 1
    assert sum(l.input[0].shape[-1] for l in norms) == 2115
    assert stylizer.get_layer("output_norm") is norms[-1]


def test_table1_alpha_network_shape(stylizer):
    alpha_net = stylizer.get_layer("alpha_network")
    # 3 -> 1000 -> 1000 -> 2 * 2115, each with a bias.
    expected = (3 * 1000 + 1000) + (1000 * 1000 + 1000) + (1000 * 4230 + 4230)
    assert alpha_net.count_params() == expected
    assert networks.style_layer_names(stylizer) == list(STYLE_LAYERS)


def test_lambda_starts_with_gamma_near_one_and_beta_near_zero(stylizer):
    alpha_net = stylizer.get_layer("alpha_network")
    params = np.asarray(alpha_net(np.random.rand(8, 3).astype(np.float32)))
    gammas, betas = params[:, :2115], params[:, 2115:]
    assert np.abs(gammas - 1).mean() < 0.03 and np.abs(gammas - 1).max() < 0.25
    assert np.abs(betas).mean() < 0.03 and np.abs(betas).max() < 0.25


def test_different_alphas_give_different_gamma_beta(stylizer):
    alpha_net = stylizer.get_layer("alpha_network")
    alpha = np.array([[0.1, 0.5, 0.9], [0.1, 0.5, 0.9], [0.9, 0.0, 0.2]], np.float32)
    params = np.asarray(alpha_net(alpha))
    np.testing.assert_array_equal(params[0], params[1])
    assert np.abs(params[0] - params[2]).max() > 1e-5


@pytest.mark.parametrize("batch", [1, 3])
def test_output_size_equals_input_size_for_odd_shapes(stylizer, base, batch, rng):
    content = rng.random((batch, 37, 53, 3)).astype(np.float32)
    alpha = rng.random((batch, 3)).astype(np.float32)
    out = np.asarray(stylizer([content, alpha]))
    assert out.shape == content.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.asarray(base(content)).shape == content.shape


def test_tiny_images_keep_their_size(stylizer, rng):
    content = rng.random((1, 3, 5, 3)).astype(np.float32)
    out = stylizer([content, np.zeros((1, 3), np.float32)])
    assert tuple(out.shape) == (1, 3, 5, 3)


def test_batch_samples_are_stylized_independently(stylizer, rng):
    content = rng.random((2, 24, 24, 3)).astype(np.float32)
    alpha = rng.random((2, 3)).astype(np.float32)
    together = np.asarray(stylizer([content, alpha]))
    alone = np.asarray(stylizer([content[1:], alpha[1:]]))
    np.testing.assert_allclose(together[1:], alone, atol=1e-5)


def test_base_network_is_t_with_learned_instance_norm(stylizer, base):
    conv = lambda m: sorted(
        (l.name, l.kernel.shape) for l in m.layers if isinstance(l, keras.layers.Conv2D)
    )
    assert conv(base) == conv(stylizer)
    norms = [l for l in base.layers if isinstance(l, layers.InstanceNormalization)]
    assert sum(l.gamma.shape[0] for l in norms) == 2115
    assert len(base.inputs) == 1 and not networks.is_adjustable(base)


def test_keras_file_round_trip_gives_identical_outputs(stylizer, base, tmp_path, rng):
    content = rng.random((2, 21, 30, 3)).astype(np.float32)
    alpha = rng.random((2, 3)).astype(np.float32)
    for model, inputs in ((stylizer, [content, alpha]), (base, content)):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_array_equal(model(inputs), loaded(inputs))
    loaded = keras.saving.load_model(tmp_path / f"{stylizer.name}.keras")
    assert networks.style_layer_names(loaded) == list(STYLE_LAYERS)


@pytest.mark.parametrize(
    "conv_init,expected_std",
    [
        ("normal_0.01", 0.01),
        # Glorot uniform: sqrt(2 / (fan_in + fan_out)) for a 3x3, 128 -> 128 conv.
        ("glorot_uniform", (2.0 / (9 * 128 + 9 * 128)) ** 0.5),
    ],
)
def test_conv_initializer_sets_every_kernel_of_t(conv_init, expected_std):
    model = networks.build_base_stylizer(conv_init=conv_init)
    kernels = [l.kernel.numpy() for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(kernels) == len(networks.CONV_LAYERS)
    residual = model.get_layer(networks.RESIDUAL_BLOCKS[0][0].conv).kernel.numpy()
    assert residual.std() == pytest.approx(expected_std, rel=0.05)
    with pytest.raises(ValueError, match="unknown convolution initializer"):
        networks.conv_initializer("zeros")


def test_alpha_of_wrong_length_is_rejected():
    with pytest.raises(ValueError, match="style layers"):
        networks.AlphaNetwork(["a", "b"]).build((None, 3))


def test_lambda_stays_float32_under_mixed_precision():
    # bfloat16 spaces values near 1 by 1/128: gamma's alpha-dependent part
    # would be rounded away.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = networks.build_adjustable_stylizer(STYLE_LAYERS)
    finally:
        keras.config.set_dtype_policy(previous)
    lam = mixed.get_layer("alpha_network")
    alpha = np.array([[0.0, 0.0, 0.0], [0.001, 0.0, 0.0]], np.float32)
    params = lam(alpha)
    assert params.dtype == "float32"
    assert all(
        layer.compute_dtype == "float32" for layer in (lam.hidden1, lam.hidden2, lam.gamma_beta)
    )
    # Nearby alphas still give different gammas (bfloat16 would tie them).
    assert np.any(np.asarray(params[0]) != np.asarray(params[1]))
    assert mixed.get_layer("down1_conv").compute_dtype == "bfloat16"
    # ... and they reach the CIN layers as float32, where the convolutions'
    # activations are bfloat16.
    split = mixed.get_layer("split_gamma_beta")
    assert {t.dtype for t in split.output} == {"float32"}
    norm = keras.Model(mixed.inputs, mixed.get_layer("down1_norm").output)
    content = np.random.rand(2, 16, 16, 3).astype(np.float32)
    assert norm([content, alpha]).dtype == "bfloat16"
