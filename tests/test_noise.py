"""Tests for adjustable_style.noise: the blur and the content-noise mask (numpy only, fast)."""

import numpy as np
import pytest

from adjustable_style import noise as A
from adjustable_style.noise import NoiseError


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(NoiseError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


def test_gaussian_kernel():
    k = A.gaussian_kernel1d(2.0)
    assert len(k) == 2 * 8 + 1
    assert np.isclose(k.sum(), 1.0) and np.argmax(k) == 8
    np.testing.assert_allclose(k, k[::-1])
    _error(A.gaussian_kernel1d, 0.0)
    _error(A.gaussian_kernel1d, float("nan"))


@pytest.mark.parametrize("padding", ["reflect", "constant"])
@pytest.mark.parametrize("sigma", [0.7, 3.0, 12.0])  # 12 > image size: repeated reflection
def test_gaussian_blur_matches_scipy(padding, sigma):
    ndimage = pytest.importorskip("scipy.ndimage")
    image = np.random.default_rng(0).random((9, 13, 2))
    ours = A.gaussian_blur(image, sigma, padding=padding)
    ref = ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0), mode=padding, truncate=4.0)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    _error(A.gaussian_blur, image, sigma, padding="wrap")


@pytest.mark.parametrize("padding", ["reflect", "constant"])
def test_noise_mask_matches_direct_blur(padding):
    """The outer-product shortcut equals blurring each impulse image in 2-D."""
    h, w, sigma = 20, 27, 2.5
    points = [(0, 0), (5, 26), (10, 12), (11, 13), (19, 3)]
    expected = np.zeros((h, w))
    for r, c in points:
        impulse = np.zeros((h, w))
        impulse[r, c] = 1.0
        blurred = A.gaussian_blur(impulse, sigma, padding=padding)
        expected += blurred / blurred[r, c]
    expected = 1.0 - np.minimum(expected, 1.0)
    expected /= expected.max()
    got = A.noise_mask_from_points(h, w, points, sigma, depth=1.0, padding=padding)
    np.testing.assert_allclose(got[..., 0], expected, atol=1e-6)


def test_noise_mask_basic_properties():
    for seed in range(10):
        mask = A.noise_mask(48, 64, seed, depth=1.0)
        assert mask.shape == (48, 64, 1) and mask.dtype == np.float32
        assert mask.min() == 0.0 and mask.max() == 1.0
        points = A.noise_points(48, 64, seed)
        assert 1 <= len(points) <= 9
        assert np.all(mask[points[:, 0], points[:, 1], 0] == 0.0)


def test_noise_mask_dip_count_equals_num_points():
    # With a narrow blur, neighbouring dips cannot add up to full darkness
    # elsewhere, so the exact zeros are precisely the chosen pixels.
    for seed in range(5):
        for num_points in (1, 4, 9):
            mask = A.noise_mask(32, 40, seed, num_points=num_points, sigma=0.5, depth=1.0)[..., 0]
            zeros = np.argwhere(mask == 0.0)
            assert len(zeros) == num_points
            points = A.noise_points(32, 40, seed, num_points=num_points)
            assert {tuple(p) for p in zeros} == {tuple(p) for p in points}


def test_noise_mask_random_count_and_seeds():
    counts = {len(A.noise_points(16, 16, seed)) for seed in range(200)}
    assert counts == set(range(1, 10))
    np.testing.assert_array_equal(A.noise_mask(30, 30, 3), A.noise_mask(30, 30, 3))
    assert not np.array_equal(A.noise_mask(30, 30, 3), A.noise_mask(30, 30, 4))
    # The seed also fixes num_points when it is drawn.
    np.testing.assert_array_equal(A.noise_points(30, 30, 3), A.noise_points(30, 30, 3))


def test_noise_mask_blur_width_grows_with_sigma():
    points = [(20, 20)]
    dark = []
    for sigma in (1.0, 2.0, 4.0, 8.0):
        mask = A.noise_mask_from_points(41, 41, points, sigma, depth=1.0)
        dark.append(int((mask < 0.5).sum()))
        assert mask[20, 20, 0] == 0.0 and mask[0, 0, 0] == 1.0
    assert dark == sorted(dark) and len(set(dark)) == len(dark)
    # The dip is radially smooth: brightness increases away from the centre.
    profile = A.noise_mask_from_points(41, 41, points, 4.0, depth=1.0)[20, 20:, 0]
    assert np.all(np.diff(profile) >= 0)


def test_noise_mask_default_sigma_scales_with_size():
    small = A.noise_mask_from_points(40, 40, [(20, 20)], depth=1.0)
    large = A.noise_mask_from_points(80, 80, [(40, 40)], depth=1.0)
    # Same relative size of the dark region at double resolution: ~4x area.
    ratio = (large < 0.5).sum() / (small < 0.5).sum()
    assert 3.0 < ratio < 5.0


