"""The palette distance (numpy only): how far apart two images' colours are.

The Gram-based style ratio is blind to a re-tint that keeps the textures;
diversity.py and noise_strength.py measure the colours with this:

- :func:`srgb_to_lab`: CIELAB (D65) of sRGB pixels in [0, 1];
- :func:`palette_quantiles` / :func:`palette_distance`: the sliced
  Wasserstein distance between two images' colour distributions in CIELAB.
"""

import numpy as np

# D65 white of sRGB, and sRGB's linear RGB -> XYZ matrix (IEC 61966-2-1).
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)

# Directions and quantile levels of the sliced Wasserstein distance: fixed,
# so that every image's quantiles are comparable and a run repeats exactly.
PALETTE_DIRECTIONS = 64
PALETTE_QUANTILES = 128
_PALETTE_SEED = 20200427


def srgb_to_lab(rgb):
    """CIELAB (L* in [0, 100], a*, b*) of sRGB values in [0, 1], shape (..., 3)."""
    rgb = np.clip(np.asarray(rgb, np.float64), 0.0, 1.0)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    epsilon, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def _directions():
    rng = np.random.default_rng(_PALETTE_SEED)
    directions = rng.standard_normal((PALETTE_DIRECTIONS, 3))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def palette_quantiles(image):
    """(directions, quantiles) array: the image's CIELAB pixels projected on
    fixed unit directions, at fixed quantile levels.

    Two images' arrays give their palette distance (:func:`palette_distance`)
    whatever their pixel counts; computing a style image's once saves
    re-sorting it for every sample.
    """
    lab = srgb_to_lab(np.asarray(image)[..., :3]).reshape(-1, 3)
    projected = lab @ _directions().T  # (pixels, directions)
    levels = (np.arange(PALETTE_QUANTILES) + 0.5) / PALETTE_QUANTILES
    return np.quantile(projected, levels, axis=0).T


def palette_distance(a, b):
    """Sliced Wasserstein-1 distance of two colour distributions, in CIELAB units.

    `a` and `b` are images (H, W, 3) in [0, 1] or their
    :func:`palette_quantiles`. In 1-D the Wasserstein-1 distance is the mean
    absolute difference of the quantile functions; the sliced distance
    averages it over the directions. 0: the same colours in the same
    proportions (wherever they sit); a uniform shift of every pixel by d
    (in CIELAB) gives at most d.
    """
    qa = a if np.ndim(a) == 2 else palette_quantiles(a)
    qb = b if np.ndim(b) == 2 else palette_quantiles(b)
    return float(np.mean(np.abs(np.asarray(qa) - np.asarray(qb))))
