"""Tests for adjustable_style.images: every input file is made here in tmp_path."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from adjustable_style import image_files, images
from adjustable_style.images import ImageError


def _gradient(height=24, width=32):
    """A smooth RGB image that survives lossy codecs almost unchanged."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 128)], axis=-1)
    return rgb.astype(np.uint8)


def _check_rgb(array, shape):
    assert array.dtype == np.float32
    assert array.shape == shape
    assert 0.0 <= array.min() and array.max() <= 1.0


def _assert_one_line_naming(error, path):
    message = str(error.value)
    assert "\n" not in message
    assert os.fspath(path) in message


# --------------------------------------------------------------------------
# load_image: formats and modes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext, fmt, tolerance",
    [(".jpg", "JPEG", 0.06), (".png", "PNG", 0.0), (".webp", "WEBP", 0.06), (".bmp", "BMP", 0.0)],
)
def test_load_rgb_formats(tmp_path, ext, fmt, tolerance):
    rgb = _gradient()
    path = tmp_path / f"img{ext}"
    Image.fromarray(rgb).save(
        path, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {})
    )
    out = images.load_image(path)
    _check_rgb(out, (24, 32, 3))
    assert np.abs(out - rgb / 255.0).mean() <= tolerance + 1e-6


def test_load_animated_gif_gives_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    red = Image.new("RGB", (10, 8), (255, 0, 0))
    blue = Image.new("RGB", (10, 8), (0, 0, 255))
    red.save(path, save_all=True, append_images=[blue], duration=100, loop=0)
    out = images.load_image(path)
    _check_rgb(out, (8, 10, 3))
    np.testing.assert_allclose(out[4, 5], [1.0, 0.0, 0.0], atol=0.02)


def test_load_grayscale(tmp_path):
    path = tmp_path / "gray.png"
    Image.fromarray(np.full((5, 6), 51, np.uint8), mode="L").save(path)
    out = images.load_image(path)
    _check_rgb(out, (5, 6, 3))
    np.testing.assert_allclose(out, 0.2, atol=1e-6)


def test_load_rgba_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red...
    rgba[:2, :, 3] = 0  # ...fully transparent on top
    rgba[2:, :, 3] = 255  # ...opaque below
    rgba[3, 0, 3] = 128  # ...half transparent in one pixel
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    out = images.load_image(path)
    _check_rgb(out, (4, 4, 3))
    np.testing.assert_allclose(out[0, 0], [1.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(out[2, 0], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[3, 0], [1.0, 127 / 255, 127 / 255], atol=1e-2)


def test_load_palette_with_transparency(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 255, 0] + [0, 0, 0] * 255)
    im.putpixel((0, 0), 1)
    im.info["transparency"] = 1
    path = tmp_path / "pal.png"
    im.save(path, transparency=1)
    out = images.load_image(path)
    _check_rgb(out, (4, 4, 3))
    np.testing.assert_allclose(out[0, 0], [1.0, 1.0, 1.0], atol=1e-6)  # transparent -> white
    np.testing.assert_allclose(out[1, 1], [0.0, 1.0, 0.0], atol=1e-6)


def test_load_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (6, 4), (0, 0, 0, 0)).save(path, quality=95)
    out = images.load_image(path)
    _check_rgb(out, (4, 6, 3))
    assert out.min() > 0.9  # no ink is white


