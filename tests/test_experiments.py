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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "experiments", "adjustability.py")
STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("adjustability", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# Spearman, by hand.
# ---------------------------------------------------------------------------


def test_rankdata_averages_ties(experiment):
    np.testing.assert_array_equal(experiment.rankdata([10, 30, 20, 20]), [1.0, 4.0, 2.5, 2.5])
    np.testing.assert_array_equal(experiment.rankdata([5, 5, 5]), [2.0, 2.0, 2.0])


def test_spearman_perfect_monotone(experiment):
    x = np.linspace(0.0, 1.0, 11)
    assert experiment.spearman(x, x) == pytest.approx(1.0)
    assert experiment.spearman(x, -x) == pytest.approx(-1.0)
    # Any strictly monotone relation, however curved, is perfect.
    assert experiment.spearman(x, np.exp(10 * x)) == pytest.approx(1.0)
    assert experiment.spearman(x, 1.0 / (1.0 + x) ** 3) == pytest.approx(-1.0)


def test_spearman_with_ties_by_hand(experiment):
    # y ranks 1, 2.5, 2.5, 4, 5 against x ranks 1..5: centred, the products
    # sum to 4 + 0.5 + 0 + 1 + 4 = 9.5, the squares to 10 and 9.5.
    rho = experiment.spearman([1, 2, 3, 4, 5], [1, 2, 2, 3, 4])
    assert rho == pytest.approx(9.5 / math.sqrt(10 * 9.5))
    # Ties on both sides: x ranks 1.5, 1.5, 3.5, 3.5; y ranks 1, 2, 3, 4.
    # Centred: (-1, -1, 1, 1) . (-1.5, -0.5, 0.5, 1.5) = 4, |.|^2 = 4 and 5.
    assert experiment.spearman([0, 0, 1, 1], [1, 2, 3, 4]) == pytest.approx(4 / math.sqrt(4 * 5))
    # Order does not matter, only the pairing.
    assert experiment.spearman([3, 1, 2], [30, 10, 20]) == pytest.approx(1.0)


def test_spearman_matches_scipy(experiment):
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 40).astype(float)  # Many ties.
    y = x + rng.integers(-2, 3, 40)
    assert experiment.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])


def test_spearman_undefined_and_bad_input(experiment):
    assert math.isnan(experiment.spearman([1, 2, 3], [7, 7, 7]))
    with pytest.raises(ValueError):
        experiment.spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        experiment.spearman([1, 2], [1, float("nan")])


def test_element_size_of_stripes_is_their_period(experiment):
    photo = np.full((64, 64, 3), 0.5)
    x = np.arange(64)[None, :, None]
    for period in (4, 8, 16):
        stripes = photo + 0.1 * np.sin(2 * np.pi * x / period) + 0 * photo
        assert experiment.element_size(stripes, photo) == pytest.approx(period)
    # Only what stylization adds counts: the photo's own texture cancels.
    textured = photo + 0.2 * np.sin(2 * np.pi * x / 4)
    big = textured + 0.1 * np.sin(2 * np.pi * x / 32)
    assert experiment.element_size(big, textured) == pytest.approx(32)


def test_mean_abs_levels(experiment):
    a = np.zeros((4, 4, 3))
    assert experiment.mean_abs_levels(a, a + 10 / 255) == pytest.approx(10)
    assert experiment.mean_abs_levels(a, a) == 0


def test_targets_pass_and_fail_on_the_thresholds(experiment):
    layers = list(STYLE_LAYERS)
    ratios = (0.1, 0.3, 0.5)  # block3 misses its 0.25
    style = {l: {"ratio": {"median": r}} for l, r in zip(layers, ratios)}
    content = {"psnr_db_alpha0": {"median": 18.0}}
    curve = lambda end, rho: {"end_ratio": {"median": end}, "spearman_per_photo_median": rho}
    figure7 = {
        "others_0": {l: curve(0.5, -0.95) for l in layers},
        "others_1": {l: curve(0.9, -0.85) for l in layers},
    }
    figure3 = {"differences": {"a vs b": {"median": 15.0}, "a vs c": {"median": 14.9}}}
    rows = experiment.check_targets(layers, style, content, figure7, figure3)
    met = {r["what"]: r["met"] for r in rows}
    assert len(rows) == 3 + 3 + 6 + 1 + 2
    assert met["style ratio at alpha = 1, block2_conv2"]
    assert not met["style ratio at alpha = 1, block3_conv4"]
    assert met["style ratio at alpha = 1, block4_conv4"]  # at the bound
    assert met["PSNR vs photo at alpha = 0 (dB)"]
    assert all(met[f"Figure 7 Spearman (median per photo), others at 0, {l}"] for l in layers)
    assert not any(met[f"Figure 7 Spearman (median per photo), others at 1, {l}"] for l in layers)
    assert met["Figure 3 single-layer outputs differ, a vs b (levels of 255)"]
    assert not met["Figure 3 single-layer outputs differ, a vs c (levels of 255)"]


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
    assert len(results["targets"]) == 16
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


def test_diversity_pairwise_distances_by_hand(diversity):
    # Three flat images at 0, 10 and 40 levels: pairs differ by 10, 40, 30.
    samples = np.stack([np.full((4, 4, 3), v / 255) for v in (0, 10, 40)])
    assert diversity.pixel_diversity(samples) == pytest.approx(80 / 3)
    features = np.stack([np.full((2, 2, 5), v) for v in (1.0, 2.0, 4.0)])
    # Pairs differ by 1, 3, 2 (mean 2); the reference's mean |feature| is 4.
    assert diversity.feature_diversity(features, np.full((2, 2, 5), -4.0)) == pytest.approx(0.5)


