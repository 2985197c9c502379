"""stylize.py and adjustable_style.stylize.pictures: outputs, seeds, sweeps, errors.

A tiny random-weights model (saved to tmp_path) and images of at most 64
pixels keep this fast. Most cases call the library in process with one
loaded model; a few run the real command to check exit codes and stderr.
"""

import os
import signal
import subprocess
import sys
import time

import harness
import numpy as np
import pytest
from harness import REPO, STYLE_LAYERS
from PIL import Image

from adjustable_style import alpha_vectors, cli, images, model_files, noise
from adjustable_style.stylize import figures, output_plan
from adjustable_style.stylize import options as stylize_options
from adjustable_style.stylize import pictures as stylize_lib
from adjustable_style.stylize.options import Options

ALL_ONES = "block2_conv2=1,block3_conv4=1,block4_conv4=1"
H, W = 37, 53  # Odd on purpose: the network pads to 4 and must crop back.


def gradient_image(path, height=H, width=W):
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [x * 255 // (width - 1), y * 255 // (height - 1), (x * y) % 256], axis=-1
    ).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return os.fspath(path)


@pytest.fixture(scope="module")
def files(stylizer_files, tmp_path_factory):
    photo = gradient_image(tmp_path_factory.mktemp("stylize") / "photo.png")
    return {**stylizer_files, "content": photo}


@pytest.fixture(scope="module")
def adjustable(adjustable_model):
    return adjustable_model


@pytest.fixture(scope="module")
def base(base_model):
    return base_model


def read(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float32) / 255.0


def run(options, model):
    lines = []
    results = stylize_lib.run(options, out=lines.append, model=model)
    return results, lines


def expected(model, content, alpha):
    """What the network makes of `content` at `alpha`, as 8-bit pixels do."""
    out = model.stylize(content[None], None if alpha is None else np.asarray(alpha)[None])
    return np.round(out[0] * 255) / 255


# ---------------------------------------------------------------------------
# Images.
# ---------------------------------------------------------------------------


def test_default_alpha_is_one_everywhere_and_output_has_input_size(files, adjustable, tmp_path):
    out = tmp_path / "out.png"
    results, lines = run(Options(content=files["content"], output=str(out)), adjustable)
    assert lines == [f"{out}: --alpha={ALL_ONES}"]
    picture = read(out)
    assert picture.shape == (H, W, 3)
    content = images.load_image(files["content"])
    np.testing.assert_allclose(picture, expected(adjustable, content, [1, 1, 1]), atol=1.01 / 255)


def test_named_alpha_keeps_other_layers_at_one(files, adjustable, tmp_path):
    out = tmp_path / "out.jpg"
    _, lines = run(
        Options(content=files["content"], output=str(out), alpha="block3_conv4=0.25"), adjustable
    )
    assert lines == [f"{out}: --alpha=block2_conv2=1,block3_conv4=0.25,block4_conv4=1"]
    assert Image.open(out).format == "JPEG"


def test_printed_alpha_reproduces_a_random_pick(files, adjustable, tmp_path):
    results, lines = run(
        Options(
            content=files["content"],
            output=str(tmp_path / "many"),
            random_alpha=True,
            num_samples=3,
            seed=11,
        ),
        adjustable,
    )
    assert [r.path for r in results] == [
        str(tmp_path / "many" / f"photo_{k}.png") for k in range(3)
    ]
    alphas = [r.alpha for r in results]
    assert len({tuple(a) for a in alphas}) == 3
    printed = lines[1].split("--alpha=")[1]
    np.testing.assert_array_equal(alpha_vectors.parse_alpha(printed, STYLE_LAYERS), alphas[1])

    # The printed flags give the same image; so does --seed=S+k alone (up to
    # a rounding step: a batch of 3 and a batch of 1 add in different orders).
    again = tmp_path / "again.png"
    run(Options(content=files["content"], output=str(again), alpha=printed), adjustable)
    np.testing.assert_allclose(read(again), read(results[1].path), atol=1.01 / 255)
    shifted = tmp_path / "shifted.png"
    run(
        Options(content=files["content"], output=str(shifted), random_alpha=True, seed=12),
        adjustable,
    )
    np.testing.assert_allclose(read(shifted), read(results[1].path), atol=1.01 / 255)


