"""AlexNet (Krizhevsky et al. 2012), the one-tower architecture of torchvision's ``alexnet``.

torchvision follows Krizhevsky's "One weird trick" variant (64/192 channels in the first two convs, no
grouped convs), not the paper's two-GPU network: 61.1M parameters against the paper's "60 million".
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._registry import register_model


class AlexNet(nn.Module):
    def __init__(self, *, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        # 6x6 whatever the input: the classifier's 9216 inputs (and its 58.6M params) stay fixed.
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(*, num_classes: int = 1000) -> AlexNet:
    return AlexNet(num_classes=num_classes)


register_model("alexnet", family="alexnet", builder=alexnet, description="AlexNet (one-tower)")
