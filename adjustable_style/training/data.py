"""tf.data input pipelines for training content images and the style image.

Two sources of content images are supported:

* image files (a file, folder, glob or comma-separated list of those), decoded
  with Pillow through images.py so every format and colour mode the rest of the
  project accepts works here too, and undecodable files are skipped (logged
  once, counted in a DecodeStats) instead of crashing a long training run;
* any TensorFlow Datasets dataset with an image feature (COCO, ImageNet, DTD,
  MNIST, ...), found automatically.

Both yield float32 batches of shape (batch, image_size, image_size, 3) in
[0, 1], augmented by a random rescale (shorter side in [image_size,
1.25 * image_size]), a random square crop and a random horizontal flip. With a
seed the whole stream (file order and augmentation) is reproducible.
"""

import difflib
import os

import numpy as np
import tensorflow as tf

from adjustable_style import images
from adjustable_style.errors import UserError
from adjustable_style.training import content_files
from adjustable_style.training.content_files import MAX_SCALE, DecodeStats

__all__ = [
    "DatasetError",
    "DecodeStats",
    "MAX_SCALE",
    "content_dataset_from_files",
    "content_dataset_from_tfds",
    "find_image_feature",
    "style_image_tensor",
]


class DatasetError(UserError, ValueError):
    """A TFDS dataset cannot be used; the message is one actionable line."""


# --------------------------------------------------------------------------
# Augmentation (shared by both sources)
# --------------------------------------------------------------------------


def _augment(image, seed, image_size):
    """Random rescale, square crop and horizontal flip of one float image.

    `seed` is a per-element stateless seed of shape (2,), so the result does
    not depend on which tf.data worker thread runs it.
    """
    scale_seed, crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.shape(image)
    height = tf.cast(shape[0], tf.float32)
    width = tf.cast(shape[1], tf.float32)
    target_short = tf.random.stateless_uniform(
        [], scale_seed, minval=float(image_size), maxval=MAX_SCALE * image_size
    )
    scale = target_short / tf.minimum(height, width)
    # Rounding must never make a side shorter than the crop.
    new_height = tf.maximum(image_size, tf.cast(tf.round(height * scale), tf.int32))
    new_width = tf.maximum(image_size, tf.cast(tf.round(width * scale), tf.int32))
    # Antialiasing matters when shrinking large photos; bilinear's triangle
    # kernel does not overshoot, so values stay in [0, 1].
    image = tf.image.resize(image, [new_height, new_width], method="bilinear", antialias=True)
    image = tf.image.stateless_random_crop(image, [image_size, image_size, 3], seed=crop_seed)
    image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return tf.clip_by_value(image, 0.0, 1.0)


def _finish_pipeline(ds, image_size, batch_size, seed):
    """Augments, batches and prefetches a dataset of float (H, W, 3) images."""
    # Dataset.random gives each element its own seed pair; unseeded, it is
    # nondeterministic, so unseeded runs still differ from each other.
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
    ds = tf.data.Dataset.zip((ds, seeds))
    ds = ds.map(
        lambda image, s: _augment(image, s, image_size),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=seed is not None,
    )
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_sizes(image_size, batch_size):
    if int(image_size) < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")


# --------------------------------------------------------------------------
# Image files
# --------------------------------------------------------------------------