def test_noise_mask_edge_cases():
    assert np.all(A.noise_mask_from_points(5, 6, np.zeros((0, 2), int)) == 1.0)
    one = A.noise_mask(1, 1, seed=0, num_points=1, depth=1.0)
    assert one.shape == (1, 1, 1) and one[0, 0, 0] == 0.0
    m = A.noise_mask(3, 3, seed=0, num_points=9, depth=1.0)  # every pixel is a dip
    assert m.shape == (3, 3, 1) and np.all(m == 0.0)


def test_noise_mask_depth_sets_how_deep_the_dips_go():
    # The same seed: the same dips at every depth, each as deep as asked.
    points = A.noise_points(64, 64, 3, num_points=4)
    deepest = A.noise_mask(64, 64, 3, num_points=4, depth=A.ORIGINAL_DEPTH)
    darkness = 1.0 - deepest[..., 0]
    for depth in (0.1, 0.3, 0.6, 1.0):
        mask = A.noise_mask(64, 64, 3, num_points=4, depth=depth)
        assert mask.max() == 1.0
        centres = mask[points[:, 0], points[:, 1], 0]
        np.testing.assert_allclose(centres, 1.0 - depth, atol=1e-6)
        assert mask.min() == pytest.approx(1.0 - depth, abs=1e-6)
        # Shallower, not narrower: the profile is the first mask's, scaled.
        np.testing.assert_allclose(1.0 - mask[..., 0], depth * darkness, atol=1e-6)
    # The default is the documented one, shallower than the first mask.
    default = A.noise_mask(64, 64, 3, num_points=4)
    np.testing.assert_array_equal(
        default, A.noise_mask(64, 64, 3, num_points=4, depth=A.DEFAULT_DEPTH)
    )
    assert 0.0 < A.DEFAULT_DEPTH < A.ORIGINAL_DEPTH == 1.0
    assert default.min() == pytest.approx(1.0 - A.DEFAULT_DEPTH, abs=1e-6)
    for bad in (0, -0.1, 1.5, float("nan"), "0.3", True):
        assert "depth" in _error(A.noise_mask, 8, 8, 0, depth=bad)
        assert "depth" in _error(A.noise_mask_from_points, 8, 8, [(1, 1)], depth=bad)


def test_noise_mask_errors():
    assert "num_points" in _error(A.noise_mask, 32, 32, 0, num_points=0)
    assert "10" in _error(A.noise_mask, 32, 32, 0, num_points=10)
    _error(A.noise_mask, 32, 32, 0, num_points=2.0)
    assert "sigma" in _error(A.noise_mask, 32, 32, 0, sigma=0)
    _error(A.noise_mask, 32, 32, 0, sigma=-1.0)
    _error(A.noise_mask, 32, 32, 0, sigma=float("inf"))
    _error(A.noise_mask, 0, 32, 0)
    _error(A.noise_mask, 2, 2, 0, num_points=5)  # more points than pixels
    _error(A.noise_mask, 32, 32, 0, padding="wrap")
    assert "(5, 1)" in _error(A.noise_mask_from_points, 5, 5, [(5, 1)])
    _error(A.noise_mask_from_points, 5, 5, [(1.5, 1.0)])
    _error(A.noise_mask_from_points, 5, 5, [1, 2, 3])


def test_apply_noise_mask():
    mask = A.noise_mask(8, 10, seed=1, num_points=2, sigma=1.0, depth=1.0)
    content = np.random.default_rng(0).random((8, 10, 3)).astype(np.float32)
    out = A.apply_noise_mask(content, mask)
    assert out.shape == (8, 10, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, content * mask)
    batch = np.stack([content, 2 * content])
    out_batch = A.apply_noise_mask(batch, mask)
    np.testing.assert_allclose(out_batch, batch * mask[None])
    np.testing.assert_allclose(A.apply_noise_mask(batch, mask[..., 0]), out_batch)
    np.testing.assert_allclose(A.apply_noise_mask(batch, np.stack([mask, mask])), out_batch)
    # uint8 pixels come back as float32 in the same range.
    pixels = np.full((8, 10, 3), 200, np.uint8)
    out_u8 = A.apply_noise_mask(pixels, mask)
    assert out_u8.dtype == np.float32 and out_u8.max() == 200.0 and out_u8.min() == 0.0
    assert "height" in _error(A.apply_noise_mask, content, mask[:4])
    assert "width" in _error(A.apply_noise_mask, content, np.ones((8, 1, 1)))
    _error(A.apply_noise_mask, content[..., 0], mask)
    _error(A.apply_noise_mask, content, np.stack([mask, mask]))
    assert "batch" in _error(A.apply_noise_mask, np.stack([content] * 3), np.stack([mask] * 2))
    _error(A.apply_noise_mask, content, np.ones((8, 10, 3)))
