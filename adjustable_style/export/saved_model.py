"""Export a trained stylizer as a SavedModel (TF Hub style).

It computes what `inference.stylizer.FastStylizer` computes (the sub-pixel
upsampling, the row-split output convolution, the one-pass moments; see
`inference.graph.StylizerGraph`), not the Keras graph: the same function within
float32 rounding, faster. The SavedModel is a `tf.Module` with

    __call__(content, alpha) -> stylized     TF Hub style, for
                                             `tf.saved_model.load` / `hub.load`
    signatures["serving_default"]            content float32 [B, H, W, 3] in
        (content, alpha) -> {"stylized"}     [0, 1], alpha float32 [B, L] in
                                             [0, 1] -> float32 [B, H, W, 3]
    signatures["serving_uint8"]              image uint8 [B, H, W, 3], alpha
        (image, alpha) -> {"stylized"}       float32 [B, L] -> uint8 [B, H, W, 3]
    signatures["serving_alpha_map"]          content as above, alpha_map float32
        (content, alpha_map) -> {"stylized"} [B or 1, H', W', L] in [0, 1], any
                                             size: one alpha per pixel (see
                                             `alpha_maps`); also the method
                                             `stylize_with_map(content, alpha_map)`
    signatures["serving_preserve_color"]     as serving_default, with the
        (content, alpha) -> {"stylized"}     content's colours kept (`color`);
                                             also `stylize_preserving_color`
    style_layers                             tf.Variable of strings [L]: the
                                             loss-network layer each alpha
                                             entry weights
    training_record                          tf.Variable, a JSON string: the
                                             model.json training record

Batch, height and width are free (the network pads to a multiple of 4 and
crops back, so the output has the input's size). An alpha batch of 1
broadcasts over the content batch.

The base (non-adjustable) model has no alpha, and its export says so: its
`__call__` and its signatures take only the image (`content` / `image`),
it has no alpha map signature, and `style_layers` is empty. An ignored alpha input would let a client believe it
was adjusting something; a missing one fails loudly instead.
"""

import json
import os
import shutil
import tempfile

from adjustable_style import leftovers, model_files
from adjustable_style.export import output_files

SERVING_DEFAULT = "serving_default"
SERVING_UINT8 = "serving_uint8"
SERVING_ALPHA_MAP = "serving_alpha_map"
SERVING_PRESERVE_COLOR = "serving_preserve_color"
CONTENT = "content"
IMAGE = "image"
ALPHA = "alpha"
ALPHA_MAP = "alpha_map"
STYLIZED = "stylized"


# ---------------------------------------------------------------------------
# SavedModel.
# ---------------------------------------------------------------------------


# The serving_uint8 signature's conversions, as TensorFlow ops: they run
# inside the exported graph, where `images.to_uint8` (numpy) cannot.
def _tf_to_float(image):
    import tensorflow as tf

    return tf.cast(image, tf.float32) / 255.0


def _tf_to_uint8(image):
    import tensorflow as tf

    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)


