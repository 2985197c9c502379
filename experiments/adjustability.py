r"""Does alpha adjust the style? The paper's claims, measured with the real VGG-19.

    python experiments/adjustability.py --content=photos/ \
        --vgg_weights=vgg19.weights.h5 [--model=starry_night] [--image_size=256]

On every held-out content photo c (resized so the shorter side is
--image_size, then centre-cropped square), with the stylizer called as
T(c; alpha) and the losses of the loss network the model was trained with:

1. Style at alpha = 1 (every layer): per style layer l, the style loss
   L_l(T(c; 1)) against the style loss of the unstylized photo L_l(c). The
   ratio says how much of the photo's Gram distance to the style the
   stylizer removes; it should be far below 1.
2. Content at alpha = 0 (every layer): the only remaining objective is the
   content loss, so T(c; 0) should reconstruct c: its content loss (and, for
   reference, the content loss at alpha = 1) and PSNR(T(c; 0), c) in dB.
3. The paper's Figure 7: for each style layer l, alpha_l goes from 0 to 1 in
   --steps steps while the other layers stay at 0, and again with the others
   at 1. L_l should fall as alpha_l grows. Each photo's curve is divided by
   its value at alpha_l = 0; `figure7.png` plots the median over photos with
   the 25-75% band, and the Spearman rank correlation between alpha_l and L_l
   is reported pooled over all photos' (normalized) points and as the median
   of the per-photo correlations. Strongly negative means "more alpha_l, less
   style loss at layer l", i.e. the knob does what it says.
4. The paper's Figure 3, in numbers: the single-layer outputs (one
   alpha_l = 1, the others 0) of each photo. How different they are: the
   mean absolute difference of every pair, in levels of 255. How large
   their style elements are: the residual output - photo (grey), its power
   spectrum's power-weighted mean spatial frequency f, and the element size
   1 / f in pixels. The paper shows deeper layers giving larger elements.
5. `sweep.png`: Figure 3 for one photo, a row per style layer whose alpha
   goes 0 -> 1 across --sweep_steps columns, the others at 0.
6. The targets: each figure above against the threshold the project holds
   its shipped models to (TARGETS), passed or not, in results.md.

Outputs in --output_dir (default experiments/results/<model name>):
results.json (every number, per photo too), results.md (Markdown tables for
the README, with the command that produced them), figure7.png, sweep.png.
Nothing is written until everything has been computed.

Forward passes are batched: the distinct alphas one photo needs (the
Figure 7 curves share their end points) run --batch_size at a time through
the stylizer and the loss network in one compiled function. Plots are drawn
with Pillow, so the script needs nothing beyond the package's dependencies.
"""

import json
import math
import os
import shlex
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path[0] = _REPO

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from adjustable_style import cli, images, model_files  # noqa: E402
from adjustable_style.cli import UsageError  # noqa: E402

PROGRAM = "experiments/adjustability.py"
RESULTS_DIR = os.path.join(_HERE, "results")
MIN_IMAGE_SIZE = 16  # VGG's block 4 sees 1/8 of the image.
DEFAULT_STYLE_IMAGE_SIZE = 256
# What a shipped model must reach (medians over held-out photos): the style
# ratio at alpha = 1 per style layer (in order; the paper's three), Figure
# 7's end ratio with the others at 0 and Spearman's correlation with the
# others at 0 and 1, the PSNR at alpha = 0, and the mean absolute
# difference of every pair of single-layer outputs.
TARGETS = {
    "style_ratio_max": (0.15, 0.25, 0.5),
    "figure7_end_ratio_max": 0.6,
    "figure7_spearman_max": -0.9,
    "psnr_alpha0_min_db": 18.0,
    "single_layer_difference_min_levels": 15.0,
}


def define_input_flags(fv):
    """Defines the flags every experiment shares on FlagValues `fv`.

    --model, --content, --vgg_weights, --style_image and --image_size.
    """
    flags.DEFINE_string(
        "model",
        None,
        "A .keras file, a training model folder (model.keras + model.json) or "
        f"the name of a shipped model. Default: {model_files.DEFAULT_MODEL}.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "content",
        None,
        "Held-out content photos (not used in training): a file, a folder, a "
        "glob or a comma-separated list of those.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "vgg_weights",
        "imagenet",
        "The loss network's weights: 'imagenet' (Keras download, needs "
        "internet) or the path of a Keras VGG weights file (include_top="
        "False), ideally the one the model was trained with.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "style_image",
        None,
        "The style image. Default: style.jpg in the model's folder, else the "
        "file the training record names (absolute, or in the model's folder).",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "image_size",
        256,
        "Photos are resized so that the shorter side is this many pixels, "
        "then centre-cropped square.",
        flag_values=fv,
    )


