"""MobileNet V1 (Howard et al. 2017), the architecture of timm's ``mobilenetv1_100`` and its widths.

A 3x3 stem and 13 depthwise-separable blocks (depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU),
no residuals, global pool, one FC. Matches the paper's Tables 6-7 (4.2M params, 569M multiply-adds).
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._layers import ConvBNAct, make_divisible
from flopcount.zoo._registry import register_family

_STEM_CHANNELS = 32
# (output channels, repeats, first stride): the paper's Table 1, grouped by stage as timm does.
_BLOCK_SETTING = (
    (64, 1, 1),
    (128, 2, 2),
    (256, 2, 2),
    (512, 6, 2),
    (1024, 2, 2),
)


class _DepthwiseSeparable(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(
            ConvBNAct(in_channels, in_channels, stride=stride, groups=in_channels, activation=nn.ReLU),
            ConvBNAct(in_channels, out_channels, kernel_size=1, activation=nn.ReLU),
        )


class MobileNetV1(nn.Module):
    def __init__(self, *, width_mult: float = 1.0, num_classes: int = 1000):
        super().__init__()
        # timm rounds every width, the stem's and the last block's included, to a multiple of 8, and
        # puts no extra head conv: the classifier reads the last block's (scaled) channels.
        in_channels = make_divisible(_STEM_CHANNELS * width_mult)
        blocks: list[nn.Module] = [ConvBNAct(3, in_channels, stride=2, activation=nn.ReLU)]
        for channels, repeats, stride in _BLOCK_SETTING:
            out_channels = make_divisible(channels * width_mult)
            for i in range(repeats):
                blocks.append(_DepthwiseSeparable(in_channels, out_channels, stride if i == 0 else 1))
                in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.num_features = in_channels
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v1(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    return MobileNetV1(width_mult=width_mult, num_classes=num_classes)


register_family("mobilenet_v1", mobilenet_v1, [
    ("mobilenet_v1", "MobileNet V1 1.0x", {}),
    *((f"mobilenet_v1_w{width}", f"MobileNet V1 {width}x", {"width_mult": width}) for width in (0.75, 0.5, 0.25)),
])