def test_load_16bit_png_scaling(tmp_path):
    values = np.array([[0, 32768, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")  # really stored as 16-bit
    out = images.load_image(path)
    _check_rgb(out, (1, 3, 3))
    np.testing.assert_allclose(out[0, :, 0], [0.0, 32768 / 65535, 1.0], atol=1e-6)
    np.testing.assert_allclose(out[..., 0], out[..., 2])


def test_load_float_image(tmp_path):
    path = tmp_path / "float.tiff"
    Image.fromarray(np.array([[0.0, 0.25, 1.0]], np.float32), mode="F").save(path)
    out = images.load_image(path)
    np.testing.assert_allclose(out[0, :, 1], [0.0, 0.25, 1.0], atol=1e-6)


def test_load_honours_exif_orientation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(_gradient(20, 40)).save(path, exif=exif.tobytes())
    out = images.load_image(path)
    _check_rgb(out, (40, 20, 3))


def test_load_max_size_keeps_aspect(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(_gradient(60, 120)).save(path)
    out = images.load_image(path, max_size=30)
    _check_rgb(out, (15, 30, 3))
    # Already small enough: untouched.
    assert images.load_image(path, max_size=500).shape == (60, 120, 3)


def test_load_max_size_jpeg_draft(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(_gradient(400, 600)).save(path, quality=90)
    out = images.load_image(path, max_size=100)
    _check_rgb(out, (67, 100, 3))


def test_decode_image_bytes(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_gradient()).save(buffer, format="PNG")
    out = images.decode_image_bytes(buffer.getvalue(), "upload.png")
    _check_rgb(out, (24, 32, 3))
    with pytest.raises(ImageError, match="upload.png: file is empty"):
        images.decode_image_bytes(b"", "upload.png")
    with pytest.raises(ImageError, match="upload.txt: not an image"):
        images.decode_image_bytes(b"hello world", "upload.txt")


def test_load_uint8_min_side(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(_gradient(200, 300)).save(path)
    out = images.load_image_uint8(path, min_side=50)
    assert out.dtype == np.uint8 and out.shape == (50, 75, 3)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((3, 3), 65535, np.uint16)).save(deep)
    assert images.load_image_uint8(deep).max() == 255


# --------------------------------------------------------------------------
# load_image: errors
# --------------------------------------------------------------------------


def test_error_missing(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageError, match="file not found") as e:
        images.load_image(path)
    _assert_one_line_naming(e, path)


def test_error_directory(tmp_path):
    with pytest.raises(ImageError, match="is a folder") as e:
        images.load_image(tmp_path)
    _assert_one_line_naming(e, tmp_path)


def test_error_zero_bytes(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as e:
        images.load_image(path)
    _assert_one_line_naming(e, path)


def test_error_text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 10)
    with pytest.raises(ImageError, match="not an image") as e:
        images.load_image(path)
    _assert_one_line_naming(e, path)


def test_error_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_gradient(64, 64)).save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt") as e:
        images.load_image(path)
    _assert_one_line_naming(e, path)


def test_error_over_max_pixels(tmp_path):
    path = tmp_path / "large.png"
    Image.fromarray(_gradient(30, 40)).save(path)
    with pytest.raises(ImageError, match="max_pixels") as e:
        images.load_image(path, max_pixels=1000)
    _assert_one_line_naming(e, path)
    assert "40x30" in str(e.value)
    # The limit can be lifted.
    assert images.load_image(path, max_pixels=0).shape == (30, 40, 3)


def test_an_image_past_pillows_bomb_limit_is_reported_at_its_real_size(tmp_path):
    import harness

    path = tmp_path / "huge.png"
    harness.write_png_header(path, 20_000, 20_000)
    with pytest.raises(ImageError) as e:
        images.load_image(path)
    _assert_one_line_naming(e, path)
    assert "image is 20000x20000 (400.0 megapixels), over the limit of 64 megapixels" in str(
        e.value
    )
    assert images.header_size(path) == (20_000, 20_000)


def test_pillow_bomb_limit_is_ours_to_lift(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.fromarray(_gradient(30, 40)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow errors above 200 px
    with pytest.raises(ImageError, match="max_pixels") as e:
        images.load_image(path, max_pixels=150)
    _assert_one_line_naming(e, path)
    # A caller allowing more than Pillow does gets the image; the global is restored.
    assert images.load_image(path, max_pixels=10_000).shape == (30, 40, 3)
    assert Image.MAX_IMAGE_PIXELS == 100


# --------------------------------------------------------------------------
# save_image
# --------------------------------------------------------------------------


def test_save_png_round_trip_exact(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    path = tmp_path / "out.PNG"
    images.save_image(rgb, path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgb)
    assert os.listdir(tmp_path) == ["out.PNG"]


@pytest.mark.parametrize(
    "name, fmt", [("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.webp", "WEBP"), ("d.bmp", "BMP")]
)
def test_save_formats_from_float(tmp_path, name, fmt):
    images.save_image(_gradient() / 255.0, tmp_path / name)
    with Image.open(tmp_path / name) as im:
        assert im.format == fmt and im.size == (32, 24) and im.mode == "RGB"


def test_save_unknown_extension(tmp_path):
    with pytest.raises(ImageError, match="extension") as e:
        images.save_image(_gradient(), tmp_path / "out.tga")
    _assert_one_line_naming(e, tmp_path / "out.tga")
    assert os.listdir(tmp_path) == []


def test_save_missing_folder(tmp_path):
    path = tmp_path / "missing" / "out.png"
    with pytest.raises(ImageError, match="does not exist") as e:
        images.save_image(_gradient(), path)
    _assert_one_line_naming(e, path)
    assert os.listdir(tmp_path) == []


def test_save_failure_mid_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    path = tmp_path / "out.png"
    with pytest.raises(ImageError, match="No space left") as e:
        images.save_image(_gradient(), path)
    _assert_one_line_naming(e, path)
    assert os.listdir(tmp_path) == []


def test_save_failure_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    images.save_image(_gradient(), path)
    before = path.read_bytes()
    monkeypatch.setattr(
        Image.Image, "save", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
    )
    with pytest.raises(KeyboardInterrupt):
        images.save_image(np.zeros((4, 4, 3), np.uint8), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]


def test_save_rejects_bad_array(tmp_path):
    with pytest.raises(ImageError, match="shape"):
        images.save_image(np.zeros((4, 4, 2)), tmp_path / "x.png")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------
# list_image_files
# --------------------------------------------------------------------------


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ["b.PNG", "a.jpg", "c.webp", "notes.txt", ".hidden.jpg"]:
        (folder / name).write_bytes(b"x")
    (folder / "sub.jpg").mkdir()  # a folder with an image-like name is not a file
    return folder


def test_list_folder(image_folder):
    assert image_files.list_image_files(image_folder) == [
        str(image_folder / n) for n in ["a.jpg", "b.PNG", "c.webp"]
    ]


def test_list_glob(image_folder):
    assert image_files.list_image_files(str(image_folder / "*.jpg")) == [
        str(image_folder / "a.jpg")
    ]


def test_list_comma_separated(image_folder, tmp_path):
    other = tmp_path / "other.bmp"
    other.write_bytes(b"x")
    spec = f"{other}, {image_folder / '*.webp'},{image_folder}"
    assert image_files.list_image_files(spec) == [
        str(other),
        str(image_folder / "c.webp"),
        str(image_folder / "a.jpg"),
        str(image_folder / "b.PNG"),
    ]


def test_list_nothing_found(tmp_path, image_folder):
    with pytest.raises(ImageError, match="no image files found"):
        image_files.list_image_files(str(image_folder / "*.gif"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageError, match="no image files found"):
        image_files.list_image_files(empty)
    with pytest.raises(ImageError, match="no such file or folder"):
        image_files.list_image_files(str(tmp_path / "typo"))