def test_seeds_fix_random_alpha_and_noise(files, adjustable, tmp_path):
    def sample(seed, name):
        results, _ = run(
            Options(
                content=files["content"],
                output=str(tmp_path / name),
                random_alpha=True,
                content_noise=True,
                num_samples=2,
                seed=seed,
            ),
            adjustable,
        )
        return [r.alpha for r in results], [read(r.path) for r in results]

    alphas1, pictures1 = sample(5, "a")
    alphas2, pictures2 = sample(5, "b")
    alphas3, pictures3 = sample(6, "c")
    np.testing.assert_array_equal(np.stack(alphas1), np.stack(alphas2))
    np.testing.assert_array_equal(np.stack(pictures1), np.stack(pictures2))
    assert not np.array_equal(alphas1[0], alphas3[0])
    assert np.abs(pictures1[0] - pictures3[0]).max() > 0.05
    # Sample 1 of seed 5 is sample 0 of seed 6.
    np.testing.assert_array_equal(alphas1[1], alphas3[0])
    np.testing.assert_allclose(pictures1[1], pictures3[0], atol=1.01 / 255)


def test_content_noise_multiplies_the_content_before_the_network(files, adjustable, tmp_path):
    out = tmp_path / "noisy.png"
    _, lines = run(
        Options(
            content=files["content"],
            output=str(out),
            content_noise=True,
            noise_points=3,
            noise_sigma=4.0,
            seed=9,
        ),
        adjustable,
    )
    assert lines == [
        f"{out}: --alpha={ALL_ONES} --content_noise --seed=9 --noise_points=3 --noise_sigma=4"
    ]
    content = images.load_image(files["content"])
    mask = noise.noise_mask(H, W, [9, 1], num_points=3, sigma=4.0)
    picture = read(out)
    assert picture.shape == (H, W, 3)
    np.testing.assert_allclose(
        picture, expected(adjustable, content * mask, [1, 1, 1]), atol=1.01 / 255
    )
    plain = expected(adjustable, content, [1, 1, 1])
    assert np.abs(picture - plain).max() > 0.05
    # The default mask is the shallow one, never black.
    assert mask.min() == pytest.approx(1 - noise.DEFAULT_DEPTH, abs=1e-6)


