"""ShuffleNet V1 (Zhang et al. 2018), the architecture of pytorchcv's ``shufflenet_g*_w*``.

Group 1x1 convs with a channel shuffle between them. Counts match the paper's Table 1 within 1% at 1.0x.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._layers import channel_shuffle
from flopcount.zoo._registry import register_family

_STEM_CHANNELS = 24
_STAGE_REPEATS = (4, 8, 4)
# Output channels of stages 2-4 at 1.0x (paper, Table 1): the widths that keep ~140M multiply-adds.
_STAGE_CHANNELS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}


class _ShuffleUnit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, groups: int, *, downsample: bool, group_first: bool):
        super().__init__()
        self.groups = groups
        self.downsample = downsample
        mid_channels = out_channels // 4
        if downsample:
            # The shortcut (a 3x3 avg pool) is concatenated, so the branch only makes the new channels.
            out_channels -= in_channels
        # Stage 2's first 1x1 conv is not grouped: its 24 input channels are too few (paper, section 3.3).
        self.compress_conv1 = nn.Conv2d(in_channels, mid_channels, 1, groups=groups if group_first else 1, bias=False)
        self.compress_bn1 = nn.BatchNorm2d(mid_channels)
        self.dw_conv2 = nn.Conv2d(
            mid_channels, mid_channels, 3, stride=2 if downsample else 1, padding=1, groups=mid_channels, bias=False
        )
        self.dw_bn2 = nn.BatchNorm2d(mid_channels)
        self.expand_conv3 = nn.Conv2d(mid_channels, out_channels, 1, groups=groups, bias=False)
        self.expand_bn3 = nn.BatchNorm2d(out_channels)
        self.activ = nn.ReLU(inplace=True)
        if downsample:
            self.avgpool = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        x = self.activ(self.compress_bn1(self.compress_conv1(x)))
        if self.groups > 1:  # with one group the shuffle is the identity
            x = channel_shuffle(x, self.groups)
        x = self.dw_bn2(self.dw_conv2(x))  # no ReLU after the depthwise conv (paper, Figure 2)
        x = self.expand_bn3(self.expand_conv3(x))
        if self.downsample:
            x = torch.cat((x, self.avgpool(identity)), dim=1)
        else:
            x = x + identity
        return self.activ(x)


class ShuffleNetV1(nn.Module):
    def __init__(self, *, groups: int = 3, width_mult: float = 1.0, num_classes: int = 1000):
        super().__init__()
        # pytorchcv's width rule: truncate every width, the stem's included. The paper publishes no rule.
        stem_channels = int(_STEM_CHANNELS * width_mult)
        stage_channels = [int(c * width_mult) for c in _STAGE_CHANNELS[groups]]
        self.init_block = nn.Sequential(
            nn.Conv2d(3, stem_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        in_channels = stem_channels
        stages: list[nn.Module] = []
        for stage_index, (out_channels, repeats) in enumerate(zip(stage_channels, _STAGE_REPEATS)):
            units = []
            for unit_index in range(repeats):
                first = unit_index == 0
                group_first = not (first and stage_index == 0)
                units.append(_ShuffleUnit(in_channels, out_channels, groups, downsample=first, group_first=group_first))
                in_channels = out_channels
            stages.append(nn.Sequential(*units))
        self.stages = nn.Sequential(*stages)
        # pytorchcv pools with a fixed 7x7 window; adaptive pooling is the same at 224 and allows any input.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.output = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.init_block(x))
        x = torch.flatten(self.pool(x), 1)
        return self.output(x)


def shufflenet_v1(*, groups: int = 3, width_mult: float = 1.0, num_classes: int = 1000) -> ShuffleNetV1:
    return ShuffleNetV1(groups=groups, width_mult=width_mult, num_classes=num_classes)


# Narrower widths only for g=3, the paper's headline setting. Under the scaled-stem rule g=2, 4 and 8 do
# not build there: their groups do not divide the widths (g=2 at 0.5x: 100 / 4 = 25 channels in 2 groups).
# g=1 builds, but no reference count was recorded for it.
register_family("shufflenet_v1", shufflenet_v1, [
    *((f"shufflenet_v1_g{groups}", f"ShuffleNet V1 1.0x, g={groups}", {"groups": groups}) for groups in _STAGE_CHANNELS),
    *((f"shufflenet_v1_g3_w{width}", f"ShuffleNet V1 {width}x, g=3", {"groups": 3, "width_mult": width})
      for width in (0.5, 0.25)),
])
