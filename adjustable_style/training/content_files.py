"""Content and style images for training, read with Pillow and numpy only.

What both training pipelines share: the list of content files, the count
of undecodable ones (`DecodeStats`), the up-front check that one decodes,
and the style image at its training size. `ContentCrops` is the pipeline of
the runs on JAX and PyTorch (`run_backends`): a `keras.utils.PyDataset`
of the same augmentation as `data.py`'s tf.data one (a random rescale, a
square crop, a horizontal flip), since tf.data needs TensorFlow.

Nothing here imports TensorFlow.
"""

import os
import threading

import numpy as np
from absl import logging

from adjustable_style import image_files, images
from adjustable_style.images import ImageError

# Upper end of the random rescale: the shorter side is drawn from
# [image_size, MAX_SCALE * image_size] before cropping, so crops see the
# content at slightly varying scales.
MAX_SCALE = 1.25


class DecodeStats:
    """Counts training files that could not be decoded (thread-safe).

    Filled in while the dataset is iterated (decoding runs on worker
    threads), so read it after or during training, e.g. to report
    "skipped N undecodable files". Each file is counted and logged once even
    though it is met again every epoch.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._reasons = {}

    def record(self, path, reason):
        """Notes a bad file; returns True the first time it is seen."""
        with self._lock:
            if path in self._reasons:
                return False
            self._reasons[path] = reason
        logging.warning("Skipping undecodable training image %s: %s", path, reason)
        return True

    @property
    def bad(self):
        """Number of distinct files skipped so far."""
        with self._lock:
            return len(self._reasons)

    @property
    def bad_files(self):
        """Skipped files, in the order they were first met."""
        with self._lock:
            return list(self._reasons)

    @property
    def reasons(self):
        """Skipped file -> one-line reason."""
        with self._lock:
            return dict(self._reasons)

    def __repr__(self):
        return f"DecodeStats(bad={self.bad})"


def resolve_files(spec_or_list):
    """The content files of a spec (see image_files.list_image_files) or a list."""
    if isinstance(spec_or_list, (str, os.PathLike)):
        return image_files.list_image_files(spec_or_list)
    # An explicit list is taken as is: missing or broken entries are skipped
    # and counted like any other undecodable file.
    files = [os.fspath(p) for p in spec_or_list]
    if not files:
        raise ImageError("no image files found in an empty file list")
    return files


def reason(error, path):
    """One-line reason for a failed decode, without repeating the path."""
    text = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, ImageError):
        return f"{type(error).__name__}: {text}"
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def min_decode_side(image_size):
    """How far a photo may be shrunk at decode time for crops of `image_size`.

    Huge photos are shrunk only down to what the largest random rescale
    needs, so no resolution the augmentation uses is lost.
    """
    return int(np.ceil(MAX_SCALE * image_size))


def decode_or_none(path, max_pixels, min_side, stats):
    """uint8 (H, W, 3) of `path`, or None (counted in `stats`) if it fails."""
    try:
        return images.load_image_uint8(path, max_pixels, min_side=min_side)
    except Exception as e:  # noqa: BLE001 - a bad file must never end training
        stats.record(path, reason(e, path))
        return None


def check_decodable(files, spec_or_list, max_pixels, min_side, stats):
    """Raises ImageError unless one of `files` decodes (stops at the first).

    A pipeline that can never produce a batch would hang forever; this finds
    out cheaply before training starts.
    """
    for path in files:
        if decode_or_none(path, max_pixels, min_side, stats) is not None:
            return
    where = (
        repr(os.fspath(spec_or_list))
        if isinstance(spec_or_list, (str, os.PathLike))
        else "the given file list"
    )
    first = stats.bad_files[0] if stats.bad_files else None
    first_error = f"{first}: {stats.reasons[first]}" if first else "none"
    raise ImageError(
        f"none of the {len(files)} files in {where} could be decoded (first error: {first_error})"
    )


def style_image_array(path, size, max_pixels=images.DEFAULT_MAX_PIXELS):
    """Loads the style image as float32 (1, H, W, 3) with its shorter side = size.

    The shorter side (not the long one) is matched to `size` because content
    crops are size x size: the style's textures are then measured at the
    same scale as the content they are transferred to, whatever the style
    image's aspect ratio. The image is up- or down-scaled (Lanczos) as needed.

    Raises:
      ImageError: the file cannot be read.
    """
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size}")
    image = images.load_image(path, max_pixels=max_pixels)
    height, width = image.shape[:2]
    scale = size / min(height, width)
    image = images.resize_image(image, max(1, round(height * scale)), max(1, round(width * scale)))
    return image[None].astype(np.float32)


def random_crop(image, image_size, rng):
    """Random rescale, square crop and horizontal flip of a uint8 image.

    The same augmentation as `data.py`'s tf.data pipeline; float32 in [0, 1].
    """
    height, width = image.shape[:2]
    scale = rng.uniform(image_size, MAX_SCALE * image_size) / min(height, width)
    # Rounding must never make a side shorter than the crop.
    new_height = max(image_size, round(height * scale))
    new_width = max(image_size, round(width * scale))
    image = images.resize_image(image, new_height, new_width)
    top = int(rng.integers(0, new_height - image_size + 1))
    left = int(rng.integers(0, new_width - image_size + 1))
    crop = image[top : top + image_size, left : left + image_size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop.astype(np.float32) / 255.0


def content_crops(
    spec_or_list,
    image_size,
    batch_size,
    seed=0,
    *,
    max_pixels=images.DEFAULT_MAX_PIXELS,
    stats=None,
    workers=0,
):
    """A `ContentCrops` dataset; checks first that a file decodes.

    `workers` threads decode ahead of the step (0: as many as the CPUs,
    up to 8); Pillow releases the GIL while it decodes and resizes.
    """
    import keras

    image_size, batch_size = int(image_size), int(batch_size)
    files = resolve_files(spec_or_list)
    stats = stats if stats is not None else DecodeStats()
    min_side = min_decode_side(image_size)
    check_decodable(files, spec_or_list, max_pixels, min_side, stats)
    workers = workers or min(8, os.cpu_count() or 1)

    class ContentCrops(keras.utils.PyDataset):
        """Endless float32 (B, S, S, 3) batches in [0, 1]; batch k of a run
        is a function of (seed, first_step + k) only, so a resumed run reads
        what the original would have. Set `first_step` before each `fit`."""

        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=2 * workers)
            self.first_step = 0
            self.files = files
            self.stats = stats

        @property
        def num_batches(self):
            return None  # Endless: `fit` takes `steps_per_epoch` of them.

        def _order(self, epoch):
            return np.random.default_rng([seed, epoch, 1]).permutation(len(files))

        def __getitem__(self, index):
            step = self.first_step + int(index)
            rng = np.random.default_rng([seed, step, 0])
            batch = []
            position = step * batch_size
            while len(batch) < batch_size:
                epoch, offset = divmod(position, len(files))
                position += 1
                image = decode_or_none(
                    files[self._order(epoch)[offset]], max_pixels, min_side, stats
                )
                if image is not None:
                    batch.append(random_crop(image, image_size, rng))
            return np.stack(batch)

    return ContentCrops()
