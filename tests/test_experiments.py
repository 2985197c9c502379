"""experiments/adjustability.py: its statistics, and one end-to-end run.

The run uses a random-weights stylizer and a random-weights VGG-19 (the
numbers mean nothing; the test checks the mechanics: every measurement is
made, finite, written, and the pictures are drawn).
"""

import importlib.util
import json
import math
import os

import numpy as np
import pytest
from absl import flags
from PIL import Image

from adjustable_style.cli import UsageError
from experiments import (
    adjustability_measures,
    diversity_measures,
    figure6_bases,
    figure6_measures,
    harness,
    measures,
    palette,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "experiments", "adjustability.py")
STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
TINY_EMA = (2.0, 0.5, 1.0, 4.0)


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("adjustability", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# Spearman, by hand.
# ---------------------------------------------------------------------------


def test_rankdata_averages_ties():
    np.testing.assert_array_equal(measures.rankdata([10, 30, 20, 20]), [1.0, 4.0, 2.5, 2.5])
    np.testing.assert_array_equal(measures.rankdata([5, 5, 5]), [2.0, 2.0, 2.0])


def test_spearman_perfect_monotone():
    x = np.linspace(0.0, 1.0, 11)
    assert measures.spearman(x, x) == pytest.approx(1.0)
    assert measures.spearman(x, -x) == pytest.approx(-1.0)
    # Any strictly monotone relation, however curved, is perfect.
    assert measures.spearman(x, np.exp(10 * x)) == pytest.approx(1.0)
    assert measures.spearman(x, 1.0 / (1.0 + x) ** 3) == pytest.approx(-1.0)


def test_spearman_with_ties_by_hand():
    # y ranks 1, 2.5, 2.5, 4, 5 against x ranks 1..5: centred, the products
    # sum to 4 + 0.5 + 0 + 1 + 4 = 9.5, the squares to 10 and 9.5.
    rho = measures.spearman([1, 2, 3, 4, 5], [1, 2, 2, 3, 4])
    assert rho == pytest.approx(9.5 / math.sqrt(10 * 9.5))
    # Ties on both sides: x ranks 1.5, 1.5, 3.5, 3.5; y ranks 1, 2, 3, 4.
    # Centred: (-1, -1, 1, 1) . (-1.5, -0.5, 0.5, 1.5) = 4, |.|^2 = 4 and 5.
    assert measures.spearman([0, 0, 1, 1], [1, 2, 3, 4]) == pytest.approx(4 / math.sqrt(4 * 5))
    # Order does not matter, only the pairing.
    assert measures.spearman([3, 1, 2], [30, 10, 20]) == pytest.approx(1.0)


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 40).astype(float)  # Many ties.
    y = x + rng.integers(-2, 3, 40)
    assert measures.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])


def test_spearman_undefined_and_bad_input():
    assert math.isnan(measures.spearman([1, 2, 3], [7, 7, 7]))
    with pytest.raises(ValueError):
        measures.spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        measures.spearman([1, 2], [1, float("nan")])


def test_element_size_of_stripes_is_their_period():
    photo = np.full((64, 64, 3), 0.5)
    x = np.arange(64)[None, :, None]
    for period in (4, 8, 16):
        stripes = photo + 0.1 * np.sin(2 * np.pi * x / period) + 0 * photo
        assert measures.element_size(stripes, photo) == pytest.approx(period)
    # Only what stylization adds counts: the photo's own texture cancels.
    textured = photo + 0.2 * np.sin(2 * np.pi * x / 4)
    big = textured + 0.1 * np.sin(2 * np.pi * x / 32)
    assert measures.element_size(big, textured) == pytest.approx(32)


def test_mean_abs_levels():
    a = np.zeros((4, 4, 3))
    assert measures.mean_abs_levels(a, a + 10 / 255) == pytest.approx(10)
    assert measures.mean_abs_levels(a, a) == 0


def test_targets_pass_and_fail_on_the_thresholds():
    layers = list(STYLE_LAYERS)
    ratios = (0.1, 0.3, 0.5)  # block3 misses its 0.25
    style = {l: {"ratio": {"median": r}} for l, r in zip(layers, ratios)}
    content = {"psnr_db_alpha0": {"median": 18.0}, "chroma_shift_alpha0": {"median": 4.5}}
    curve = lambda end, rho: {"end_ratio": {"median": end}, "spearman_per_photo_median": rho}
    figure7 = {
        "others_0": {l: curve(0.5, -0.95) for l in layers},
        "others_1": {l: curve(0.9, -0.85) for l in layers},
    }
    figure3 = {
        "differences": {"a vs b": {"median": 15.0}, "a vs c": {"median": 14.9}},
        "element_growth": {"b / a": 1.25, "c / b": 1.1},
    }
    switch = (  # (levels, own loss off / on) per slider, others at 1
        (12.0, 1.4),
        (9.9, 1.3),
        (15.0, 0.98),
    )
    others_at_1 = {
        l: {"levels": {"median": lv}, "own_loss_ratio": {"median": r}}
        for l, (lv, r) in zip(layers, switch)
    }
    rows = adjustability_measures.check_targets(
        layers, style, content, figure7, figure3, others_at_1
    )
    met = {r["what"]: r["met"] for r in rows}
    assert len(rows) == 3 + 3 + 6 + 1 + 1 + 2 + 2 + 6
    assert met["style ratio at alpha = 1, block2_conv2"]
    assert not met["style ratio at alpha = 1, block3_conv4"]
    assert met["style ratio at alpha = 1, block4_conv4"]  # at the bound
    assert met["PSNR vs photo at alpha = 0 (dB)"]
    assert all(met[f"Figure 7 Spearman (median per photo), others at 0, {l}"] for l in layers)
    assert not any(met[f"Figure 7 Spearman (median per photo), others at 1, {l}"] for l in layers)
    assert met["Figure 3 single-layer outputs differ, a vs b (levels of 255)"]
    assert not met["Figure 3 single-layer outputs differ, a vs c (levels of 255)"]
    assert not met["colour shift at alpha = 0, mean (Cb, Cr) vs photo (levels)"]
    assert met["element size grows with depth, b / a (ratio)"]  # at the bound
    assert not met["element size grows with depth, c / b (ratio)"]
    changes = "slider 1 -> 0 with the others at 1 changes the output"
    raises = "slider 1 -> 0 with the others at 1 raises its own loss"
    assert met[f"{changes}, block2_conv2 (levels)"]
    assert not met[f"{changes}, block3_conv4 (levels)"]
    assert met[f"{raises}, block3_conv4 (ratio)"]
    assert not met[f"{raises}, block4_conv4 (ratio)"]


