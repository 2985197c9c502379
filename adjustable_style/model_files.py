"""Model files: finding, reading and writing stylizers and their records.

A model directory holds

    model.keras   the stylizer (Keras functional model, custom layers
                  registered, so `keras.saving.load_model` reads it)
    model.json    the training record: style image, steps, image size, loss
                  network and its weights, layers, final losses

and the package ships such directories under `adjustable_style/models/<name>/`
(with a `style.jpg` thumbnail of the style). `--model` anywhere accepts a
`.keras` file, a model directory, the name of a shipped model or (to
stylize) a SavedModel folder written by `export.saved_model.save_saved_model`:
`inference.runtime.load_model` turns any of them into one `Model`
interface; this module only finds, reads, checks and writes the files.

Nothing here imports TensorFlow until a model is actually loaded, so that
the commands can refuse a bad `--model` before TensorFlow starts.
"""

import hashlib
import json
import os
import tempfile

import numpy as np

from adjustable_style.errors import UserError, first_line

MODEL_FILE = "model.keras"
RECORD_FILE = "model.json"
STYLE_THUMBNAIL = "style.jpg"
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
DEFAULT_MODEL = "starry_night"
# The --model help of the commands that take a trained model.
MODEL_FLAG_HELP = (
    f"A .keras file, a training model folder, or a shipped model name. Default: {DEFAULT_MODEL}."
)
# What keras.saving.load_model reads: Keras 3 files and legacy HDF5.
MODEL_EXTENSIONS = (".keras", ".h5")


class ModelFileError(UserError, ValueError):
    """A model path or name that cannot be used (one-line message)."""


def shipped_models():
    """Names of the models that ship with the package, sorted."""
    if not os.path.isdir(SHIPPED_DIR):
        return []
    return sorted(
        name
        for name in os.listdir(SHIPPED_DIR)
        if os.path.isfile(os.path.join(SHIPPED_DIR, name, MODEL_FILE))
    )


def current_umask():
    """The process umask (reading it means setting it; set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_sha256(path):
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path, data):
    """Writes `data` to `path` through a temporary file and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp creates the file 0600; give it the mode a plain open()
        # would have, so written models stay readable by others as usual.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_model(model_dir, stylizer, record):
    """Writes `model.keras` and `model.json` into `model_dir`, atomically.

    Each file goes to a temporary name first, so an interrupted save never
    leaves a truncated model where a reader would find it.
    """
    os.makedirs(model_dir, exist_ok=True)
    final = os.path.join(model_dir, MODEL_FILE)
    tmp = os.path.join(model_dir, f".tmp-{os.getpid()}-{MODEL_FILE}")
    try:
        stylizer.save(tmp)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    atomic_write_bytes(
        os.path.join(model_dir, RECORD_FILE),
        (json.dumps(record, indent=2, sort_keys=True) + "\n").encode(),
    )
    return final


def resolve_model_path(spec=None):
    """The `.keras` file that `spec` names (default: the default shipped model).

    `spec` is a `.keras` file, a directory holding `model.keras`, or the name
    of a shipped model.
    """
    if spec is None or spec == "":
        spec = DEFAULT_MODEL
        if spec not in shipped_models():
            raise ModelFileError(
                "no model given and the default shipped model "
                f"{DEFAULT_MODEL!r} is not installed; pass --model"
            )
    if os.path.isdir(spec):
        path = os.path.join(spec, MODEL_FILE)
        if not os.path.isfile(path):
            raise ModelFileError(f"{spec!r} is a directory without a {MODEL_FILE}")
        return path
    if os.path.isfile(spec):
        if os.path.splitext(spec)[1].lower() not in MODEL_EXTENSIONS:
            raise ModelFileError(
                f"{spec!r} is not a model file: expected a .keras file, a "
                "model directory or the name of a shipped model"
            )
        return spec
    if spec in shipped_models():
        return os.path.join(SHIPPED_DIR, spec, MODEL_FILE)
    known = ", ".join(shipped_models()) or "none installed"
    raise ModelFileError(
        f"model {spec!r} is not a file, a model directory or a shipped model (shipped: {known})"
    )


