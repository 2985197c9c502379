"""Any model behind one interface: `load_model(spec)` and `Model`.

`--model` anywhere accepts a `.keras` file, a model directory, the name of
a shipped model or (to stylize) a SavedModel folder written by
`export.saved_model`; `load_model` turns any of them into a `Model`,
whose `stylize` and `stylize_map` the commands, the demo and the video
path call. A Keras model runs as `stylizer.FastStylizer` (or
`precision.PrecisionStylizer`), a SavedModel as exported.
"""

import numpy as np

from adjustable_style import cli, model_files
from adjustable_style.model_files import DEFAULT_MODEL, ModelFileError

# Images per forward pass when the caller does not say.
DEFAULT_BATCH_SIZE = 4


class Model:
    """A stylizer behind one interface, whatever file it came from.

    `stylize(content, alpha)` takes float32 content [B, H, W, 3] in [0, 1]
    and alpha [B, L] (None for a base model) and returns the stylized
    [B, H, W, 3], in chunks of `batch_size`.
    """

    def __init__(
        self,
        forward,
        style_layers,
        adjustable,
        record,
        source,
        owner=None,
        forward_map=None,
        exact_maps=False,
        fast_stylizer=None,
    ):
        self._forward = forward
        # The `FastStylizer` behind `forward` where there is one (a Keras
        # model in float32): what the temporal smoother runs its own
        # normalization on.
        self.fast_stylizer = fast_stylizer
        self._forward_map = forward_map
        # Whether forward_map takes exact=True (a Keras model's does).
        self._exact_maps = exact_maps
        # What `forward` needs alive: a loaded SavedModel's functions hold
        # only weak references to its variables.
        self._owner = owner
        self.style_layers = list(style_layers)
        self.adjustable = adjustable
        self.record = record or {}
        self.source = source

    @property
    def num_layers(self):
        return len(self.style_layers)

    def stylize(self, content, alpha=None, batch_size=DEFAULT_BATCH_SIZE):
        content = np.asarray(content, np.float32)
        if content.ndim == 3:
            content = content[None]
        if self.adjustable:
            if alpha is None:
                raise ValueError("an adjustable model needs alpha")
            alpha = np.asarray(alpha, np.float32).reshape(-1, self.num_layers)
            if len(content) == 1 and len(alpha) > 1:
                content = np.broadcast_to(content, (len(alpha),) + content.shape[1:])
            if len(alpha) != len(content):
                raise ValueError(f"{len(content)} images but {len(alpha)} alphas")
        outputs = []
        for start in range(0, len(content), batch_size):
            chunk = np.ascontiguousarray(content[start : start + batch_size])
            if self.adjustable:
                result = self._forward(chunk, alpha[start : start + batch_size])
            else:
                result = self._forward(chunk)
            outputs.append(np.asarray(result, np.float32))
        return np.concatenate(outputs, axis=0)

    def stylize_map(self, content, alpha_map, batch_size=DEFAULT_BATCH_SIZE, exact=False):
        """Stylized [B, H, W, 3] with one alpha per pixel.

        `alpha_map` is [H', W', L] or [1 or B, H', W', L] in [0, 1], any size
        (stretched to the content; see `alpha_maps`). `exact`: each region
        normalized with the whole image's statistics at its alpha (see
        `stylizer.FastStylizer.stylize_map`); Keras models only.
        """
        if not self.adjustable:
            raise ModelFileError(
                "this model has no alpha (a base model with fixed style weights), "
                "so an alpha map cannot apply"
            )
        if self._forward_map is None:
            raise ModelFileError(
                f"{self.source}: this SavedModel was exported without an alpha map "
                "signature; export the model again with export/saved_model.py"
            )
        if exact and not self._exact_maps:
            raise ModelFileError(
                f"{self.source}: a SavedModel has the default alpha-map statistics only; "
                "exact statistics need the Keras model (.keras file or shipped name)"
            )
        content = np.asarray(content, np.float32)
        if content.ndim == 3:
            content = content[None]
        alpha_map = np.asarray(alpha_map, np.float32)
        if alpha_map.ndim == 3:
            alpha_map = alpha_map[None]
        outputs = []
        for start in range(0, len(content), batch_size):
            chunk = np.ascontiguousarray(content[start : start + batch_size])
            maps = alpha_map if len(alpha_map) == 1 else alpha_map[start : start + batch_size]
            result = (
                self._forward_map(chunk, maps, exact=True)
                if exact
                else self._forward_map(chunk, maps)
            )
            outputs.append(np.asarray(result, np.float32))
        return np.concatenate(outputs, axis=0)


def load_model(spec, precision="float32"):
    """A `Model` for a `--model` value.

    `spec` is a `.keras` file, a training model folder (model.keras +
    model.json), a SavedModel folder written by export/saved_model.py, or the
    name of a shipped model; None means the default shipped model.
    `precision` is a mode of `precision.PrecisionStylizer`
    ("float32", "bfloat16", "auto"); a SavedModel runs as exported (float32).
    """
    cli.quiet_tensorflow_import()
    if spec and model_files.is_saved_model_dir(spec):
        loaded, names, record = model_files.load_saved_model(spec)
        with_map = getattr(loaded, "stylize_with_map", None)
        return Model(loaded.__call__, names, bool(names), record, spec, loaded, with_map)
    from adjustable_style.inference.precision import PrecisionStylizer
    from adjustable_style.inference.stylizer import FastStylizer

    stylizer, record = model_files.load_stylizer(spec or None)
    names, adjustable = model_files.describe_stylizer(stylizer)
    # The same function as the Keras model, faster, and streaming for
    # images too large to stylize whole.
    if precision == "float32":
        forward = FastStylizer(stylizer)
    else:
        forward = PrecisionStylizer(stylizer, precision)
    with_map = forward.stylize_map if adjustable else None
    fast = forward if isinstance(forward, FastStylizer) else None
    return Model(
        forward,
        names,
        adjustable,
        record,
        spec or DEFAULT_MODEL,
        stylizer,
        with_map,
        adjustable,
        fast,
    )