def test_content_noise_depth_is_used(files, adjustable, tmp_path):
    content = images.load_image(files["content"])
    pictures = {}
    for depth in (None, 1.0, 0.1):
        out = tmp_path / f"noisy_{depth}.png"
        _, lines = run(
            Options(
                content=files["content"],
                output=str(out),
                content_noise=True,
                noise_points=3,
                seed=9,
                noise_depth=depth,
            ),
            adjustable,
        )
        flag = "" if depth is None else f" --noise_depth={depth:g}"
        assert lines == [
            f"{out}: --alpha={ALL_ONES} --content_noise --seed=9 --noise_points=3{flag}"
        ]
        mask = noise.noise_mask(H, W, [9, 1], num_points=3, depth=depth)
        pictures[depth] = read(out)
        np.testing.assert_allclose(
            pictures[depth], expected(adjustable, content * mask, [1, 1, 1]), atol=1.01 / 255
        )
    # The old mask (depth 1) is reachable and differs from the default and a shallow one.
    assert np.abs(pictures[1.0] - pictures[None]).max() > 0.05
    assert np.abs(pictures[0.1] - pictures[None]).max() > 1.5 / 255


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_mask_range_shape_and_dips(seed):
    mask = noise.noise_mask(48, 64, seed, num_points=4, sigma=2.0, depth=1.0)
    again = noise.noise_mask(48, 64, seed, num_points=4, sigma=2.0, depth=1.0)
    other = noise.noise_mask(48, 64, seed + 100, num_points=4, sigma=2.0, depth=1.0)
    assert mask.shape == (48, 64, 1) and mask.dtype == np.float32
    assert mask.min() == 0.0 and mask.max() == 1.0
    np.testing.assert_array_equal(mask, again)
    assert not np.array_equal(mask, other)
    points = noise.noise_points(48, 64, seed, 4)
    assert len(points) == 4
    for row, col in points:
        assert mask[row, col, 0] == 0.0
    # Each dip is a soft local minimum: dark at its centre, bright 4 sigma away.
    assert (mask < 0.5).mean() < 0.1
    counts = {len(noise.noise_points(48, 64, s)) for s in range(40)}
    assert counts <= set(range(1, noise.MAX_NOISE_POINTS + 1)) and len(counts) > 3


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(files, adjustable, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()  # a process id that no longer runs
    left = tmp_path / f"{output_plan.STAGING_PREFIX}{dead.pid}-ab_cd123"
    left.mkdir()
    (left / "0-out.png").write_bytes(b"half a picture")
    running = tmp_path / f"{output_plan.STAGING_PREFIX}{os.getpid()}-ab_cd124"  # a live run's
    running.mkdir()
    mine = tmp_path / ".stylize-partial-notes"  # not our pattern
    mine.mkdir()
    _, lines = run(Options(content=files["content"], output=str(tmp_path / "out.png")), adjustable)
    assert lines[0] == f"Removed what an interrupted run left in {tmp_path}: {left.name}"
    assert sorted(os.listdir(tmp_path)) == sorted([running.name, mine.name, "out.png"])


def test_existing_outputs_are_refused_unless_overwrite(files, adjustable, tmp_path):
    """docs/outputs.md: the same rule as every command's."""
    content = tmp_path / "ok.png"
    gradient_image(content, 16, 16)
    out = tmp_path / "out"
    out.mkdir()
    (out / "ok.png").write_bytes(b"an earlier output")
    (out / "ok_1.png").write_bytes(b"unrelated, same name as a sample")
    (out / "notes.txt").write_text("keep")
    cases = [
        (Options(content=str(content), output=str(out)), out / "ok.png"),
        (
            Options(content=str(content), output=str(out), random_alpha=True, num_samples=2),
            out / "ok_1.png",
        ),
        (Options(content=str(content), output=str(out / "ok.png")), out / "ok.png"),
    ]
    for options, taken in cases:
        with pytest.raises(images.ImageError) as error:
            run(options, adjustable)
        assert str(error.value) == f"{taken}: already exists; pass --overwrite to replace it"
    assert sorted(os.listdir(out)) == ["notes.txt", "ok.png", "ok_1.png"]
    assert (out / "ok.png").read_bytes() == b"an earlier output"

    results, _ = run(
        Options(
            content=str(content), output=str(out), random_alpha=True, num_samples=2, overwrite=True
        ),
        adjustable,
    )
    assert [r.path for r in results] == [str(out / "ok_0.png"), str(out / "ok_1.png")]
    assert read(out / "ok_1.png").shape == (16, 16, 3)
    assert (out / "ok.png").read_bytes() == b"an earlier output"  # not this run's output
    assert (out / "notes.txt").read_text() == "keep"


def test_folder_input_names_outputs_after_content_files(files, adjustable, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    gradient_image(photos / "a.png", 20, 30)
    gradient_image(photos / "b.jpg", 24, 16)
    results, _ = run(Options(content=str(photos), output=str(tmp_path / "out")), adjustable)
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]
    assert read(tmp_path / "out" / "a.png").shape == (20, 30, 3)
    assert read(tmp_path / "out" / "b.png").shape == (24, 16, 3)


def test_default_content_is_the_bundled_example(adjustable, tmp_path):
    results, _ = run(Options(output=str(tmp_path / "out.png"), max_size=48), adjustable)
    assert results[0].content == stylize_options.DEFAULT_CONTENT
    assert max(read(results[0].path).shape[:2]) == 48


def test_output_names_stay_unique():
    names = output_plan._unique_stems(
        ["a/x.png", "b/x.png", "c/x.jpg", "y.png", "d/y.png", "z.JPG"]
    )
    assert names == ["x_png", "x_png_2", "x_jpg", "y", "y_2", "z"]


def test_max_size_shrinks_the_long_side(files, adjustable, tmp_path):
    out = tmp_path / "small.png"
    run(Options(content=files["content"], output=str(out), max_size=26), adjustable)
    assert read(out).shape == (18, 26, 3)


def test_base_model_works_with_defaults_and_noise(files, base, tmp_path):
    out = tmp_path / "base.png"
    _, lines = run(Options(content=files["content"], output=str(out)), base)
    assert lines == [str(out)]
    content = images.load_image(files["content"])
    np.testing.assert_allclose(read(out), expected(base, content, None), atol=1.01 / 255)
    _, lines = run(
        Options(
            content=files["content"], output=str(out), content_noise=True, seed=4, overwrite=True
        ),
        base,
    )
    assert lines == [f"{out}: --content_noise --seed=4"]


# ---------------------------------------------------------------------------
# Sweeps and animations.
# ---------------------------------------------------------------------------


def test_sweep_is_figure_3(files, adjustable, tmp_path, monkeypatch):
    calls = []
    forward = adjustable._forward
    monkeypatch.setattr(adjustable, "_forward", lambda c, a: calls.append(len(c)) or forward(c, a))
    bare = tmp_path / "bare.png"
    results, lines = run(
        Options(
            content=files["content"],
            output=str(bare),
            sweep=True,
            sweep_steps=4,
            sweep_fixed="0.5",
            sweep_labels=False,
            batch_size=8,
        ),
        adjustable,
    )
    assert calls == [8, 4]  # 3 layers x 4 steps, batched.
    gap = figures.SWEEP_GAP
    picture = read(bare)
    assert picture.shape == (3 * H + 2 * gap, 4 * W + 3 * gap, 3)
    assert "--sweep_fixed=block2_conv2=0.5,block3_conv4=0.5,block4_conv4=0.5" in lines[0]
    content = images.load_image(files["content"])
    # Row 2 (block4_conv4), column 1: alpha (0.5, 0.5, 1/3).
    cell = picture[2 * (H + gap) : 2 * (H + gap) + H, W + gap : 2 * W + gap]
    np.testing.assert_allclose(
        cell, expected(adjustable, content, [0.5, 0.5, 1 / 3]), atol=1.01 / 255
    )

    labelled = tmp_path / "labelled.png"
    run(
        Options(
            content=files["content"],
            output=str(labelled),
            sweep=True,
            sweep_steps=4,
            sweep_fixed="0.5",
        ),
        adjustable,
    )
    with_labels = read(labelled)
    assert with_labels.shape[0] > picture.shape[0] and with_labels.shape[1] > picture.shape[1]
    np.testing.assert_array_equal(with_labels[-picture.shape[0] :, -picture.shape[1] :], picture)


def test_sweep_layers_is_figure_9_grid(files, adjustable, tmp_path):
    out = tmp_path / "out"
    results, _ = run(
        Options(
            content=files["content"],
            output=str(out),
            sweep_layers=["block2_conv2", "block4_conv4"],
            sweep_steps=3,
            sweep_labels=False,
        ),
        adjustable,
    )
    assert results[0].path == str(out / "photo_grid.png")
    gap = figures.SWEEP_GAP
    picture = read(results[0].path)
    assert picture.shape == (3 * H + 2 * gap, 3 * W + 2 * gap, 3)
    content = images.load_image(files["content"])
    # Row 1 (block2_conv2 = 0.5), column 2 (block4_conv4 = 1), others 0.
    cell = picture[H + gap : 2 * H + gap, 2 * (W + gap) : 2 * (W + gap) + W]
    np.testing.assert_allclose(cell, expected(adjustable, content, [0.5, 0, 1]), atol=1.01 / 255)


def test_animate_writes_a_looping_gif(files, adjustable, tmp_path):
    out = tmp_path / "walk.gif"
    _, lines = run(
        Options(content=files["content"], output=str(out), animate=True, frames=6, fps=10, seed=2),
        adjustable,
    )
    assert lines == [f"{out}: alpha walk --animate --frames=6 --fps=10 --seed=2"]
    gif = Image.open(out)
    assert gif.size == (W, H) and gif.n_frames == 6
    assert gif.info["duration"] == 100 and gif.info["loop"] == 0
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB"), np.float32))
    assert all(np.abs(a - b).max() > 0 for a, b in zip(frames, frames[1:]))


def test_animate_webp(files, adjustable, tmp_path):
    results, _ = run(
        Options(
            content=files["content"],
            output=str(tmp_path / "anim.webp"),
            animate=True,
            frames=3,
            fps=5,
            seed=1,
        ),
        adjustable,
    )
    webp = Image.open(results[0].path)
    assert webp.size == (W, H) and webp.n_frames == 3


# ---------------------------------------------------------------------------
# Bad input: one line, a user error, and nothing written.
# ---------------------------------------------------------------------------


def _bad_inputs(tmp):
    """name -> (Options kwargs, model key, text the message must contain)."""
    empty = tmp / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp / "truncated.png"
    good = tmp / "good.png"
    gradient_image(good, 16, 16)
    truncated.write_bytes(good.read_bytes()[:60])
    text = tmp / "notes.png"
    text.write_text("not an image\n")
    folder = tmp / "no_images"
    folder.mkdir()
    (folder / "readme.txt").write_text("hi")
    mixed = tmp / "mixed"
    mixed.mkdir()
    gradient_image(mixed / "a.png", 16, 16)
    (mixed / "b.png").write_bytes(good.read_bytes()[:60])
    fake_model = tmp / "fake.keras"
    fake_model.write_bytes(b"PK\x03\x04 not really a zip")
    out = str(tmp / "out.png")
    good = str(good)
    huge = tmp / "huge.png"
    harness.write_png_header(huge, 20_000, 20_000)
    other_model = harness.write_keras_model_that_is_not_a_stylizer(tmp / "other.keras")
    return {
        "missing content": (
            dict(content=str(tmp / "nope.png"), output=out),
            "adjustable",
            "nope.png",
        ),
        "empty content": (dict(content=str(empty), output=out), "adjustable", "empty"),
        "truncated content": (dict(content=str(truncated), output=out), "adjustable", "truncated"),
        "not an image": (dict(content=str(text), output=out), "adjustable", "not an image"),
        "folder without images": (
            dict(content=str(folder), output=out),
            "adjustable",
            "no image files",
        ),
        "one bad image in a folder": (
            dict(content=str(mixed), output=str(tmp / "outdir")),
            "adjustable",
            "b.png",
        ),
        "unknown extension": (
            dict(content=good, output=str(tmp / "out.tiff")),
            "adjustable",
            ".tiff",
        ),
        "missing output folder": (
            dict(content=good, output=str(tmp / "nope" / "out.png")),
            "adjustable",
            "does not exist",
        ),
        "alpha wrong length": (
            dict(content=good, output=out, alpha="0.1,0.2"),
            "adjustable",
            "3 style layers",
        ),
        "alpha not a number": (
            dict(content=good, output=out, alpha="a,b,c"),
            "adjustable",
            "not a number",
        ),
        "alpha nan": (
            dict(content=good, output=out, alpha="0.5,nan,1"),
            "adjustable",
            "not finite",
        ),
        "alpha outside [0, 1]": (
            dict(content=good, output=out, alpha="1.5"),
            "adjustable",
            "outside [0, 1]",
        ),
        "alpha unknown layer": (
            dict(content=good, output=out, alpha="block9_conv1=0.5"),
            "adjustable",
            "block9_conv1",
        ),
        "over the pixel limit": (
            dict(content=good, output=out, max_pixels=100),
            "adjustable",
            "--max_pixels",
        ),
        "model not a model": (
            dict(content=good, output=out, model=str(text)),
            None,
            "not a model file",
        ),
        "model file corrupt": (
            dict(content=good, output=out, model=str(fake_model)),
            None,
            "fake.keras",
        ),
        "model missing": (
            dict(content=good, output=out, model=str(tmp / "none.keras")),
            None,
            "none.keras",
        ),
        "base model with alpha": (
            dict(content=good, output=out, alpha="0.5"),
            "base",
            "has no alpha",
        ),
        "base model sweep": (dict(content=good, output=out, sweep=True), "base", "has no alpha"),
        "random alpha and alpha": (
            dict(content=good, output=out, alpha="1", random_alpha=True),
            "adjustable",
            "--random_alpha",
        ),
        "samples without randomness": (
            dict(content=good, output=str(tmp / "d"), num_samples=2),
            "adjustable",
            "--num_samples",
        ),
        "many outputs into one file": (
            dict(content=good, output=out, random_alpha=True, num_samples=2),
            "adjustable",
            "give a folder",
        ),
        "noise points out of range": (
            dict(content=good, output=out, content_noise=True, noise_points=10),
            "adjustable",
            "1..9",
        ),
        "noise sigma without noise": (
            dict(content=good, output=out, noise_sigma=2.0),
            "adjustable",
            "--content_noise",
        ),
        "noise depth without noise": (
            dict(content=good, output=out, noise_depth=0.5),
            "adjustable",
            "--noise_depth needs --content_noise",
        ),
        "noise depth out of range": (
            dict(content=good, output=out, content_noise=True, noise_depth=1.5),
            "adjustable",
            "--noise_depth must be in (0, 1]",
        ),
        "sweep layers unknown": (
            dict(content=good, output=out, sweep_layers=["block2_conv2", "x"]),
            "adjustable",
            "'x'",
        ),
        "sweep layers one": (
            dict(content=good, output=out, sweep_layers=["block2_conv2"]),
            "adjustable",
            "two different",
        ),
        "sweep and animate": (
            dict(content=good, output=out, sweep=True, animate=True),
            "adjustable",
            "choose one",
        ),
        "animation as png": (dict(content=good, output=out, animate=True), "adjustable", ".png"),
        "no content": (dict(content="", output=out), "adjustable", "--content"),
        "output is the input": (dict(content=good, output=good), "adjustable", "overwrite"),
        # Every count has an upper bound, asked one past (nothing is allocated).
        "samples past the bound": (
            dict(content=good, output=str(tmp / "d"), random_alpha=True, num_samples=10_001),
            "adjustable",
            "--num_samples must be in 1..10000",
        ),
        "frames past the bound": (
            dict(content=good, output=str(tmp / "a.gif"), animate=True, frames=10_001),
            "adjustable",
            "--frames must be in 1..10000",
        ),
        "sweep steps past the bound": (
            dict(content=good, output=out, sweep=True, sweep_steps=101),
            "adjustable",
            "--sweep_steps must be in 2..100",
        ),
        "batch size past the bound": (
            dict(content=good, output=out, batch_size=1025),
            "adjustable",
            "--batch_size must be in 1..1024",
        ),
        "max size past the bound": (
            dict(content=good, output=out, max_size=65_536),
            "adjustable",
            "--max_size must be in 0..65535",
        ),
        "seed past the range": (
            dict(content=good, output=out, random_alpha=True, seed=2**32),
            "adjustable",
            "--seed must be in 0..4294967295",
        ),
        "seed range holds every sample": (
            dict(
                content=good,
                output=str(tmp / "d"),
                random_alpha=True,
                seed=2**32 - 2,
                num_samples=3,
            ),
            "adjustable",
            "--seed must be in 0..4294967293",
        ),
        "two videos": (
            dict(content="a.mp4,b.mov", output=str(tmp / "d")),
            "adjustable",
            "names 2 videos; stylize one video at a time",
        ),
        "a video among images": (
            dict(content=f"{good},clip.mp4", output=str(tmp / "d")),
            "adjustable",
            "clip.mp4 is a video, stylized on its own",
        ),
        "over the megapixel cap": (
            dict(content=str(huge), output=out),
            "adjustable",
            "20000x20000 (400.0 megapixels), over the limit of 64 megapixels",
        ),
        "a keras model that is not a stylizer": (
            dict(content=good, output=out, model=other_model),
            None,
            "is a Keras model but not a stylizer",
        ),
    }


BAD_INPUTS = [
    "missing content",
    "empty content",
    "truncated content",
    "not an image",
    "folder without images",
    "one bad image in a folder",
    "unknown extension",
    "missing output folder",
    "alpha wrong length",
    "alpha not a number",
    "alpha nan",
    "alpha outside [0, 1]",
    "alpha unknown layer",
    "over the pixel limit",
    "model not a model",
    "model file corrupt",
    "model missing",
    "base model with alpha",
    "base model sweep",
    "random alpha and alpha",
    "samples without randomness",
    "many outputs into one file",
    "noise points out of range",
    "noise sigma without noise",
    "noise depth without noise",
    "noise depth out of range",
    "sweep layers unknown",
    "sweep layers one",
    "sweep and animate",
    "animation as png",
    "no content",
    "output is the input",
    "samples past the bound",
    "frames past the bound",
    "sweep steps past the bound",
    "batch size past the bound",
    "max size past the bound",
    "seed past the range",
    "seed range holds every sample",
    "two videos",
    "a video among images",
    "over the megapixel cap",
    "a keras model that is not a stylizer",
]


def test_the_output_plan_is_lazy(tmp_path):
    from adjustable_style.stylize import output_plan

    photos = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    for photo in photos:
        gradient_image(photo, 8, 8)
    plan = output_plan.plan_outputs(photos, "images", 10_000, str(tmp_path / "out"))
    assert [len(outputs) for outputs in plan] == [10_000, 10_000]
    assert plan[1][9_999] == str(tmp_path / "out" / "b_9999.png")
    assert plan[0][:2] == [str(tmp_path / "out" / "a_0.png"), str(tmp_path / "out" / "a_1.png")]
    # A content image named like an output in the output folder is still found.
    (tmp_path / "a_9998.png").write_bytes(b"")
    os.symlink(photos[0], tmp_path / "a_7.png")
    with pytest.raises(cli.UsageError, match="a_7.png: would overwrite a content image"):
        output_plan.plan_outputs(photos, "images", 10_000, str(tmp_path))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b_12.png").mkdir()
    with pytest.raises(images.ImageError, match="b_12.png: is a folder"):
        output_plan.plan_outputs(photos, "images", 100, str(tmp_path / "out"))


def test_samples_are_stylized_a_batch_at_a_time(files, adjustable, tmp_path, monkeypatch):
    sizes = []
    stylize = adjustable.stylize
    monkeypatch.setattr(
        adjustable,
        "stylize",
        lambda content, *a: sizes.append(len(content)) or stylize(content, *a),
    )
    options = Options(
        content=files["content"],
        output=str(tmp_path / "out"),
        random_alpha=True,
        num_samples=5,
        seed=3,
        batch_size=2,
    )
    results, lines = run(options, adjustable)
    assert sizes == [2, 2, 1] and len(results) == len(lines) == 5
    # Sample k is still what --seed=3+k --num_samples=1 makes.
    single, _ = run(
        Options(
            content=files["content"],
            output=str(tmp_path / "one.png"),
            random_alpha=True,
            seed=7,
        ),
        adjustable,
    )
    np.testing.assert_allclose(read(results[4].path), read(single[0].path), atol=1 / 255)


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(random_alpha=True, num_samples=4, batch_size=4), "with --batch_size=4"),
        (dict(animate=True, frames=500), "with --frames=500"),
        (dict(sweep=True, sweep_steps=50), "with 150 sweep cells"),
    ],
)
def test_a_run_that_cannot_fit_in_memory_is_refused_first(
    files, adjustable, tmp_path, monkeypatch, changes, needle
):
    from adjustable_style import limits

    monkeypatch.setattr(limits, "available_memory", lambda: 10**6)
    ext = ".gif" if changes.get("animate") else ""
    options = Options(content=files["content"], output=str(tmp_path / f"out{ext}"), **changes)
    with pytest.raises(cli.UsageError) as error:
        stylize_lib.run(options, out=lambda line: None, model=adjustable)
    message = str(error.value)
    assert needle in message and "needs at least" in message and "1 MB free" in message
    assert os.listdir(tmp_path) == []