def content_dataset_from_files(
    spec_or_list,
    image_size,
    batch_size,
    seed=None,
    shuffle_buffer=None,
    repeat=True,
    *,
    max_pixels=images.DEFAULT_MAX_PIXELS,
    stats=None,
):
    """Training batches of random crops from image files.

    Args:
      spec_or_list: a file, folder, glob or comma-separated list of those (see
        image_files.list_image_files), or a sequence of file paths.
      image_size: side of the square crops.
      batch_size: batch size; the last partial batch is dropped.
      seed: an int that makes file order and augmentation reproducible;
        None (default) gives a different stream each run.
      shuffle_buffer: shuffle buffer over file names; None (default) shuffles
        the whole list every epoch, 0 or 1 keeps the given order.
      repeat: repeat forever (training) or stop after one pass.
      max_pixels: per-image pixel limit (see images.load_image; None or 0
        disables it); larger files are skipped as undecodable.
      stats: a DecodeStats to fill in; a new one is made if omitted. Either
        way it is also available as the `decode_stats` attribute of the
        returned dataset.

    Returns:
      A dataset of float32 (batch_size, image_size, image_size, 3) in [0, 1].

    Raises:
      ImageError: nothing matched `spec_or_list`, or not one of the files can
        be decoded (checked up front, stopping at the first good file).
    """
    _check_sizes(image_size, batch_size)
    image_size, batch_size = int(image_size), int(batch_size)
    files = content_files.resolve_files(spec_or_list)
    stats = stats if stats is not None else DecodeStats()
    min_side = content_files.min_decode_side(image_size)
    content_files.check_decodable(files, spec_or_list, max_pixels, min_side, stats)

    def decode(path_bytes):
        image = content_files.decode_or_none(os.fsdecode(path_bytes), max_pixels, min_side, stats)
        if image is None:
            return np.zeros((1, 1, 3), np.uint8), np.bool_(False)
        return image, np.bool_(True)

    def decode_op(path):
        # numpy_function runs Pillow, which releases the GIL while decoding,
        # so parallel map calls really decode in parallel.
        image, ok = tf.numpy_function(decode, [path], [tf.uint8, tf.bool], stateful=False)
        image.set_shape([None, None, 3])
        ok.set_shape([])
        return image, ok

    ds = tf.data.Dataset.from_tensor_slices(files)
    buffer = len(files) if shuffle_buffer is None else int(shuffle_buffer)
    if buffer > 1:
        # Shuffling names, not decoded images, keeps the buffer tiny.
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(decode_op, num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
    ds = ds.filter(lambda image, ok: ok)
    ds = ds.map(lambda image, ok: tf.image.convert_image_dtype(image, tf.float32))
    ds = _finish_pipeline(ds, image_size, batch_size, seed)
    try:
        ds.decode_stats = stats
    except AttributeError:  # pragma: no cover - depends on tf.data internals
        pass
    return ds


# --------------------------------------------------------------------------
# TensorFlow Datasets
# --------------------------------------------------------------------------


def find_image_feature(features):
    """Finds the first tfds.features.Image in a (possibly nested) FeaturesDict.

    Returns:
      (key path, feature), e.g. (("image",), Image(shape=(None, None, 3))).
      Images inside Sequence features (videos, lists of images) are not
      considered, since they are not one image per example.

    Raises:
      DatasetError: no image feature.
    """
    tfds = _import_tfds()

    def search(node, prefix):
        if isinstance(node, tfds.features.Image):
            return prefix, node
        if isinstance(node, tfds.features.FeaturesDict):
            for key, child in node.items():
                found = search(child, prefix + (key,))
                if found is not None:
                    return found
        return None

    found = search(features, ())
    if found is None:
        keys = (
            ", ".join(features.keys())
            if isinstance(features, tfds.features.FeaturesDict)
            else str(features)
        )
        raise DatasetError(f"dataset has no image feature (features: {keys})")
    return found


def _nested_dict(path, leaf):
    node = leaf
    for key in reversed(path):
        node = {key: node}
    return node


def _get_path(example, path):
    for key in path:
        example = example[key]
    return example


def _to_rgb_float(image, channels):
    # convert_image_dtype scales uint8 by 1/255 and uint16 by 1/65535.
    image = tf.image.convert_image_dtype(image, tf.float32)
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 2:
        gray, alpha = image[..., :1], image[..., 1:]
        return tf.image.grayscale_to_rgb(gray * alpha + (1.0 - alpha))
    if channels == 4:
        rgb, alpha = image[..., :3], image[..., 3:]
        # Transparent regions become white, as images.load_image() does.
        return rgb * alpha + (1.0 - alpha)
    return image


def _import_tfds():
    """tensorflow_datasets, which only --content_tfds needs (an extra)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetError(
            "--content_tfds needs tensorflow-datasets: pip install -e "
            "'.[tfds]' (or pip install tensorflow-datasets)"
        ) from None
    return tfds


def _builder(name, data_dir):
    tfds = _import_tfds()

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = name.split("/")[0].split(":")[0]
        close = difflib.get_close_matches(
            base, tfds.list_builders(with_community_datasets=False), n=3
        )
        hint = f"; did you mean {', '.join(close)}?" if close else "; see tfds.list_builders()"
        raise DatasetError(f"unknown TFDS dataset {name!r}{hint}") from None
    except Exception as e:  # noqa: BLE001 - tfds raises many types for bad names/configs
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DatasetError(f"cannot load TFDS dataset {name!r}: {first_line}") from e


def content_dataset_from_tfds(
    name,
    split="train",
    data_dir=None,
    *,
    image_size,
    batch_size,
    seed=None,
    download=True,
    shuffle_buffer=1000,
    repeat=True,
):
    """Training batches of random crops from a TensorFlow Datasets dataset.

    The image feature is found automatically (the first tfds.features.Image,
    also inside nested FeaturesDicts). Grayscale becomes RGB, alpha is
    composited over white, integer pixels are scaled to [0, 1]; then the same
    augmentation as content_dataset_from_files() is applied.

    Args:
      name: TFDS name with optional config/version, e.g. "coco/2017", "dtd".
      split: TFDS split, slicing syntax allowed (e.g. "train[:10%]").
      data_dir: TFDS data folder (default: TFDS's own default).
      image_size, batch_size, seed, repeat: as in content_dataset_from_files.
      download: download and prepare the dataset if needed; if False, it must
        already be prepared in data_dir.
      shuffle_buffer: examples shuffled in a buffer of encoded images (small,
        since decoding happens after the shuffle); 0 or 1 disables it.

    Returns:
      A tf.data.Dataset of float32 (batch_size, image_size, image_size, 3) in
      [0, 1].

    Raises:
      DatasetError: unknown name, not prepared (download=False), bad split,
        no image feature, or download/preparation failed.
    """
    tfds = _import_tfds()

    _check_sizes(image_size, batch_size)
    image_size, batch_size = int(image_size), int(batch_size)
    builder = _builder(name, data_dir)

    if not builder.is_prepared():
        if not download:
            raise DatasetError(
                f"TFDS dataset {name!r} is not prepared in {builder.data_dir}; "
                "allow downloading (download=True) or prepare it first"
            )
        try:
            builder.download_and_prepare()
        except Exception as e:  # noqa: BLE001 - surfaced as one line, cause kept
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DatasetError(
                f"could not download/prepare TFDS dataset {name!r}: {first_line}"
            ) from e

    try:
        path, feature = find_image_feature(builder.info.features)
    except DatasetError as e:
        raise DatasetError(f"TFDS dataset {name!r}: {e}") from None
    channels = feature.shape[-1] if feature.shape else None

    read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    try:
        # Skipping TFDS's decoder keeps examples encoded through the shuffle
        # buffer, which is then cheap in memory; they are decoded just after.
        ds = builder.as_dataset(
            split=split,
            shuffle_files=True,
            read_config=read_config,
            decoders=_nested_dict(path, tfds.decode.SkipDecoding()),
        )
    except Exception as e:  # noqa: BLE001 - bad split names raise several types
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        splits = ", ".join(builder.info.splits.keys())
        raise DatasetError(
            f"TFDS dataset {name!r}: cannot read split {split!r} ({first_line}); splits: {splits}"
        ) from e

    ds = ds.map(lambda example: _get_path(example, path))
    if shuffle_buffer and shuffle_buffer > 1:
        ds = ds.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(
        lambda encoded: _to_rgb_float(feature.decode_example(encoded), channels),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=seed is not None,
    )
    # A rare corrupt record should cost one example, not the training run.
    ds = ds.ignore_errors(log_warning=True)
    return _finish_pipeline(ds, image_size, batch_size, seed)


# --------------------------------------------------------------------------
# Style image
# --------------------------------------------------------------------------


def style_image_tensor(path, size, max_pixels=images.DEFAULT_MAX_PIXELS):
    """`content_files.style_image_array` as a tensor: (1, H, W, 3), shorter side `size`."""
    return tf.constant(content_files.style_image_array(path, size, max_pixels=max_pixels))
