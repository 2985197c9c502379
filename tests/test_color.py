"""--preserve_color: the content's chroma under the stylized luminance."""

import os

import numpy as np
import pytest
from PIL import Image

from adjustable_style import color, images, model_files
from adjustable_style.inference import runtime
from adjustable_style.stylize import pictures as stylize_lib
from adjustable_style.stylize.options import Options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "adjustable_style", "examples")


def test_ycbcr_is_bt601():
    rgb = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 1], [0.5, 0.5, 0.5]], np.float32)
    ycc = np.asarray(color.ycbcr(rgb))
    np.testing.assert_allclose(ycc[0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(ycc[1], [0.299, -0.168736, 0.5], atol=1e-6)
    np.testing.assert_allclose(ycc[2], [0.114, 0.5, -0.081312], atol=1e-6)
    np.testing.assert_allclose(ycc[3, 1:], 0, atol=1e-6)  # Grey has no chroma.


def test_luminance_comes_from_the_stylized_image_and_chroma_from_the_content():
    rng = np.random.default_rng(0)
    content = rng.uniform(0.35, 0.65, (2, 8, 8, 3)).astype(np.float32)  # No clipping.
    stylized = rng.uniform(0.4, 0.6, (2, 8, 8, 3)).astype(np.float32)
    kept = np.asarray(color.preserve_color(content, stylized))
    ours, theirs, source = (np.asarray(color.ycbcr(x)) for x in (kept, stylized, content))
    np.testing.assert_allclose(ours[..., 0], theirs[..., 0], atol=1e-6)
    np.testing.assert_allclose(ours[..., 1:], source[..., 1:], atol=1e-6)


@pytest.fixture(scope="module")
def model():
    return runtime.load_model(model_files.DEFAULT_MODEL, "float32")


@pytest.mark.parametrize("name", ["rocket.jpg", "grace_hopper.jpg"])
def test_stylize_preserve_color_on_photos(model, name, tmp_path):
    """The issue's measure: chroma within 2 levels of the content's (mean
    absolute), and the luminance as far from the content's as the plain
    stylized output's."""
    content = images.load_image(os.path.join(EXAMPLES, name), None, 128)
    path = tmp_path / "content.png"
    images.save_image(content, str(path))
    content = images.load_image(str(path))
    outputs = {}
    for keep in (False, True):
        out = tmp_path / f"{keep}.png"
        lines = []
        stylize_lib.run(
            Options(content=str(path), output=str(out), preserve_color=keep),
            out=lines.append,
            model=model,
        )
        assert lines[0].endswith("--preserve_color") == keep
        outputs[keep] = np.asarray(Image.open(out), np.float32) / 255
    source, plain, kept = (np.asarray(color.ycbcr(x)) * 255 for x in (content, *outputs.values()))
    assert np.abs(kept[..., 1:] - source[..., 1:]).mean() <= 2
    assert np.abs(plain[..., 1:] - source[..., 1:]).mean() > 5  # Plain output recolours.
    moved_kept = np.abs(kept[..., 0] - source[..., 0]).mean()
    moved_plain = np.abs(plain[..., 0] - source[..., 0]).mean()
    assert abs(moved_kept - moved_plain) <= 0.1 * moved_plain, (moved_kept, moved_plain)