def define_flags(flag_values=None):
    """Defines the command's flags (on `flag_values`, default absl's FLAGS).

    Only the command (or a test, on its own FlagValues) defines them, so
    importing this module never clashes with other commands' flags.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    define_input_flags(fv)
    flags.DEFINE_integer(
        "steps", 11, "Values of alpha_l from 0 to 1 on each Figure 7 curve.", flag_values=fv
    )
    flags.DEFINE_integer(
        "sweep_steps", 5, "Columns of sweep.png (alpha_l from 0 to 1).", flag_values=fv
    )
    flags.DEFINE_integer(
        "sweep_photo", 0, "Which photo (0-based, in sorted order) sweep.png shows.", flag_values=fv
    )
    flags.DEFINE_integer("max_images", 0, "Use at most this many photos (0 = all).", flag_values=fv)
    flags.DEFINE_integer(
        "batch_size", 11, "Stylized images per forward pass (memory grows with it).", flag_values=fv
    )
    flags.DEFINE_string(
        "output_dir",
        None,
        "Where results.json, results.md, figure7.png and sweep.png go. "
        "Default: experiments/results/<model name>.",
        flag_values=fv,
    )


# ---------------------------------------------------------------------------
# Statistics (numpy only).
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------


def model_name(spec, path):
    """A short name for the model: the shipped name or its folder's name."""
    if spec and spec in model_files.shipped_models() and not os.path.exists(spec):
        return spec
    if spec is None or spec == "":
        return model_files.DEFAULT_MODEL
    folder, file = os.path.split(os.path.abspath(path))
    if file == model_files.MODEL_FILE:
        return os.path.basename(folder) or "model"
    return os.path.splitext(file)[0]


def find_style_image(override, model_path, record):
    """The style image to measure against; see --style_image."""
    if override:
        if not os.path.isfile(override):
            raise images.ImageError(f"{override}: style image not found")
        return override
    folder = os.path.dirname(os.path.abspath(model_path))
    thumbnail = os.path.join(folder, model_files.STYLE_THUMBNAIL)
    if os.path.isfile(thumbnail):
        return thumbnail
    named = record.get("style_image")
    if named:
        for candidate in (named, os.path.join(folder, named)):
            if os.path.isfile(candidate):
                return candidate
    raise UsageError(
        f"no style image found for {model_path} (no {model_files.STYLE_THUMBNAIL} "
        f"beside it{', and the recorded ' + repr(named) + ' is not there' if named else ''}); "
        "pass --style_image"
    )


def load_models(model_spec, model_path, style_image, vgg_weights):
    """The adjustable stylizer, its record, the style image and the loss network.

    `model_spec` is --model as given, `model_path` what it resolves to.
    Notes (printed) when the style image or the VGG weights differ from what
    training recorded; a UsageError for a base model, which has no alpha.
    Returns a namespace: stylizer, record, style_layers, network (the loss
    network's name), spec, style_path, style_size, style (the image in
    [0, 1]), same_style (None when the record has no checksum), loss_net.
    """
    import types

    from adjustable_style.model import loss_network, networks
    from adjustable_style.training import data

    stylizer, record = model_files.load_stylizer(model_spec or None)
    if not networks.is_adjustable(stylizer):
        raise UsageError(
            f"{model_path} is a base (non-adjustable) model; these "
            "experiments need a model that takes alpha"
        )
    style_layers = networks.style_layer_names(stylizer)
    network = record.get("loss_network", "vgg19")
    spec = loss_network.default_spec(
        network, content_layer=record.get("content_layer"), style_layers=style_layers
    )
    style_path = find_style_image(style_image, model_path, record)
    style_size = int(record.get("style_image_size") or DEFAULT_STYLE_IMAGE_SIZE)
    style = data.style_image_tensor(style_path, style_size).numpy()[0]
    style_sha = model_files.file_sha256(style_path)
    same_style = (
        style_sha == record["style_image_sha256"] if record.get("style_image_sha256") else None
    )
    if same_style is False:
        print(
            f"Note: {style_path} is not byte-identical to the training style "
            f"image {record.get('style_image')!r} (a thumbnail or another "
            "file); the style losses use it as given."
        )
    recorded_weights = record.get("vgg_weights")
    if recorded_weights and os.path.basename(str(recorded_weights)) != os.path.basename(
        vgg_weights
    ):
        print(
            f"Note: the model was trained with VGG weights {recorded_weights!r}, "
            f"measuring with {vgg_weights!r}."
        )
    loss_net = loss_network.build_loss_network(spec, weights=vgg_weights)
    return types.SimpleNamespace(
        stylizer=stylizer,
        record=record,
        style_layers=style_layers,
        network=network,
        spec=spec,
        style_path=style_path,
        style_size=style_size,
        style=style,
        same_style=same_style,
        loss_net=loss_net,
    )


