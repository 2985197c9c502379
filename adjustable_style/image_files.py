"""Which files a command's image flag names: a file, a folder, a glob, or a list of those.

Kept apart from `images`, which decodes and encodes: this module only
looks at the file system.
"""

import glob
import os

from adjustable_style.images import ImageError

# Extensions list_image_files() picks up from folders and globs.
SUPPORTED_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


def _is_image_name(path):
    base = os.path.basename(path)
    # Dot-files such as macOS "._photo.jpg" resource forks are not images.
    return not base.startswith(".") and os.path.splitext(base)[1].lower() in SUPPORTED_EXTENSIONS


def _expand_one(part):
    path = os.path.expanduser(part)
    if os.path.isdir(path):
        return sorted(
            os.path.join(path, entry)
            for entry in os.listdir(path)
            if _is_image_name(entry) and os.path.isfile(os.path.join(path, entry))
        )
    if os.path.isfile(path):
        # A file named explicitly is taken whatever its extension; decoding
        # will say if it is not an image.
        return [path]
    if glob.has_magic(path):
        return sorted(
            p for p in glob.glob(path, recursive=True) if _is_image_name(p) and os.path.isfile(p)
        )
    raise ImageError(f"no image files found in {part!r}: no such file or folder")


def list_image_files(spec):
    """Expands a file, folder, glob, or comma-separated list of those.

    Folders are listed non-recursively; folders and globs contribute only
    files with a SUPPORTED_EXTENSIONS extension (case-insensitive), sorted.
    Duplicates are dropped, first occurrence kept. An iterable of specs is
    treated like a comma-separated list.

    Returns:
      The file paths, a list of str.

    Raises:
      ImageError: a named path does not exist, or nothing matched at all.
    """
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        # A path that exists is never split, even if it contains commas.
        parts = [text] if os.path.exists(os.path.expanduser(text)) else text.split(",")
    else:
        parts = [os.fspath(s) for s in spec]
        text = ",".join(parts)
    parts = [p.strip() for p in parts if p.strip()]

    seen = set()
    files = []
    for part in parts:
        for path in _expand_one(part):
            if path not in seen:
                seen.add(path)
                files.append(path)
    if not files:
        raise ImageError(
            f"no image files found in {text!r} (looked for {', '.join(SUPPORTED_EXTENSIONS)})"
        )
    return files
