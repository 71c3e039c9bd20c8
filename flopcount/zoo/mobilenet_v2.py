"""MobileNet V2 (Sandler et al. 2018), the architecture of torchvision's ``mobilenet_v2``."""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._layers import ConvBNAct, make_divisible
from flopcount.zoo._registry import register_family

# (expansion t, output channels c, repeats n, first stride s): the paper's Table 2.
_INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class _InvertedResidual(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNAct(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, *, width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        in_channels = make_divisible(32 * width_mult)
        # The last conv keeps 1280 channels below width 1.0 and grows above it (1792 at 1.4).
        self.last_channels = make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNAct(3, in_channels, stride=2)]
        for t, c, n, s in _INVERTED_RESIDUAL_SETTING:
            out_channels = make_divisible(c * width_mult)
            for i in range(n):
                features.append(_InvertedResidual(in_channels, out_channels, s if i == 0 else 1, t))
                in_channels = out_channels
        features.append(ConvBNAct(in_channels, self.last_channels, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # A functional pool, as in torchvision: hook-only counters miss it.
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v2(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV2:
    return MobileNetV2(width_mult=width_mult, num_classes=num_classes)


register_family("mobilenet_v2", mobilenet_v2, [
    ("mobilenet_v2", "MobileNet V2 1.0x", {}),
    *((f"mobilenet_v2_w{width}", f"MobileNet V2 {width}x", {"width_mult": width}) for width in (1.4, 0.75, 0.5, 0.35)),
])
