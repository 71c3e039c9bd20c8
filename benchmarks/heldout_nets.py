"""Held-out networks for benchmarks/predict_eval.py: families the architecture generator never builds.

Calibration fits its model-level terms on generated MobileNet/ShuffleNet/ResNet/VGG-style networks, and
the generated evaluation networks come from the same generator: these are written independently of it,
in the style of EfficientNet (SiLU, squeeze-excite with a broadcast multiply, 5x5 depthwise convs),
DenseNet (a concatenation per layer over a growing tensor), GoogLeNet's Inception (four-branch blocks
joined by cat, a max-pool branch) and ResNeXt (32-group 3x3 convs), each at two widths or resolutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _SqueezeExcite(nn.Module):
    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, max(1, c // reduction), 1)
        self.fc2 = nn.Conv2d(max(1, c // reduction), c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(self.pool(x)))))


class _MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.expand = (nn.Sequential(nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.SiLU())
                       if expand != 1 else nn.Identity())
        self.depthwise = nn.Sequential(nn.Conv2d(hidden, hidden, k, stride, k // 2, groups=hidden, bias=False),
                                       nn.BatchNorm2d(hidden), nn.SiLU())
        self.se = _SqueezeExcite(hidden)
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return x + y if self.residual else y


def efficientnet(width: float = 1.0) -> nn.Module:
    stages = [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 3, 1, 5),
              (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]
    c = int(32 * width)
    layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.SiLU()]
    for expand, out, repeats, stride, k in stages:
        out = int(out * width)
        for i in range(repeats):
            layers.append(_MBConv(c, out, k, stride if i == 0 else 1, expand))
            c = out
    layers += [nn.Conv2d(c, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.SiLU(), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(inplace=True),
                                  nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def densenet(growth: int = 16, blocks: tuple[int, ...] = (4, 6, 8, 4)) -> nn.Module:
    c = 2 * growth
    layers: list[nn.Module] = [nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    for i, n in enumerate(blocks):
        for _ in range(n):
            layers.append(_DenseLayer(c, growth))
            c += growth
        if i < len(blocks) - 1:
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000)]
    return nn.Sequential(*layers)


class _Inception(nn.Module):
    def __init__(self, cin: int, a: int, b: int, c: int, d: int):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, a, 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(cin, b, 1), nn.ReLU(), nn.Conv2d(b, b, 3, 1, 1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(cin, c, 1), nn.ReLU(), nn.Conv2d(c, c, 5, 1, 2), nn.ReLU())
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, d, 1), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def inception(width: float = 1.0) -> nn.Module:
    def w(c: int) -> int:
        return max(8, int(c * width))

    blocks = [(w(32), w(48), w(8), w(16)), (w(48), w(64), w(16), w(24)), None, (w(64), w(96), w(16), w(32)),
              (w(96), w(128), w(24), w(32)), None, (w(128), w(160), w(32), w(64))]
    layers: list[nn.Module] = [nn.Conv2d(3, w(32), 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1), nn.Conv2d(w(32), w(96), 3, 1, 1),
                               nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    c = w(96)
    for block in blocks:
        if block is None:
            layers.append(nn.MaxPool2d(3, 2, 1))
            continue
        layers.append(_Inception(c, *block))
        c = sum(block)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000)]
    return nn.Sequential(*layers)


class _ResNeXtBlock(nn.Module):
    def __init__(self, cin: int, width: int, cout: int, stride: int, groups: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


def resnext(base: int = 64, depths: tuple[int, ...] = (1, 2, 2, 1)) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, base, 7, 2, 3, bias=False), nn.BatchNorm2d(base), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    c = base
    for i, n in enumerate(depths):
        width, out = 2 * base * 2**i, 4 * base * 2**i
        for j in range(n):
            layers.append(_ResNeXtBlock(c, width, out, 2 if j == 0 and i > 0 else 1))
            c = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000)]
    return nn.Sequential(*layers)


# name -> (builder, input resolution)
HELDOUT = {
    "efficientnet_b0": (lambda: efficientnet(1.0), 224),
    "efficientnet_w0.5_r160": (lambda: efficientnet(0.5), 160),
    "densenet_g16": (lambda: densenet(16), 224),
    "densenet_g12_r160": (lambda: densenet(12, (3, 6, 6, 3)), 160),
    "inception": (lambda: inception(1.0), 224),
    "inception_w0.5_r160": (lambda: inception(0.5), 160),
    "resnext_b32": (lambda: resnext(32), 224),
    "resnext_b64_r160": (lambda: resnext(64), 160),
}
