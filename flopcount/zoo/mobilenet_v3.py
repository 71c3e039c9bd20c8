"""MobileNet V3 Large and Small (Howard et al. 2019), the architecture of torchvision's ``mobilenet_v3_*``.

Inverted residuals with optional squeeze-and-excitation, ReLU in the early layers and hard-swish later.
Width multipliers follow the paper and timm (``mobilenetv3_*_075``): the expansion is a ratio of the
block's (scaled) input, rounded to a multiple of 8, and the classifier's hidden width stays 1280 / 1024.
torchvision's ``width_mult`` would scale that hidden width too, and the 0.75 counts would not match the
paper's Table 3.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._layers import ConvBNAct, make_divisible
from flopcount.zoo._registry import register_family

# (kernel, expansion ratio, output channels, squeeze-excite, activation, stride). Ratios as timm writes
# them; at width 1.0 they give the paper's "exp size" column exactly (e.g. 3.67 x 24 -> 88).
_RE, _HS = nn.ReLU, nn.Hardswish
_CONFIGS = {
    "large": {
        "blocks": (
            (3, 1, 16, False, _RE, 1),
            (3, 4, 24, False, _RE, 2),
            (3, 3, 24, False, _RE, 1),
            (5, 3, 40, True, _RE, 2),
            (5, 3, 40, True, _RE, 1),
            (5, 3, 40, True, _RE, 1),
            (3, 6, 80, False, _HS, 2),
            (3, 2.5, 80, False, _HS, 1),
            (3, 2.3, 80, False, _HS, 1),
            (3, 2.3, 80, False, _HS, 1),
            (3, 6, 112, True, _HS, 1),
            (3, 6, 112, True, _HS, 1),
            (5, 6, 160, True, _HS, 2),
            (5, 6, 160, True, _HS, 1),
            (5, 6, 160, True, _HS, 1),
        ),
        "last_conv": 960,
        "hidden": 1280,
    },
    "small": {
        "blocks": (
            (3, 1, 16, True, _RE, 2),
            (3, 4.5, 24, False, _RE, 2),
            (3, 3.67, 24, False, _RE, 1),
            (5, 4, 40, True, _HS, 2),
            (5, 6, 40, True, _HS, 1),
            (5, 6, 40, True, _HS, 1),
            (5, 3, 48, True, _HS, 1),
            (5, 3, 48, True, _HS, 1),
            (5, 6, 96, True, _HS, 2),
            (5, 6, 96, True, _HS, 1),
            (5, 6, 96, True, _HS, 1),
        ),
        "last_conv": 576,
        "hidden": 1024,
    },
}
_STEM_CHANNELS = 16


class _SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze_channels: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.activation = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.scale_activation = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x  # a broadcast multiply: zero multiply-adds in the paper total, real memory traffic


class _InvertedResidual(nn.Module):
    def __init__(
        self,
        in_channels: int,
        kernel_size: int,
        expanded: int,
        out_channels: int,
        use_se: bool,
        activation: type[nn.Module],
        stride: int,
    ):
        super().__init__()
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(ConvBNAct(in_channels, expanded, kernel_size=1, activation=activation))
        layers.append(ConvBNAct(expanded, expanded, kernel_size, stride, groups=expanded, activation=activation))
        if use_se:
            layers.append(_SqueezeExcitation(expanded, make_divisible(expanded // 4)))
        layers.append(ConvBNAct(expanded, out_channels, kernel_size=1, activation=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.use_residual else self.block(x)


class MobileNetV3(nn.Module):
    def __init__(self, *, arch: str = "large", width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        config = _CONFIGS[arch]
        # timm leaves the 16-channel stem alone below 0.75x ("fix_stem").
        in_channels = _STEM_CHANNELS if width_mult < 0.75 else make_divisible(_STEM_CHANNELS * width_mult)
        layers: list[nn.Module] = [ConvBNAct(3, in_channels, stride=2, activation=nn.Hardswish)]
        for kernel, ratio, channels, use_se, activation, stride in config["blocks"]:
            expanded = make_divisible(in_channels * ratio)
            out_channels = make_divisible(channels * width_mult)
            layers.append(_InvertedResidual(in_channels, kernel, expanded, out_channels, use_se, activation, stride))
            in_channels = out_channels
        last_conv = make_divisible(config["last_conv"] * width_mult)
        layers.append(ConvBNAct(in_channels, last_conv, kernel_size=1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        # The hidden FC works on the pooled 1x1 features, so it is cheap: kept at full width at every width.
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, config["hidden"]),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(config["hidden"], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v3(*, arch: str = "large", width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    return MobileNetV3(arch=arch, width_mult=width_mult, num_classes=num_classes)


register_family("mobilenet_v3", mobilenet_v3, [
    row
    for arch in _CONFIGS
    for row in ((f"mobilenet_v3_{arch}", f"MobileNet V3 {arch.capitalize()} 1.0x", {"arch": arch}),
                (f"mobilenet_v3_{arch}_w0.75", f"MobileNet V3 {arch.capitalize()} 0.75x", {"arch": arch, "width_mult": 0.75}))
])