def test_chroma_shift_sees_a_tint_not_strokes():
    rng = np.random.default_rng(0)
    photo = rng.uniform(0.2, 0.8, (16, 16, 3))
    # Strokes that move the colour both ways leave the mean where it was.
    strokes = photo + np.where(rng.random((16, 16, 1)) < 0.5, 0.1, -0.1) * [1, -1, 0]
    strokes = photo + (strokes - photo) - (strokes - photo).mean(axis=(0, 1))
    assert measures.chroma_shift(strokes, photo) < 0.01
    # A tint of +10 levels of red: Cr rises by 5, Cb falls by 1.7.
    tinted = photo + [10 / 255, 0, 0]
    assert measures.chroma_shift(tinted, photo) == pytest.approx(np.hypot(5.0, 1.687), rel=1e-3)


def test_style_scale_sets_the_style_images_shorter_side(tmp_path):
    path = str(tmp_path / "wide.png")
    Image.fromarray(np.zeros((100, 300, 3), np.uint8)).save(path)
    shorter = harness.style_shorter_side
    assert shorter(path, "training", 192) == 192
    assert shorter(path, "training", None) == 256
    assert shorter(path, "short:128", 192) == 128
    assert shorter(path, "long:512", 192) == 171  # 512 * 100 / 300
    for bad in ("long", "long:x", "wide:512", "short:4"):
        with pytest.raises(UsageError, match="--style_scale"):
            shorter(path, bad, 192)


# ---------------------------------------------------------------------------
# End to end, in process.
# ---------------------------------------------------------------------------


def _photo(path, height, width, seed):
    rng = np.random.default_rng(seed)
    # Smooth colour gradients plus noise: something VGG has texture on.
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    pixels = np.stack([yy, xx, 1 - yy], axis=-1) + 0.2 * rng.random((height, width, 3))
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)


def _tiny_model(model_dir, style_path):
    import keras

    from adjustable_style import model_files
    from adjustable_style.model import networks

    keras.utils.set_random_seed(3)
    stylizer = networks.build_adjustable_stylizer(STYLE_LAYERS)
    record = {
        "content_layer": "block3_conv4",
        "loss_network": "vgg19",
        "style_image": "style.jpg",
        "style_image_size": 32,
        "style_image_sha256": None,
        "steps": 0,
        "model_type": "adjustable",
        "style_layers": list(STYLE_LAYERS),
        # Eq. 8's constants, as figure6.py's loss parity reads them.
        "ema": list(TINY_EMA),
        "content_weight": 0.5,
    }
    model_files.save_model(model_dir, stylizer, record)
    os.replace(style_path, os.path.join(model_dir, model_files.STYLE_THUMBNAIL))


def _tiny_inputs(tmp_path):
    """Two photos, a style image, a tiny model trained on it, random VGG
    weights, and where the outputs go: (photos, style, model, vgg, out)."""
    import keras

    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos / "wide.png", 32, 44, 1)
    _photo(photos / "tall.jpg", 48, 32, 2)
    style = tmp_path / "style.jpg"
    _photo(style, 40, 40, 3)
    model_dir = tmp_path / "model"
    _tiny_model(str(model_dir), str(style))
    vgg = tmp_path / "vgg.weights.h5"
    keras.applications.VGG19(include_top=False, weights=None).save_weights(str(vgg))
    return photos, style, model_dir, vgg, tmp_path / "out"