@pytest.fixture
def bad_inputs(tmp_path):
    cases = _bad_inputs(tmp_path)
    assert sorted(cases) == sorted(BAD_INPUTS)
    return cases


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_and_writes_nothing(case, bad_inputs, tmp_path, adjustable, base):
    kwargs, model_key, needle = bad_inputs[case]
    model = {"adjustable": adjustable, "base": base, None: None}[model_key]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(cli.user_errors()) as error:
        stylize_lib.run(Options(**kwargs), out=lambda line: None, model=model)
    message = " ".join(str(error.value).split())
    assert message == str(error.value).strip(), "message must be one line"
    assert needle in message
    assert sorted(os.listdir(tmp_path)) == before  # No output, no staging folder.


def test_mp4_without_imageio_is_a_clear_error(files, adjustable, tmp_path):
    try:
        import imageio_ffmpeg  # noqa: F401

        pytest.skip("imageio-ffmpeg is installed")
    except ImportError:
        pass
    with pytest.raises(cli.UsageError, match=r"imageio\[ffmpeg\]"):
        stylize_lib.run(
            Options(content=files["content"], output=str(tmp_path / "a.mp4"), animate=True),
            model=adjustable,
        )
    assert os.listdir(tmp_path) == []


def test_list_models_without_shipped_models(monkeypatch):

    monkeypatch.setattr(model_files, "shipped_models", lambda: [])
    lines = []
    assert stylize_lib.run(Options(list_models=True), out=lines.append) == []
    assert len(lines) == 1 and "No shipped models" in lines[0]


