"""Numbers the experiments share: rank statistics, image distances and
summaries, numpy only (the forward passes that produce the images are in
`evaluators.py`)."""

import math

import numpy as np


def rankdata(values):
    """1-based ranks of `values` (flattened); ties get their average rank."""
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    # A run of ties occupying sorted positions first .. first + count - 1
    # (0-based) shares the mean rank first + (count + 1) / 2 (1-based).
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def spearman(x, y):
    """Spearman's rank correlation of two equally long sequences.

    Pearson's correlation of the ranks (average ranks for ties), which is
    what `scipy.stats.spearmanr` computes. NaN when either side is constant
    (the correlation is undefined).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"spearman needs sequences of equal length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError("spearman needs at least two points")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("spearman needs finite values")
    rx = rankdata(x) - (len(x) + 1) / 2.0
    ry = rankdata(y) - (len(y) + 1) / 2.0
    denominator = math.sqrt(float(np.dot(rx, rx)) * float(np.dot(ry, ry)))
    if denominator == 0.0:
        return float("nan")
    return float(np.clip(np.dot(rx, ry) / denominator, -1.0, 1.0))


def psnr(mse):
    """PSNR in dB of images in [0, 1] from their mean squared error."""
    mse = np.asarray(mse, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(1.0 / mse)


def mean_abs_levels(a, b):
    """Mean absolute difference of two [0, 1] images, in levels of 255."""
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) * 255.0)


def pairs(n):
    """The (i, j) index pairs, i < j, of n things."""
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def pixel_diversity(samples):
    """Mean pairwise mean absolute difference of [0, 1] images, in levels of 255."""
    return float(np.mean([mean_abs_levels(samples[i], samples[j]) for i, j in pairs(len(samples))]))


def element_size(stylized, photo):
    """Size in pixels of what stylization adds: 1 / its mean frequency.

    The residual stylized - photo (grey, mean removed) holds the strokes and
    textures the network paints; its power spectrum's power-weighted mean
    radial frequency f (cycles per pixel) is small for large elements.
    """
    grey = lambda image: np.asarray(image, np.float64) @ [0.299, 0.587, 0.114]
    residual = grey(stylized) - grey(photo)
    residual -= residual.mean()
    power = np.abs(np.fft.fft2(residual)) ** 2
    fy = np.fft.fftfreq(residual.shape[0])[:, None]
    fx = np.fft.fftfreq(residual.shape[1])[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    total = power.sum()
    if total <= 0:
        return float("nan")
    return float(total / (power * radius).sum())


def summary(values):
    """Median, mean, min and max of a 1-D sample, as floats."""
    values = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(values)),
        "mean": float(np.mean(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
    }


def _chroma(image):
    """(Cb, Cr) of an RGB image in [0, 1], in levels of 255 (JPEG's BT.601)."""
    rgb = np.asarray(image, np.float64) * 255.0
    cb = rgb @ [-0.168736, -0.331264, 0.5]
    cr = rgb @ [0.5, -0.418688, -0.081312]
    return np.stack([cb, cr], axis=-1)


def chroma_shift(output, photo):
    """How far the output's mean colour moved from the photo's, in levels.

    The Euclidean distance between the mean (Cb, Cr) of the two images: a
    tint shifts every pixel's chroma the same way and shows here in full,
    while strokes that move chroma both ways cancel.
    """
    shift = _chroma(output).reshape(-1, 2).mean(0) - _chroma(photo).reshape(-1, 2).mean(0)
    return float(np.hypot(*shift))