def _numbers(value, where="results"):
    """Yields (path, leaf) for every leaf of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{where}[{i}]")
    else:
        yield where, value


def test_main_writes_every_measurement(experiment, tmp_path):
    photos, style, model_dir, vgg, out = _tiny_inputs(tmp_path)

    fv = flags.FlagValues()
    experiment.define_flags(fv)
    fv(
        [
            "adjustability",
            f"--model={model_dir}",
            f"--content={photos}",
            f"--vgg_weights={vgg}",
            "--image_size=32",
            "--steps=3",
            "--sweep_steps=3",
            f"--output_dir={out}",
        ]
    )
    assert experiment.main(["adjustability"], fv) is None

    results = json.loads((out / "results.json").read_text())
    for key in (
        "command",
        "model",
        "settings",
        "style_at_alpha_1",
        "content_at_alpha_0",
        "figure7",
        "seconds",
    ):
        assert key in results, key
    assert results["settings"]["num_photos"] == 2
    assert results["settings"]["photos"] == ["tall.jpg", "wide.png"]
    assert results["model"]["style_layers"] == list(STYLE_LAYERS)
    assert results["model"]["style_image"] == "style.jpg"
    for layer in STYLE_LAYERS:
        style_1 = results["style_at_alpha_1"][layer]
        assert set(style_1["ratio"]) == {"median", "mean", "min", "max"}
        assert len(style_1["ratio_per_photo"]) == 2
        for others in ("others_0", "others_1"):
            curve = results["figure7"][others][layer]
            assert np.shape(curve["raw"]) == (2, 3)
            assert curve["normalized_median"][0] == pytest.approx(1.0)
            for key in (
                "normalized_q25",
                "normalized_q75",
                "end_ratio",
                "spearman_pooled",
                "spearman_per_photo_median",
            ):
                assert key in curve, key
            assert -1.0 <= curve["spearman_pooled"] <= 1.0
    content = results["content_at_alpha_0"]
    for key in ("content_loss_alpha0", "content_loss_alpha1", "psnr_db_alpha0", "psnr_db_alpha1"):
        assert set(content[key]) == {"median", "mean", "min", "max"}, key
    assert results["figure7"]["alphas"] == [0.0, 0.5, 1.0]
    figure3 = results["figure3"]
    assert sorted(figure3["differences"]) == [
        "block2_conv2 vs block3_conv4",
        "block2_conv2 vs block4_conv4",
        "block3_conv4 vs block4_conv4",
    ]
    for pair in figure3["differences"].values():
        assert len(pair["per_photo"]) == 2 and pair["median"] >= 0
    assert sorted(figure3["element_size_px"]) == sorted(STYLE_LAYERS)
    assert isinstance(figure3["deeper_layers_larger_elements"], bool)
    # 16, the colour shift, 2 element growths, 2 per slider with the others at 1.
    assert len(results["targets"]) == 16 + 1 + 2 + 6
    for layer in STYLE_LAYERS:
        switch = results["others_at_1"][layer]
        assert len(switch["levels"]["per_photo"]) == 2 and switch["levels"]["min"] >= 0
        assert switch["own_loss_ratio"]["min"] > 0
    assert content["chroma_shift_alpha0"]["min"] >= 0
    assert results["model"]["style_scale"] == "training"
    # Paths of this machine stay out of what is committed.
    assert not os.path.isabs(results["settings"]["content"])
    assert not os.path.isabs(results["model"]["path"])
    assert str(tmp_path) not in results["command"]
    assert results["all_targets_met"] == all(t["met"] for t in results["targets"])
    # The stylized outputs differ from the photo: finite PSNR, positive losses.
    for where, value in _numbers(results):
        if where.endswith("style_image_matches_training_record"):
            continue
        assert isinstance(value, (str, bool, int, float)), (where, value)
        if isinstance(value, float):
            assert math.isfinite(value), where

    report = (out / "results.md").read_text()
    assert results["command"] in report
    for layer in STYLE_LAYERS:
        assert f"| `{layer}` |" in report
    assert "### Targets" in report and "targets met." in report

    with Image.open(out / "figure7.png") as figure:
        assert figure.width >= 600 and figure.height >= 300
    with Image.open(out / "sweep.png") as sweep:
        # Three rows of 3 cells of 32 px, plus the header and labels.
        assert sweep.width >= 3 * 32 and sweep.height >= 3 * 32 + 32
    assert sorted(os.listdir(out)) == ["figure7.png", "results.json", "results.md", "sweep.png"]


def test_main_refuses_missing_content(experiment):
    from adjustable_style.cli import UsageError

    fv = flags.FlagValues()
    experiment.define_flags(fv)
    fv(["adjustability"])
    with pytest.raises(UsageError, match="--content"):
        experiment.main(["adjustability"], fv)


# ---------------------------------------------------------------------------
# experiments/diversity.py (Figures 5 and 8).
# ---------------------------------------------------------------------------

DIVERSITY = os.path.join(REPO, "experiments", "diversity.py")


@pytest.fixture(scope="module")
def diversity():
    spec = importlib.util.spec_from_file_location("diversity", DIVERSITY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_diversity_pairwise_distances_by_hand():
    # Three flat images at 0, 10 and 40 levels: pairs differ by 10, 40, 30.
    samples = np.stack([np.full((4, 4, 3), v / 255) for v in (0, 10, 40)])
    assert measures.pixel_diversity(samples) == pytest.approx(80 / 3)
    features = np.stack([np.full((2, 2, 5), v) for v in (1.0, 2.0, 4.0)])
    # Pairs differ by 1, 3, 2 (mean 2); the reference's mean |feature| is 4.
    assert diversity_measures.feature_diversity(
        features, np.full((2, 2, 5), -4.0)
    ) == pytest.approx(0.5)


@pytest.mark.parametrize("target", [0.003, 0.7, 55.0])
def test_diversity_calibration_reaches_its_target(target):
    # Monotone but not linear, as pixel distance against noise strength is.
    result = diversity_measures.calibrate_sigma(lambda s: 3 * math.tanh(s) + s**2, target, 0.02)
    assert result["reached"]
    assert result["pixel_l1"] == pytest.approx(target, rel=0.02)
    assert result["trace"][-1] == {"sigma": result["sigma"], "pixel_l1": result["pixel_l1"]}
    assert len(result["trace"]) <= 30
    # An unreachable target: the closest try, and reached says so.
    flat = diversity_measures.calibrate_sigma(lambda s: min(s, 1.0), 5.0, 0.02, max_evaluations=6)
    assert not flat["reached"] and flat["pixel_l1"] == 1.0


def test_diversity_draws_come_from_the_seed():
    from adjustable_style import alpha_vectors as alpha
    from adjustable_style import noise

    first = diversity_measures.draws(3, 3, 10, 16, 20, seed=5)
    for a, b in zip(first, diversity_measures.draws(3, 3, 10, 16, 20, seed=5)):
        np.testing.assert_array_equal(a, b)
    alphas, masks, unit_noise = first
    assert alphas.shape == (3, 3) and masks.shape == (3, 16, 20, 1) and unit_noise.shape == (3, 10)
    # Sample k is what stylize.py draws for --seed=5+k.
    np.testing.assert_array_equal(alphas[2], alpha.sample_alpha(1, 3, [7, 0])[0])
    np.testing.assert_array_equal(masks[1], noise.noise_mask(16, 20, [6, 1]))
    assert not np.array_equal(diversity_measures.draws(3, 3, 10, 16, 20, seed=6)[2], unit_noise)


def test_diversity_claim_checks():
    def sources(pixel, feature, style, palette=(20, 20, 20, 20)):
        return {
            s: {
                "medians": {
                    "pixel_l1": {"median": p},
                    "feature_distance": {"median": f},
                    "style_ratio": {"median": r},
                    "palette": {"median": c},
                }
            }
            for s, p, f, r, c in zip(diversity_measures.SOURCES, pixel, feature, style, palette)
        }

    reference = {"medians": {"style_ratio": {"median": 0.3}, "palette": {"median": 16.0}}}
    good = sources((10, 8, 12, 11), (0.5, 0.4, 0.6, 0.9), (0.4, 0.3, 0.36, 0.9))
    assert all(c["met"] for c in diversity_measures.check_claim(good, reference))
    # (c) out of style (0.4 > 1.25 x 0.3), and (d) not far enough from it.
    bad = sources((10, 8, 12, 11), (0.5, 0.4, 0.6, 0.9), (0.4, 0.3, 0.4, 0.45))
    met = [c["met"] for c in diversity_measures.check_claim(bad, reference)]
    assert met == [True, True, False, True, False]
    # The palette claim: the same diversity rows, the palette in place of the
    # style ratio. (c)'s 20 <= 1.25 x 16; (d)'s 20 < 1.25 x 20: it stays.
    rows = diversity_measures.check_palette_claim(bad, reference)
    assert [r["key"] for r in rows] == [
        "diverse_pixel_l1",
        "diverse_feature_distance",
        "matched",
        "in_palette",
        "leaves_palette",
    ]
    assert [r["met"] for r in rows] == [True, True, True, True, False]
    # A re-tint by (d) that the style ratio misses: the palette claim sees it.
    retint = sources(
        (10, 8, 12, 11), (0.5, 0.4, 0.6, 0.9), (0.4, 0.3, 0.36, 0.36), (20, 20, 18, 30)
    )
    assert not all(c["met"] for c in diversity_measures.check_claim(retint, reference))
    assert all(c["met"] for c in diversity_measures.check_palette_claim(retint, reference))


def test_palette_distance():
    # Lab of sRGB white, black and pure red (the standard values).
    lab = palette.srgb_to_lab(np.array([[1.0, 1, 1], [0, 0, 0], [1, 0, 0]]))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)
    rng = np.random.default_rng(0)
    image = rng.random((64, 64, 3))
    # Where colours sit does not matter; which colours, and how many of each, does.
    shuffled = rng.permutation(image.reshape(-1, 3)).reshape(image.shape)
    assert palette.palette_distance(image, shuffled) == pytest.approx(0.0, abs=1e-9)
    # A quarter of the pixels is near (sampling error of 1,024 random colours
    # spread over ~150 CIELAB units), far nearer than a re-tint (below).
    assert palette.palette_distance(image, image[::2, ::2]) < 3.0
    # Two flat colours: the distance is the mean over directions of their
    # projected difference, at most their CIELAB distance.
    grey, purple = np.full((8, 8, 3), 0.5), np.full((4, 4, 3), [0.5, 0.2, 0.6])
    gap = np.linalg.norm(palette.srgb_to_lab(grey[0, 0]) - palette.srgb_to_lab(purple[0, 0]))
    distance = palette.palette_distance(grey, purple)
    assert 0.3 * gap < distance <= gap + 1e-9
    # Precomputed quantiles give the same number; a re-tint moves it more than noise.
    quantiles = palette.palette_quantiles(purple)
    assert palette.palette_distance(grey, quantiles) == pytest.approx(distance)
    tinted = np.clip(image * [1.0, 0.7, 1.0], 0, 1)
    jittered = np.clip(image + rng.normal(0, 0.01, image.shape), 0, 1)
    assert palette.palette_distance(image, tinted) > 5 * palette.palette_distance(image, jittered)


def test_normalized_objective_is_the_trainers():
    from adjustable_style.model import losses

    ema = np.array([2.0, 0.5, 4.0, 1.5])
    raw = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.1, 0.2, 0.3]])
    normalizer = losses.LossNormalizer(4, decay=1.0)
    normalizer.ema.assign(ema.astype(np.float32))
    trainer_like = np.sum(
        np.asarray(normalizer(raw.astype(np.float32))) * [0.3, 1.0, 0.0, 0.5], axis=-1
    )
    ours = figure6_measures.normalized_objective(raw, [1.0, 0.0, 0.5], 0.3, ema)
    np.testing.assert_allclose(ours, trainer_like, rtol=1e-6)
    # Raw weights ("none"): the EMAs play no part.
    np.testing.assert_allclose(
        figure6_measures.normalized_objective(raw, [1, 0, 0.5], 0.3, ema, "none"),
        raw @ [0.3, 1.0, 0.0, 0.5],
    )


def _diversity_flags(diversity, *args):
    fv = flags.FlagValues()
    diversity.define_flags(fv)
    fv(["diversity", *args])
    return fv


def test_diversity_end_to_end(diversity, tmp_path):
    photos, style, model_dir, vgg, out = _tiny_inputs(tmp_path)
    fv = _diversity_flags(
        diversity,
        f"--model={model_dir}",
        f"--content={photos}",
        f"--vgg_weights={vgg}",
        "--image_size=32",
        "--samples=3",
        "--calibration_images=1",
        "--calibration_tolerance=0.05",
        "--noise_depth=0.4",
        f"--output_dir={out}",
    )
    assert diversity.main(["diversity"], fv) is None

    assert sorted(os.listdir(out)) == sorted(diversity.FILES)
    results = json.loads((out / "diversity.json").read_text())
    assert isinstance(results["claim_holds"], bool)
    assert results["claim_holds"] == all(c["met"] for c in results["checks"])
    assert "claim_holds" in results["criterion"]
    assert results["claim_holds_palette"] == all(c["met"] for c in results["palette_checks"])
    assert "claim_holds_palette" in results["palette_criterion"]
    assert results["settings"]["noise_depth"] == 0.4 and "--noise_depth=0.4" in results["command"]
    assert sorted(results["sources"]) == sorted(diversity_measures.SOURCES)
    reference = results["reference_alpha_1"]["medians"]
    assert reference["palette"]["median"] > 0 and reference["photo_palette"]["median"] > 0
    for source in diversity_measures.SOURCES:
        medians = results["sources"][source]["medians"]
        for measure in (
            "pixel_l1",
            "feature_distance",
            "style_ratio",
            "content_loss",
            "palette",
            "palette_spread",
        ):
            assert len(results["sources"][source]["per_photo"][measure]) == 2
            assert math.isfinite(medians[measure]["median"]), (source, measure)
        assert sorted(medians["style_ratio_per_layer"]) == sorted(STYLE_LAYERS)
    # Randomness makes the samples differ; the calibration matched (c).
    assert results["sources"]["both"]["medians"]["pixel_l1"]["median"] > 0
    assert results["sources"]["alpha"]["medians"]["palette_spread"]["median"] > 0
    calibration = results["calibration"]
    assert calibration["reached"] and calibration["sigma"] > 0
    assert calibration["pixel_l1"] == pytest.approx(calibration["target"], rel=0.05)
    assert calibration["photos"] == ["tall.jpg"]
    assert results["settings"]["feature_layer"] == "block4_conv4"
    report = (out / "diversity.md").read_text()
    assert results["command"] in report and "claim_holds_palette" in report
    with Image.open(out / "diversity_figure5.jpg") as figure:
        assert figure.width >= 3 * 32 and figure.height >= 3 * 32 + 32
    with Image.open(out / "diversity_figure8.jpg") as figure:
        assert figure.width >= 3 * 32 and figure.height >= 2 * 32 + 32


def test_diversity_bad_input(diversity, tmp_path):
    from adjustable_style import images
    from adjustable_style.cli import UsageError

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a photo")
    with pytest.raises(UsageError, match="--content"):
        diversity.main(["diversity"], _diversity_flags(diversity))
    with pytest.raises(images.ImageError, match="no such file"):
        diversity.run(_diversity_flags(diversity, f"--content={tmp_path / 'missing'}"))
    with pytest.raises(images.ImageError):
        diversity.run(_diversity_flags(diversity, f"--content={empty}"))
    with pytest.raises(UsageError, match="--vgg_weights"):
        diversity.run(
            _diversity_flags(
                diversity, f"--content={empty}", f"--vgg_weights={tmp_path / 'no.weights.h5'}"
            )
        )
    with pytest.raises(UsageError, match="--samples"):
        diversity.run(_diversity_flags(diversity, f"--content={empty}", "--samples=1"))
    with pytest.raises(UsageError, match=r"--noise_depth must be in \(0, 1\]"):
        diversity.run(_diversity_flags(diversity, f"--content={empty}", "--noise_depth=1.5"))


def test_diversity_refuses_a_base_model(diversity, tmp_path):
    from adjustable_style import model_files
    from adjustable_style.cli import UsageError
    from adjustable_style.model import networks

    _photo(tmp_path / "photo.png", 32, 32, 1)
    model_dir = tmp_path / "base"
    record = {"model_type": "base", "style_layers": list(STYLE_LAYERS), "steps": 0}
    model_files.save_model(str(model_dir), networks.build_base_stylizer(), record)
    fv = _diversity_flags(
        diversity, f"--model={model_dir}", f"--content={tmp_path}", "--vgg_weights=random"
    )
    with pytest.raises(UsageError, match="base .non-adjustable. model"):
        diversity.run(fv)


# ---------------------------------------------------------------------------
# experiments/figure6.py (Figure 6: alpha = w against base models trained with w).
# ---------------------------------------------------------------------------

FIGURE6 = os.path.join(REPO, "experiments", "figure6.py")


@pytest.fixture(scope="module")
def figure6():
    spec = importlib.util.spec_from_file_location("figure6", FIGURE6)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figure6_flags(figure6, *args):
    fv = flags.FlagValues()
    figure6.define_flags(fv)
    fv(["figure6", *args])
    return fv


def _base_record(weights, **changes):
    record = {
        "model_type": "base",
        "style_weights": list(weights),
        "style_layers": list(STYLE_LAYERS),
        "style_image": "style.jpg",
        "style_image_sha256": None,
        "loss_network": "vgg19",
        "steps": 1,
        "ema": list(TINY_EMA),
        "content_weight": 0.5,
    }
    record.update(changes)
    return record


def _tiny_bases(folder, weight_vectors, seed=5):
    import keras

    from adjustable_style import model_files
    from adjustable_style.model import networks

    for k, weights in enumerate(weight_vectors):
        keras.utils.set_random_seed(seed + k)
        name = "w_" + "_".join(f"{w:g}" for w in weights)
        model_files.save_model(
            os.path.join(folder, name), networks.build_base_stylizer(), _base_record(weights)
        )


def _write_record(folder, record):
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(record, f)


def test_figure6_claim_by_hand():
    # Two photos, bases w0, w1, w2; rows base(w0..w2) then alpha = w0..w2.
    def matrices(d_adj, d_base):
        m = np.zeros((6, 3))
        m[:3] = d_base
        for i in range(3):
            m[3 + i, i] = d_adj[i]
        return m

    base = np.array([[0, 4, 6], [4, 0, 5], [6, 5, 0]], float)
    photo1 = matrices([3, 4.5, 7], base)  # w0: 3 < 4; w1: 4.5 < 4 no; w2: 7 < 5 no.
    photo2 = matrices([1, 3, 4], base * 2)  # w0: 1 < 8; w1: 3 < 8; w2: 4 < 10.
    rows = figure6_measures.claim_checks({"gram": [photo1, photo2]}, ["1,0,0", "0,1,0", "0,0,1"])
    by_w = {r["w"]: r for r in rows}
    assert [r["photos_holding"] for r in rows] == [2, 1, 1]
    assert by_w["0,1,0"]["per_photo"] == [False, True]
    # Medians: D_adj 2, 3.75, 5.5; D_base medians 6 (w0-w1), 9 (w0-w2), 7.5 (w1-w2).
    assert by_w["1,0,0"]["d_adj_median"] == pytest.approx(2.0)
    assert by_w["1,0,0"]["d_base_min_median"] == pytest.approx(6.0)
    assert by_w["1,0,0"]["nearest_other_base"] == "0,1,0"
    assert by_w["0,0,1"]["nearest_other_base"] == "0,1,0"
    assert [r["met_on_medians"] for r in rows] == [True, True, True]
    assert all(r["in_claim"] for r in rows)
    # Pixel RMSE and the Gram distance by hand.
    a = np.zeros((4, 4, 3))
    assert figure6_measures.pixel_rmse(a, a + 3 / 255) == pytest.approx(3.0)
    mean, per_layer = figure6_measures.gram_distance(
        [np.eye(2), np.zeros((2, 2))], [np.zeros((2, 2)), np.ones((2, 2))], [2.0, 8.0]
    )
    assert per_layer == [pytest.approx(1.0), pytest.approx(0.5)] and mean == pytest.approx(0.75)


def test_figure6_loss_parity_by_hand():
    # Raw losses (content, 3 style layers) of 4 outputs: base(w0), base(w1),
    # alpha = w0, alpha = w1; w0 = (1, 0, 0), w1 = (0, 0, 1).
    weights = [(1, 0, 0), (0, 0, 1)]
    raw = np.array([[1.0, 1, 9, 9], [1, 9, 9, 1], [1, 1.5, 9, 9], [2, 9, 9, 1]])
    ema = [1.0, 1.0, 1.0, 1.0]  # Eq. 8 factors all 4.
    objectives = figure6_measures.objective_matrix(raw, weights, 0.5, ema, "eq8")
    np.testing.assert_allclose(objectives[:, 0], 4 * (0.5 * raw[:, 0] + raw[:, 1]))
    np.testing.assert_allclose(objectives[:, 1], 4 * (0.5 * raw[:, 0] + raw[:, 3]))
    rows = figure6_measures.parity_checks([objectives, objectives], ["1,0,0", "0,0,1"])
    # w0: adjustable 8 / base 6; base(w1) 38 / 6.  w1: adjustable 8 / base 6.
    assert rows[0]["ratio_adjustable"] == pytest.approx(8 / 6)
    assert rows[0]["ratio_other_bases"] == {"0,0,1": pytest.approx(38 / 6)}
    assert rows[1]["ratio_adjustable"] == pytest.approx(8 / 6)
    assert [r["met_parity"] for r in rows] == [False, False]
    assert all(r["others_worse"] for r in rows)
    # Near enough (<= 1.1) for w0, and a base that beats base(w0) at its own w.
    raw[2, 1] = 1.1
    raw[1, 1] = 0.5
    rows = figure6_measures.parity_checks(
        [figure6_measures.objective_matrix(raw, weights, 0.5, ema, "eq8")], ["a", "b"]
    )
    assert rows[0]["met_parity"] and rows[0]["ratio_adjustable"] == pytest.approx(6.4 / 6)
    assert not rows[0]["others_worse"]
    # The constants: every base's, or which differ.
    record = {"ema": list(TINY_EMA), "content_weight": 0.5}
    bases = [("w_a", None, dict(record), (1, 0, 0)), ("w_b", None, dict(record), (0, 1, 0))]
    constants = figure6_bases.objective_constants(record, bases)
    assert constants["same_for_all"] and constants["ema"] == list(TINY_EMA)
    bases[1][2]["ema"] = [1.0, 1.0, 1.0, 1.0]
    bases[1][2]["content_weight"] = 0.1
    constants = figure6_bases.objective_constants(record, bases)
    assert not constants["same_for_all"]
    assert constants["bases"]["w_b"]["differs"] == ["loss EMAs", "content weight 0.1"]
    assert "w_b: loss EMAs, content weight 0.1" in constants["note"]
    from adjustable_style.cli import UsageError

    with pytest.raises(UsageError, match="no loss EMAs"):
        figure6_bases.objective_constants({"content_weight": 1.0}, bases)
    raw_only = figure6_bases.objective_constants({"loss_normalization": "none"}, bases)
    assert raw_only["ema"] is None and raw_only["normalization"] == "none"


def test_figure6_end_to_end(figure6, tmp_path):
    photos, style, model_dir, vgg, out = _tiny_inputs(tmp_path)
    bases = tmp_path / "bases"
    _tiny_bases(str(bases), [(0, 1, 0), (1, 0, 0)])
    fv = _figure6_flags(
        figure6,
        f"--model={model_dir}",
        f"--bases={bases}",
        f"--content={photos}",
        f"--vgg_weights={vgg}",
        "--image_size=32",
        "--figure_photo=1",
        f"--output_dir={out}",
    )
    assert figure6.main(["figure6"], fv) is None

    assert sorted(os.listdir(out)) == sorted(figure6.FILES)
    results = json.loads((out / "figure6.json").read_text())
    # Each layer alone, in layer order.
    assert [b["w"] for b in results["bases"]] == ["1,0,0", "0,1,0"]
    assert [b["folder"] for b in results["bases"]] == ["w_1_0_0", "w_0_1_0"]
    assert results["settings"]["photos"] == ["tall.jpg", "wide.png"]
    for distance in figure6_measures.DISTANCES:
        entry = results["distances"][distance]
        assert entry["rows"] == ["base(1,0,0)", "base(0,1,0)", "alpha = 1,0,0", "alpha = 0,1,0"]
        assert np.shape(entry["median"]) == (4, 2)
        assert np.shape(entry["per_photo"]) == (2, 4, 2)
        per_photo = np.array(entry["per_photo"])
        assert np.all(np.isfinite(per_photo)) and np.all(per_photo >= -1e-6)
        # base(w) against itself is 0; the two bases differ; symmetric.
        assert np.all(per_photo[:, [0, 1], [0, 1]] == 0)
        assert np.all(per_photo[:, 0, 1] > 0)
        np.testing.assert_allclose(per_photo[:, 0, 1], per_photo[:, 1, 0], rtol=1e-5)
        np.testing.assert_allclose(np.median(per_photo, axis=0), entry["median"])
    assert sorted(results["distances"]["gram"]["median_per_layer"]) == sorted(STYLE_LAYERS)
    # The claim, recomputed from the written matrices.
    assert len(results["checks"]) == 2 * len(figure6_measures.DISTANCES)
    for check in results["checks"]:
        m = np.array(results["distances"][check["distance"]]["per_photo"])
        i = ["1,0,0", "0,1,0"].index(check["w"])
        d_adj, d_base = m[:, 2 + i, i], m[:, i, 1 - i]
        assert check["d_adj_median"] == pytest.approx(np.median(d_adj))
        assert check["d_base_min_median"] == pytest.approx(np.median(d_base))
        assert check["met_on_medians"] == bool(np.median(d_adj) < np.median(d_base))
        assert check["per_photo"] == [bool(x) for x in d_adj < d_base]
        assert check["photos_holding"] == sum(check["per_photo"])
        assert check["this_photo"] == pytest.approx([d_adj[1], d_base[1]])
    assert results["claim_holds_distances"] == all(
        c["met_on_medians"] for c in results["checks"] if c["distance"] in ("pixel_rmse", "gram")
    )
    # Loss parity, recomputed from the written objectives.
    assert results["objective"]["same_for_all"] and results["objective"]["ema"] == list(TINY_EMA)
    objectives = np.array(results["objectives"]["per_photo"])
    assert objectives.shape == (2, 4, 2) and np.all(objectives > 0)
    mean = objectives.mean(axis=0)
    np.testing.assert_allclose(mean, results["objectives"]["mean"])
    for i, row in enumerate(results["loss_parity"]):
        assert row["w"] == ["1,0,0", "0,1,0"][i]
        assert row["ratio_adjustable"] == pytest.approx(mean[2 + i, i] / mean[i, i])
        other = ["1,0,0", "0,1,0"][1 - i]
        assert row["ratio_other_bases"][other] == pytest.approx(mean[1 - i, i] / mean[i, i])
        assert row["met_parity"] == (row["ratio_adjustable"] <= figure6_measures.PARITY_BOUND)
        assert row["others_worse"] == (row["ratio_other_bases"][other] > 1)
    assert results["claim_holds_loss_parity"] == all(
        r["met_parity"] and r["others_worse"] for r in results["loss_parity"]
    )
    assert results["claim_holds"] == (
        results["claim_holds_distances"] and results["claim_holds_loss_parity"]
    )
    assert "claim_holds" in results["criterion"]
    report = (out / "figure6.md").read_text()
    assert results["command"] in report and "claim_holds" in report
    assert "| alpha = 1,0,0 |" in report and "### Loss parity" in report
    with Image.open(out / "figure6.jpg") as picture:
        # Two rows of two 32 px cells under a header with the content and style.
        assert picture.width >= 2 * 32 and picture.height >= 2 * 32 + 32 + 32


def test_figure6_bad_bases(figure6, tmp_path):
    from adjustable_style import model_files
    from adjustable_style.cli import UsageError
    from adjustable_style.model import networks

    _photo(tmp_path / "photo.png", 32, 32, 1)
    style = tmp_path / "style.jpg"
    _photo(style, 40, 40, 3)
    model_dir = tmp_path / "model"
    _tiny_model(str(model_dir), str(style))
    base_dir = tmp_path / "base_model"
    model_files.save_model(str(base_dir), networks.build_base_stylizer(), _base_record((1, 0, 0)))

    def run(bases, model=model_dir):
        fv = _figure6_flags(
            figure6,
            f"--model={model}",
            f"--bases={bases}",
            f"--content={tmp_path / 'photo.png'}",
            "--vgg_weights=random",
        )
        return figure6.run(fv)

    script = "experiments/train_figure6_bases.sh"
    with pytest.raises(UsageError, match=f"is not a folder; train them with {script}"):
        run(tmp_path / "missing")
    bases = tmp_path / "bases"
    bases.mkdir()
    with pytest.raises(UsageError, match=f"at least 2 base models, .* has 0 .*{script}"):
        run(bases)
    os.symlink(base_dir, bases / "w_1_0_0")
    with pytest.raises(UsageError, match="at least 2 base models, .* has 1"):
        run(bases)
    # The adjustable model passed as a base.
    os.symlink(model_dir, bases / "adjustable")
    with pytest.raises(UsageError, match="adjustable model .* not a base model"):
        run(bases)
    os.remove(bases / "adjustable")
    # A base trained on another style image, or other style layers.
    other = bases / "w_0_1_0"
    model_files.save_model(
        str(other),
        networks.build_base_stylizer(),
        _base_record((0, 1, 0), style_image="munch.jpg"),
    )
    with pytest.raises(UsageError, match="another style image"):
        run(bases)
    _write_record(str(other), _base_record((0, 1, 0), style_layers=["block1_conv1"]))
    with pytest.raises(UsageError, match="weights the style layers block1_conv1"):
        run(bases)
    _write_record(str(other), _base_record((0, 1, 0), loss_normalization="none"))
    with pytest.raises(UsageError, match="--loss_normalization=none, the adjustable model"):
        run(bases)
    _write_record(str(other), _base_record((1, 0, 0)))
    with pytest.raises(UsageError, match="the same style weights 1,0,0"):
        run(bases)
    # A base model passed as --model.
    with pytest.raises(UsageError, match="is a base .non-adjustable. model"):
        run(bases, model=base_dir)


def test_targets_table_puts_runs_side_by_side_and_marks_misses(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "targets_table", os.path.join(REPO, "experiments", "targets_table.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(scale, value, met, layer="block2_conv2"):
        return {
            "model": {"name": "m", "style_scale": scale, "style_layers": [layer]},
            "settings": {"image_size": 256},
            "targets": [
                {"what": f"ratio, {layer}", "value": value, "target": "<= 0.15", "met": met},
                {"what": "PSNR", "value": 19.0, "target": ">= 18", "met": True},
            ],
        }

    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(run("training", 0.1, True)))
    other = tmp_path / "b.json"
    # Another layer set: its first layer's row lines up with the first's.
    other.write_text(json.dumps(run("long:512", 0.2, False, layer="block1_conv2")))
    text = module.table([module.load(str(folder)), module.load(str(other))])
    lines = text.splitlines()
    assert "m, style training, 256 px" in lines[0] and "m, style long:512, 256 px" in lines[0]
    assert lines[2] == "| style layers L1, L2, L3 | | block2_conv2 | block1_conv2 |"
    assert lines[3] == "| ratio, L1 | <= 0.15 | 0.1 | **0.2** |"
    assert lines[-1] == "| targets met | | 2 of 2 | 1 of 2 |"
    with pytest.raises(Exception, match="not a readable results.json"):
        module.load(str(tmp_path / "missing"))


# ---------------------------------------------------------------------------
# experiments/noise_strength.py (the noise mask's depth).
# ---------------------------------------------------------------------------

NOISE_STRENGTH = os.path.join(REPO, "experiments", "noise_strength.py")


@pytest.fixture(scope="module")
def noise_strength():
    spec = importlib.util.spec_from_file_location("noise_strength", NOISE_STRENGTH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_noise_strength_measures_by_hand(noise_strength):
    clean = np.full((4, 4, 3), 0.5)
    darkness = np.zeros((4, 4))
    darkness[0, 0], darkness[0, 1], darkness[3, 3] = 1.0, 0.6, 0.3
    noisy = clean.copy()
    noisy[0, 0] = 0.1  # A blotch at the core...
    noisy[0, 1] = 0.3
    noisy[2, 2] = 0.6  # ...and a change away from it.
    # Core: (0, 0) and (0, 1), darker by 0.4 and 0.2 in luminance.
    assert noise_strength.core_darkening(noisy, clean, darkness) == pytest.approx(0.3 * 255)
    # Clear of dips: 13 pixels, one of them 0.1 brighter in each channel.
    assert noise_strength.away_change(noisy, clean, darkness) == pytest.approx(0.1 * 255 / 13)
    assert math.isnan(noise_strength.core_darkening(noisy, clean, np.zeros((4, 4))))


def test_noise_strength_rule(noise_strength):
    reference = {"style_ratio": 0.2, "palette": 10.0}

    def medians(core, style, palette):
        return {"core_darkening": core, "style_ratio": style, "palette": palette}

    table = {
        0.1: medians(1.0, 0.2, 10.0),
        0.3: medians(8.0, 0.21, 10.5),
        0.5: medians(15.0, 0.21, 10.5),  # A blotch.
        1.0: medians(60.0, 0.3, 14.0),
    }
    chosen, failures = noise_strength.choose_depth(sorted(table), table, reference)
    assert chosen == 0.3 and not failures[0.3] and failures[0.5] and len(failures[1.0]) == 3
    # Off style at 0.3 as well: the deepest that passes is 0.1.
    table[0.3] = medians(8.0, 0.25, 10.5)
    assert noise_strength.choose_depth(sorted(table), table, reference)[0] == 0.1
    # None passes: the smallest.
    table[0.1] = medians(11.0, 0.2, 10.0)
    assert noise_strength.choose_depth(sorted(table), table, reference)[0] == 0.1


def test_noise_strength_end_to_end(noise_strength, tmp_path):
    photos, style, model_dir, vgg, out = _tiny_inputs(tmp_path)
    fv = flags.FlagValues()
    noise_strength.define_flags(fv)
    fv(
        [
            "noise_strength",
            f"--model={model_dir}",
            f"--content={photos}",
            f"--vgg_weights={vgg}",
            "--image_size=32",
            "--depths=1,0.25",
            "--samples=2",
            "--num_points=3",
            f"--output_dir={out}",
        ]
    )
    assert noise_strength.main(["noise_strength"], fv) is None
    assert sorted(os.listdir(out)) == sorted(noise_strength.FILES)
    results = json.loads((out / "noise_strength.json").read_text())
    assert results["settings"]["depths"] == [0.25, 1.0]
    assert results["command"].endswith(" --depths=1,0.25")
    assert results["chosen_depth"] in (0.25, 1.0)
    for depth in ("0.25", "1.0"):
        for measure in noise_strength.MEASURES:
            assert len(results["per_photo"][depth][measure]) == 2
            assert math.isfinite(results["medians"][depth][measure]), (depth, measure)
    # Deeper dips change the picture more (a random network passes the dark on).
    assert results["medians"]["1.0"]["pixel_l1"] > results["medians"]["0.25"]["pixel_l1"]
    report = (out / "noise_strength.md").read_text()
    assert results["command"] in report and "chosen depth" in report
    with Image.open(out / "noise_strength.jpg") as picture:
        assert picture.width >= 3 * 32 and picture.height >= 2 * 32 + 32
    # Bad input: one line.
    from adjustable_style.cli import UsageError

    fv["depths"].value = ["0.5", "2"]
    with pytest.raises(UsageError, match=r"--depths must each be in \(0, 1\]"):
        noise_strength.run(fv)


# ---------------------------------------------------------------------------
# experiments/train_figure6.sh (the matched-budget models), on tiny settings.
# ---------------------------------------------------------------------------

TRAIN_FIGURE6 = os.path.join(REPO, "experiments", "train_figure6.sh")


def _train_figure6(*args, **env):
    import subprocess
    import sys

    environment = {
        **os.environ,
        "PYTHON": sys.executable,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "CUDA_VISIBLE_DEVICES": "",
        **env,
    }
    return subprocess.run(
        ["bash", TRAIN_FIGURE6, *map(str, args)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_train_figure6_dry_run_and_bad_input(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos / "a.png", 40, 40, 1)
    style = tmp_path / "style.jpg"
    _photo(style, 40, 40, 3)
    out = tmp_path / "runs"
    result = _train_figure6(photos, "random", style, out, DRY_RUN="1", WEIGHTS="1,0,0 1,1,1")
    assert result.returncode == 0, result.stderr
    import shlex

    commands = [
        shlex.split(line)
        for line in result.stdout.splitlines()
        if line.startswith("python train.py")
    ]
    assert len(commands) == 4  # Calibration, adjustable, two bases.
    assert not out.exists()  # Nothing ran.
    # One recipe: every run has the same shared flags.
    shared = (
        "--image_size=192",
        "--batch_size=4",
        "--learning_rate=0.001",
        "--content_weight=0.25",
        "--seed=0",
        "--mixed_precision",
    )
    for command in commands:
        assert all(flag in command for flag in shared), command
    calibration, adjustable, *bases = commands
    assert "--train_steps=300" in calibration and "--loss_ema_from" not in calibration
    for command in (adjustable, *bases):
        assert "--train_steps=2000" in command and "--ema_decay=1" in command
        assert f"--loss_ema_from={out}/calibration" in command
    assert "--model_type=base" in bases[0] and "--style_weights=1,0,0" in bases[0]
    assert "--model_type=base" in bases[1] and "--style_weights=1,1,1" in bases[1]
    assert "--model_type=base" not in adjustable
    # Bad input: one line on stderr, exit 1.
    for args, env, needle in (
        ((tmp_path / "none", "random", style), {}, "none: no such file or folder"),
        ((photos, "random", tmp_path / "no.jpg"), {}, "no.jpg: no such file"),
        ((photos, tmp_path / "no.h5", style), {}, "no.h5: no such file"),
        ((photos, "random", style), {"STEPS": "many"}, "STEPS must be a positive integer"),
        ((photos, "random", style), {"WEIGHTS": "1,0,0"}, "at least two w vectors"),
    ):
        result = _train_figure6(*args, DRY_RUN="1", **env)
        assert result.returncode == 1 and needle in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_train_figure6_smoke_end_to_end(figure6, tmp_path):
    from adjustable_style import model_files

    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(3):
        _photo(photos / f"p{k}.png", 48, 40, k)
    style = tmp_path / "style.jpg"
    _photo(style, 48, 48, 9)
    out = tmp_path / "runs"
    result = _train_figure6(
        photos, "random", style, out, SMOKE="1", WEIGHTS="1,0,0 0,0,1", MIXED_PRECISION="0"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    store = out / "store"
    assert sorted(os.listdir(store)) == ["adjustable", "bases", "calibration"]
    assert sorted(os.listdir(store / "bases")) == ["w_0_0_1", "w_1_0_0"]
    assert sorted(os.listdir(store / "calibration")) == ["model.json", "train_commands.sh"]
    calibration = json.loads((store / "calibration" / "model.json").read_text())
    assert calibration["steps"] == 2 and calibration["model_type"] == "adjustable"
    records = {}
    for name in ("adjustable", "bases/w_1_0_0", "bases/w_0_0_1"):
        folder = store / name
        assert sorted(os.listdir(folder)) == ["model.json", "model.keras", "train_commands.sh"]
        record = model_files.read_record(str(folder / "model.keras"))
        records[name] = record
        # Same steps and recipe, and the calibration's EMAs, frozen.
        assert record["steps"] == 3 and record["image_size"] == 32
        assert record["content_weight"] == 0.25 and record["ema_decay"] == 1.0
        assert record["ema"] == pytest.approx(calibration["ema"], rel=1e-6)
        assert record["loss_ema_from"]["ema"] == pytest.approx(calibration["ema"], rel=1e-6)
        assert "train.py" in (folder / "train_commands.sh").read_text()
        # Float16-stored weights, loading as float32.
        stylizer, _ = model_files.load_stylizer(str(folder / "model.keras"))
        assert stylizer.dtype_policy.name == "float32"
    assert records["bases/w_1_0_0"]["style_weights"] == [1.0, 0.0, 0.0]
    assert records["adjustable"]["model_type"] == "adjustable"
    assert "Now: python experiments/figure6.py" in result.stdout

    # figure6.py takes them as they are: the objective is the same for all.
    photos_held_out = tmp_path / "held_out"
    photos_held_out.mkdir()
    _photo(photos_held_out / "h.png", 40, 40, 7)
    fv = _figure6_flags(
        figure6,
        f"--model={store / 'adjustable'}",
        f"--bases={store / 'bases'}",
        f"--style_image={style}",
        f"--content={photos_held_out}",
        "--vgg_weights=random",
        "--image_size=32",
        f"--output_dir={tmp_path / 'out'}",
    )
    results = figure6.run(fv)
    assert results["objective"]["same_for_all"]
    assert len(results["loss_parity"]) == 2


def test_recorded_paths_name_no_folder_of_this_machine(tmp_path):
    inside = os.path.join(REPO, "adjustable_style", "models", "starry_night", "model.keras")
    assert harness.recorded_path(inside) == os.path.join(
        "adjustable_style", "models", "starry_night", "model.keras"
    )
    assert harness.recorded_path(tmp_path / "bases" / "model.keras") == "model.keras"


def test_a_reproducing_command_gives_list_flags_as_typed():
    """A list flag comes back comma-separated, so the printed command runs again."""
    fv = flags.FlagValues()
    flags.DEFINE_string("model", None, "", flag_values=fv)
    flags.DEFINE_list("sizes", ["256"], "", flag_values=fv)
    flags.DEFINE_string("output_dir", None, "", flag_values=fv)
    for name in harness.INPUT_FLAGS[1:]:
        flags.DEFINE_string(name, None, "", flag_values=fv)
    fv(["probe", "--model=starry_night", "--sizes=256,512"])
    line = harness.command_line("experiments/probe.py", fv, ("sizes",))
    assert line == "python experiments/probe.py --model=starry_night --sizes=256,512"
