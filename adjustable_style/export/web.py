"""A static page that stylizes in the browser: no server of ours, no network.

`export_web` writes a folder that any static file server can serve:

    index.html, web.js, web.css   the page (the files in web_page/)
    stylizer.onnx                 the model: content [B, H, W, 3] and alpha
                                  [B or 1, L] in, stylized out (the graph of
                                  `export.onnx`, checked against Keras)
    stylizer.json                 what the page shows and needs: the name, the
                                  style layers in plain words, the default
                                  alpha, the sizes, the style thumbnail
    style.jpg                     the style thumbnail, if the model folder has one
    example.png                   a photo to start with (the bundled chelsea.png)
    runtime/                      onnxruntime-web's ES module and WebAssembly
                                  files, copied from an npm install
    adjustable_style_export.json  what the export wrote (for --overwrite)

The runtime comes from `npm ci --prefix web` in the repository, run once
before exporting; the page never loads it (or anything else) from a CDN.
The folder is written beside its final place and renamed when complete.
"""

import json
import os
import shutil
import tempfile

from adjustable_style import leftovers, model_files
from adjustable_style.export import onnx as onnx_export
from adjustable_style.export import output_files

# What the marker's "format" says; --overwrite replaces only such folders.
MARKER_FORMAT = "an adjustable_style web page export"
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_RUNTIME_DIR = os.path.join(REPOSITORY, "web", "node_modules", "onnxruntime-web", "dist")
INSTALL_COMMAND = "npm ci --prefix web"
# ort.min.mjs is the package's default browser build: the WebGPU and the
# WebAssembly backends in one, running on these two files (it loads them
# from its own folder).
RUNTIME_FILES = (
    "ort.min.mjs",
    "ort-wasm-simd-threaded.jsep.mjs",
    "ort-wasm-simd-threaded.jsep.wasm",
)
RUNTIME_FOLDER = "runtime"
PAGE_FILES = ("index.html", "web.js", "web.css")
# The page opens on this photo (CC0, see examples/ATTRIBUTION.md), so that
# it shows what it does before any upload.
EXAMPLE_PHOTO = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "chelsea.png"
)
EXAMPLE_FILE = "example.png"
MODEL_FILE = "stylizer.onnx"
DESCRIPTION_FILE = "stylizer.json"
# The long sides the page offers for the picture it stylizes. The network
# costs about 0.4 GFLOP per thousand pixels, so 512 px (a few hundred ms a
# frame on a laptop's WebAssembly) is the largest that stays interactive.
SIZES = (128, 256, 384, 512, 768, 1024)
DEFAULT_SIZE = 512
ALPHA_STEP = 0.01


def layer_words(index, count):
    """Plain words for a style layer by its depth among `count` (as the demo says them)."""
    if count < 2:
        return "style"
    at = index / (count - 1)
    return "fine texture" if at < 0.34 else "strokes" if at < 0.67 else "large shapes"


def runtime_files(runtime_dir=None):
    """{name: path} of the runtime's files, or a one-line ExportError naming the fix.

    Checked before anything is converted, so a missing `npm ci` costs no
    TensorFlow start-up.
    """
    runtime_dir = runtime_dir or DEFAULT_RUNTIME_DIR
    files = {name: os.path.join(runtime_dir, name) for name in RUNTIME_FILES}
    missing = [name for name, path in files.items() if not os.path.isfile(path)]
    if missing:
        where = (
            f"no onnxruntime-web runtime in {runtime_dir}"
            if not os.path.isdir(runtime_dir)
            else f"{runtime_dir} lacks {missing[0]} (not an onnxruntime-web 1.x dist folder)"
        )
        raise output_files.ExportError(
            f"{where}; run `{INSTALL_COMMAND}` in the repository first (or pass --runtime_dir)"
        )
    return files


def runtime_version(runtime_dir=None):
    """The onnxruntime-web version of the runtime folder (its package.json), or None."""
    package = os.path.join(os.path.dirname(runtime_dir or DEFAULT_RUNTIME_DIR), "package.json")
    try:
        with open(package, encoding="utf-8") as f:
            version = json.load(f).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def model_name(spec):
    """A short name for `--model`: a shipped name, a model folder's or a file's name."""
    spec = spec or model_files.DEFAULT_MODEL
    if os.path.isdir(spec):
        return os.path.basename(os.path.normpath(os.path.abspath(spec)))
    if os.path.isfile(spec):
        stem = os.path.splitext(os.path.basename(spec))[0]
        # A training folder's model.keras is known by its folder.
        if os.path.basename(spec) == model_files.MODEL_FILE:
            return os.path.basename(os.path.dirname(os.path.abspath(spec))) or stem
        return stem
    return spec


