"""The frozen VGG loss network: features of the content and style layers.

It takes RGB in [0, 1] and does Keras' "caffe" preprocessing inside (scale
to 0..255, RGB -> BGR, subtract the ImageNet mean), so every caller speaks
the stylizer's image convention. Only the layers up to the deepest one asked
for are built: with the default layers, VGG-19 stops after block 4.

Built from `keras.applications` and `keras.ops`, it runs under the
TensorFlow, JAX and PyTorch backends, and a weights file written under one
loads under the others.
"""

import dataclasses
import os
import warnings

import keras
from absl import logging
from keras import ops

from adjustable_style.errors import UserError

# The ImageNet BGR mean that `keras.applications.vgg19.preprocess_input` uses.
_IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@dataclasses.dataclass(frozen=True)
class LossNetworkSpec:
    """Which VGG, and which of its layers give the content and style losses."""

    network: str
    content_layer: str
    style_layers: tuple

    @property
    def layers(self):
        """Content layer first, then the style layers; no duplicates."""
        return tuple(dict.fromkeys((self.content_layer,) + self.style_layers))


# The paper's layers: the last conv of block 3 for content; of blocks 2, 3, 4
# for style.
DEFAULT_SPECS = {
    "vgg19": LossNetworkSpec(
        "vgg19", "block3_conv4", ("block2_conv2", "block3_conv4", "block4_conv4")
    ),
    "vgg16": LossNetworkSpec(
        "vgg16", "block3_conv3", ("block2_conv2", "block3_conv3", "block4_conv3")
    ),
}

_APPLICATIONS = {
    "vgg19": keras.applications.VGG19,
    "vgg16": keras.applications.VGG16,
}


class LossNetworkError(UserError, ValueError):
    """A loss network that cannot be built as asked (one-line message)."""


def default_spec(network="vgg19", content_layer=None, style_layers=None):
    """The spec of `network` with the paper's layers unless others are given."""
    if network not in DEFAULT_SPECS:
        raise LossNetworkError(
            f"unknown loss network {network!r}; choose one of {', '.join(sorted(DEFAULT_SPECS))}"
        )
    spec = DEFAULT_SPECS[network]
    return LossNetworkSpec(
        network,
        content_layer or spec.content_layer,
        tuple(style_layers) if style_layers else spec.style_layers,
    )


def _vgg(network, weights):
    """The full convolutional VGG with `weights` loaded.

    `weights`: "imagenet" (the Keras download), a path to a `.h5` or
    `.weights.h5` file for `VGGxx(include_top=False)`, or "random" (tests
    only: the losses then mean nothing, and a warning says so).
    """
    application = _APPLICATIONS[network]
    if weights == "imagenet":
        try:
            return application(include_top=False, weights="imagenet")
        except Exception as error:  # The download has many ways to fail.
            raise LossNetworkError(
                f"could not download the ImageNet {network} weights ({error}); "
                "without internet, make a weights file with "
                f"`python -m adjustable_style.vgg.weights --network={network}` "
                "and pass its path"
            ) from None
    model = application(include_top=False, weights=None)
    if weights == "random":
        logging.warning(
            "*** The %s loss network has RANDOM weights: losses and trained "
            "models are meaningless. Use this for tests only. ***",
            network,
        )
        return model
    if not os.path.isfile(weights):
        raise LossNetworkError(
            f"VGG weights file {weights!r} does not exist (pass 'imagenet', "
            "'random' or the path of a weights file)"
        )
    try:
        # A file of another model makes Keras warn once per layer before it
        # raises; the error below says it all.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(weights)
    except Exception as error:
        raise LossNetworkError(
            f"{weights!r} is not a {network} (include_top=False) weights file: {_load_error(error)}"
        ) from None
    return model


def _load_error(error):
    """Keras' load error in one line: the count and its first example.

    Keras ends its first line with "Example error message for object X:"
    and puts the example on the next; the first line alone stops mid-way.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    first = lines[0]
    cut = first.find(" Example error message")
    if cut >= 0 and len(lines) > 1:
        example = lines[1]
        if len(example) > 160:
            example = example[:157] + "..."
        return f"{first[:cut]} (e.g. {example})"
    return first


def _features_name(layer):
    return f"{layer}_features"


def build_loss_network(spec, weights="imagenet"):
    """A frozen Keras model: RGB [0, 1] (B,H,W,3) -> {layer name: features}.

    The outputs are a dict keyed by `spec.layers`.
    """
    vgg = _vgg(spec.network, weights)
    known = [layer.name for layer in vgg.layers]
    unknown = [name for name in spec.layers if name not in known]
    if unknown:
        raise LossNetworkError(
            f"{spec.network} has no layer {', '.join(unknown)}; its conv "
            f"layers are {', '.join(n for n in known if '_conv' in n)}"
        )
    vgg.trainable = False

    image = keras.Input((None, None, 3), name="image")
    x = CaffePreprocessing(name="caffe_preprocessing")(image)
    # Re-apply VGG's layers up to the deepest one needed; later ones are
    # never built into this graph and cost nothing.
    deepest = max(known.index(name) for name in spec.layers)
    outputs = {}
    for layer in vgg.layers[1 : deepest + 1]:
        x = layer(x)
        if layer.name in spec.layers:
            # Losses in float32 even when the network runs in float16.
            outputs[layer.name] = keras.layers.Activation(
                "linear", dtype="float32", name=_features_name(layer.name)
            )(x)
    model = keras.Model(image, outputs, name=f"{spec.network}_loss_network")
    model.trainable = False
    return model


def truncated_loss_network(network, layers):
    """The part of `network` that computes only `layers`, or None.

    `network` is a model from `build_loss_network`; the result is a frozen
    Keras model over the same layers (the same weights, not a copy) with the
    same input and {layer name: features} outputs for `layers` alone. Its
    graph ends at the deepest of them, so layers beyond it are never run:
    the content images only need VGG up to the content layer.

    None when `network` is not such a model (a layer is missing).
    """
    try:
        outputs = {name: network.get_layer(_features_name(name)).output for name in layers}
    except (ValueError, AttributeError):
        return None
    model = keras.Model(network.inputs, outputs, name=f"{network.name}_to_{'_'.join(layers)}")
    model.trainable = False
    return model


@keras.saving.register_keras_serializable(package="adjustable_style")
class CaffePreprocessing(keras.layers.Layer):
    """RGB [0, 1] -> BGR 0..255 minus the ImageNet mean (VGG's input)."""

    def call(self, x):
        bgr = ops.flip(x, axis=-1) * 255.0
        dtype = keras.backend.standardize_dtype(x.dtype)
        return bgr - ops.convert_to_tensor(_IMAGENET_BGR_MEAN, dtype=dtype)
