"""Tests for adjustable_style.training.data: small, local, no network."""

import io

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from adjustable_style.images import ImageError
from adjustable_style.training import data

IMAGE_SIZE = 16

# Each good training file is one flat colour, so every crop shows which file
# it came from (and a skipped file that slipped through would show up black).
GOOD_COLOURS = {
    "red.jpg": (1.0, 0.0, 0.0),
    "deep.png": (32768 / 65535,) * 3,
    "gray.png": (0.2, 0.2, 0.2),
    "rgba.png": (128 / 255, 128 / 255, 1.0),  # blue at alpha 127/255 over white
}
BAD_FILES = ["empty.jpg", "notes.jpg", "cut.jpg"]


def _write_good(folder):
    Image.new("RGB", (40, 30), (255, 0, 0)).save(folder / "red.jpg", quality=95)
    Image.fromarray(np.full((12, 20), 32768, np.uint16)).save(
        folder / "deep.png"
    )  # smaller than crop
    Image.fromarray(np.full((25, 18), 51, np.uint8), mode="L").save(folder / "gray.png")
    Image.new("RGBA", (20, 20), (0, 0, 255, 127)).save(folder / "rgba.png")


def _write_bad(folder):
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image\n")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buffer, format="JPEG"
    )
    (folder / "cut.jpg").write_bytes(buffer.getvalue()[:400])


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "content"
    folder.mkdir()
    _write_good(folder)
    _write_bad(folder)
    return folder


def _closest_colour(crop):
    mean = crop.reshape(-1, 3).mean(axis=0)
    name, colour = min(GOOD_COLOURS.items(), key=lambda kv: np.abs(mean - kv[1]).max())
    assert np.abs(crop - np.array(colour)).max() < 0.03, (name, mean)
    return name


def test_files_dataset_skips_and_counts_bad_files(mixed_folder):
    stats = data.DecodeStats()
    ds = data.content_dataset_from_files(
        str(mixed_folder), IMAGE_SIZE, batch_size=2, seed=0, repeat=False, stats=stats
    )
    assert ds.decode_stats is stats
    batches = [b.numpy() for b in ds]
    assert len(batches) == 2
    seen = []
    for batch in batches:
        assert batch.shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3) and batch.dtype == np.float32
        assert 0.0 <= batch.min() and batch.max() <= 1.0
        seen += [_closest_colour(crop) for crop in batch]
    assert sorted(seen) == sorted(GOOD_COLOURS)
    assert stats.bad == 3
    assert sorted(stats.bad_files) == sorted(str(mixed_folder / n) for n in BAD_FILES)
    assert all("\n" not in reason for reason in stats.reasons.values())


