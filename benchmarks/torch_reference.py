"""The stylizing network T and its training step, written plainly in PyTorch.

The comparison point for `benchmarks/inference.py` and
`benchmarks/training_step.py`: the same Table 2 network as
`adjustable_style.model.networks` (reflection padding, convolutions without bias,
instance normalization after every convolution, nearest upsampling, seven
residual blocks, sigmoid output), written the way a PyTorch user would, with
`nn.ReflectionPad2d`, `nn.Conv2d` and `nn.InstanceNorm2d(affine=True)`, in
NCHW. `AdjustableStylizingNetwork` is the same T with conditional instance
normalization whose gamma and beta come from the alpha network Lambda
(Dense 1000, ReLU, Dense 1000, ReLU, Dense 2 * 2115), as in
`networks.build_adjustable_stylizer`. The training step mirrors
`StyleTransferTrainer.train_step`: alpha ~ U(0, 1) per sample and style
layer, VGG-19 up to block4_conv4 on the stylized images and up to the
content layer block3_conv4 (no gradient) on the content images, Gram
matrices over H*W*C, squared Frobenius style loss, mean-squared content
loss, the EMA normalization of Eq. 8, alpha-weighted, Adam.

PyTorch is not a dependency of the project: `pip install torch` (or the
`bench` extra) to run these benchmarks.
"""

import torch
from torch import nn
from torch.nn import functional as F

# (filters, kernel, stride) before the residual blocks, as in networks.py.
_DOWNSAMPLING = ((32, 9, 1), (64, 3, 2), (128, 3, 2))
_UPSAMPLING = ((64, 3), (32, 3))
NUM_RESIDUAL_BLOCKS = 7


class ConvNorm(nn.Sequential):
    """Reflection pad, convolution (no bias), instance norm [, ReLU]."""

    def __init__(self, cin, cout, kernel, stride=1, relu=True):
        parts = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(cin, cout, kernel, stride, bias=False),
            nn.InstanceNorm2d(cout, affine=True),
        ]
        if relu:
            parts.append(nn.ReLU(inplace=True))
        super().__init__(*parts)


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.branch = nn.Sequential(
            ConvNorm(channels, channels, 3), ConvNorm(channels, channels, 3, relu=False)
        )

    def forward(self, x):
        return x + self.branch(x)


class Upsample(nn.Module):
    def __init__(self, cin, cout, kernel):
        super().__init__()
        self.conv = ConvNorm(cin, cout, kernel)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class StylizingNetwork(nn.Sequential):
    """T: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]; H, W multiples of 4."""

    def __init__(self):
        parts, cin = [], 3
        for cout, kernel, stride in _DOWNSAMPLING:
            parts.append(ConvNorm(cin, cout, kernel, stride))
            cin = cout
        parts += [ResidualBlock(cin) for _ in range(NUM_RESIDUAL_BLOCKS)]
        for cout, kernel in _UPSAMPLING:
            parts.append(Upsample(cin, cout, kernel))
            cin = cout
        parts += [ConvNorm(cin, 3, 9, relu=False), nn.Sigmoid()]
        super().__init__(*parts)


# Channels of every normalization layer, in the order T applies them.
NORMALIZED_CHANNELS = (
    [c for c, _, _ in _DOWNSAMPLING]
    + [128] * (2 * NUM_RESIDUAL_BLOCKS)
    + [c for c, _ in _UPSAMPLING]
    + [3]
)
ALPHA_HIDDEN_UNITS = 1000


