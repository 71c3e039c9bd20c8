"""ShuffleNet V2 (Ma et al. 2018), the architecture of torchvision's ``shufflenet_v2_x*``.

The network built from the paper's four guidelines: a channel split instead of group convs (G2), equal
widths around every 1x1 conv (G1), two branches only (G3), a concat instead of an add (G4).
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._layers import channel_shuffle
from flopcount.zoo._registry import register_family

_STAGE_REPEATS = (4, 8, 4)
# Stem, stages 2-4, last conv (paper, Table 5).
_STAGE_CHANNELS = {
    "0.5": (24, 48, 96, 192, 1024),
    "1.0": (24, 116, 232, 464, 1024),
    "1.5": (24, 176, 352, 704, 1024),
    "2.0": (24, 244, 488, 976, 2048),
}


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)


class _InvertedResidual(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        branch_channels = out_channels // 2
        if stride > 1:
            # Downsampling unit: no split, both branches see the whole input. torchvision gives each
            # branch half the output (Megvii's code splits 24 / 92 in stage 2 and hits the paper's counts).
            self.branch1 = nn.Sequential(
                _depthwise(in_channels, stride),
                nn.BatchNorm2d(in_channels),
                nn.Conv2d(in_channels, branch_channels, 1, bias=False),
                nn.BatchNorm2d(branch_channels),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels if stride > 1 else branch_channels, branch_channels, 1, bias=False),
            nn.BatchNorm2d(branch_channels),
            nn.ReLU(inplace=True),
            _depthwise(branch_channels, stride),
            nn.BatchNorm2d(branch_channels),
            nn.Conv2d(branch_channels, branch_channels, 1, bias=False),
            nn.BatchNorm2d(branch_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            # Channel split: half the channels pass through untouched.
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, *, width: str = "1.0", num_classes: int = 1000):
        super().__init__()
        stem_channels, *stage_channels, last_channels = _STAGE_CHANNELS[width]
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, stem_channels, 3, 2, 1, bias=False), nn.BatchNorm2d(stem_channels), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = stem_channels
        stages: list[nn.Module] = []
        for out_channels, repeats in zip(stage_channels, _STAGE_REPEATS):
            units = [_InvertedResidual(in_channels, out_channels, 2)]
            units += [_InvertedResidual(out_channels, out_channels, 1) for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*units))
            in_channels = out_channels
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = nn.Sequential(
            nn.Conv2d(in_channels, last_channels, 1, bias=False), nn.BatchNorm2d(last_channels), nn.ReLU(inplace=True)
        )
        self.fc = nn.Linear(last_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x)
        x = x.mean([2, 3])  # global pool as a tensor method, as in torchvision
        return self.fc(x)


def shufflenet_v2(*, width: str = "1.0", num_classes: int = 1000) -> ShuffleNetV2:
    return ShuffleNetV2(width=width, num_classes=num_classes)


register_family("shufflenet_v2", shufflenet_v2, [
    (f"shufflenet_v2_x{width.replace('.', '_')}", f"ShuffleNet V2 {width}x", {"width": width})
    for width in _STAGE_CHANNELS
])