def test_list_models_summarizes_records(tmp_path, monkeypatch):

    model_dir = tmp_path / "starry_night"
    model_dir.mkdir()
    (model_dir / "model.keras").write_bytes(b"")
    (model_dir / "model.json").write_text(
        '{"style_image": "art/starry_night.jpg", "model_type": "adjustable", '
        '"style_layers": ["block2_conv2", "block3_conv4"], "loss_network": "vgg19", '
        '"train_steps": 200000, "image_size": 256}'
    )
    monkeypatch.setattr(model_files, "SHIPPED_DIR", str(tmp_path))
    lines = []
    stylize_lib.list_models(lines.append)
    assert lines == [
        "starry_night (default): style starry_night.jpg; adjustable; alpha over "
        "block2_conv2,block3_conv4; vgg19; 200000 steps; 256 px crops"
    ]


# ---------------------------------------------------------------------------
# The command itself (each run starts TensorFlow: keep these few).
# ---------------------------------------------------------------------------


def _command(*args):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "stylize.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_command_writes_and_prints_the_alpha(files, tmp_path):
    out = tmp_path / "cli.png"
    result = _command(
        f"--model={files['adjustable']}",
        f"--content={files['content']}",
        f"--output={out}",
        "--alpha=0.2,1,0.5",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}: --alpha=block2_conv2=0.2,block3_conv4=1,block4_conv4=0.5\n"
    assert result.stderr == ""
    assert read(out).shape == (H, W, 3)


