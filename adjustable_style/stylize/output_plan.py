"""Where `stylize.py`'s pictures go: the output plan and the staging folder.

`plan_outputs` plans every output file before TensorFlow starts, so a bad
`--output` fails at once; `Staging` writes them under temporary names and
moves them into place only when all of them are done (all or nothing). The
plan is lazy: a content image's `Outputs` names its k-th file when asked,
so `--num_samples=10000` over a folder of photos costs no list of paths.
"""

import collections
import collections.abc
import os
import shutil
import tempfile

from adjustable_style import images, leftovers
from adjustable_style.errors import UsageError
from adjustable_style.stylize import figures

IMAGE_EXTENSIONS = images.SAVE_EXTENSIONS
STAGING_PREFIX = ".stylize-partial-"
ANIMATION_EXTENSIONS = (".gif", ".mp4", ".webp")


def _missing_folder(folder):
    """Why `folder` cannot hold outputs: missing, or not a folder at all."""
    if os.path.exists(folder):
        return f"{folder} is not a folder"
    return f"folder {folder} does not exist"


def _output_is_folder(output):
    return (
        output.endswith(("/", os.sep)) or os.path.isdir(output) or not os.path.splitext(output)[1]
    )


def _suffix_for(kind):
    return {"images": "", "sweep": "_sweep", "animation": ""}[kind]


def _unique_stems(files):
    """Output names for content files: `photo` for photo.jpg, made unique.

    a.jpg and a.png become a_jpg and a_png; the same name in two folders
    becomes x and x_2.
    """
    split = [os.path.splitext(os.path.basename(f)) for f in files]
    extensions = collections.defaultdict(set)
    for stem, ext in split:
        extensions[stem].add(ext.lower())
    unique, used = [], set()
    for stem, ext in split:
        if len(extensions[stem]) > 1:
            stem += "_" + ext.lstrip(".").lower()
        candidate, n = stem, 1
        while candidate in used:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(candidate)
        unique.append(candidate)
    return unique


class Outputs(collections.abc.Sequence):
    """The output paths of one content image, each made when it is asked for.

    One output is `FOLDER/STEM.EXT`; several are `FOLDER/STEM_K.EXT`.
    """

    def __init__(self, folder, stem, ext, count):
        self.folder, self.stem, self.ext, self.count = folder, stem, ext, count

    def __len__(self):
        return self.count

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self.count))]
        if k < 0:
            k += self.count
        if not 0 <= k < self.count:
            raise IndexError(k)
        name = self.stem + self.ext if self.count == 1 else f"{self.stem}_{k}{self.ext}"
        return os.path.join(self.folder, name)

    def stem_of(self, name):
        """The stem `name` would be an output of (None when no `Outputs` of this shape makes it)."""
        if not name.endswith(self.ext):
            return None
        base = name[: -len(self.ext)]
        if self.count == 1:
            return base
        stem, _, k = base.rpartition("_")
        if k.isascii() and k.isdigit() and str(int(k)) == k and int(k) < self.count:
            return stem
        return None


def plan_outputs(files, kind, num_samples, output, grid=False):
    """Final output paths: `plan[i]` holds those of `files[i]` (an `Outputs`).

    `output` is a file when it has an image extension (one output in all),
    otherwise a folder (made if missing; its parent must exist), where each
    output is named after its content file.
    """
    allowed = ANIMATION_EXTENSIONS if kind == "animation" else IMAGE_EXTENSIONS
    per_file = num_samples if kind == "images" else 1
    total = len(files) * per_file
    if not output:
        raise UsageError("no output given; pass --output=FILE or FOLDER")
    if _output_is_folder(output):
        folder = output
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise images.ImageError(
                f"{output}: exists and is not a folder; give a file name with "
                f"an extension ({', '.join(allowed)}) or a folder"
            )
        if not os.path.isdir(folder):
            parent = os.path.dirname(os.path.abspath(folder))
            if not os.path.isdir(parent):
                raise images.ImageError(
                    f"{output}: cannot make this output folder, {_missing_folder(parent)}"
                )
        ext = ".gif" if kind == "animation" else ".png"
        suffix = "_grid" if grid else _suffix_for(kind)
        plan = [Outputs(folder, stem + suffix, ext, per_file) for stem in _unique_stems(files)]
    else:
        ext = os.path.splitext(output)[1].lower()
        if ext not in allowed:
            what = "an animation" if kind == "animation" else "an image"
            raise images.ImageError(
                f"{output}: cannot save {what} with extension {ext!r}; use one of "
                f"{', '.join(allowed)} (or a folder name without an extension)"
            )
        folder = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(folder):
            raise images.ImageError(f"{output}: {_missing_folder(folder)}")
        if os.path.exists(output) and not os.path.isfile(output):
            raise images.ImageError(f"{output}: exists and is not a regular file")
        if ext == ".mp4":
            figures.check_mp4_support()
        if total > 1:
            raise UsageError(
                f"--output={output} is one file but this run makes {total} outputs; "
                "give a folder (a name without an extension)"
            )
        plan = [Outputs(os.path.dirname(output), *os.path.splitext(os.path.basename(output)), 1)]
    _check_in_the_way(files, plan)
    return plan


def _check_in_the_way(files, plan):
    """Refuses outputs that are content images or folders, without listing every output.

    Only a name already in the output folder can be either, so the folder's
    entries are matched against the plan (not the plan's paths one by one).
    """
    folder = plan[0].folder if plan else ""
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return  # Not there yet: nothing in the way.
    by_stem = {outputs.stem: outputs for outputs in plan}
    inputs = {os.path.realpath(f) for f in files}
    for name in sorted(entries):
        stem = plan[0].stem_of(name)
        if stem not in by_stem:
            continue
        path = os.path.join(folder, name)
        if os.path.realpath(path) in inputs:
            raise UsageError(f"{path}: would overwrite a content image; choose another --output")
        if os.path.isdir(path):
            raise images.ImageError(f"{path}: is a folder, not a file name")


def check_existing(paths, overwrite):
    """Refuses an output file that exists, unless `overwrite` (docs/outputs.md).

    `paths` are the final files of the run: only those are ever replaced,
    never other files of an output folder.
    """
    if overwrite:
        return
    for path in paths:
        if os.path.lexists(path):
            raise images.ImageError(f"{path}: already exists; pass --overwrite to replace it")


class Staging:
    """Collects outputs in a hidden folder; moves them into place on commit."""

    def __init__(self, folder, out=print):
        self.folder = os.path.abspath(folder)
        near = self.folder if os.path.isdir(self.folder) else os.path.dirname(self.folder)
        # A killed run's staging folder (its process gone) goes first.
        leftovers.remove_leftovers(near, leftovers.pattern(STAGING_PREFIX), out)
        try:
            # The process id in the name tells a later run whose folder it is.
            self.dir = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=near)
        except OSError as error:
            # mkdtemp's message names the hidden staging folder, which the
            # user never asked for.
            raise images.ImageError(
                f"{near}: cannot write outputs there ({error.strerror or error})"
            ) from None
        self.moves = []

    def path_for(self, final):
        staged = os.path.join(self.dir, f"{len(self.moves)}-{os.path.basename(final)}")
        self.moves.append((staged, final))
        return staged

    def commit(self):
        try:
            os.makedirs(self.folder, exist_ok=True)
            for staged, final in self.moves:
                os.replace(staged, final)
        except OSError as error:
            raise images.ImageError(
                f"{error.filename or self.folder}: cannot write the output "
                f"({error.strerror or error})"
            ) from None
        self.discard()

    def discard(self):
        shutil.rmtree(self.dir, ignore_errors=True)
