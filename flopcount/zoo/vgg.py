"""VGG (Simonyan & Zisserman 2015), the architecture of torchvision's ``vgg16`` (configuration D)."""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._registry import register_model

# Conv widths of the paper's Table 1; "M" is a 2x2 stride-2 max pool.
_CONFIGS = {
    "16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


class VGG(nn.Module):
    def __init__(self, *, depth: str = "16", num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in _CONFIGS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_channels = item
        self.features = nn.Sequential(*layers)
        # 7x7 whatever the input, so the first FC keeps its 25088 inputs (103M of the 138M params).
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(*, depth: str = "16", num_classes: int = 1000) -> VGG:
    return VGG(depth=depth, num_classes=num_classes)


register_model("vgg16", family="vgg", builder=vgg, depth="16", description="VGG-16 (configuration D)")
