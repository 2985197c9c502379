"""Gram matrices, content and style losses, and the EMA normalizer (Eq. 8)."""

import numpy as np
import pytest
import tensorflow as tf

from adjustable_style.model import losses


def numpy_gram(f):
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c)
    return np.einsum("bpi,bpj->bij", flat, flat) / (h * w * c)


def test_gram_matches_numpy(rng):
    f = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(losses.gram_matrix(f), numpy_gram(f), rtol=1e-5, atol=1e-7)


def test_gram_is_independent_of_spatial_size_for_repeated_texture(rng):
    tile = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    big = np.tile(tile, (1, 3, 2, 1))
    np.testing.assert_allclose(losses.gram_matrix(tile), losses.gram_matrix(big), rtol=1e-5)


def test_content_loss_is_per_sample_mean_squared_difference(rng):
    a = rng.normal(size=(3, 4, 4, 2)).astype(np.float32)
    b = rng.normal(size=(3, 4, 4, 2)).astype(np.float32)
    expected = ((a - b) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(losses.content_loss(a, b), expected, rtol=1e-5)


def test_style_loss_is_squared_frobenius_distance_of_grams(rng):
    p = rng.normal(size=(2, 4, 6, 3)).astype(np.float32)
    s = rng.normal(size=(1, 5, 5, 3)).astype(np.float32)
    expected = ((numpy_gram(p) - numpy_gram(s)) ** 2).sum(axis=(1, 2))
    got = losses.style_loss(p, losses.gram_matrix(s))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert float(losses.style_loss(s, losses.gram_matrix(s))[0]) == pytest.approx(0, abs=1e-9)


def test_ema_starts_at_first_value_then_decays():
    normalizer = losses.LossNormalizer(3, decay=0.9)
    normalizer.update(tf.constant([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(normalizer.ema, [1.0, 2.0, 4.0])
    normalizer.update(tf.constant([2.0, 2.0, 0.0]))
    # 0.9 * old + 0.1 * new
    np.testing.assert_allclose(normalizer.ema, [1.1, 2.0, 3.6], rtol=1e-6)
    assert int(normalizer.count.numpy()) == 2


def test_eq8_normalization_by_hand():
    normalizer = losses.LossNormalizer(3, decay=0.9)
    normalizer.update(tf.constant([1.0, 2.0, 5.0]))
    # sum(EMA) = 8 -> factors 8/1, 8/2, 8/5
    np.testing.assert_allclose(normalizer.weights_for(), [8.0, 4.0, 1.6], rtol=1e-6)
    raw = tf.constant([[1.0, 2.0, 5.0], [0.5, 1.0, 10.0]])
    np.testing.assert_allclose(normalizer(raw), [[8.0, 8.0, 8.0], [4.0, 4.0, 16.0]], rtol=1e-6)


def test_normalization_weights_carry_no_gradient():
    normalizer = losses.LossNormalizer(2)
    raw = tf.Variable([3.0, 1.0])
    with tf.GradientTape() as tape:
        normalizer.update(raw)
        total = tf.reduce_sum(normalizer(raw))
    # factors (4/3, 4/1) are constants: d total / d raw = the factors.
    np.testing.assert_allclose(tape.gradient(total, raw), [4 / 3, 4.0], rtol=1e-6)


@pytest.mark.parametrize("decay", [-0.1, 1.01])
def test_decay_out_of_range_is_rejected(decay):
    with pytest.raises(ValueError, match="decay"):
        losses.LossNormalizer(2, decay=decay)


def test_decay_one_freezes_the_emas_at_their_first_values():
    normalizer = losses.LossNormalizer(2, decay=1.0)
    normalizer.update(tf.constant([3.0, 1.0]))
    normalizer.update(tf.constant([30.0, 0.01]))
    np.testing.assert_allclose(normalizer.ema, [3.0, 1.0])
    np.testing.assert_allclose(normalizer.weights_for(), [4 / 3, 4.0], rtol=1e-6)