def curve_alphas(num_layers, steps):
    """{(others, layer index): (steps, L) alphas} for the Figure 7 curves."""
    from adjustable_style import alpha_vectors as alpha_lib

    return {
        (others, index): alpha_lib.sweep_alphas(num_layers, index, steps, fixed=float(others))
        for others in (0, 1)
        for index in range(num_layers)
    }


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------


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


def check_targets(style_layers, style_at_1, content_at_0, figure7, figure3):
    """Each TARGETS entry against the measured medians: a list of rows."""
    rows = []

    def row(what, value, bound, at_most):
        met = (
            value is not None
            and math.isfinite(value)
            and (value <= bound if at_most else value >= bound)
        )
        rows.append(
            {
                "what": what,
                "value": value,
                "target": f"{'<=' if at_most else '>='} {bound:g}",
                "met": bool(met),
            }
        )

    bounds = TARGETS["style_ratio_max"]
    for k, layer in enumerate(style_layers):
        if k < len(bounds):
            row(
                f"style ratio at alpha = 1, {layer}",
                style_at_1[layer]["ratio"]["median"],
                bounds[k],
                True,
            )
    for layer in style_layers:
        row(
            f"Figure 7 end ratio, others at 0, {layer}",
            figure7["others_0"][layer]["end_ratio"]["median"],
            TARGETS["figure7_end_ratio_max"],
            True,
        )
    for others in (0, 1):
        for layer in style_layers:
            row(
                f"Figure 7 Spearman (median per photo), others at {others}, {layer}",
                figure7[f"others_{others}"][layer]["spearman_per_photo_median"],
                TARGETS["figure7_spearman_max"],
                True,
            )
    row(
        "PSNR vs photo at alpha = 0 (dB)",
        content_at_0["psnr_db_alpha0"]["median"],
        TARGETS["psnr_alpha0_min_db"],
        False,
    )
    for pair, values in figure3["differences"].items():
        row(
            f"Figure 3 single-layer outputs differ, {pair} (levels of 255)",
            values["median"],
            TARGETS["single_layer_difference_min_levels"],
            False,
        )
    return rows


def measure_photo(evaluator, content, num_layers, steps):
    """Every number of one photo (see the module docstring)."""
    photo_style, content_features = evaluator.photo(content)
    curves = curve_alphas(num_layers, steps)
    ones = np.ones((1, num_layers), np.float32)
    zeros = np.zeros((1, num_layers), np.float32)
    requested = np.concatenate([ones, zeros] + list(curves.values()), axis=0)
    # The curves share rows (alpha_l = 0 with others at 0 is all zeros, ...):
    # run each distinct alpha once.
    unique, inverse = np.unique(requested, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    style, content_loss, mse = evaluator.stylized(content, unique, content_features)
    style, content_loss, mse = style[inverse], content_loss[inverse], mse[inverse]
    result = {
        "photo_style_loss": photo_style.astype(np.float64),
        "style_loss_alpha1": style[0],
        "style_loss_alpha0": style[1],
        "content_loss_alpha1": content_loss[0],
        "content_loss_alpha0": content_loss[1],
        "mse_alpha1": mse[0],
        "mse_alpha0": mse[1],
        "curves": {},
    }
    row = 2
    for others, index in curves:
        # The swept layer's own loss at each step.
        result["curves"][(others, index)] = style[row : row + steps, index]
        row += steps
    # Figure 3's single-layer outputs: one alpha_l = 1, the others 0.
    singles = evaluator.stylize(content, np.eye(num_layers, dtype=np.float32))
    result["single_layer_differences"] = {
        (i, j): mean_abs_levels(singles[i], singles[j])
        for i in range(num_layers)
        for j in range(i + 1, num_layers)
    }
    result["single_layer_element_size"] = [element_size(single, content) for single in singles]
    return result


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


# ---------------------------------------------------------------------------
# Pictures (Pillow only).
# ---------------------------------------------------------------------------

# Tableau colours, as in matplotlib's default cycle.
COLOURS = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
)


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: bitmap font.
        return ImageFont.load_default()


def _nice_ticks(top, target=5):
    """Round tick values from 0 to at least `top`."""
    raw_step = top / target
    power = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw_step)
    count = int(math.ceil(top / step - 1e-9))
    return [round(i * step, 10) for i in range(count + 1)]


