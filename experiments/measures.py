"""Numbers the experiments share: rank statistics, image distances, and the
compiled forward passes that stylize photos and measure their losses.

numpy only, except `Evaluator`, which runs the stylizer and the loss network
in TensorFlow.
"""

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


def curve_alphas(num_layers, steps):
    """{(others, layer index): (steps, L) alphas} for the Figure 7 curves."""
    from adjustable_style import alpha_vectors as alpha_lib

    return {
        (others, index): alpha_lib.sweep_alphas(num_layers, index, steps, fixed=float(others))
        for others in (0, 1)
        for index in range(num_layers)
    }


class Evaluator:
    """Compiled forward passes: stylize, and losses of stylized batches."""

    def __init__(self, stylizer, loss_net, content_layer, style_layers, style_image, batch_size):
        import tensorflow as tf

        from adjustable_style.model import losses

        self.batch_size = batch_size
        self.style_layers = list(style_layers)
        self.content_layer = content_layer
        style_features = loss_net(tf.constant(style_image[None]), training=False)
        grams = {name: losses.gram_matrix(style_features[name]) for name in self.style_layers}

        def features(image):
            return loss_net(image, training=False)

        def style_losses(feats):
            return tf.stack(
                [losses.style_loss(feats[name], grams[name]) for name in self.style_layers], axis=1
            )

        image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        alpha_spec = tf.TensorSpec([None, len(self.style_layers)], tf.float32)

        @tf.function(input_signature=[image_spec])
        def measure_photo(content):
            feats = features(content)
            return style_losses(feats), feats[content_layer]

        @tf.function(input_signature=[image_spec, alpha_spec, tf.TensorSpec(None, tf.float32)])
        def measure_stylized(content, alphas, content_features):
            batch = tf.repeat(content, tf.shape(alphas)[0], axis=0)
            stylized = stylizer([batch, alphas], training=False)
            feats = features(stylized)
            content_loss = losses.content_loss(feats[content_layer], content_features)
            mse = tf.reduce_mean(tf.square(stylized - batch), axis=[1, 2, 3])
            return style_losses(feats), content_loss, mse

        @tf.function(input_signature=[image_spec, alpha_spec])
        def stylize(content, alphas):
            batch = tf.repeat(content, tf.shape(alphas)[0], axis=0)
            return stylizer([batch, alphas], training=False)

        # Plain callables for other experiments' compiled functions
        # (experiments/diversity.py): the same features and Grams.
        self.features = features
        self.style_losses = style_losses
        self._measure_photo = measure_photo
        self._measure_stylized = measure_stylized
        self._stylize = stylize

    def photo(self, content):
        """(style losses (L,), content features) of the unstylized photo."""
        style, feats = self._measure_photo(content[None])
        return style.numpy()[0], feats

    def stylized(self, content, alphas, content_features):
        """Style losses (N, L), content losses (N,), MSE to the photo (N,)."""
        parts = [[], [], []]
        for start in range(0, len(alphas), self.batch_size):
            chunk = alphas[start : start + self.batch_size]
            for part, value in zip(
                parts, self._measure_stylized(content[None], chunk, content_features)
            ):
                part.append(value.numpy())
        return tuple(np.concatenate(part, axis=0).astype(np.float64) for part in parts)

    def stylize(self, content, alphas):
        out = [
            self._stylize(content[None], alphas[s : s + self.batch_size]).numpy()
            for s in range(0, len(alphas), self.batch_size)
        ]
        return np.concatenate(out, axis=0)


def figure7_stats(alphas, raw):
    """Normalized curve statistics of one layer and setting over photos.

    `raw` is (photos, steps) style losses; each row is divided by its value
    at alpha_l = 0 (the first step).
    """
    raw = np.asarray(raw, dtype=np.float64)
    normalized = raw / np.maximum(raw[:, :1], np.finfo(np.float64).tiny)
    q25, median, q75 = np.percentile(normalized, [25, 50, 75], axis=0)
    per_photo = [spearman(alphas, row) for row in raw]
    pooled = spearman(np.tile(alphas, len(raw)), normalized.ravel())
    return {
        "raw": raw.tolist(),
        "normalized_median": median.tolist(),
        "normalized_q25": q25.tolist(),
        "normalized_q75": q75.tolist(),
        "end_ratio": summary(normalized[:, -1]),
        "spearman_pooled": pooled,
        "spearman_per_photo": per_photo,
        "spearman_per_photo_median": float(np.median(per_photo)),
        "num_points": int(raw.size),
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