def style_thumbnail(spec):
    """The style.jpg beside the model's `.keras` file (shipped models have one), or None."""
    folder = os.path.dirname(os.path.abspath(model_files.resolve_model_path(spec)))
    path = os.path.join(folder, model_files.STYLE_THUMBNAIL)
    return path if os.path.isfile(path) else None


def describe(
    style_layers, adjustable, name, record=None, style_image=None, version=None, size=None
):
    """The page's stylizer.json, as a dict."""
    count = len(style_layers)
    return {
        "name": name,
        "adjustable": bool(adjustable),
        "style_layers": [
            {"name": layer, "words": layer_words(i, count)} for i, layer in enumerate(style_layers)
        ],
        "default_alpha": [1.0] * count,
        "alpha_step": ALPHA_STEP,
        "style_image": model_files.STYLE_THUMBNAIL if style_image else None,
        "summary": model_files.record_summary(record or {}),
        "model": MODEL_FILE,
        "sizes": list(SIZES),
        "default_size": size or DEFAULT_SIZE,
        "runtime": {"package": "onnxruntime-web", "version": version, "folder": RUNTIME_FOLDER},
    }


def _page_bytes(name):
    import importlib.resources

    return (
        importlib.resources.files("adjustable_style.export").joinpath("web_page", name).read_bytes()
    )


def check_size(size):
    if size not in SIZES:
        raise output_files.ExportError(
            f"--size must be one of {', '.join(map(str, SIZES))}, got {size!r}"
        )
    return size


def export_web(
    stylizer,
    output,
    runtime_dir=None,
    name="stylizer",
    record=None,
    style_image=None,
    overwrite=False,
    tolerance=onnx_export.DEFAULT_TOLERANCE,
    opset=onnx_export.DEFAULT_OPSET,
    size=DEFAULT_SIZE,
):
    """Writes the page's folder to `output` (see the module doc); returns (path, difference).

    The ONNX model is converted and checked in onnxruntime against Keras
    (as `export.onnx.export_onnx` does) before anything is written;
    `difference` is the largest |onnxruntime - Keras| of that check.
    """
    output_files.check_tolerance(tolerance)
    check_size(size)
    path = output_files.check_output_path(
        output, overwrite, is_dir=True, marker_format=MARKER_FORMAT
    )
    runtime = runtime_files(runtime_dir)
    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    model_bytes, difference = onnx_export.checked_onnx(
        stylizer, tolerance, opset, target="the page"
    )
    description = describe(
        style_layers,
        adjustable,
        name,
        record,
        style_image,
        runtime_version(runtime_dir),
        size,
    )
    prefix = f".{os.path.basename(path)}.tmp-"
    leftovers.remove_leftovers(os.path.dirname(path), leftovers.pattern(prefix))
    tmp = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=os.path.dirname(path))
    try:
        _write(tmp, model_bytes, description, runtime, style_image)
        # mkdtemp made the folder 0700; a web server must read it.
        os.chmod(tmp, 0o777 & ~model_files.current_umask())
        output_files.replace_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path, difference


def _write(folder, model_bytes, description, runtime, style_image):
    def write(name, data):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

    for name in PAGE_FILES:
        write(name, _page_bytes(name))
    write(MODEL_FILE, model_bytes)
    write(DESCRIPTION_FILE, (json.dumps(description, indent=2) + "\n").encode())
    if style_image:
        shutil.copyfile(style_image, os.path.join(folder, model_files.STYLE_THUMBNAIL))
    if os.path.isfile(EXAMPLE_PHOTO):
        shutil.copyfile(EXAMPLE_PHOTO, os.path.join(folder, EXAMPLE_FILE))
    os.mkdir(os.path.join(folder, RUNTIME_FOLDER))
    for name, source in runtime.items():
        shutil.copyfile(source, os.path.join(folder, RUNTIME_FOLDER, name))
    marker = {
        "format": MARKER_FORMAT,
        "style_layers": [layer["name"] for layer in description["style_layers"]],
        # What --overwrite may later replace, and nothing else.
        "files": output_files.export_manifest(folder),
    }
    write(output_files.EXPORT_MARKER, (json.dumps(marker, sort_keys=True) + "\n").encode())
