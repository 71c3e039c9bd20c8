"""SqueezeNet (Iandola et al. 2016), the architecture of torchvision's ``squeezenet1_0`` / ``squeezenet1_1``.

Also the paper's "simple bypass" variant (section 6): identity shortcuts around the fire modules whose
input and output widths agree. The shortcuts add no parameters and no multiply-adds, only element-wise
adds (and their memory traffic), which is exactly what a FLOP-only comparison cannot see.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._registry import register_family

# A fire module is (squeeze, expand 1x1, expand 3x3) channels; "M" is a 3x3 stride-2 max pool.
# Version 1.1 moves the pools earlier and uses a 3x3 stem: same accuracy, 2.4x fewer multiply-adds.
_CONFIGS = {
    "1_0": {
        "stem": (96, 7),
        "layers": (
            "M", (16, 64, 64), (16, 64, 64), (32, 128, 128),
            "M", (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256),
            "M", (64, 256, 256),
        ),
    },
    "1_1": {
        "stem": (64, 3),
        "layers": (
            "M", (16, 64, 64), (16, 64, 64),
            "M", (32, 128, 128), (32, 128, 128),
            "M", (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256),
        ),
    },
}


class _Fire(nn.Module):
    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int, *, bypass: bool = False):
        super().__init__()
        out_channels = expand1x1 + expand3x3
        if bypass and in_channels != out_channels:
            raise ValueError(f"a simple bypass needs equal widths, got {in_channels} -> {out_channels}")
        self.bypass = bypass
        self.squeeze = nn.Conv2d(in_channels, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        out = torch.cat([self.expand1x1_activation(self.expand1x1(s)), self.expand3x3_activation(self.expand3x3(s))], 1)
        # The paper's bypass adds the fire module's input after its (ReLU'd) concatenated output.
        return out + x if self.bypass else out


class SqueezeNet(nn.Module):
    def __init__(self, *, version: str = "1_0", bypass: bool = False, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        config = _CONFIGS[version]
        stem_channels, stem_kernel = config["stem"]
        layers: list[nn.Module] = [nn.Conv2d(3, stem_channels, stem_kernel, stride=2), nn.ReLU(inplace=True)]
        in_channels = stem_channels
        fire_index = 1  # the paper numbers the fire modules from fire2
        for item in config["layers"]:
            if item == "M":
                # ceil_mode keeps the odd sizes of the Caffe original (e.g. 55 -> 27 -> 13 at 224).
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
                continue
            fire_index += 1
            # Simple bypass: around fire3, fire5, fire7 and fire9, the modules with equal widths.
            layers.append(_Fire(in_channels, *item, bypass=bypass and fire_index % 2 == 1))
            in_channels = item[1] + item[2]
        self.features = nn.Sequential(*layers)
        # No fully connected layer: a 1x1 conv to the classes, then global average pooling.
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Conv2d(in_channels, num_classes, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.classifier(self.features(x))
        return torch.flatten(x, 1)


def squeezenet(*, version: str = "1_0", bypass: bool = False, num_classes: int = 1000) -> SqueezeNet:
    return SqueezeNet(version=version, bypass=bypass, num_classes=num_classes)


register_family("squeezenet", squeezenet, [
    ("squeezenet1_0", "SqueezeNet 1.0", {"version": "1_0"}),
    ("squeezenet1_1", "SqueezeNet 1.1", {"version": "1_1"}),
    ("squeezenet1_0_bypass", "SqueezeNet 1.0 with the paper's simple bypass", {"version": "1_0", "bypass": True}),
])
