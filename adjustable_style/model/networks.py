"""The networks: the stylizing network T, the alpha network Lambda, the base.

T follows Table 2 of the paper (Johnson et al. with seven residual blocks):

    conv 9x9/1, 32 -> conv 3x3/2, 64 -> conv 3x3/2, 128
    -> 7 x [conv 3x3, 128 -> norm -> ReLU -> conv 3x3, 128 -> norm, + input]
    -> nearest x2, conv 3x3, 64 -> nearest x2, conv 3x3, 32
    -> conv 9x9/1, 3 -> norm -> sigmoid

with a normalization after every convolution (the last one included) and a
ReLU after each one outside the residual branches' second half and the output.
The adjustable stylizer normalizes with conditional instance normalization
whose gamma and beta come from Lambda(alpha) (Table 1); the base model of
Johnson et al. uses learned instance normalization instead. Both are built by
the same `_stylizing_trunk`, so they differ only in where gamma and beta
come from. `run_stylizing_network` is T's one statement of order: the Keras
builders and every inference variant (`inference.graph`, the streaming and
temporal paths) walk it with their own convolutions and normalization.

T's shape is data, an `Architecture` (widths, residual blocks, end kernels,
and the layer tables derived from them): `PAPER` above, and `LITE`, half the
widths. The inference paths read it from a model's layers
(`architecture_of`), so a lite `.keras` file runs wherever a paper one does.

Initialization: every convolution of T starts from N(0, 0.01) by default,
the paper's choice, set in one place (`conv_initializer`). Each convolution
feeds an instance norm, which undoes the scale of its weights, so that scale
only sets how far one Adam step turns them (Keras' Glorot is about 3x larger
here). Glorot stays available (`conv_init="glorot_uniform"`, train.py's
--conv_initializer) because, measured from scratch over 200 steps, it ended
with lower losses (README, "Initialization").

Padding: reflection padding before every convolution (the paper says SAME;
reflection avoids the dark borders zero padding produces, as in Magenta's
and PyTorch's implementations). Convolutions carry no bias, since the
normalization that follows each one subtracts it again.
"""

import dataclasses
import functools
import typing

import keras

from adjustable_style.model import layers

ALPHA_HIDDEN_UNITS = 1000


class ConvLayer(typing.NamedTuple):
    """One convolution of T and the normalization that follows it."""

    conv: str  # The Keras layer names of the convolution ...
    norm: str  # ... and of its normalization.
    filters: int
    kernel_size: int
    stride: int = 1
    # Nearest-neighbour upsampling factor applied before the convolution.
    upsample: int = 1

    @property
    def block(self):
        """The name shared by the layers of this convolution's block ("res3", "up1")."""
        return self.conv.split("_conv")[0]


def _conv_layer(prefix, filters, kernel_size, stride=1, suffix="", upsample=1):
    return ConvLayer(
        f"{prefix}_conv{suffix}", f"{prefix}_norm{suffix}", filters, kernel_size, stride, upsample
    )