@pytest.mark.parametrize(
    "flags, needle",
    [
        # Found after TensorFlow has started (decoding follows model loading).
        (["--content={truncated}", "--output={out}"], "truncated"),
        # Found before TensorFlow starts.
        (["--content={content}", "--output={tmp}/nope/out.png"], "does not exist"),
        (["--content={content}", "--output={tmp}/truncated.png/out.png"], "is not a folder"),
        # A name without an extension is a folder; an existing file there is refused.
        (["--content={content}", "--output={tmp}/notes"], "exists and is not a folder"),
        (["--content={content}", "--output=/dev/full"], "exists and is not a folder"),
        (
            ["--content={content}", "--output={tmp}/s.png", "--sweep", "--sweep_fixed=2"],
            "--sweep_fixed=2",
        ),
    ],
)
def test_command_bad_input_exits_1_with_one_line(flags, needle, files, tmp_path):
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(open(files["content"], "rb").read()[:80])
    (tmp_path / "notes").write_text("keep")
    out = tmp_path / "out.png"
    flags = [
        f.format(truncated=truncated, out=out, content=files["content"], tmp=tmp_path)
        for f in flags
    ]
    result = _command(f"--model={files['adjustable']}", *flags)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylize.py: error: "), result.stderr
    assert needle in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["notes", "truncated.png"]
    assert (tmp_path / "notes").read_text() == "keep"


def test_command_refuses_an_existing_output_before_loading(files, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"mine")
    result = _command(
        f"--model={files['adjustable']}", f"--content={files['content']}", f"--output={out}"
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"stylize.py: error: {out}: already exists; pass --overwrite to replace it"
    ]
    assert out.read_bytes() == b"mine"


@pytest.mark.parametrize(
    "signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_stopped_command_leaves_nothing_behind(signum, code, word, files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen(
        [
            sys.executable,
            os.path.join(REPO, "stylize.py"),
            f"--model={files['adjustable']}",
            f"--content={files['content']}",
            f"--output={out}/walk.gif",
            "--animate",
            "--frames=10000",
            "--seed=1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 120
    try:
        # The staging folder exists once the frames are being made.
        while not os.listdir(out):
            assert process.poll() is None, process.stderr.read()
            assert time.time() < deadline, "stylize.py did not start"
            time.sleep(0.1)
        time.sleep(0.5)
        process.send_signal(signum)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # A signal that lands where Python cannot raise (C++ calling back
            # into Python) is lost; a person presses Ctrl-C again.
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, stderr
    assert stderr.splitlines() == [f"stylize.py: {word}"]
    assert os.listdir(out) == []