def build_module(stylizer, record=None, convolutions=None):
    """The `tf.Module` that `save_saved_model` writes (see the module doc).

    Calling it in process gives the same results as the SavedModel.
    `convolutions` ("direct" or "matmul", see `inference.graph.StylizerGraph`) is
    fixed in the graph; by default what pays on the exporting CPU.
    """
    import tensorflow as tf

    from adjustable_style import color
    from adjustable_style.inference.graph import StylizerGraph

    style_layers, adjustable = model_files.describe_stylizer(stylizer)
    content_spec = tf.TensorSpec([None, None, None, 3], tf.float32, name=CONTENT)
    image_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name=IMAGE)

    class _StylizerModule(tf.Module):
        def __init__(self):
            super().__init__(name="adjustable_stylizer" if adjustable else "base_stylizer")
            # What `inference.stylizer.FastStylizer` runs (sub-pixel upsampling,
            # row-split output convolution, one-pass moments, fused norms
            # for one image), not the Keras graph: the same function, faster.
            self._graph = StylizerGraph(stylizer, convolutions=convolutions)
            self.style_layers = tf.Variable(
                tf.constant(style_layers, tf.string, shape=[len(style_layers)]),
                trainable=False,
                name="style_layers",
            )
            self.training_record = tf.Variable(
                json.dumps(record or {}, sort_keys=True), trainable=False, name="training_record"
            )

    if adjustable:
        alpha_spec = tf.TensorSpec([None, len(style_layers)], tf.float32, name=ALPHA)
        map_spec = tf.TensorSpec([None, None, None, len(style_layers)], tf.float32, name=ALPHA_MAP)

        class AdjustableStylizerModule(_StylizerModule):
            def _stylize(self, content, alpha):
                return self._graph.stylize(content, alpha)

            @tf.function(input_signature=[content_spec, alpha_spec])
            def __call__(self, content, alpha):
                return self._stylize(content, alpha)

            @tf.function(input_signature=[content_spec, alpha_spec])
            def serving_default(self, content, alpha):
                return {STYLIZED: self._stylize(content, alpha)}

            @tf.function(input_signature=[image_spec, alpha_spec])
            def serving_uint8(self, image, alpha):
                return {STYLIZED: _tf_to_uint8(self._stylize(_tf_to_float(image), alpha))}

            @tf.function(input_signature=[content_spec, map_spec])
            def stylize_with_map(self, content, alpha_map):
                return self._graph.stylize_map(content, alpha_map)

            @tf.function(input_signature=[content_spec, map_spec])
            def serving_alpha_map(self, content, alpha_map):
                return {STYLIZED: self._graph.stylize_map(content, alpha_map)}

            @tf.function(input_signature=[content_spec, alpha_spec])
            def stylize_preserving_color(self, content, alpha):
                return color.preserve_color(content, self._stylize(content, alpha))

            @tf.function(input_signature=[content_spec, alpha_spec])
            def serving_preserve_color(self, content, alpha):
                return {STYLIZED: color.preserve_color(content, self._stylize(content, alpha))}

        return AdjustableStylizerModule()

    class BaseStylizerModule(_StylizerModule):
        def _stylize(self, content):
            return self._graph.stylize(content)

        @tf.function(input_signature=[content_spec])
        def __call__(self, content):
            return self._stylize(content)

        @tf.function(input_signature=[content_spec])
        def serving_default(self, content):
            return {STYLIZED: self._stylize(content)}

        @tf.function(input_signature=[image_spec])
        def serving_uint8(self, image):
            return {STYLIZED: _tf_to_uint8(self._stylize(_tf_to_float(image)))}

        @tf.function(input_signature=[content_spec])
        def stylize_preserving_color(self, content):
            return color.preserve_color(content, self._stylize(content))

        @tf.function(input_signature=[content_spec])
        def serving_preserve_color(self, content):
            return {STYLIZED: color.preserve_color(content, self._stylize(content))}

    return BaseStylizerModule()


def signature_names(adjustable):
    """The SavedModel's signatures, in the order `save_saved_model` lists them."""
    names = [SERVING_DEFAULT, SERVING_UINT8, SERVING_PRESERVE_COLOR]
    return names + [SERVING_ALPHA_MAP] if adjustable else names


def save_saved_model(stylizer, output_dir, record=None, overwrite=False, convolutions=None):
    """Writes the SavedModel to `output_dir` through a temporary folder.

    The folder appears complete or not at all: it is written beside its
    final place under a hidden name and renamed when `tf.saved_model.save`
    has finished. `convolutions`: see `build_module`.
    """
    import tensorflow as tf

    path = output_files.check_output_path(output_dir, overwrite, is_dir=True)
    module = build_module(stylizer, record, convolutions)
    # A killed export's temporary folder (its process gone) goes first; the
    # process id in the name tells a later run whose folder it is.
    prefix = f".{os.path.basename(path)}.tmp-"
    leftovers.remove_leftovers(os.path.dirname(path), leftovers.pattern(prefix))
    tmp = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=os.path.dirname(path))
    try:
        adjustable = model_files.describe_stylizer(stylizer)[1]
        signatures = {
            name: getattr(module, name).get_concrete_function()
            for name in signature_names(adjustable)
        }
        with output_files.quiet():
            tf.saved_model.save(module, tmp, signatures=signatures)
        model_files.atomic_write_bytes(
            os.path.join(tmp, output_files.EXPORT_MARKER),
            (
                json.dumps(
                    {
                        "format": "adjustable_style SavedModel",
                        "style_layers": model_files.describe_stylizer(stylizer)[0],
                        # What --overwrite may later replace, and nothing else.
                        "files": output_files.export_manifest(tmp),
                    },
                    sort_keys=True,
                )
                + "\n"
            ).encode(),
        )
        # mkdtemp made the folder 0700; give it a plain mkdir's mode.
        os.chmod(tmp, 0o777 & ~model_files.current_umask())
        output_files.replace_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