class AdjustableStylizingNetwork(nn.Module):
    """T with conditional instance norm: (content (B, 3, H, W), alpha (B, L)) -> image.

    Lambda maps 2 alpha - 1 to every norm layer's gamma (first) and beta;
    each norm is `F.instance_norm(x) * gamma + beta` with per-sample gamma
    and beta, the same arithmetic as `layers.ConditionalInstanceNormalization`.
    """

    def __init__(self, num_style_layers=3):
        super().__init__()
        total = sum(NORMALIZED_CHANNELS)
        self.alpha_network = nn.Sequential(
            nn.Linear(num_style_layers, ALPHA_HIDDEN_UNITS),
            nn.ReLU(),
            nn.Linear(ALPHA_HIDDEN_UNITS, ALPHA_HIDDEN_UNITS),
            nn.ReLU(),
            nn.Linear(ALPHA_HIDDEN_UNITS, 2 * total),
        )
        with torch.no_grad():  # gamma ~ 1, beta ~ 0 at the start.
            self.alpha_network[-1].weight.normal_(0, 1e-3)
            self.alpha_network[-1].bias.zero_()
            self.alpha_network[-1].bias[:total] = 1.0

        def conv(cin, cout, kernel, stride=1):
            return nn.Sequential(
                nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride, bias=False)
            )

        self.down = nn.ModuleList()
        cin = 3
        for cout, kernel, stride in _DOWNSAMPLING:
            self.down.append(conv(cin, cout, kernel, stride))
            cin = cout
        self.res = nn.ModuleList(
            nn.ModuleList([conv(cin, cin, 3), conv(cin, cin, 3)])
            for _ in range(NUM_RESIDUAL_BLOCKS)
        )
        self.up = nn.ModuleList()
        for cout, kernel in _UPSAMPLING:
            self.up.append(conv(cin, cout, kernel))
            cin = cout
        self.output = conv(cin, 3, 9)

    def forward(self, content, alpha):
        params = self.alpha_network(2.0 * alpha - 1.0)
        total = sum(NORMALIZED_CHANNELS)
        gammas = params[:, :total].split(NORMALIZED_CHANNELS, dim=1)
        betas = params[:, total:].split(NORMALIZED_CHANNELS, dim=1)
        index = iter(range(len(NORMALIZED_CHANNELS)))

        def norm(x):
            i = next(index)
            return (
                F.instance_norm(x, eps=1e-5) * gammas[i][:, :, None, None]
                + betas[i][:, :, None, None]
            )

        x = content
        for layer in self.down:
            x = F.relu(norm(layer(x)))
        for conv1, conv2 in self.res:
            x = x + norm(conv2(F.relu(norm(conv1(x)))))
        for layer in self.up:
            x = F.relu(norm(layer(F.interpolate(x, scale_factor=2, mode="nearest"))))
        return torch.sigmoid(norm(self.output(x)))


# VGG-19's convolutions up to block4_conv4 ('M' = 2x2 max pool).
_VGG19_TO_BLOCK4 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512]
# Indices (after each ReLU) of block2_conv2, block3_conv4, block4_conv4 in
# `LossNetwork.features`, and the content layer block3_conv4.
_STYLE_OUTPUTS = (8, 17, 26)
_CONTENT_OUTPUT = 17


class LossNetwork(nn.Module):
    """VGG-19 to block4_conv4 with caffe preprocessing; returns style features."""

    def __init__(self):
        super().__init__()
        parts, cin = [], 3
        for v in _VGG19_TO_BLOCK4:
            if v == "M":
                parts.append(nn.MaxPool2d(2))
            else:
                parts += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*parts)
        for p in self.parameters():
            p.requires_grad_(False)
        # RGB [0, 1] -> BGR minus the ImageNet means, in [0, 255].
        self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1))

    def forward(self, rgb, stop_after=_STYLE_OUTPUTS[-1]):
        x = rgb.flip(1) * 255.0 - self.mean
        outputs = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _STYLE_OUTPUTS:
                outputs[i] = x
            if i == stop_after:
                break
        return outputs


def gram(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w * c)


class TrainingStep:
    """One Adam step of T on a content batch against fixed style Grams.

    `adjustable=True` (the default) is `StyleTransferTrainer.train_step` for
    the adjustable model: alpha ~ U(0, 1) per sample and style layer, T
    conditioned on it, loss = mean over the batch of L~_c + sum_l alpha_l
    L~_l. `adjustable=False` is the base model with every weight 1.
    Either way the losses are normalized by their running means (Eq. 8).
    """

    def __init__(self, style, lr=1e-3, decay=0.99, adjustable=True):
        self.adjustable = adjustable
        self.net = (
            AdjustableStylizingNetwork(len(_STYLE_OUTPUTS)) if adjustable else StylizingNetwork()
        )
        self.vgg = LossNetwork().eval()
        with torch.no_grad():
            feats = self.vgg(style)
        self.style_grams = [gram(feats[i]) for i in _STYLE_OUTPUTS]
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.ema = None
        self.decay = decay

    def __call__(self, content):
        batch = content.shape[0]
        if self.adjustable:
            alpha = torch.rand(batch, len(_STYLE_OUTPUTS))
            stylized = self.net(content, alpha)
            weights = torch.cat([torch.ones(batch, 1), alpha], dim=1)
        else:
            stylized = self.net(content)
            weights = torch.ones(batch, 1 + len(_STYLE_OUTPUTS))
        with torch.no_grad():
            target = self.vgg(content, stop_after=_CONTENT_OUTPUT)[_CONTENT_OUTPUT]
        feats = self.vgg(stylized)
        raw = [((feats[_CONTENT_OUTPUT] - target) ** 2).mean(dim=(1, 2, 3))]
        for i, g in zip(_STYLE_OUTPUTS, self.style_grams):
            raw.append(((gram(feats[i]) - g) ** 2).sum(dim=(1, 2)))
        raw = torch.stack(raw, dim=1)
        batch_mean = raw.detach().mean(0)
        self.ema = (
            batch_mean
            if self.ema is None
            else (self.decay * self.ema + (1 - self.decay) * batch_mean)
        )
        loss = (weights * raw * (self.ema.sum() / self.ema)).sum(1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()
