"""Alpha maps: reading map images, and one alpha per pixel through the network."""

import os

import numpy as np
import pytest
from PIL import Image

from adjustable_style import alpha_maps, cli, images, model_files
from adjustable_style.inference import runtime
from adjustable_style.inference.stylizer import FastStylizer
from adjustable_style.stylize import pictures as stylize_lib
from adjustable_style.stylize.options import Options

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save(array, path, mode=None):
    Image.fromarray(array, mode).save(path)
    return str(path)


# ---------------------------------------------------------------------------
# Reading map files.
# ---------------------------------------------------------------------------


def test_rgb_map_channels_are_the_style_layers_in_order(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0, 51, 255
    values = alpha_maps.load_alpha_map(save(rgb, tmp_path / "m.png"), STYLE_LAYERS)
    assert values.shape == (4, 6, 3) and values.dtype == np.float32
    np.testing.assert_allclose(values[0, 0], [0.0, 0.2, 1.0], atol=1e-6)


def test_grayscale_and_sixteen_bit_maps_give_every_layer_the_same_alpha(tmp_path):
    gray = np.array([[0, 128, 255]], np.uint8)
    values = alpha_maps.load_alpha_map(save(gray, tmp_path / "g.png"), STYLE_LAYERS)
    assert values.shape == (1, 3, 3)
    np.testing.assert_allclose(values[0, :, 1], [0, 128 / 255, 1], atol=1e-6)
    assert (values == values[..., :1]).all()
    deep = np.array([[0, 32768, 65535]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    values = alpha_maps.load_alpha_map(str(tmp_path / "d.png"), STYLE_LAYERS)
    np.testing.assert_allclose(values[0, :, 2], [0, 32768 / 65535, 1], atol=1e-6)


def _bad_maps(tmp):
    rgba = save(np.zeros((4, 4, 4), np.uint8), tmp / "rgba.png")
    two_layers = ("block2_conv2", "block3_conv4")
    floats = tmp / "floats.tif"
    Image.fromarray(np.full((4, 4), 0.5, np.float32), "F").save(floats)
    text = tmp / "values.png"
    text.write_text("0.1,0.5,1\n")
    truncated = tmp / "truncated.png"
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)
    whole = open(save(noise, tmp / "ok.png"), "rb").read()
    truncated.write_bytes(whole[: len(whole) // 2])
    return {
        "transparency": (rgba, STYLE_LAYERS, "transparency channel (4 channels)"),
        "channels for the model": (str(tmp / "ok.png"), two_layers, "has 3 channels"),
        "floating-point values": (str(floats), STYLE_LAYERS, "floating-point values"),
        "not an image": (str(text), STYLE_LAYERS, "not an image file"),
        "truncated": (str(truncated), STYLE_LAYERS, "truncated or corrupt"),
        "missing": (str(tmp / "nope.png"), STYLE_LAYERS, "file not found"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "transparency",
        "channels for the model",
        "floating-point values",
        "not an image",
        "truncated",
        "missing",
    ],
)
def test_bad_maps_are_one_line_errors(case, tmp_path):
    path, layers, needle = _bad_maps(tmp_path)[case]
    with pytest.raises(alpha_maps.AlphaMapError) as error:
        alpha_maps.load_alpha_map(path, layers)
    message = str(error.value)
    assert "\n" not in message and needle in message and os.path.basename(path) in message


def test_mask_blends_inside_and_outside():
    mask = np.repeat(np.array([[[0.0], [1.0], [0.5]]], np.float32), 3, axis=-1)
    blended = alpha_maps.blend_mask(mask, [1, 1, 0], [0, 0.5, 1])
    np.testing.assert_allclose(blended[0], [[0, 0.5, 1], [1, 1, 0], [0.5, 0.75, 0.5]])
    colour = mask.copy()
    colour[..., 2] = 0.0
    with pytest.raises(alpha_maps.AlphaMapError, match="channels differ"):
        alpha_maps.blend_mask(colour, [1, 1, 1], [0, 0, 0])


# ---------------------------------------------------------------------------
# Through the network (the shipped model: what a map does only shows in a
# trained one).
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    stylizer, _ = model_files.load_stylizer(model_files.DEFAULT_MODEL)
    return FastStylizer(stylizer)


@pytest.fixture(scope="module")
def photo():
    path = os.path.join(REPO, "adjustable_style", "examples", "chelsea.png")
    return images.load_image(path, None, 160)[None]


def test_constant_map_is_uniform_alpha(shipped, photo):
    for value in (0.0, 100 / 255, 1.0):
        uniform = shipped(photo, np.full((1, 3), value, np.float32))
        # A map of another size: it is stretched to the content.
        mapped = shipped.stylize_map(photo, np.full((1, 9, 5, 3), value, np.float32))
        assert np.abs(mapped - uniform).max() <= 1e-4, value


def test_each_half_of_a_half_and_half_map_looks_like_its_alpha(shipped, photo):
    """Away from the border (by more than a cell), each half is much closer to
    the uniform output at its own alpha than to the other half's."""
    height, width = photo.shape[1:3]
    ends = np.array([[1, 1, 1]], np.float32), np.array([[0, 0, 0]], np.float32)
    uniform = [shipped(photo, a) for a in ends]
    alpha_map = np.empty((1, height, width, 3), np.float32)
    alpha_map[:, :, : width // 2], alpha_map[:, :, width // 2 :] = ends
    mapped = shipped.stylize_map(photo, alpha_map)
    margin = 40
    halves = (slice(None, width // 2 - margin), slice(width // 2 + margin, None))
    for own, (half, out) in enumerate(zip(halves, uniform)):
        near = np.abs(mapped[:, :, half] - out[:, :, half]).mean()
        far = np.abs(mapped[:, :, half] - uniform[1 - own][:, :, half]).mean()
        assert near < 0.4 * far, (own, near, far)


def test_exact_statistics_give_each_half_its_uniform_output(shipped, photo):
    """With exact statistics the inside of each half (more than the 70 px the
    network sees to a side, plus the cells' 3x3 blend) is the uniform output."""
    photo = np.concatenate([photo, photo], axis=2)  # 320 px wide: halves of 160.
    height, width = photo.shape[1:3]
    ends = np.array([[0.2, 0.2, 0.2]], np.float32), np.array([[1, 0, 1]], np.float32)
    alpha_map = np.empty((1, height, width, 3), np.float32)
    alpha_map[:, :, : width // 2], alpha_map[:, :, width // 2 :] = ends
    mapped = shipped.stylize_map(photo, alpha_map, exact=True)
    default = shipped.stylize_map(photo, alpha_map)
    halves = (slice(None, width // 2 - 112), slice(width // 2 + 112, None))
    for half, alpha in zip(halves, ends):
        uniform = shipped(photo, alpha)[:, :, half]
        assert np.abs(mapped[:, :, half] - uniform).mean() * 255 <= 0.5
        assert (
            np.abs(mapped[:, :, half] - uniform).mean()
            < np.abs(default[:, :, half] - uniform).mean()
        )
    # A constant map: one region, plain instance norm.
    constant = shipped.stylize_map(photo, np.full((1, 4, 4, 3), 0.6, np.float32), exact=True)
    assert np.abs(constant - shipped(photo, np.full((1, 3), 0.6, np.float32))).max() <= 1e-4


def test_exact_statistics_refuse_a_map_of_many_alphas(shipped, photo, tmp_path):
    # Alpha rising across (red) and down (green): every cell its own alpha.
    rows, cols = np.mgrid[0 : photo.shape[1], 0 : photo.shape[2]].astype(np.float32)
    gradient = np.stack([cols / cols.max(), rows / rows.max(), np.zeros_like(rows)], -1)[None]
    with pytest.raises(alpha_maps.AlphaMapError, match="at most 8 are allowed"):
        shipped.stylize_map(photo, gradient, exact=True)
    # From the command: the map's name and the reason, in one line.
    path = save((np.asarray(gradient[0]) * 255).astype(np.uint8), tmp_path / "gradient.png")
    options = Options(
        content=os.path.join(REPO, "adjustable_style", "examples", "chelsea.png"),
        output=str(tmp_path / "out.png"),
        max_size=192,  # 6 x 4 cells, each of its own alpha.
        alpha_map=path,
        alpha_map_statistics="exact",
    )
    with pytest.raises(alpha_maps.AlphaMapError, match=r"gradient.png: exact alpha-map") as error:
        stylize_lib.run(options, out=lambda line: None)
    assert "\n" not in str(error.value)
    assert not os.path.exists(tmp_path / "out.png")
    # A map of two flat halves: the printed flags reproduce the run.
    halves = np.zeros((8, 8), np.uint8)
    halves[:, 4:] = 255
    options.alpha_map = save(halves, tmp_path / "halves.png")
    lines = []
    stylize_lib.run(options, out=lines.append)
    assert lines[0].endswith("--alpha_map_statistics=exact"), lines
    with pytest.raises(cli.user_errors(), match="--alpha_map_statistics needs --alpha_map"):
        Options(output=str(tmp_path / "o.png"), alpha_map_statistics="exact").validate()


def test_a_saved_model_has_the_default_map_statistics_only():
    model = runtime.Model(
        lambda c, a: c, STYLE_LAYERS, True, {}, "exported/", forward_map=lambda c, m: c
    )
    content, alpha_map = np.zeros((1, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32)
    assert model.stylize_map(content, alpha_map).shape == (1, 8, 8, 3)
    with pytest.raises(model_files.ModelFileError, match="default alpha-map statistics only"):
        model.stylize_map(content, alpha_map, exact=True)


def test_lambda_runs_once_per_region_not_per_cell(shipped, photo):
    import tensorflow as tf

    height, width = photo.shape[1:3]
    alpha_map = np.full((1, height, width, 3), 0.2, np.float32)
    alpha_map[:, : height // 2] = 0.9
    params, (cells, count, anchors) = shipped.graph.map_regions(
        tf.constant(alpha_map), 1, height, width
    )
    # Two alphas, plus the blend of a row of cells that straddles the border.
    assert int(count) <= 3 and params.shape[0] == int(count)
    assert cells.shape[1] * cells.shape[2] >= 4 * int(count)
    # Each cell's statistics come from lattice alphas with weights summing to 1.
    np.testing.assert_allclose(np.asarray(anchors).sum(-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------------------
# stylize.py --alpha_map and --alpha_outside.
# ---------------------------------------------------------------------------


def test_stylize_with_a_mask_and_alpha_outside(shipped, photo, tmp_path):
    model = runtime.load_model(model_files.DEFAULT_MODEL, "float32")
    content = tmp_path / "photo.png"
    images.save_image(photo[0], str(content))
    height, width = photo.shape[1:3]
    mask = np.zeros((height, width), np.uint8)
    mask[:, : width // 2] = 255
    out = tmp_path / "out.png"
    lines = []
    stylize_lib.run(
        Options(
            content=str(content),
            output=str(out),
            alpha_map=save(mask, tmp_path / "mask.png"),
            alpha="1",
            alpha_outside="0,0,0.5",
        ),
        out=lines.append,
        model=model,
    )
    inside, outside = np.ones((1, 3), np.float32), np.array([[0, 0, 0.5]], np.float32)
    alpha_map = np.where((mask == 255)[None, ..., None], inside, outside)
    expected = model.stylize_map(photo, alpha_map.astype(np.float32))
    written = np.asarray(Image.open(out), np.float32) / 255
    assert np.abs(written - expected[0]).max() <= 1 / 255 + 1e-6
    assert "--alpha_map=" in lines[0] and "--alpha_outside=" in lines[0]


def test_map_flags_that_cannot_combine_are_refused(tmp_path):
    path = save(np.zeros((4, 4), np.uint8), tmp_path / "m.png")
    for kwargs, needle in [
        (dict(alpha_outside="0"), "--alpha_outside needs --alpha_map"),
        (dict(alpha_map=path, random_alpha=True), "--random_alpha"),
        (dict(alpha_map=path, sweep=True), "--sweep"),
        (dict(alpha_map=path, alpha="1"), "add --alpha_outside"),
        (dict(alpha_map=str(tmp_path / "none.png")), "file not found"),
    ]:
        with pytest.raises(cli.user_errors(), match=needle):
            Options(output=str(tmp_path / "o.png"), **kwargs).validate()


@pytest.mark.parametrize("case", ["transparency", "floating-point values", "not an image"])
def test_command_refuses_a_bad_map_in_one_line(case, tmp_path):
    import subprocess
    import sys

    path, _, needle = _bad_maps(tmp_path)[case]
    before = sorted(os.listdir(tmp_path))
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "stylize.py"),
            f"--alpha_map={path}",
            f"--output={tmp_path / 'out.png'}",
            "--max_size=64",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=REPO),
        timeout=180,
    )
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylize.py: error: "), result.stderr
    assert needle in lines[0]
    assert sorted(os.listdir(tmp_path)) == before
