"""Tests for adjustable_style.alpha_vectors (numpy only, fast)."""

import numpy as np
import pytest

from adjustable_style import alpha_vectors as A
from adjustable_style.alpha_vectors import AlphaError

NAMES = ("block2_conv2", "block3_conv4", "block4_conv4")


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(AlphaError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# ---------------------------------------------------------------------------
# parse_alpha / format_alpha / validate_alpha
# ---------------------------------------------------------------------------


def test_alpha_error_is_value_error():
    assert issubclass(AlphaError, ValueError)


def test_parse_positional():
    out = A.parse_alpha("0.2,1,0.5", NAMES)
    assert out.dtype == np.float32 and out.shape == (3,)
    np.testing.assert_array_equal(out, np.float32([0.2, 1.0, 0.5]))
    np.testing.assert_array_equal(A.parse_alpha("  0.2 ,\t1 , 0.5\n", NAMES), out)
    np.testing.assert_array_equal(A.parse_alpha("0,1e-1,.5", NAMES), np.float32([0, 0.1, 0.5]))


def test_parse_broadcast():
    np.testing.assert_array_equal(A.parse_alpha(" 0.5 ", NAMES), np.float32([0.5] * 3))
    np.testing.assert_array_equal(A.parse_alpha("1", ["only"]), np.float32([1.0]))


def test_parse_named_any_order_and_whitespace():
    out = A.parse_alpha("block4_conv4 = 1, block2_conv2=0.2 ,block3_conv4=0", NAMES)
    np.testing.assert_array_equal(out, np.float32([0.2, 0.0, 1.0]))
    assert out.dtype == np.float32


def test_parse_named_with_default():
    out = A.parse_alpha("block3_conv4=0.7", NAMES, default=0.0)
    np.testing.assert_array_equal(out, np.float32([0.0, 0.7, 0.0]))
    out = A.parse_alpha("block3_conv4=0.7", NAMES, default=1)
    np.testing.assert_array_equal(out, np.float32([1.0, 0.7, 1.0]))
    _error(A.parse_alpha, "0.5", NAMES, default=2.0)
    _error(A.parse_alpha, "0.5", NAMES, default="0.1")


@pytest.mark.parametrize(
    "text, token",
    [
        ("0.2,1", "2 values"),  # wrong count
        ("0.2,1,0.5,0.1", "4 values"),
        ("0.2,abc,1", "'abc'"),  # not a number
        ("0.2,nan,1", "'nan'"),
        ("inf", "'inf'"),
        ("0.2,-0.1,1", "'-0.1'"),  # out of range
        ("1.5", "'1.5'"),
        ("block5_conv1=0.3,block3_conv4=1,block4_conv4=1", "'block5_conv1'"),  # unknown
        ("block2_conv2=0.3,block2_conv2=1,block4_conv4=1", "'block2_conv2'"),  # repeated
        ("0.2,block3_conv4=1,0.5", "'block3_conv4=1'"),  # mixed
        ("block2_conv2=0.2,1,block4_conv4=1", "'1'"),
        ("", "''"),  # empty
        ("   ", "empty"),
        ("0.2,,1", "position 2"),
        ("0.2,1,0.5,", "position 4"),
        ("=0.3", "'=0.3'"),
        ("block2_conv2=,block3_conv4=1,block4_conv4=1", "'block2_conv2='"),
        ("block2_conv2=2,block3_conv4=1,block4_conv4=1", "'block2_conv2=2'"),
        ("block2_conv2=0.1", "block3_conv4, block4_conv4"),  # missing without default
    ],
)
def test_parse_errors(text, token):
    message = _error(A.parse_alpha, text, NAMES)
    assert token in message, message


def test_parse_errors_are_actionable():
    assert "block2_conv2, block3_conv4, block4_conv4" in _error(A.parse_alpha, "conv=1", NAMES)
    message = _error(A.parse_alpha, "0.1,0.2", NAMES)
    assert "3 style layers" in message and "single value" in message
    # A token with an embedded newline must still give a one-line message.
    _error(A.parse_alpha, "0.2,0.3\n0.4,1", NAMES)


def test_parse_bad_layer_names():
    _error(A.parse_alpha, "0.5", "block2_conv2")
    _error(A.parse_alpha, "0.5", [])
    _error(A.parse_alpha, "0.5", ["a", "a"])
    _error(A.parse_alpha, "0.5", ["a=b"])
    _error(A.parse_alpha, 0.5, NAMES)


def test_format_alpha_example_and_round_trip():
    assert (
        A.format_alpha([0.2, 1.0, 0.5], NAMES) == "block2_conv2=0.2,block3_conv4=1,block4_conv4=0.5"
    )
    values = A.sample_alpha(500, 3, seed=0)
    values[0] = [0.0, 1.0, np.float32(1e-8)]
    values[1] = np.nextafter(np.float32([1.0, 0.5, 0.1]), np.float32(0))
    for row in values:
        text = A.format_alpha(row, NAMES)
        assert "e" not in text.split("=", 1)[1]  # positional, never scientific
        np.testing.assert_array_equal(A.parse_alpha(text, NAMES), row)


def test_format_rejects_batch_and_bad_values():
    _error(A.format_alpha, np.zeros((2, 3)), NAMES)
    _error(A.format_alpha, [0.1, 2.0, 0.3], NAMES)


def test_validate_alpha():
    out = A.validate_alpha([0, 0.5, 1], 3)
    assert out.dtype == np.float32 and out.shape == (3,)
    batch = A.validate_alpha(np.full((4, 3), 0.25), 3)
    assert batch.shape == (4, 3) and batch.dtype == np.float32
    assert "(2, 4)" in _error(A.validate_alpha, np.zeros((2, 4)), 3)
    _error(A.validate_alpha, np.zeros((2, 2, 3)), 3)
    _error(A.validate_alpha, 0.5, 3)
    assert "[1]" in _error(A.validate_alpha, [0.1, np.nan, 0.2], 3)
    assert "[1, 2]" in _error(A.validate_alpha, [[0, 0, 0], [0, 0, 1.5]], 3)
    _error(A.validate_alpha, [0.1, np.inf, 0.2], 3)
    _error(A.validate_alpha, [0.1, -1e-9, 0.2], 3)
    _error(A.validate_alpha, "0.1,0.2,0.3", 3)
    _error(A.validate_alpha, [0.1, None, 0.3], 3)
    _error(A.validate_alpha, [[0.1, 0.2, 0.3], [0.1]], 3)
    _error(A.validate_alpha, [0.1], True)


# ---------------------------------------------------------------------------
# sample_alpha
# ---------------------------------------------------------------------------


def test_sample_alpha():
    a = A.sample_alpha(64, 3, seed=7)
    assert a.shape == (64, 3) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert a.std() > 0.2  # actually spread over [0, 1], roughly sqrt(1/12)
    np.testing.assert_array_equal(a, A.sample_alpha(64, 3, seed=7))
    assert not np.array_equal(a, A.sample_alpha(64, 3, seed=8))
    assert A.sample_alpha(0, 3, seed=1).shape == (0, 3)
    _error(A.sample_alpha, 2, 0, seed=1)
    _error(A.sample_alpha, 2.0, 3, seed=1)


# ---------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------


def test_alpha_walk_range_smoothness_and_seed():
    period = 20
    walk = A.alpha_walk(200, 3, seed=5, period=period)
    assert walk.shape == (200, 3) and walk.dtype == np.float32
    assert walk.min() >= 0.0 and walk.max() <= 1.0
    steps = np.abs(np.diff(walk, axis=0))
    assert steps.max() <= np.pi / (2 * period) + 1e-6
    # Smooth, not just small steps: second differences are much smaller still.
    assert np.abs(np.diff(walk, 2, axis=0)).max() <= (np.pi / period) ** 2 / 2 + 1e-6
    assert walk.std(axis=0).min() > 0.05  # it actually moves in every layer
    np.testing.assert_array_equal(walk, A.alpha_walk(200, 3, seed=5, period=period))
    assert not np.array_equal(walk, A.alpha_walk(200, 3, seed=6, period=period))


def test_alpha_walk_start_and_loop():
    start = [0.1, 0.9, 0.5]
    walk = A.alpha_walk(50, 3, seed=0, period=10, start=start)
    np.testing.assert_array_equal(walk[0], np.float32(start))
    loop = A.alpha_walk(90, 3, seed=0, period=30, loop=True, start=start)
    # Frame 90 would be frame 0 again: the last step wraps as smoothly as the rest.
    wrap = np.abs(loop[-1] - loop[0]).max()
    assert wrap <= np.pi / (2 * 30) + 1e-6
    assert loop.std(axis=0).min() > 0.01
    short = A.alpha_walk(10, 2, seed=1, period=30, loop=True)  # still moves
    assert short.std(axis=0).min() > 0.0
    assert A.alpha_walk(1, 3, seed=0).shape == (1, 3)
    _error(A.alpha_walk, 10, 3, seed=0, period=0)
    _error(A.alpha_walk, 0, 3, seed=0)
    _error(A.alpha_walk, 10, 3, seed=0, start=[0.1, 1.2, 0.3])


def test_sweep_alphas():
    s = A.sweep_alphas(3, 1, 5)
    assert s.shape == (5, 3) and s.dtype == np.float32
    np.testing.assert_allclose(s[:, 1], [0, 0.25, 0.5, 0.75, 1.0])
    assert np.all(s[:, [0, 2]] == 0.0)
    s = A.sweep_alphas(3, 2, 3, fixed=0.5)
    np.testing.assert_allclose(s, [[0.5, 0.5, 0.0], [0.5, 0.5, 0.5], [0.5, 0.5, 1.0]])
    s = A.sweep_alphas(3, 0, 2, fixed=[0.3, 0.2, 0.9])
    np.testing.assert_allclose(s, [[0.0, 0.2, 0.9], [1.0, 0.2, 0.9]], rtol=1e-6)
    assert "layer_index" in _error(A.sweep_alphas, 3, 3, 5)
    _error(A.sweep_alphas, 3, -1, 5)
    _error(A.sweep_alphas, 3, 0, 1)
    _error(A.sweep_alphas, 3, 0, 5, fixed=1.5)
    _error(A.sweep_alphas, 3, 0, 5, fixed=[0.1, 0.2])


def test_grid_alphas():
    g = A.grid_alphas(3, 0, 2, 3, fixed=0.25)
    assert g.shape == (9, 3) and g.dtype == np.float32
    grid = g.reshape(3, 3, 3)
    np.testing.assert_allclose(grid[:, 0, 0], [0.0, 0.5, 1.0])  # layer i grows down
    np.testing.assert_allclose(grid[0, :, 2], [0.0, 0.5, 1.0])  # layer j grows right
    assert np.all(grid[:, :, 0] == grid[:, :1, 0]) and np.all(grid[:, :, 2] == grid[:1, :, 2])
    assert np.all(g[:, 1] == 0.25)
    assert len({tuple(row) for row in g}) == 9
    assert "i = j" in _error(A.grid_alphas, 3, 1, 1, 3)
    _error(A.grid_alphas, 3, 0, 3, 3)
    _error(A.grid_alphas, 1, 0, 0, 3)