def read_record(model_path):
    """The training record beside a `.keras` file, or {} if there is none."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), RECORD_FILE)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError too.
        raise ModelFileError(
            f"{path}: the training record is damaged ({error}); restore or remove it"
        ) from None
    if not isinstance(record, dict):
        raise ModelFileError(
            f"{path}: the training record is damaged (not a JSON object); restore or remove it"
        )
    return record


def load_stylizer(spec=None):
    """(Keras stylizer, training record) for a `--model` value."""
    import zipfile

    import keras

    # Registers the custom layers before loading.
    from adjustable_style.model import (
        layers,  # noqa: F401
        losses,  # noqa: F401
        networks,  # noqa: F401
    )

    path = resolve_model_path(spec)
    record = read_record(path)
    # Keras reports a damaged .keras archive as "File not found".
    if path.lower().endswith(".keras") and not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path!r} is damaged or not a .keras file (not a zip archive)")
    try:
        model = keras.saving.load_model(path)
    except Exception as error:  # Keras reports bad files in many ways.
        raise ModelFileError(
            f"{path!r} is not a stylizer model file: {first_line(error)}"
        ) from None
    try:
        describe_stylizer(model)
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    return model, record


def compact_keras_file(source, destination):
    """Rewrites a `.keras` file with its float32 weights stored as float16.

    Keras casts stored values to each variable's dtype when it loads them, so
    the compact file loads with plain `keras.saving.load_model` into the same
    float32 model; only the stored precision changes (about 3 decimal digits,
    far below one 8-bit step of an output pixel). Halves a shipped model.
    """
    import zipfile

    import h5py

    folder = os.path.dirname(os.path.abspath(destination))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".keras", dir=folder)
    os.close(fd)
    try:
        with (
            zipfile.ZipFile(source) as src,
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as dst,
        ):
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename.endswith(".weights.h5"):
                    data = _float16_weights(data, h5py)
                dst.writestr(info.filename, data)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, destination)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return destination


def compact_weights_file(source, destination):
    """A `.weights.h5` file rewritten with its float32 arrays stored as float16.

    What `compact_keras_file` does inside a `.keras` archive, for a plain
    weights file (a VGG loss network's: half the bytes to carry to another
    machine; Keras casts them back to float32 as it loads them).
    """
    import h5py

    with open(source, "rb") as f:
        atomic_write_bytes(destination, _float16_weights(f.read(), h5py))
    return destination


def _float16_weights(data, h5py):
    """The bytes of an HDF5 weights file with float32 datasets as float16."""
    import io

    source = h5py.File(io.BytesIO(data), "r")
    buffer = io.BytesIO()
    with source, h5py.File(buffer, "w") as target:

        def copy(name, node):
            if isinstance(node, h5py.Group):
                group = target.require_group(name)
                group.attrs.update(node.attrs)
            else:
                value = node[()]
                if getattr(value, "dtype", None) == np.float32:
                    value = value.astype(np.float16)
                target.create_dataset(name, data=value)
                target[name].attrs.update(node.attrs)

        target.attrs.update(source.attrs)
        source.visititems(copy)
    return buffer.getvalue()


def ship_model(model_dir, name, style_image, destination=SHIPPED_DIR, thumbnail_side=256):
    """Copies a trained model into the package as shipped model `name`.

    Writes `<destination>/<name>/` with the compact (float16-stored)
    `model.keras`, the training record `model.json`, and `style.jpg`, the
    style image with its shorter side at `thumbnail_side` (the size the
    experiments recompute the style's Gram matrices at).
    """
    from PIL import Image

    source = resolve_model_path(model_dir)
    target = os.path.join(destination, name)
    os.makedirs(target, exist_ok=True)
    compact_keras_file(source, os.path.join(target, MODEL_FILE))
    record = read_record(source)
    atomic_write_bytes(
        os.path.join(target, RECORD_FILE),
        (json.dumps(record, indent=2, sort_keys=True) + "\n").encode(),
    )
    with Image.open(style_image) as image:
        image = image.convert("RGB")
        scale = thumbnail_side / min(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.LANCZOS)
        tmp = os.path.join(target, f".tmp-{STYLE_THUMBNAIL}")
        image.save(tmp, format="JPEG", quality=90)
        os.replace(tmp, os.path.join(target, STYLE_THUMBNAIL))
    return target


# ---------------------------------------------------------------------------
# What a loaded file is: a stylizer, or a stylizer's SavedModel.
# ---------------------------------------------------------------------------


def describe_stylizer(stylizer):
    """`(style_layers, adjustable)` of a Keras model, or ModelFileError.

    Accepts what `networks.build_adjustable_stylizer` and
    `networks.build_base_stylizer` make; anything else (another Keras model
    saved as `.keras`) is refused with a one-line message.
    """
    from adjustable_style.model import networks

    shapes = [tuple(t.shape) for t in stylizer.inputs]
    takes_images = bool(shapes) and len(shapes[0]) == 4 and shapes[0][-1] == 3
    # The layers the inference graph reads by name, for the architecture the
    # model's own layers state: a Keras model of the right input shapes
    # without them is still not a stylizer.
    names_in_model = {layer.name for layer in stylizer.layers}
    if takes_images:
        try:
            architecture = networks.architecture_of(stylizer)
        except networks.ArchitectureError as error:
            raise ModelFileError(
                f"model {stylizer.name!r} is a Keras model but not a stylizer ({error})"
            ) from None
        needed = [c.conv for c in architecture.conv_layers]
        needed += ["alpha_network"] if len(shapes) == 2 else list(architecture.norm_layers)
        missing = [name for name in needed if name not in names_in_model]
        if missing:
            raise ModelFileError(
                f"model {stylizer.name!r} is a Keras model but not a stylizer (it has no "
                f"layer {missing[0]!r})"
            )
    if takes_images and networks.is_adjustable(stylizer):
        try:
            names = networks.style_layer_names(stylizer)
        except ValueError:
            names = None
        if names and shapes[1][-1] == len(names):
            return list(names), True
    elif takes_images and len(shapes) == 1:
        return [], False
    raise ModelFileError(
        f"model {stylizer.name!r} is a Keras model but not a stylizer "
        f"(inputs {shapes}); expected [content, alpha] or content"
    )


def is_saved_model_dir(path):
    """True for a folder holding a SavedModel (`saved_model.pb`)."""
    return (
        bool(path)
        and os.path.isdir(path)
        and any(
            os.path.isfile(os.path.join(path, name))
            for name in ("saved_model.pb", "saved_model.pbtxt")
        )
    )


def load_saved_model(path):
    """(loaded module, style layer names, training record) of an export.

    Only SavedModels written by `export.saved_model.save_saved_model` qualify: they carry
    the style layer names that `--alpha=name=value` needs.
    """
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # TF reports bad files in many ways.
        raise ModelFileError(
            f"{path!r} is not a readable SavedModel: {first_line(error)}"
        ) from None
    if not hasattr(loaded, "style_layers") or not hasattr(loaded, "__call__"):
        raise ModelFileError(
            f"{path!r} is a SavedModel but not a stylizer exported by "
            "export/saved_model.py (it has no style_layers)"
        )
    names = [n.decode("utf-8") for n in loaded.style_layers.numpy()]
    record = {}
    if hasattr(loaded, "training_record"):
        try:
            record = json.loads(loaded.training_record.numpy().decode("utf-8"))
        except ValueError:
            record = {}
    return loaded, names, record


def check_model_spec(spec):
    """Fails fast (before TensorFlow starts) on a `--model` that is missing."""
    if spec and is_saved_model_dir(spec):
        return
    resolve_model_path(spec or None)


def record_summary(record):
    """A one-line summary of a training record (model.json)."""
    if not record:
        return "no training record"
    parts = []
    style = record.get("style_image") or record.get("style")
    if style:
        parts.append(f"style {os.path.basename(str(style))}")
    kind = record.get("model_type")
    if kind:
        parts.append(str(kind))
    layers = record.get("style_layers")
    if layers:
        parts.append("alpha over " + ",".join(map(str, layers)))
    network = record.get("loss_network")
    if network:
        parts.append(str(network))
    steps = next((record[k] for k in ("train_steps", "steps", "step") if k in record), None)
    if steps is not None:
        parts.append(f"{steps} steps")
    size = record.get("image_size")
    if size:
        parts.append(f"{size} px crops")
    return "; ".join(parts) if parts else "record keys: " + ", ".join(sorted(record))