@dataclasses.dataclass(frozen=True)
class Architecture:
    """T's shape as data: widths, residual blocks, end kernels; the tables follow.

    `widths` are the channels after the first, second and third
    downsampling convolution (the residual blocks keep the third; the
    upsampling convolutions come back down through the second and first).
    Every table the builders and the inference paths walk is derived here,
    so a preset is four numbers. `name` is a label, not part of equality:
    `architecture_of` recovers the preset from a model's layers.
    """

    name: str = dataclasses.field(compare=False)
    widths: typing.Tuple[int, int, int] = (32, 64, 128)
    num_residual_blocks: int = 7
    end_kernel_size: int = 9

    @functools.cached_property
    def downsampling(self):
        first, second, third = self.widths
        return (
            _conv_layer("down1", first, self.end_kernel_size),
            _conv_layer("down2", second, 3, 2),
            _conv_layer("down3", third, 3, 2),
        )

    @functools.cached_property
    def residual_blocks(self):
        """Each block: conv -> norm -> ReLU -> conv -> norm, plus its input."""
        return tuple(
            (
                _conv_layer(f"res{i}", self.widths[2], 3, suffix="1"),
                _conv_layer(f"res{i}", self.widths[2], 3, suffix="2"),
            )
            for i in range(1, self.num_residual_blocks + 1)
        )

    @functools.cached_property
    def upsampling(self):
        """Each preceded by a nearest-neighbour x2 upsampling."""
        return (
            _conv_layer("up1", self.widths[1], 3, upsample=2),
            _conv_layer("up2", self.widths[0], 3, upsample=2),
        )

    @functools.cached_property
    def output(self):
        return _conv_layer("output", 3, self.end_kernel_size)

    @functools.cached_property
    def conv_layers(self):
        """Every convolution in the order T applies them.

        The normalization layers (the CIN layers of the adjustable
        stylizer) and their channels follow the same order, which is that
        of Lambda's gammas and betas.
        """
        residual = tuple(c for block in self.residual_blocks for c in block)
        return self.downsampling + residual + self.upsampling + (self.output,)

    @functools.cached_property
    def norm_layers(self):
        return tuple(c.norm for c in self.conv_layers)

    @functools.cached_property
    def norm_index(self):
        """Each convolution's position in that order: its gamma and beta's index."""
        return {c.conv: i for i, c in enumerate(self.conv_layers)}

    @functools.cached_property
    def normalized_channels(self):
        return tuple(c.filters for c in self.conv_layers)

    @property
    def total_channels(self):
        """Gammas (and betas) Lambda predicts: half its output."""
        return sum(self.normalized_channels)

    @functools.cached_property
    def norm_reductions(self):
        """How much smaller than the content each normalization layer's map is."""
        reduction, out = 1, []
        for layer in self.conv_layers:
            reduction = reduction * layer.stride // layer.upsample
            out.append(reduction)
        return tuple(out)

    def conv_flops(self, height, width):
        """Floating-point operations of T's convolutions on one image.

        Each multiply-add counts 2, as Table 2 counts them; normalizations,
        paddings and activations are not counted.
        """
        h, w = (-(-n // SIZE_MULTIPLE) * SIZE_MULTIPLE for n in (height, width))
        macs, cin, scale = 0, 3, 1
        for layer in self.conv_layers:
            scale = scale * layer.stride // layer.upsample
            macs += (h // scale) * (w // scale) * cin * layer.filters * layer.kernel_size**2
            cin = layer.filters
        return 2 * macs


# The presets. PAPER is Table 2 of the paper. LITE halves every width and
# keeps the seven blocks and the 9x9 ends: the smallest change measured to
# run 3x faster (docs/speed.md, "The lite stylizer"); it is trained by
# distillation from a PAPER model (docs/training.md).
PAPER = Architecture("paper")
LITE = Architecture("lite", widths=(16, 32, 64))
ARCHITECTURES = {a.name: a for a in (PAPER, LITE)}
assert PAPER.total_channels == 2115  # The paper's count.
assert PAPER.norm_reductions[0] == PAPER.norm_reductions[-1] == 1


class ArchitectureError(ValueError):
    """A Keras model whose layers are not a stylizing network T."""


def architecture_of(model):
    """The `Architecture` of a built or loaded stylizer, read from its layers.

    A preset when the numbers match one (so its name comes back), else an
    `Architecture` named "custom". Raises `ArchitectureError` naming the
    first layer T needs that the model lacks.
    """
    names = {layer.name for layer in model.layers}

    def conv(name):
        if name not in names:
            raise ArchitectureError(f"it has no layer {name!r}")
        return model.get_layer(name)

    widths = tuple(int(conv(f"down{i}_conv").filters) for i in (1, 2, 3))
    blocks = 0
    while f"res{blocks + 1}_conv1" in names:
        blocks += 1
    found = Architecture(
        "custom",
        widths=widths,
        num_residual_blocks=blocks,
        end_kernel_size=int(conv("down1_conv").kernel_size[0]),
    )
    for layer in found.conv_layers:
        if int(conv(layer.conv).filters) != layer.filters:
            raise ArchitectureError(
                f"its layer {layer.conv!r} has {conv(layer.conv).filters} filters, "
                f"not the {layer.filters} of T with widths {widths}"
            )
    for preset in ARCHITECTURES.values():
        if preset == found:
            return preset
    return found


# PAPER's tables under their old names, for code that reads T's constants.
NUM_RESIDUAL_BLOCKS = PAPER.num_residual_blocks
RESIDUAL_FILTERS = PAPER.widths[2]
DOWNSAMPLING = PAPER.downsampling
RESIDUAL_BLOCKS = PAPER.residual_blocks
UPSAMPLING = PAPER.upsampling
OUTPUT = PAPER.output
CONV_LAYERS = PAPER.conv_layers
NORM_LAYERS = PAPER.norm_layers
NORM_INDEX = PAPER.norm_index
NORMALIZED_CHANNELS = PAPER.normalized_channels
NORM_REDUCTIONS = PAPER.norm_reductions

# The input is padded to a multiple of this (two stride-2 downsamplings).
SIZE_MULTIPLE = 4


# The paper's initialization of T's convolution kernels.
CONV_INIT_STDDEV = 0.01
# The names `conv_initializer` takes: the paper's N(0, 0.01) (the default),
# and Keras' default, which trained faster from scratch in a 200-step
# measurement (experiments/initialization.py).
CONV_INITIALIZERS = ("normal_0.01", "glorot_uniform")
DEFAULT_CONV_INITIALIZER = CONV_INITIALIZERS[0]


def conv_initializer(name=DEFAULT_CONV_INITIALIZER):
    """The kernel initializer of every convolution of T."""
    if name == "normal_0.01":
        return keras.initializers.RandomNormal(stddev=CONV_INIT_STDDEV)
    if name == "glorot_uniform":
        return keras.initializers.GlorotUniform()
    raise ValueError(
        f"unknown convolution initializer {name!r}; choose one of {', '.join(CONV_INITIALIZERS)}"
    )


def _conv(x, layer, initializer):
    x = layers.ReflectionPadding2D(layer.kernel_size // 2, name=f"{layer.conv}_pad")(x)
    return keras.layers.Conv2D(
        layer.filters,
        layer.kernel_size,
        strides=layer.stride,
        padding="valid",
        use_bias=False,
        kernel_initializer=conv_initializer(initializer),
        name=layer.conv,
    )(x)


def run_stylizing_network(x, conv_norm, architecture=PAPER):
    """T's layers in order, from `architecture`'s tables: the one statement of the pass.

    `conv_norm(x, layer, relu, residual)` applies one `ConvLayer` (with the
    nearest-neighbour upsampling of `layer.upsample` before it), its
    normalization, then the ReLU if `relu`, then adds `residual` if given.
    The Keras builders and the inference paths each pass their own; the
    input padding, the sigmoid and the crop stay with the caller.
    """
    for layer in architecture.downsampling:
        x = conv_norm(x, layer, relu=True)
    for first, second in architecture.residual_blocks:
        y = conv_norm(x, first, relu=True)
        x = conv_norm(y, second, relu=False, residual=x)
        # The streaming path holds maps in host memory: free the branch.
        del y
    for layer in architecture.upsampling:
        x = conv_norm(x, layer, relu=True)
    return conv_norm(x, architecture.output, relu=False)


def _stylizing_trunk(content, normalize, conv_init, architecture):
    """Builds T on `content`; `normalize(x, index, name)` is each norm layer.

    `index` counts normalization layers in `architecture.norm_layers`
    order; `conv_init` names the convolutions' initializer
    (`CONV_INITIALIZERS`).
    """
    used = []

    def conv_norm(x, layer, relu, residual=None):
        used.append(layer.norm)
        if layer.upsample > 1:
            x = keras.layers.UpSampling2D(
                layer.upsample, interpolation="nearest", name=f"{layer.block}_upsample"
            )(x)
        x = normalize(_conv(x, layer, conv_init), architecture.norm_index[layer.conv], layer.norm)
        if relu:
            x = keras.layers.ReLU(name=f"{layer.block}_relu")(x)
        if residual is not None:
            x = keras.layers.Add(name=f"{layer.block}_add")([residual, x])
        return x

    x = layers.PadToMultiple(SIZE_MULTIPLE, name="pad_to_multiple")(content)
    x = run_stylizing_network(x, conv_norm, architecture)
    # Float32 output whatever the compute policy: it is an image in [0, 1].
    x = keras.layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    assert tuple(used) == architecture.norm_layers, "every norm layer is used once, in order"
    return layers.CropToReference(name="crop_to_input")([x, content])


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class GammaBetaBias(keras.initializers.Initializer):
    """Bias of ones on the first `num_gammas` entries and zeros after them.

    Lambda's last layer predicts all gammas, then all betas; starting them at
    1 and 0 makes every CIN layer an identity-like instance norm at step 0,
    instead of a dead network with gamma = 0.
    """

    def __init__(self, num_gammas):
        self.num_gammas = int(num_gammas)

    def __call__(self, shape, dtype=None):
        size = shape[-1]
        return keras.ops.cast(keras.ops.arange(size) < self.num_gammas, dtype or "float32")

    def get_config(self):
        return {"num_gammas": self.num_gammas}


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class AlphaNetwork(keras.layers.Layer):
    """Lambda (Table 1): alpha -> Dense 1000, ReLU -> Dense 1000, ReLU -> 2N.

    Maps the per-style-layer weights alpha (B, L) to the gamma and beta of
    every CIN layer (B, 2 * sum(channels)), gammas first. It carries the names
    of the loss network's style layers that alpha weights, so a saved
    stylizer knows what each of its alpha entries means.

    Initialization, so that training reaches every weight from step 0:
    - alpha enters centred, as 2 alpha - 1. This is an affine change of the
      first layer's bias (the same function class as Table 1), but with
      alpha in [0, 1]^L >= 0 a ReLU unit whose weights are all negative would
      be dead for every alpha; centred, each first-layer unit is active on
      half of the cube.
    - He-normal kernels keep unit-scale activations; the second layer's bias
      starts at 0.5, so every one of its units is active near the cube's
      centre (where the first layer outputs 0) instead of some never firing.
    - The output layer starts small (N(0, 1e-3)) around the GammaBetaBias:
      gamma ~ 1 and beta ~ 0, an ordinary instance norm at step 0.
    """

    def __init__(
        self, style_layers, channels=NORMALIZED_CHANNELS, hidden_units=ALPHA_HIDDEN_UNITS, **kwargs
    ):
        # float32 even under a mixed policy: gamma lives near 1, where
        # bfloat16's spacing is 1/128, coarser than the alpha-dependent
        # changes Lambda learns. Lambda runs once per alpha, so this is free.
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.style_layers = [str(n) for n in style_layers]
        self.channels = [int(c) for c in channels]
        self.hidden_units = int(hidden_units)
        total = sum(self.channels)
        self.hidden1 = keras.layers.Dense(
            self.hidden_units,
            activation="relu",
            kernel_initializer="he_normal",
            dtype="float32",
            name="hidden1",
        )
        self.hidden2 = keras.layers.Dense(
            self.hidden_units,
            activation="relu",
            kernel_initializer="he_normal",
            bias_initializer=keras.initializers.Constant(0.5),
            dtype="float32",
            name="hidden2",
        )
        self.gamma_beta = keras.layers.Dense(
            2 * total,
            kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3),
            bias_initializer=GammaBetaBias(total),
            dtype="float32",
            name="gamma_beta",
        )

    def build(self, input_shape):
        if input_shape[-1] != len(self.style_layers):
            raise ValueError(
                f"alpha has {input_shape[-1]} entries but the network weights "
                f"{len(self.style_layers)} style layers"
            )
        self.hidden1.build(input_shape)
        self.hidden2.build((input_shape[0], self.hidden_units))
        self.gamma_beta.build((input_shape[0], self.hidden_units))

    def call(self, alpha):
        centred = 2.0 * alpha - 1.0
        return self.gamma_beta(self.hidden2(self.hidden1(centred)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * sum(self.channels))

    def get_config(self):
        return {
            **super().get_config(),
            "style_layers": self.style_layers,
            "channels": self.channels,
            "hidden_units": self.hidden_units,
        }


def build_adjustable_stylizer(
    style_layers,
    name="adjustable_stylizer",
    conv_init=DEFAULT_CONV_INITIALIZER,
    architecture=PAPER,
):
    """The adjustable stylizer: `[content (B,H,W,3), alpha (B,L)] -> image`.

    `style_layers` names the loss network's style layers, one alpha entry
    each. Content and output are RGB in [0, 1]; any batch, height and width.
    `architecture` is T's shape (`PAPER`, `LITE`); Lambda's output follows it.
    """
    content = keras.Input((None, None, 3), name="content")
    alpha = keras.Input((len(style_layers),), name="alpha")
    channels = architecture.normalized_channels
    params = AlphaNetwork(style_layers, channels, name="alpha_network")(alpha)
    gammas_betas = layers.SplitNormalizationParameters(channels, name="split_gamma_beta")(params)

    def conditional_norm(x, index, name):
        gamma, beta = gammas_betas[2 * index], gammas_betas[2 * index + 1]
        return layers.ConditionalInstanceNormalization(name=name)([x, gamma, beta])

    stylized = _stylizing_trunk(content, conditional_norm, conv_init, architecture)
    return keras.Model([content, alpha], stylized, name=name)


def build_base_stylizer(
    name="base_stylizer", conv_init=DEFAULT_CONV_INITIALIZER, architecture=PAPER
):
    """Johnson et al.'s network: `content (B,H,W,3) -> image`, no alpha.

    The same T as the adjustable stylizer, with learned instance
    normalization in place of the conditional one.
    """
    content = keras.Input((None, None, 3), name="content")

    def instance_norm(x, index, name):
        return layers.InstanceNormalization(name=name)(x)

    stylized = _stylizing_trunk(content, instance_norm, conv_init, architecture)
    return keras.Model(content, stylized, name=name)


def is_adjustable(stylizer):
    """True for a stylizer that takes `[content, alpha]`."""
    return len(stylizer.inputs) == 2


def style_layer_names(stylizer):
    """The style layers an adjustable stylizer's alpha entries weight."""
    return list(stylizer.get_layer("alpha_network").style_layers)