def test_files_dataset_repeats_and_counts_each_bad_file_once(mixed_folder):
    ds = data.content_dataset_from_files(mixed_folder, IMAGE_SIZE, batch_size=3)
    for batch in ds.take(5):  # 15 crops: several passes over the folder
        assert batch.shape == (3, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert ds.decode_stats.bad == 3


def test_files_dataset_is_reproducible_with_seed(tmp_path):
    y, x = np.mgrid[0:50, 0:70]
    for i in range(3):
        rgb = np.stack([x * 3 + i * 20, y * 5, (x + y) * 2], -1).clip(0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(tmp_path / f"g{i}.png")
    first = [
        data.content_dataset_from_files(tmp_path, IMAGE_SIZE, 2, seed=7).take(3) for _ in range(2)
    ]
    a, b = ([t.numpy() for t in ds] for ds in first)
    for x1, x2 in zip(a, b):
        np.testing.assert_array_equal(x1, x2)


def test_files_dataset_all_bad_raises(tmp_path):
    _write_bad(tmp_path)
    with pytest.raises(ImageError, match="none of the 3 files") as e:
        data.content_dataset_from_files(tmp_path, IMAGE_SIZE, 2)
    assert "\n" not in str(e.value)


def test_files_dataset_nothing_found(tmp_path):
    with pytest.raises(ImageError, match="no image files found"):
        data.content_dataset_from_files(str(tmp_path / "*.jpg"), IMAGE_SIZE, 2)


def test_style_image_tensor_shorter_side(tmp_path):
    path = tmp_path / "style.png"
    Image.new("RGBA", (40, 20), (10, 200, 30, 255)).save(path)
    style = data.style_image_tensor(path, 10)
    assert style.shape == (1, 10, 20, 3) and style.dtype == tf.float32
    np.testing.assert_allclose(style.numpy()[0, 5, 10], [10 / 255, 200 / 255, 30 / 255], atol=1e-3)
    assert data.style_image_tensor(path, 30).shape == (1, 30, 60, 3)  # upscaled too


# --------------------------------------------------------------------------
# TFDS
# --------------------------------------------------------------------------


class AdjustableStyleTinyImages(tfds.core.GeneratorBasedBuilder):
    """Six small grayscale images, nested inside a FeaturesDict."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "label": tfds.features.ClassLabel(num_classes=2),
                    "sample": tfds.features.FeaturesDict(
                        {"photo": tfds.features.Image(shape=(None, None, 1))}
                    ),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(6):
            photo = np.full((10 + i, 20, 1), 40 * i, np.uint8)
            yield i, {"label": i % 2, "sample": {"photo": photo}}


class AdjustableStyleNoImages(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {"x": tfds.features.Tensor(shape=(), dtype=np.int64)}
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(2):
            yield i, {"x": i}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    for builder_cls in (AdjustableStyleTinyImages, AdjustableStyleNoImages):
        builder_cls(data_dir=str(root)).download_and_prepare(download_config=config)
    return str(root)


def test_find_image_feature_nested(tfds_dir):
    builder = tfds.builder("adjustable_style_tiny_images", data_dir=tfds_dir)
    path, feature = data.find_image_feature(builder.info.features)
    assert path == ("sample", "photo") and isinstance(feature, tfds.features.Image)


def test_tfds_dataset(tfds_dir):
    ds = data.content_dataset_from_tfds(
        "adjustable_style_tiny_images",
        data_dir=tfds_dir,
        image_size=IMAGE_SIZE,
        batch_size=4,
        seed=1,
        download=False,
    )
    for batch in ds.take(3):
        assert batch.shape == (4, IMAGE_SIZE, IMAGE_SIZE, 3) and batch.dtype == tf.float32
        batch = batch.numpy()
        assert 0.0 <= batch.min() and batch.max() <= 1.0
        np.testing.assert_allclose(batch[..., 0], batch[..., 2])  # grayscale -> RGB
        levels = np.round(batch.reshape(4, -1).mean(axis=1) * 255 / 40)
        assert set(levels) <= set(range(6))


def test_tfds_no_image_feature(tfds_dir):
    with pytest.raises(data.DatasetError, match="no image feature"):
        data.content_dataset_from_tfds(
            "adjustable_style_no_images",
            data_dir=tfds_dir,
            image_size=8,
            batch_size=1,
            download=False,
        )


def test_tfds_unknown_name(tmp_path):
    with pytest.raises(data.DatasetError, match="unknown TFDS dataset 'mnistt'.*mnist") as e:
        data.content_dataset_from_tfds("mnistt", data_dir=str(tmp_path), image_size=8, batch_size=1)
    assert "\n" not in str(e.value)


def test_tfds_not_prepared_without_download(tmp_path):
    with pytest.raises(data.DatasetError, match="not prepared") as e:
        data.content_dataset_from_tfds(
            "adjustable_style_tiny_images",
            data_dir=str(tmp_path),
            image_size=8,
            batch_size=1,
            download=False,
        )
    assert "\n" not in str(e.value)


def test_tfds_bad_split(tfds_dir):
    with pytest.raises(data.DatasetError, match="split 'validation'") as e:
        data.content_dataset_from_tfds(
            "adjustable_style_tiny_images",
            split="validation",
            data_dir=tfds_dir,
            image_size=8,
            batch_size=1,
            download=False,
        )
    assert "\n" not in str(e.value)
