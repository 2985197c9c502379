"""Small measures that several experiments share (numpy only).

- :func:`srgb_to_lab`: CIELAB (D65) of sRGB pixels in [0, 1];
- :func:`palette_quantiles` / :func:`palette_distance`: the sliced
  Wasserstein distance between two images' colour distributions in CIELAB,
  the "palette distance" of experiments/diversity.py and
  experiments/noise_strength.py;
- :func:`normalized_objective`: the training objective L_w of the paper's
  Eq. 8 with given loss EMAs, for experiments/figure6.py's loss parity;
- :func:`recorded_path`: a path as results files name it.

Kept apart from adjustability.py so that the experiments built on it do
not grow it.
"""

import os

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


def eq8_factors(ema):
    """Eq. 8's factors sum_i EMA_i / EMA_k (content first, then each style layer)."""
    ema = np.asarray(ema, np.float64)
    return np.sum(ema) / np.maximum(ema, 1e-12)


def normalized_objective(raw_losses, weights, content_weight, ema, normalization="eq8"):
    """The training objective of outputs with raw losses under style weights w.

    `raw_losses` (..., 1 + L): the content loss, then each style layer's;
    `weights` (L,): w (or alpha); `ema` (1 + L,): the loss EMAs the models
    were trained with (`ema` in model.json). With Eq. 8 each loss is
    multiplied by sum(EMA) / EMA_k, as `losses.LossNormalizer` does; with
    normalization "none" the losses are taken raw. Returns (...,):
    content_weight * L~_c + sum_l w_l * L~_l, the trainer's per-sample loss.
    """
    raw = np.asarray(raw_losses, np.float64)
    factors = eq8_factors(ema) if normalization == "eq8" else np.ones(raw.shape[-1])
    coefficients = np.concatenate([[float(content_weight)], np.asarray(weights, np.float64)])
    return np.sum(raw * factors * coefficients, axis=-1)


def recorded_path(path):
    """`path` relative to the repository when inside it, else its file name.

    Results files are committed: they name no folder of the machine that
    made them.
    """
    absolute = os.path.abspath(path)
    if os.path.commonpath([absolute, _REPO]) == _REPO:
        return os.path.relpath(absolute, _REPO)
    return os.path.basename(absolute)