@pytest.mark.parametrize("target", [0.003, 0.7, 55.0])
def test_diversity_calibration_reaches_its_target(diversity, target):
    # Monotone but not linear, as pixel distance against noise strength is.
    result = diversity.calibrate_sigma(lambda s: 3 * math.tanh(s) + s**2, target, 0.02)
    assert result["reached"]
    assert result["pixel_l1"] == pytest.approx(target, rel=0.02)
    assert result["trace"][-1] == {"sigma": result["sigma"], "pixel_l1": result["pixel_l1"]}
    assert len(result["trace"]) <= 30
    # An unreachable target: the closest try, and reached says so.
    flat = diversity.calibrate_sigma(lambda s: min(s, 1.0), 5.0, 0.02, max_evaluations=6)
    assert not flat["reached"] and flat["pixel_l1"] == 1.0


def test_diversity_draws_come_from_the_seed(diversity):
    from adjustable_style import alpha_vectors as alpha
    from adjustable_style import noise

    first = diversity.draws(3, 3, 10, 16, 20, seed=5)
    for a, b in zip(first, diversity.draws(3, 3, 10, 16, 20, seed=5)):
        np.testing.assert_array_equal(a, b)
    alphas, masks, unit_noise = first
    assert alphas.shape == (3, 3) and masks.shape == (3, 16, 20, 1) and unit_noise.shape == (3, 10)
    # Sample k is what stylize.py draws for --seed=5+k.
    np.testing.assert_array_equal(alphas[2], alpha.sample_alpha(1, 3, [7, 0])[0])
    np.testing.assert_array_equal(masks[1], noise.noise_mask(16, 20, [6, 1]))
    assert not np.array_equal(diversity.draws(3, 3, 10, 16, 20, seed=6)[2], unit_noise)


def test_diversity_claim_checks(diversity):
    def sources(pixel, feature, style):
        return {
            s: {
                "medians": {
                    "pixel_l1": {"median": p},
                    "feature_distance": {"median": f},
                    "style_ratio": {"median": r},
                }
            }
            for s, p, f, r in zip(diversity.SOURCES, pixel, feature, style)
        }

    reference = {"medians": {"style_ratio": {"median": 0.3}}}
    good = sources((10, 8, 12, 11), (0.5, 0.4, 0.6, 0.9), (0.4, 0.3, 0.36, 0.9))
    assert all(c["met"] for c in diversity.check_claim(good, reference))
    # (c) out of style (0.4 > 1.25 x 0.3), and (d) not far enough from it.
    bad = sources((10, 8, 12, 11), (0.5, 0.4, 0.6, 0.9), (0.4, 0.3, 0.4, 0.45))
    met = [c["met"] for c in diversity.check_claim(bad, reference)]
    assert met == [True, True, False, True, False]


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
        f"--output_dir={out}",
    )
    assert diversity.main(["diversity"], fv) is None

    assert sorted(os.listdir(out)) == sorted(diversity.FILES)
    results = json.loads((out / "diversity.json").read_text())
    assert isinstance(results["claim_holds"], bool)
    assert results["claim_holds"] == all(c["met"] for c in results["checks"])
    assert "claim_holds" in results["criterion"]
    assert sorted(results["sources"]) == sorted(diversity.SOURCES)
    for source in diversity.SOURCES:
        medians = results["sources"][source]["medians"]
        for measure in ("pixel_l1", "feature_distance", "style_ratio", "content_loss"):
            assert len(results["sources"][source]["per_photo"][measure]) == 2
            assert math.isfinite(medians[measure]["median"]), (source, measure)
        assert sorted(medians["style_ratio_per_layer"]) == sorted(STYLE_LAYERS)
    # Randomness makes the samples differ; the calibration matched (c).
    assert results["sources"]["both"]["medians"]["pixel_l1"]["median"] > 0
    calibration = results["calibration"]
    assert calibration["reached"] and calibration["sigma"] > 0
    assert calibration["pixel_l1"] == pytest.approx(calibration["target"], rel=0.05)
    assert calibration["photos"] == ["tall.jpg"]
    assert results["settings"]["feature_layer"] == "block4_conv4"
    report = (out / "diversity.md").read_text()
    assert results["command"] in report and "claim_holds" in report
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


def test_figure6_claim_by_hand(figure6):
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
    rows = figure6.claim_checks({"gram": [photo1, photo2]}, ["1,0,0", "0,1,0", "0,0,1"])
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
    assert figure6.pixel_rmse(a, a + 3 / 255) == pytest.approx(3.0)
    mean, per_layer = figure6.gram_distance(
        [np.eye(2), np.zeros((2, 2))], [np.zeros((2, 2)), np.ones((2, 2))], [2.0, 8.0]
    )
    assert per_layer == [pytest.approx(1.0), pytest.approx(0.5)] and mean == pytest.approx(0.75)


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
    for distance in figure6.DISTANCES:
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
    assert len(results["checks"]) == 2 * len(figure6.DISTANCES)
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
    assert results["claim_holds"] == all(
        c["met_on_medians"] for c in results["checks"] if c["distance"] in ("pixel_rmse", "gram")
    )
    assert "claim_holds" in results["criterion"]
    report = (out / "figure6.md").read_text()
    assert results["command"] in report and "claim_holds" in report
    assert "| alpha = 1,0,0 |" in report
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
