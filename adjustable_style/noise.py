"""The content-noise mask: spatial diversity at inference (the paper's section 5.3).

The content image is multiplied by an all-ones image in which a few (< 10)
random pixels were lowered and which was then Gaussian-blurred (an "inverse
Gaussian filter"): a few small soft regions darken, and the stylizer paints
them differently, so one photo gives varied pictures.

How deep the dips go is the mask's `depth` (its strength): a dip's centre
is multiplied by ``1 - depth``. The paper speaks of noise "with small
magnitude"; ``depth=1`` (dips down to black, this module's first mask)
makes the stylizer paint near-black blotches over the photo, so the
default is shallower (``DEFAULT_DEPTH``, chosen by
`experiments/noise_strength.py` on held-out photos; see docs/diversity.md).

* :func:`noise_mask` / :func:`apply_noise_mask` -- the random mask from a
  seed, and multiplying content by it;
* :func:`noise_points` / :func:`noise_mask_from_points` -- the same in two
  steps, for masks with chosen dips;
* :func:`gaussian_kernel1d` / :func:`gaussian_blur` -- the blur, in numpy.

Plain numpy: scipy is a test dependency only (the tests check the blur
against ``scipy.ndimage.gaussian_filter`` to 1e-12), and a mask needs only
two 1-D blurs per point (see :func:`noise_mask_from_points`), which is as
fast as ``scipy.ndimage`` on the whole image would be. Random functions take
``seed``: anything :func:`numpy.random.default_rng` accepts.

Every error is a :class:`NoiseError` (a ``ValueError``) with a one-line message.
"""

import math
import numbers

import numpy as np

from adjustable_style.errors import UserError, check_int

__all__ = [
    "NoiseError",
    "gaussian_kernel1d",
    "gaussian_blur",
    "noise_points",
    "noise_mask",
    "noise_mask_from_points",
    "apply_noise_mask",
    "MAX_NOISE_POINTS",
    "DEFAULT_SIGMA_FRACTION",
    "DEFAULT_DEPTH",
    "ORIGINAL_DEPTH",
]

# The paper uses "a handful (< 10)" of zeros; more would darken most of a small
# image and stop looking like a local variation.
MAX_NOISE_POINTS = 9

# Default blur width relative to the shorter image side: keeps the darkened
# spots the same *relative* size whatever the resolution (about 6% of the
# shorter side falls below half brightness around each point).
DEFAULT_SIGMA_FRACTION = 0.05

# How deep a dip goes: its centre is multiplied by 1 - depth. ORIGINAL_DEPTH
# is the first mask's (dips to black). DEFAULT_DEPTH is the deepest depth on
# experiments/noise_strength.py's grid (0.1 .. 1) whose stylized dips are at
# most 10 levels of 255 darker than the noise-free output, its rule fixed
# before measuring; starry_night on held-out photos: 0.2 darkens them by 10
# levels, 0.3 by 15, 1 by 47 (docs/diversity.md has the table and pictures).
ORIGINAL_DEPTH = 1.0
DEFAULT_DEPTH = 0.2


class NoiseError(UserError, ValueError):
    """Invalid noise mask or blur parameter."""


def _check_int(name, value, minimum=None, maximum=None):
    return check_int(name, value, minimum, maximum, error=NoiseError)


