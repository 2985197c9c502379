"""Conditional instance normalization, padding, and the gamma/beta split."""

import numpy as np
import pytest

from adjustable_style.model import layers


def numpy_instance_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)  # biased, as in the paper
    return gamma[:, None, None, :] * (x - mean) / np.sqrt(var + eps) + beta[:, None, None, :]


def test_cin_matches_numpy_reference(rng):
    x = rng.normal(2.0, 3.0, (2, 5, 7, 4)).astype(np.float32)
    gamma = rng.normal(1.0, 0.5, (2, 4)).astype(np.float32)
    beta = rng.normal(0.0, 0.5, (2, 4)).astype(np.float32)
    out = layers.ConditionalInstanceNormalization()([x, gamma, beta])
    np.testing.assert_allclose(out, numpy_instance_norm(x, gamma, beta), rtol=1e-4, atol=1e-4)


def test_cin_uses_each_samples_own_parameters(rng):
    x = np.repeat(rng.normal(size=(1, 4, 4, 3)), 2, axis=0).astype(np.float32)
    gamma = np.array([[1, 1, 1], [2, 2, 2]], np.float32)
    beta = np.array([[0, 0, 0], [1, 1, 1]], np.float32)
    out = np.asarray(layers.ConditionalInstanceNormalization()([x, gamma, beta]))
    np.testing.assert_allclose(out[1], 2 * out[0] + 1, rtol=1e-5, atol=1e-5)


def test_cin_accepts_broadcast_shaped_parameters(rng):
    x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    gamma = rng.normal(size=(2, 1, 1, 4)).astype(np.float32)
    beta = rng.normal(size=(2, 1, 1, 4)).astype(np.float32)
    out = layers.ConditionalInstanceNormalization()([x, gamma, beta])
    np.testing.assert_allclose(
        out, numpy_instance_norm(x, gamma[:, 0, 0], beta[:, 0, 0]), rtol=1e-4, atol=1e-4
    )


def test_instance_norm_starts_as_plain_normalization(rng):
    x = rng.normal(5.0, 2.0, (3, 6, 6, 2)).astype(np.float32)
    out = np.asarray(layers.InstanceNormalization()(x))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.0, atol=1e-3)


def test_split_orders_gammas_then_betas():
    channels = [2, 3]
    params = np.arange(10, dtype=np.float32)[None]
    g0, b0, g1, b1 = layers.SplitNormalizationParameters(channels)(params)
    np.testing.assert_array_equal(g0, [[0, 1]])
    np.testing.assert_array_equal(g1, [[2, 3, 4]])
    np.testing.assert_array_equal(b0, [[5, 6]])
    np.testing.assert_array_equal(b1, [[7, 8, 9]])


@pytest.mark.parametrize("height,width", [(37, 53), (8, 8), (1, 1), (3, 6), (13, 4)])
def test_pad_to_multiple_then_crop_round_trips(rng, height, width):
    x = rng.random((2, height, width, 3)).astype(np.float32)
    padded = np.asarray(layers.PadToMultiple(4)(x))
    assert padded.shape[1] % 4 == 0 and padded.shape[2] % 4 == 0
    assert padded.shape[1] >= 8 and padded.shape[2] >= 8
    np.testing.assert_array_equal(padded[:, :height, :width], x)
    cropped = layers.CropToReference()([padded, x])
    np.testing.assert_array_equal(cropped, x)


def test_reflection_padding_mirrors_without_repeating_the_edge():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1) * np.ones((1, 3, 1, 1), np.float32)
    out = np.asarray(layers.ReflectionPadding2D(2)(x))
    np.testing.assert_array_equal(out[0, 2, :, 0], [2, 1, 0, 1, 2, 3, 2, 1])