def _tick_label(value):
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def plot_figure7(alphas, panels, layer_names, title, subtitle):
    """Figure 7 as a uint8 image.

    `panels`: [(panel title, {layer: (median, q25, q75)})]. Drawn at twice
    the final size and downsampled, which smooths Pillow's lines.
    """
    from PIL import Image, ImageDraw

    s = 2  # Supersampling factor.
    panel_w, panel_h = 400 * s, 300 * s
    left, right, top, bottom = 78 * s, 24 * s, 92 * s, 96 * s
    gap = 70 * s
    width = left + len(panels) * panel_w + (len(panels) - 1) * gap + right
    height = top + panel_h + bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font = _font(20 * s), _font(15 * s), _font(13 * s)
    black, grey, light = (0, 0, 0), (110, 110, 110), (225, 225, 225)

    highest = max(float(np.max(q75)) for _, curves in panels for (_, _, q75) in curves.values())
    ticks = _nice_ticks(max(1.0, highest) * 1.02)
    y_top = ticks[-1]
    x_ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]

    draw.text((width // 2, 12 * s), title, fill=black, font=title_font, anchor="mt")
    draw.text((width // 2, 40 * s), subtitle, fill=grey, font=label_font, anchor="mt")

    for p, (panel_title, curves) in enumerate(panels):
        x0 = left + p * (panel_w + gap)
        y0 = top
        px = lambda a: x0 + a * panel_w
        py = lambda v: y0 + panel_h - (v / y_top) * panel_h
        for value in ticks:
            y = py(value)
            draw.line([(x0, y), (x0 + panel_w, y)], fill=light, width=s)
            draw.text((x0 - 8 * s, y), _tick_label(value), fill=black, font=tick_font, anchor="rm")
        for value in x_ticks:
            x = px(value)
            draw.line([(x, y0), (x, y0 + panel_h)], fill=light, width=s)
            draw.text(
                (x, y0 + panel_h + 8 * s),
                _tick_label(value),
                fill=black,
                font=tick_font,
                anchor="mt",
            )
        # Reference: no change from alpha_l = 0.
        y1 = py(1.0)
        for start in range(0, panel_w, 12 * s):
            draw.line(
                [(x0 + start, y1), (x0 + min(start + 6 * s, panel_w), y1)], fill=grey, width=s
            )
        # Interquartile bands first, translucent, then the median lines.
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        overlay_draw = ImageDraw.Draw(overlay)
        for k, name in enumerate(layer_names):
            _, q25, q75 = curves[name]
            colour = COLOURS[k % len(COLOURS)]
            polygon = [(px(a), py(v)) for a, v in zip(alphas, q75)] + [
                (px(a), py(v)) for a, v in zip(alphas[::-1], q25[::-1])
            ]
            overlay_draw.polygon(polygon, fill=colour + (55,))
        image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))
        draw = ImageDraw.Draw(image)
        for k, name in enumerate(layer_names):
            median = curves[name][0]
            colour = COLOURS[k % len(COLOURS)]
            points = [(px(a), py(v)) for a, v in zip(alphas, median)]
            draw.line(points, fill=colour, width=3 * s, joint="curve")
            r = 4 * s
            for x, y in points:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        draw.rectangle([x0, y0, x0 + panel_w, y0 + panel_h], outline=black, width=s)
        draw.text(
            (x0 + panel_w // 2, y0 - 10 * s), panel_title, fill=black, font=label_font, anchor="mb"
        )
        draw.text(
            (x0 + panel_w // 2, y0 + panel_h + 32 * s),
            "alpha_l (the swept layer's style weight)",
            fill=black,
            font=label_font,
            anchor="mt",
        )
        # The y label, rotated.
        label = "L_l / L_l at alpha_l = 0"
        box = draw.textbbox((0, 0), label, font=label_font)
        text = Image.new("L", (box[2] + 4, box[3] + 4), 0)
        ImageDraw.Draw(text).text((2, 2), label, fill=255, font=label_font)
        text = text.rotate(90, expand=True)
        image.paste(
            Image.new("RGB", text.size, black),
            (x0 - 62 * s, y0 + (panel_h - text.size[1]) // 2),
            text,
        )

    # Legend: one entry per layer, centred below the panels.
    entries = []
    for k, name in enumerate(layer_names):
        box = draw.textbbox((0, 0), name, font=label_font)
        entries.append((name, COLOURS[k % len(COLOURS)], box[2]))
    swatch, spacing = 28 * s, 26 * s
    total = sum(swatch + 8 * s + w for _, _, w in entries) + spacing * (len(entries) - 1)
    x = (width - total) // 2
    y = height - 22 * s
    for name, colour, w in entries:
        draw.line([(x, y), (x + swatch, y)], fill=colour, width=3 * s)
        draw.ellipse(
            [x + swatch // 2 - 4 * s, y - 4 * s, x + swatch // 2 + 4 * s, y + 4 * s], fill=colour
        )
        draw.text((x + swatch + 8 * s, y), name, fill=black, font=label_font, anchor="lm")
        x += swatch + 8 * s + w + spacing
    small = image.resize((width // s, height // s), Image.Resampling.LANCZOS)
    return np.asarray(small)


def sweep_picture(content, style, cells, layer_names, alphas, title):
    """Figure 3: content and style in a header, then the sweep grid."""
    from adjustable_style.stylize import figures

    grid = figures.compose_grid(
        cells,
        row_labels=list(layer_names),
        col_labels=[f"{a:g}" for a in alphas],
        corner_label="alpha_l:",
    )
    return picture_with_header(grid, [(content, "content"), (style, "style")], title)


def picture_with_header(grid, thumbnails, title):
    """A grid (uint8) under a header: two title lines, then captioned thumbnails.

    `thumbnails`: [(image in [0, 1], caption)], each scaled to the height of
    the grid's cells (the first one's height, which is the photo's) and at
    most twice as wide; `title`: (line, smaller line). Shared by the
    experiments' pictures so they all look alike.
    """
    from PIL import Image, ImageDraw

    pictures = [Image.fromarray(images.to_uint8(image)) for image, _ in thumbnails]
    size = thumb_h = pictures[0].height
    for k, picture in enumerate(pictures):
        width = max(1, min(2 * thumb_h, round(picture.width * thumb_h / picture.height)))
        if picture.size != (width, thumb_h):
            pictures[k] = picture.resize((width, thumb_h), Image.Resampling.LANCZOS)

    font = _font(int(np.clip(size // 10, 11, 22)))
    small = _font(int(np.clip(size // 13, 10, 17)))
    pad = 8
    line_h = font.size + 6 if hasattr(font, "size") else 16
    caption_h = (small.size if hasattr(small, "size") else 12) + 6
    header_w = sum(p.width for p in pictures) + 3 * pad * (len(pictures) - 1)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_w = max(
        measure.textbbox((0, 0), text, font=f)[2] for text, f in zip(title, (font, small))
    )
    width = max(grid.shape[1], header_w + 2 * pad, title_w + 2 * pad)
    header_h = pad + 2 * line_h + pad + thumb_h + caption_h + pad
    canvas = Image.new("RGB", (width, header_h + grid.shape[0]), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, pad), title[0], fill=(0, 0, 0), font=font)
    draw.text((pad, pad + line_h), title[1], fill=(90, 90, 90), font=small)
    y = pad + 2 * line_h + pad
    x = (width - header_w) // 2
    for picture, (_, caption) in zip(pictures, thumbnails):
        canvas.paste(picture, (x, y))
        draw.text(
            (x + picture.width // 2, y + thumb_h + 3),
            caption,
            fill=(0, 0, 0),
            font=small,
            anchor="mt",
        )
        x += picture.width + 3 * pad
    canvas.paste(Image.fromarray(grid), ((width - grid.shape[1]) // 2, header_h))
    return np.asarray(canvas)


# ---------------------------------------------------------------------------
# Reports.
# ---------------------------------------------------------------------------


def _finite_or_none(value):
    """JSON-safe numbers: NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _g(value, digits=3):
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def markdown(results):
    """results.md: the settings, the command and a table per measurement."""
    settings, model = results["settings"], results["model"]
    layers = model["style_layers"]
    lines = [
        f"## Adjustability of `{model['name']}` on held-out photos",
        "",
        f"Model `{model['name']}` (style `{model['style_image']}`, "
        f"{model['training_steps'] if model['training_steps'] is not None else '?'} "
        f"training steps), {settings['num_photos']} photos from "
        f"`{settings['content']}` at {settings['image_size']}x"
        f"{settings['image_size']}, loss network {settings['loss_network']} "
        f"(`{settings['vgg_weights']}`), content layer "
        f"`{model['content_layer']}`. {results['seconds']:.0f} s on "
        f"{settings['device']}. Produced by:",
        "",
        "    " + results["command"],
        "",
        "### Targets (medians over photos)",
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|:---:|",
    ]
    for t in results["targets"]:
        lines.append(
            f"| {t['what']} | {_g(t['value'])} | {t['target']} | {'yes' if t['met'] else 'no'} |"
        )
    met = sum(t["met"] for t in results["targets"])
    lines += [
        "",
        f"{met} of {len(results['targets'])} targets met.",
        "",
        "### Style at alpha = 1: style loss of the output relative to the photo's",
        "",
        "Per style layer l, L_l(T(c; alpha=1)) / L_l(c): the stylized image's "
        "Gram distance to the style as a fraction of the unstylized photo's "
        "(below 1: closer to the style than the photo).",
        "",
        "| style layer | median ratio | mean ratio | min | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in layers:
        r = results["style_at_alpha_1"][name]["ratio"]
        lines.append(
            f"| `{name}` | {_g(r['median'])} | {_g(r['mean'])} | {_g(r['min'])} | {_g(r['max'])} |"
        )
    c = results["content_at_alpha_0"]
    lines += [
        "",
        "### Content at alpha = 0: how close the output stays to the photo",
        "",
        f"Content loss L_c(T(c; alpha), c) at `{model['content_layer']}` "
        "(mean squared feature difference) and PSNR(T(c; alpha), c), with "
        "alpha the same for every style layer; medians (means) over photos.",
        "",
        "| alpha (all layers) | content loss | PSNR vs photo (dB) |",
        "|---:|---:|---:|",
    ]
    for a in ("0", "1"):
        loss, db = c[f"content_loss_alpha{a}"], c[f"psnr_db_alpha{a}"]
        lines.append(
            f"| {a} | {_g(loss['median'])} ({_g(loss['mean'])}) | "
            f"{db['median']:.2f} ({db['mean']:.2f}) |"
        )
    f7 = results["figure7"]
    lines += [
        "",
        "### Figure 7: each layer's style loss as its alpha grows",
        "",
        f"alpha_l goes 0 -> 1 in {settings['steps']} steps, the other layers "
        "fixed at 0 or at 1. End ratio: L_l at alpha_l = 1 over L_l at "
        "alpha_l = 0, median [25%, 75%] over photos. Spearman's rank "
        "correlation between alpha_l and L_l, pooled over all photos' points "
        "(each photo's curve divided by its value at alpha_l = 0) and the "
        "median of the per-photo correlations; -1 = L_l falls at every step.",
        "",
        "| style layer | others | end ratio | Spearman (pooled) | Spearman (median per photo) |",
        "|---|---:|---:|---:|---:|",
    ]
    for others in ("0", "1"):
        for name in layers:
            s = f7[f"others_{others}"][name]
            end = s["end_ratio"]
            q25, q75 = s["normalized_q25"][-1], s["normalized_q75"][-1]
            lines.append(
                f"| `{name}` | {others} | {_g(end['median'])} "
                f"[{_g(q25)}, {_g(q75)}] | {s['spearman_pooled']:+.3f} | "
                f"{s['spearman_per_photo_median']:+.3f} |"
            )
    f3 = results["figure3"]
    lines += [
        "",
        "### Figure 3 in numbers: the single-layer outputs",
        "",
        "One alpha_l = 1, the others 0. Mean absolute difference of each pair "
        "of outputs (levels of 255), and the size of the style elements each "
        "adds: 1 / the power-weighted mean spatial frequency of output - "
        "photo (grey), in pixels. Medians [min, max] over photos.",
        "",
        "| pair | mean absolute difference |",
        "|---|---:|",
    ]
    for pair, v in f3["differences"].items():
        lines.append(f"| {pair} | {_g(v['median'])} [{_g(v['min'])}, {_g(v['max'])}] |")
    lines += ["", "| layer alone | element size (px) |", "|---|---:|"]
    for layer, v in f3["element_size_px"].items():
        lines.append(f"| `{layer}` | {_g(v['median'])} [{_g(v['min'])}, {_g(v['max'])}] |")
    lines += [
        "",
        "Deeper layers give larger elements (median sizes increasing with "
        f"depth): {'yes' if f3['deeper_layers_larger_elements'] else 'no'}.",
        "",
        "![Figure 7: normalized style loss per layer against its alpha](figure7.png)",
        "",
        f"![Figure 3: one style layer's alpha going 0 -> 1 per row, others "
        f"at 0, on {settings['sweep_photo']}](sweep.png)",
        "",
    ]
    return "\n".join(lines)


def command_line(program, fv, names, omit_zero=()):
    """`python PROGRAM --flag=value ...` for the flags `names` of `fv`, quoted.

    Unset flags are left out, and so are those in `omit_zero` when 0.
    """
    parts = ["python", program]
    for name in names:
        value = fv[name].value
        if value is None or (name in omit_zero and value == 0):
            continue
        parts.append(f"--{name}={value}")
    return " ".join(shlex.quote(p) for p in parts)


def _command(fv):
    """The command line that reproduces the run (flags that change results)."""
    return command_line(
        PROGRAM,
        fv,
        (
            "model",
            "content",
            "style_image",
            "vgg_weights",
            "image_size",
            "steps",
            "sweep_steps",
            "sweep_photo",
            "max_images",
            "output_dir",
        ),
        omit_zero=("sweep_photo", "max_images"),
    )


def list_photos(fv, picked):
    """The photos of --content (at most --max_images), checking that the
    photo flag `picked` (the one a figure shows) names one of them."""
    photos = images.list_image_files(fv.content)
    if fv.max_images:
        photos = photos[: fv.max_images]
    if fv[picked].value >= len(photos):
        raise UsageError(f"--{picked}={fv[picked].value} but there are only {len(photos)} photos")
    return photos


def check_vgg_weights(fv):
    """--vgg_weights names a file that exists (or a named set of weights)."""
    if fv.vgg_weights not in ("imagenet", "random") and not os.path.isfile(fv.vgg_weights):
        raise UsageError(f"--vgg_weights: {fv.vgg_weights}: no such file")


def write_outputs(output_dir, results, report, pictures, started):
    """Writes an experiment's pictures, JSON and markdown, and prints the report.

    `results` and `report` are {file name: dict} and {file name: text} of
    one entry each; `pictures` is {file name: image}. Each file is written
    atomically, so an interrupted run leaves the old ones whole.
    """
    os.makedirs(output_dir, exist_ok=True)
    for file, picture in pictures.items():
        images.save_image(picture, os.path.join(output_dir, file))
    for file, value in results.items():
        model_files.atomic_write_bytes(
            os.path.join(output_dir, file),
            (json.dumps(value, indent=2, allow_nan=False) + "\n").encode(),
        )
    for file, text in report.items():
        model_files.atomic_write_bytes(os.path.join(output_dir, file), text.encode())
    print()
    print(*report.values())
    names = [*results, *report, *pictures]
    print(f"Wrote {', '.join(names[:-1])} and {names[-1]} to {output_dir}")
    print(f"Total time: {time.perf_counter() - started:.1f} s")


def _check(fv):
    if not fv.content:
        raise UsageError("--content is required: the held-out photos to measure on")
    for name, minimum in (
        ("image_size", MIN_IMAGE_SIZE),
        ("steps", 2),
        ("sweep_steps", 2),
        ("batch_size", 1),
        ("max_images", 0),
        ("sweep_photo", 0),
    ):
        if fv[name].value < minimum:
            raise UsageError(f"--{name} must be at least {minimum}, got {fv[name].value}")


def _device():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", "GPU")
    return f"CPU ({os.cpu_count()} cores)"


def main(argv, flag_values=None):
    """The command: runs every measurement and writes the outputs.

    Returns None (absl's `app.run` exits with main's return value); the
    numbers are in `results.json`, or returned by `run`.
    """
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    run(flags.FLAGS if flag_values is None else flag_values)


def run(fv):
    """Runs every measurement on parsed flags `fv`, writes the outputs and
    returns the results dict (what results.json holds)."""
    _check(fv)
    started = time.perf_counter()

    # Fail on paths before TensorFlow starts.
    model_path = model_files.resolve_model_path(fv.model or None)
    photos = list_photos(fv, "sweep_photo")
    name = model_name(fv.model, model_path)
    output_dir = fv.output_dir or os.path.join(RESULTS_DIR, name)

    cli.quiet_tensorflow_import()
    loaded = load_models(fv.model, model_path, fv.style_image, fv.vgg_weights)
    stylizer, record, style_layers = loaded.stylizer, loaded.record, loaded.style_layers
    network, spec, loss_net = loaded.network, loaded.spec, loaded.loss_net
    style_path, style_size, style = loaded.style_path, loaded.style_size, loaded.style
    same_style = loaded.same_style
    evaluator = Evaluator(
        stylizer, loss_net, spec.content_layer, style_layers, style, fv.batch_size
    )
    setup_seconds = time.perf_counter() - started
    print(
        f"Model {name} ({model_path}): alpha over {', '.join(style_layers)}; "
        f"style {style_path} at {style_size} px; {len(photos)} photos at "
        f"{fv.image_size} px; set-up {setup_seconds:.1f} s",
        flush=True,
    )

    num_layers = len(style_layers)
    per_photo = []
    contents = []
    for i, path in enumerate(photos, start=1):
        tick = time.perf_counter()
        content = images.load_center_square(path, fv.image_size)
        contents.append(content)
        per_photo.append(measure_photo(evaluator, content, num_layers, fv.steps))
        print(
            f"[{i}/{len(photos)}] {os.path.basename(path)}: {time.perf_counter() - tick:.1f} s",
            flush=True,
        )

    # 1. Style at alpha = 1.
    style_at_1 = {}
    for k, layer in enumerate(style_layers):
        photo_loss = np.array([p["photo_style_loss"][k] for p in per_photo])
        stylized = np.array([p["style_loss_alpha1"][k] for p in per_photo])
        style_at_1[layer] = {
            "ratio": summary(stylized / photo_loss),
            "ratio_per_photo": (stylized / photo_loss).tolist(),
            "style_loss_photo": photo_loss.tolist(),
            "style_loss_alpha1": stylized.tolist(),
            "style_loss_alpha0": [float(p["style_loss_alpha0"][k]) for p in per_photo],
        }
    # 2. Content at alpha = 0 (and 1 for reference).
    content_at_0 = {}
    for a in ("0", "1"):
        loss = np.array([p[f"content_loss_alpha{a}"] for p in per_photo])
        db = psnr([p[f"mse_alpha{a}"] for p in per_photo])
        content_at_0[f"content_loss_alpha{a}"] = summary(loss)
        content_at_0[f"content_loss_alpha{a}_per_photo"] = loss.tolist()
        content_at_0[f"psnr_db_alpha{a}"] = summary(db)
        content_at_0[f"psnr_db_alpha{a}_per_photo"] = db.tolist()
    # 3. Figure 7.
    alphas = np.linspace(0.0, 1.0, fv.steps)
    figure7 = {"alphas": alphas.tolist()}
    for others in (0, 1):
        figure7[f"others_{others}"] = {
            layer: figure7_stats(alphas, [p["curves"][(others, k)] for p in per_photo])
            for k, layer in enumerate(style_layers)
        }

    # 4. Figure 3 in numbers: the single-layer outputs.
    figure3 = {"differences": {}, "element_size_px": {}}
    for i, j in per_photo[0]["single_layer_differences"]:
        values = [p["single_layer_differences"][(i, j)] for p in per_photo]
        figure3["differences"][f"{style_layers[i]} vs {style_layers[j]}"] = {
            **summary(values),
            "per_photo": values,
        }
    for k, layer in enumerate(style_layers):
        values = [p["single_layer_element_size"][k] for p in per_photo]
        figure3["element_size_px"][layer] = {**summary(values), "per_photo": values}
    sizes = [figure3["element_size_px"][layer]["median"] for layer in style_layers]
    figure3["deeper_layers_larger_elements"] = bool(all(a < b for a, b in zip(sizes, sizes[1:])))
    targets = check_targets(style_layers, style_at_1, content_at_0, figure7, figure3)

    # 5. The Figure 3 sweep on one photo.
    from adjustable_style import alpha_vectors as alpha_lib

    sweep_values = np.linspace(0.0, 1.0, fv.sweep_steps)
    sweep = np.concatenate(
        [alpha_lib.sweep_alphas(num_layers, k, fv.sweep_steps) for k in range(num_layers)], axis=0
    )
    sweep_content = contents[fv.sweep_photo]
    cells = evaluator.stylize(sweep_content, sweep).reshape(
        (num_layers, fv.sweep_steps) + sweep_content.shape
    )

    seconds = time.perf_counter() - started
    results = {
        "command": _command(fv),
        "model": {
            "name": name,
            "path": os.path.abspath(model_path),
            "style_layers": style_layers,
            "content_layer": spec.content_layer,
            "style_image": os.path.basename(style_path),
            "style_image_size": style_size,
            "style_image_matches_training_record": same_style,
            "training_steps": record.get("steps"),
        },
        "settings": {
            "content": fv.content,
            "photos": [os.path.basename(p) for p in photos],
            "num_photos": len(photos),
            "image_size": fv.image_size,
            "steps": fv.steps,
            "sweep_steps": fv.sweep_steps,
            "sweep_photo": os.path.basename(photos[fv.sweep_photo]),
            "loss_network": network,
            "vgg_weights": os.path.basename(fv.vgg_weights),
            "device": _device(),
        },
        "style_at_alpha_1": style_at_1,
        "content_at_alpha_0": content_at_0,
        "figure7": figure7,
        "figure3": figure3,
        "targets": targets,
        "all_targets_met": all(t["met"] for t in targets),
        "seconds": seconds,
    }
    results = _finite_or_none(results)
    report = markdown(results)

    # Everything is computed: now write, each file atomically.
    figure = plot_figure7(
        alphas,
        [
            (
                f"other layers' alpha = {others}",
                {
                    layer: tuple(
                        np.array(figure7[f"others_{others}"][layer][key])
                        for key in ("normalized_median", "normalized_q25", "normalized_q75")
                    )
                    for layer in style_layers
                },
            )
            for others in (0, 1)
        ],
        style_layers,
        f"{name}: style loss L_l at layer l as alpha_l goes 0 -> 1",
        f"median over {len(photos)} held-out photos (band: 25-75%), each "
        f"photo's curve divided by its value at alpha_l = 0",
    )
    picture = sweep_picture(
        sweep_content,
        style,
        cells,
        style_layers,
        sweep_values,
        (
            f"{name}: alpha_l of one style layer 0 -> 1 per row, the others at 0",
            os.path.basename(photos[fv.sweep_photo]),
        ),
    )
    write_outputs(
        output_dir,
        {"results.json": results},
        {"results.md": report},
        {"figure7.png": figure, "sweep.png": picture},
        started,
    )
    return results


if __name__ == "__main__":
    define_flags()
    cli.run(main, PROGRAM)
