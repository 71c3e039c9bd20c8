"""Xception (Chollet 2017), the architecture of timm's ``legacy_xception`` (the paper's Figure 5).

Entry flow, 8 identical middle-flow blocks, exit flow; every separable conv is a depthwise 3x3 followed by
a pointwise 1x1, with no activation in between (the paper found one hurts). 22,855,952 parameters, the
count of the paper's Table 3 (Keras reports 22,910,480 because it adds the BatchNorm running statistics).
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._registry import register_model

# (in, out, separable convs, stride, start with ReLU, grow first): entry flow, middle flow, exit flow.
_BLOCKS = (
    (64, 128, 2, 2, False, True),  # the stem's ReLU already ran: no leading ReLU
    (128, 256, 2, 2, True, True),
    (256, 728, 2, 2, True, True),
    *((728, 728, 3, 1, True, True),) * 8,
    (728, 1024, 2, 2, True, False),  # exit flow: widen on the last separable conv
)


class _SeparableConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class _Block(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, reps: int, stride: int, start_with_relu: bool, grow_first: bool
    ):
        super().__init__()
        if out_channels != in_channels or stride != 1:
            self.skip = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(out_channels)
        else:
            self.skip = None
        layers: list[nn.Module] = []
        for i in range(reps):
            if grow_first:
                conv_in, conv_out = (in_channels if i == 0 else out_channels), out_channels
            else:
                conv_in, conv_out = in_channels, (out_channels if i == reps - 1 else in_channels)
            # Not in place: the block input is still needed by the shortcut.
            layers += [nn.ReLU(inplace=i > 0), _SeparableConv2d(conv_in, conv_out), nn.BatchNorm2d(conv_out)]
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + shortcut


class Xception(nn.Module):
    def __init__(self, *, num_classes: int = 1000):
        super().__init__()
        # Unpadded stem convs: 299 -> 149 -> 147, as in the paper.
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.act2 = nn.ReLU(inplace=True)
        self.blocks = nn.Sequential(*(_Block(*config) for config in _BLOCKS))
        self.conv3 = _SeparableConv2d(1024, 1536)
        self.bn3 = nn.BatchNorm2d(1536)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = _SeparableConv2d(1536, 2048)
        self.bn4 = nn.BatchNorm2d(2048)
        self.act4 = nn.ReLU(inplace=True)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        x = self.blocks(x)
        x = self.act3(self.bn3(self.conv3(x)))
        x = self.act4(self.bn4(self.conv4(x)))
        x = torch.flatten(self.global_pool(x), 1)
        return self.fc(x)


def xception(*, num_classes: int = 1000) -> Xception:
    return Xception(num_classes=num_classes)


register_model(
    "xception", family="xception", builder=xception, input_size=(1, 3, 299, 299), description="Xception (299x299)"
)