def _check_positive_float(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise NoiseError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise NoiseError(f"{name} must be a finite number > 0, got {value!r}")
    return value


# ---------------------------------------------------------------------------
# Gaussian blur (numpy only; scipy is a test dependency, not a runtime one).
# ---------------------------------------------------------------------------

_PADDING_MODES = {
    # Named like scipy.ndimage: "reflect" mirrors including the edge pixel
    # (d c b a | a b c d), which is numpy's "symmetric".  It is used by
    # default because it does not darken the image border the way zero
    # padding would.
    "reflect": "symmetric",
    "constant": "constant",
}


def gaussian_kernel1d(sigma, truncate=4.0):
    """Normalized 1-D Gaussian kernel of radius ``int(truncate * sigma + 0.5)``.

    The radius rule matches ``scipy.ndimage.gaussian_filter`` so results agree
    with it (the tests check this).

    Returns:
      float64 array of shape ``(2 * radius + 1,)`` summing to 1.
    """
    sigma = _check_positive_float("sigma", sigma)
    truncate = _check_positive_float("truncate", truncate)
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _check_padding(padding):
    if padding not in _PADDING_MODES:
        raise NoiseError(
            f"padding must be one of {', '.join(sorted(_PADDING_MODES))}, got {padding!r}"
        )
    return _PADDING_MODES[padding]


def _blur_axis(array, kernel, axis, numpy_mode):
    """Correlates ``array`` with a symmetric 1-D ``kernel`` along ``axis``."""
    radius = len(kernel) // 2
    moved = np.moveaxis(array, axis, 0)
    n = moved.shape[0]
    pad = [(radius, radius)] + [(0, 0)] * (moved.ndim - 1)
    # np.pad repeats the reflection when radius > n, so tiny images work too.
    padded = np.pad(moved, pad, mode=numpy_mode)
    out = np.zeros(moved.shape, dtype=np.float64)
    # A loop over taps (not pixels) keeps this vectorized; it costs
    # O(pixels * taps), fine for the 1-D profiles noise_mask needs and for
    # moderate images.
    for tap, weight in enumerate(kernel):
        out += weight * padded[tap : tap + n]
    return np.moveaxis(out, 0, axis)


def gaussian_blur(image, sigma, padding="reflect", truncate=4.0):
    """Separable Gaussian blur over the first two axes of an (H, W[, C]) image.

    Args:
      image: Array of shape ``(H, W)`` or ``(H, W, C)``; channels are blurred
        independently.
      sigma: Standard deviation in pixels, > 0.
      padding: ``"reflect"`` (mirror at the border, including the edge pixel;
        scipy's ``"reflect"``) or ``"constant"`` (zeros outside the image).
      truncate: Kernel radius in standard deviations.

    Returns:
      float64 array of the same shape.
    """
    numpy_mode = _check_padding(padding)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim not in (2, 3):
        raise NoiseError(
            f"gaussian_blur expects an (H, W) or (H, W, C) image, got shape {image.shape}"
        )
    kernel = gaussian_kernel1d(sigma, truncate)
    return _blur_axis(_blur_axis(image, kernel, 0, numpy_mode), kernel, 1, numpy_mode)


# ---------------------------------------------------------------------------
# Noise mask (spatial diversity, section 5.3).
# ---------------------------------------------------------------------------


def _check_depth(depth):
    if depth is None:
        return DEFAULT_DEPTH
    if isinstance(depth, bool) or not isinstance(depth, numbers.Real):
        raise NoiseError(f"depth must be a number in (0, 1], got {depth!r}")
    depth = float(depth)
    if not (math.isfinite(depth) and 0.0 < depth <= 1.0):
        raise NoiseError(f"depth must be in (0, 1] (1: dips down to black), got {depth!r}")
    return depth


def _check_image_size(height, width):
    return _check_int("height", height, minimum=1), _check_int("width", width, minimum=1)


def noise_points(height, width, seed, num_points=None):
    """Draws the distinct pixels that :func:`noise_mask` zeroes.

    Args:
      height, width: Image size.
      seed: Seed for :func:`numpy.random.default_rng`.
      num_points: Number of points in ``1..MAX_NOISE_POINTS``; drawn uniformly
        from that range when ``None``.

    Returns:
      int64 array of shape ``(num_points, 2)`` holding ``(row, col)`` pairs.
    """
    height, width = _check_image_size(height, width)
    rng = np.random.default_rng(seed)
    if num_points is None:
        # Drawn first, from the same generator, so one seed fixes the whole
        # mask (count and positions).
        num_points = int(rng.integers(1, MAX_NOISE_POINTS + 1))
    num_points = _check_int("num_points", num_points, minimum=1, maximum=MAX_NOISE_POINTS)
    if num_points > height * width:
        raise NoiseError(
            f"num_points={num_points} exceeds the {height}x{width} image's {height * width} pixels"
        )
    # Distinct pixels: a repeated point would silently give fewer dips.
    flat = rng.choice(height * width, size=num_points, replace=False)
    return np.stack([flat // width, flat % width], axis=1).astype(np.int64)


def noise_mask_from_points(
    height, width, points, sigma=None, *, depth=None, padding="reflect", truncate=4.0
):
    """Builds the multiplicative noise mask with dips at the given pixels.

    Each point contributes its blurred impulse scaled so that its own peak is
    1; contributions are summed and clipped at 1 (the darkness), and the
    mask is one minus depth times that.  Scaling per point (rather than
    normalizing the summed image) makes every dip reach exactly
    ``1 - depth`` at its centre even near a border, where padding changes the
    peak height.  Finally the mask is divided by its maximum so that it is
    exactly 1 somewhere, even when the dips cover the whole image.

    Because the blur is separable and so is an impulse, each blurred impulse
    is the outer product of two blurred 1-D impulses; computing it that way
    gives the same result as blurring the 2-D impulse image with
    :func:`gaussian_blur` at a fraction of the cost.

    Args:
      height, width: Image size.
      points: Integer ``(N, 2)`` array-like of ``(row, col)`` pixels, N >= 0
        (no points gives an all-ones mask; e.g. positions clicked in a UI).
      sigma: Gaussian standard deviation in pixels; defaults to
        ``DEFAULT_SIGMA_FRACTION * min(height, width)``.
      depth: How deep each dip goes, in (0, 1]: its centre is ``1 - depth``
        (before the division by the maximum). Default ``DEFAULT_DEPTH``;
        ``ORIGINAL_DEPTH`` (1) gives the first mask, black at every point.
      padding: ``"reflect"`` or ``"constant"``, see :func:`gaussian_blur`.
      truncate: Kernel radius in standard deviations.

    Returns:
      float32 array of shape ``(height, width, 1)`` in [1 - depth, 1] with
      maximum exactly 1; at depth 1, exactly 0 at every point (unless the
      dips darken every pixel fully, e.g. a 1x1 image, where it is all zeros).
    """
    height, width = _check_image_size(height, width)
    depth = _check_depth(depth)
    if sigma is None:
        sigma = DEFAULT_SIGMA_FRACTION * min(height, width)
    kernel = gaussian_kernel1d(sigma, truncate)
    numpy_mode = _check_padding(padding)

    points = np.asarray(points)
    if points.size == 0:
        return np.ones((height, width, 1), dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 2 or not np.issubdtype(points.dtype, np.integer):
        raise NoiseError(
            f"points must be an integer array of (row, col) pairs with shape (N, 2), "
            f"got dtype {points.dtype} shape {points.shape}"
        )
    rows, cols = points[:, 0], points[:, 1]
    bad = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    if bad.any():
        row, col = (int(v) for v in points[np.argmax(bad)])
        raise NoiseError(f"point ({row}, {col}) is outside the {height}x{width} image")

    n = len(points)
    row_impulses = np.zeros((n, height))
    row_impulses[np.arange(n), rows] = 1.0
    col_impulses = np.zeros((n, width))
    col_impulses[np.arange(n), cols] = 1.0
    row_profiles = _blur_axis(row_impulses, kernel, 1, numpy_mode)
    col_profiles = _blur_axis(col_impulses, kernel, 1, numpy_mode)
    # Scaling each factor by its own centre value makes the product exactly
    # 1.0 at the centre (x / x == 1 in IEEE arithmetic), so the dip is exactly 0.
    row_profiles /= row_profiles[np.arange(n), rows][:, None]
    col_profiles /= col_profiles[np.arange(n), cols][:, None]
    darkness = np.minimum(np.einsum("nh,nw->hw", row_profiles, col_profiles), 1.0)
    mask = 1.0 - depth * darkness
    peak = mask.max()
    if peak > 0:
        mask /= peak
    return mask[:, :, None].astype(np.float32)


def noise_mask(
    height,
    width,
    seed,
    num_points=None,
    sigma=None,
    *,
    depth=None,
    padding="reflect",
    truncate=4.0,
):
    """Random "inverse Gaussian" mask for spatial diversity (paper section 5.3).

    An all-ones image with ``num_points`` random pixels lowered to
    ``1 - depth``, blurred, and renormalized so that it is exactly 1 at its
    maximum and ``1 - depth`` at each chosen pixel.  Multiply the content
    image by it (:func:`apply_noise_mask`) before stylizing.  The dips'
    positions and count depend on the seed only, not on ``depth``: the same
    seed at another depth gives the same dips, shallower or deeper.

    Args:
      height, width: Image size.
      seed: Seed for :func:`numpy.random.default_rng`; the same seed gives
        the same mask.
      num_points: Number of dips in ``1..MAX_NOISE_POINTS`` (the paper uses
        fewer than 10); random in that range when ``None``.
      sigma: Blur standard deviation in pixels (> 0); defaults to
        ``DEFAULT_SIGMA_FRACTION * min(height, width)``.
      depth: How deep the dips go, in (0, 1]; default ``DEFAULT_DEPTH``,
        and ``ORIGINAL_DEPTH`` (1) for the first mask (dips to black).
      padding, truncate: See :func:`gaussian_blur`.

    Returns:
      float32 array of shape ``(height, width, 1)`` in [1 - depth, 1].
    """
    # Validate sigma and depth before drawing so a bad call fails the same
    # way regardless of the seed.
    if sigma is not None:
        sigma = _check_positive_float("sigma", sigma)
    depth = _check_depth(depth)
    points = noise_points(height, width, seed, num_points)
    return noise_mask_from_points(
        height, width, points, sigma, depth=depth, padding=padding, truncate=truncate
    )


def apply_noise_mask(content, mask):
    """Multiplies a content image (or batch) by a noise mask.

    Args:
      content: ``(H, W, C)`` or ``(B, H, W, C)`` image(s), numpy or an eager /
        graph tensor.
      mask: ``(H, W)``, ``(H, W, 1)`` or ``(B, H, W, 1)`` mask from
        :func:`noise_mask`; broadcast over channels (and the batch when
        unbatched).

    Returns:
      ``content * mask``.  Floating numpy input keeps its dtype; integer numpy
      input (e.g. uint8 pixels) comes back as float32 in the same value range,
      since the product is no longer integral.  Tensors stay tensors, with the
      mask cast to the tensor's dtype.
    """
    mask = np.asarray(mask)
    if mask.ndim == 2:
        mask = mask[:, :, None]
    if mask.ndim not in (3, 4) or mask.shape[-1] != 1:
        raise NoiseError(
            f"mask must have shape (H, W), (H, W, 1) or (B, H, W, 1), got {mask.shape}"
        )
    is_array = isinstance(content, np.ndarray) or not hasattr(content, "shape")
    if is_array:
        content = np.asarray(content)
    try:
        shape = tuple(content.shape)
    except ValueError:  # A graph tensor of unknown rank: nothing to check.
        shape = None
    if shape is None:
        pass
    elif len(shape) not in (3, 4):
        raise NoiseError(f"content must have shape (H, W, C) or (B, H, W, C), got {shape}")
    elif mask.ndim == 4 and len(shape) != 4:
        raise NoiseError(f"a batched mask {mask.shape} needs batched content, got {shape}")
    elif mask.ndim == 4 and shape[0] is not None and mask.shape[0] not in (1, shape[0]):
        raise NoiseError(f"mask batch {mask.shape[0]} does not match content batch {shape[0]}")
    if shape is not None:
        # Checked explicitly because plain broadcasting would also accept a
        # (1, W, 1) or (H, 1, 1) mask built for a different image size.
        for axis, name in ((-3, "height"), (-2, "width")):
            if shape[axis] is not None and shape[axis] != mask.shape[axis]:
                raise NoiseError(
                    f"mask {name} {mask.shape[axis]} does not match content {name} "
                    f"{shape[axis]} (mask {mask.shape}, content {shape})"
                )
    if is_array:
        dtype = content.dtype if np.issubdtype(content.dtype, np.floating) else np.float32
        return content.astype(dtype, copy=False) * mask.astype(dtype)
    # Tensor-like: let the framework multiply so the result stays on device.
    dtype = getattr(content.dtype, "as_numpy_dtype", content.dtype)
    return content * mask.astype(dtype)
