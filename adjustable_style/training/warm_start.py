"""Starting a run from another model: its weights (`--init_from`), its loss EMAs
(`--loss_ema_from`), and a float32 copy of a mixed-precision stylizer to save.

Nothing here imports TensorFlow.
"""

import os

import keras
import numpy as np

from adjustable_style import model_files
from adjustable_style.model import networks
from adjustable_style.training.run_folder import TrainingError


def float32_copy(stylizer, config, spec):
    """The stylizer rebuilt in float32 with the trained weights."""
    if stylizer.dtype_policy.name == "float32":
        return stylizer
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    architecture = networks.architecture_of(stylizer)
    try:
        if config.model_type == "adjustable":
            copy = networks.build_adjustable_stylizer(spec.style_layers, architecture=architecture)
        else:
            copy = networks.build_base_stylizer(architecture=architecture)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(stylizer.get_weights())
    return copy


def warm_start(stylizer, normalizer, config, spec, style_sha256):
    """Copies T's and Lambda's weights from `config.init_from` into `stylizer`.

    Only the stylizer's weights travel: the optimizer starts fresh. The
    source's loss EMAs are taken over too when it was trained on the same
    style image with the same loss network (so `--ema_decay=1` freezes
    Eq. 8's weights where the source had them); for a new style they start
    from the first batch. Returns the origin for `model.json`.
    """
    path = model_files.resolve_model_path(config.init_from)
    source, record = model_files.load_stylizer(path)
    kind = "adjustable" if networks.is_adjustable(source) else "base"
    if kind != config.model_type:
        article = lambda word: "an" if word == "adjustable" else "a"
        raise TrainingError(
            f"--init_from={config.init_from} is {article(kind)} {kind} model, "
            f"but this run trains {article(config.model_type)} "
            f"{config.model_type} one (--model_type)"
        )
    source_layers = list(spec.style_layers)
    if kind == "adjustable":
        source_layers = list(networks.style_layer_names(source))
        # As many layers, other ones: T and Lambda keep their shapes, and the
        # run re-learns what each slider means (a layer-set change); another
        # count changes Lambda's input, which no warm start can bridge.
        if len(source_layers) != len(spec.style_layers):
            raise TrainingError(
                f"--init_from={config.init_from} weights the style layers "
                f"{','.join(source_layers)}, but this run's are "
                f"{','.join(spec.style_layers)}"
            )
    theirs = [tuple(w.shape) for w in source.weights]
    ours = [tuple(w.shape) for w in stylizer.weights]
    if theirs != ours:
        raise TrainingError(
            f"--init_from={config.init_from} has another architecture "
            f"({networks.architecture_of(source).name}: {len(theirs)} weight tensors, "
            f"not {len(ours)} of the same shapes; pass its --architecture)"
        )
    # Values only: the slider names stay this run's.
    stylizer.set_weights(source.get_weights())

    same_losses = (
        record.get("style_image_sha256") == style_sha256
        and record.get("loss_network") == config.loss_network
        and record.get("content_layer") == spec.content_layer
        and len(record.get("ema") or []) == normalizer.num_losses
        and source_layers == list(spec.style_layers)
    )
    if same_losses:
        normalizer.ema.assign(np.asarray(record["ema"], np.float32))
        normalizer.count.assign(1)
    origin = {
        "model": config.init_from,
        "sha256": model_files.file_sha256(path),
        "emas": "taken over" if same_losses else "fresh",
    }
    if source_layers != list(spec.style_layers):
        origin["style_layers"] = source_layers
    # The source's own record, so model.json keeps every stage back to the
    # first run (a chain of warm starts nests).
    for key in (
        "style_image",
        "style_image_sha256",
        "steps",
        "total_steps",
        "image_size",
        "content_weight",
        "ema",
        "history",
        "init_from",
    ):
        if key in record:
            origin[key] = record[key]
    print(
        f"Starting from the weights of {path} "
        f"({record.get('steps', '?')} steps on "
        f"{record.get('style_image', 'an unknown style')}; "
        f"loss EMAs {origin['emas']})",
        flush=True,
    )
    return origin


def take_loss_emas(normalizer, config, spec, style_sha256):
    """Sets Eq. 8's EMAs to those recorded by `config.loss_ema_from`.

    The source must have measured the same losses: the same style image,
    loss network, content and style layers; EMAs of other losses would
    weigh this run's by scales that are not theirs. The count is set past
    the first update, so the first batch does not overwrite them. Returns
    the origin for `model.json`.
    """
    name = f"--loss_ema_from={config.loss_ema_from}"
    path = model_files.resolve_model_path(config.loss_ema_from)
    record = model_files.read_record(path)
    ema = record.get("ema") or []
    if len(ema) != normalizer.num_losses:
        raise TrainingError(
            f"{name}: its record has {len(ema)} loss EMAs, this run needs "
            f"{normalizer.num_losses} (the content loss and each style layer's)"
        )
    for key, what, ours in (
        ("style_image_sha256", "style image", style_sha256),
        ("loss_network", "loss network", config.loss_network),
        ("content_layer", "content layer", spec.content_layer),
        ("style_layers", "style layers", list(spec.style_layers)),
    ):
        if record.get(key) != ours:
            theirs = record.get(key)
            if key == "style_image_sha256":
                theirs, ours = record.get("style_image"), os.path.basename(config.style_image)
            raise TrainingError(
                f"{name} was trained with another {what} ({theirs}; this run: {ours}), "
                "so its loss EMAs are not this run's losses' scales"
            )
    values = np.asarray(ema, np.float32)
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        raise TrainingError(f"{name}: its loss EMAs are not all positive numbers: {ema}")
    normalizer.ema.assign(values)
    normalizer.count.assign(1)
    print(f"Loss EMAs (Eq. 8) from {path}: {', '.join(f'{v:.6g}' for v in values)}", flush=True)
    return {
        "model": config.loss_ema_from,
        "sha256": model_files.file_sha256(path),
        "ema": [float(v) for v in values],
    }
