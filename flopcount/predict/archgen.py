"""Seeded generator of architectures: MobileNet-, ShuffleNet (V1, V2)-, ResNet- and VGG-style nets, and (for
calibration only) small vision transformers.

Each architecture samples its widths, depths, kernel sizes, groups, expansion ratios, activations and
input resolution from a ``random.Random(seed)``: the same seed always builds the same network. Used
twice, with disjoint seeds: calibration fits its model-level terms on a few (``CALIBRATION_SEEDS``), and
``benchmarks/predict_eval.py`` evaluates on others (``EVALUATION_SEEDS``), so the evaluation never scores
a network whose whole-model timing calibration has seen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from flopcount.zoo._layers import channel_shuffle

FAMILIES = ("mobilenet", "shufflenet_v2", "shufflenet_v1", "resnet", "vgg")
RESOLUTIONS = (96, 128, 160, 192, 224)
CALIBRATION_SEEDS = range(1_000_000, 1_000_000 + 10_000)
# Calibration networks include small vision transformers: fitted on CNNs alone, the cold-weight term charged
# ViT-style models (few large linear layers, no conv) ~10% too much (DeiT-tiny, DINOv2-small, 2026-11-29).
CALIBRATION_FAMILIES = FAMILIES + ("vit",)
EVALUATION_SEEDS = range(0, 10_000)


@dataclass(frozen=True)
class Arch:
    name: str
    family: str
    seed: int
    resolution: int
    build: Callable[[], nn.Module]

    @property
    def input_size(self) -> tuple[int, int, int, int]:
        return (1, 3, self.resolution, self.resolution)


def _round8(x: float) -> int:
    return max(8, int(x + 4) // 8 * 8)


def _conv_bn(cin: int, cout: int, k: int, s: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return layers


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, s: int, act: type[nn.Module], se: bool):
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += _conv_bn(cin, hidden, 1, act=act)
        layers += _conv_bn(hidden, hidden, k, s, groups=hidden, act=act)
        if se:
            layers.append(_SqueezeExcite(hidden, _round8(hidden / 4)))
        layers += _conv_bn(hidden, cout, 1, act=None)
        self.block = nn.Sequential(*layers)
        self.residual = s == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


def _mobilenet(rng: random.Random) -> nn.Module:
    width = rng.choice((0.35, 0.5, 0.75, 1.0, 1.25))
    act = rng.choice((nn.ReLU6, nn.ReLU6, nn.Hardswish, nn.ReLU))
    se_share = rng.choice((0.0, 0.0, 0.5))
    channels = _round8(32 * width)
    layers: list[nn.Module] = _conv_bn(3, channels, 3, 2, act=act)
    for base, stride in ((16, 1), (24, 2), (40, 2), (80, 2), (112, 1), (192, 2), (320, 1)):
        cout = _round8(base * width * rng.uniform(0.75, 1.3))
        repeats = rng.randint(1, 4) if base not in (16, 320) else 1
        expand = 1 if base == 16 else rng.choice((3, 4, 6))
        k = rng.choice((3, 3, 5, 7))
        for i in range(repeats):
            layers.append(_InvertedResidual(channels, cout, expand, k, stride if i == 0 else 1, act,
                                            rng.random() < se_share))
            channels = cout
    last = _round8(rng.choice((640, 960, 1280)) * max(width, 0.75))
    layers += _conv_bn(channels, last, 1, act=act)
    return nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(last, 1000))


class _ShuffleV2Unit(nn.Module):
    def __init__(self, cin: int, cout: int, s: int, k: int):
        super().__init__()
        self.stride = s
        half = cout // 2
        if s > 1:
            self.branch1 = nn.Sequential(*_conv_bn(cin, cin, k, s, groups=cin, act=None), *_conv_bn(cin, half, 1))
        self.branch2 = nn.Sequential(*_conv_bn(cin if s > 1 else half, half, 1),
                                     *_conv_bn(half, half, k, s, groups=half, act=None), *_conv_bn(half, half, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


def _shufflenet_v2(rng: random.Random) -> nn.Module:
    base = rng.choice((48, 96, 116, 176, 244)) * rng.uniform(0.8, 1.2)
    k = rng.choice((3, 3, 5))
    layers: list[nn.Module] = [*_conv_bn(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1)]
    channels = 24
    for stage in range(3):
        cout = 2 * max(8, int(base * 2**stage) // 2 // 4 * 4)
        for i in range(rng.randint(2, 8) if stage == 1 else rng.randint(1, 4)):
            layers.append(_ShuffleV2Unit(channels, cout, 2 if i == 0 else 1, k))
            channels = cout
    last = rng.choice((512, 1024))
    layers += _conv_bn(channels, last, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(last, 1000))


class _ShuffleV1Unit(nn.Module):
    def __init__(self, cin: int, cout: int, s: int, groups: int, first: bool):
        super().__init__()
        self.stride = s
        out = cout - cin if s > 1 else cout
        mid = max(groups, out // 4 // groups * groups)
        g1 = 1 if first else groups
        self.groups = g1
        self.compress = nn.Sequential(*_conv_bn(cin, mid, 1, groups=g1))
        self.depthwise = nn.Sequential(*_conv_bn(mid, mid, 3, s, groups=mid, act=None))
        self.expand = nn.Sequential(*_conv_bn(mid, out, 1, groups=groups, act=None))
        self.pool = nn.AvgPool2d(3, 2, 1) if s > 1 else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.compress(x)
        if self.groups > 1:
            y = channel_shuffle(y, self.groups)
        y = self.expand(self.depthwise(y))
        if self.pool is not None:
            return self.act(torch.cat((self.pool(x), y), dim=1))
        return self.act(x + y)


def _shufflenet_v1(rng: random.Random) -> nn.Module:
    groups = rng.choice((1, 2, 3, 4, 8))
    base = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}[groups] * rng.choice((0.25, 0.5, 0.75, 1.0))
    channels = 24
    layers: list[nn.Module] = [*_conv_bn(3, channels, 3, 2), nn.MaxPool2d(3, 2, 1)]
    for stage in range(3):
        cout = max(4 * groups, int(base * 2**stage) // (4 * groups) * 4 * groups)
        for i in range(rng.randint(1, 4) if stage != 1 else rng.randint(2, 8)):
            layers.append(_ShuffleV1Unit(channels, cout, 2 if i == 0 else 1, groups, stage == 0 and i == 0))
            channels = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1000))


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, s: int, bottleneck: bool, k: int):
        super().__init__()
        if bottleneck:
            mid = max(8, cout // 4)
            self.body = nn.Sequential(*_conv_bn(cin, mid, 1), *_conv_bn(mid, mid, k, s), *_conv_bn(mid, cout, 1, act=None))
        else:
            self.body = nn.Sequential(*_conv_bn(cin, cout, k, s), *_conv_bn(cout, cout, k, act=None))
        self.down = nn.Sequential(*_conv_bn(cin, cout, 1, s, act=None)) if s > 1 or cin != cout else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.down(x) if self.down is not None else x
        out = self.body(x)
        out += identity
        return self.act(out)


def _resnet(rng: random.Random) -> nn.Module:
    bottleneck = rng.random() < 0.4
    width = _round8(rng.choice((16, 24, 32, 48, 64)))
    k = rng.choice((3, 3, 3, 5))
    stem = rng.choice((3, 7))
    layers: list[nn.Module] = [*_conv_bn(3, width, stem, 2), nn.MaxPool2d(3, 2, 1)]
    channels = width
    for stage in range(4):
        cout = width * 2**stage * (4 if bottleneck else 1)
        for i in range(rng.randint(1, 3)):
            layers.append(_ResBlock(channels, cout, 2 if i == 0 and stage > 0 else 1, bottleneck, k))
            channels = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1000))


def _vgg(rng: random.Random) -> nn.Module:
    width = rng.choice((8, 16, 16, 24, 32))
    batch_norm = rng.random() < 0.5
    layers: list[nn.Module] = []
    channels = 3
    for stage in range(5):
        cout = min(width * 2**stage, width * 8)
        for _ in range(rng.randint(1, 3)):
            layers += _conv_bn(channels, cout, 3) if batch_norm else [nn.Conv2d(channels, cout, 3, 1, 1), nn.ReLU(inplace=True)]
            channels = cout
        layers.append(nn.MaxPool2d(2, 2))
    hidden = rng.choice((256, 512, 1024, 2048))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(channels * 49, hidden),
                         nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(hidden, 1000))


class _Attention(nn.Module):
    """Multi-head self-attention written out (as transformers' eager ViT) or through F.scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int, fused: bool):
        super().__init__()
        self.heads, self.fused = heads, fused
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused:
            out = nn.functional.scaled_dot_product_attention(q, k, v)
        else:
            out = self.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class _TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, fused: bool):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), _Attention(dim, heads, fused)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _VisionTransformer(nn.Module):
    def __init__(self, patch: int, dim: int, depth: int, heads: int, mlp_ratio: int, fused: bool):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.Sequential(*[_TransformerBlock(dim, heads, mlp_ratio, fused) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls.expand(x.shape[0], -1, -1), x), dim=1)
        return self.head(self.norm(self.blocks(x))[:, 0])


def _vit(rng: random.Random) -> nn.Module:
    heads = rng.choice((2, 3, 4, 6))
    return _VisionTransformer(rng.choice((8, 14, 16, 16, 32)), heads * rng.choice((32, 48, 64)), rng.randint(2, 12),
                              heads, rng.choice((2, 3, 4)), fused=rng.random() < 0.5)


_BUILDERS = {"mobilenet": _mobilenet, "shufflenet_v2": _shufflenet_v2, "shufflenet_v1": _shufflenet_v1,
             "resnet": _resnet, "vgg": _vgg, "vit": _vit}


def generate(seed: int) -> Arch:
    """The architecture of ``seed``: its family cycles with the seed, everything else is drawn from it."""
    families = CALIBRATION_FAMILIES if seed in CALIBRATION_SEEDS else FAMILIES
    family = families[seed % len(families)]
    rng = random.Random(seed)
    resolution = rng.choice(RESOLUTIONS)
    state = rng.getstate()

    def build() -> nn.Module:
        local = random.Random()
        local.setstate(state)
        return _BUILDERS[family](local).eval()

    return Arch(f"{family}-{seed}", family, seed, resolution, build)


def seed_of(name: str) -> int:
    """The seed of a generated network from its name (``family-seed``, as ``generate`` names it)."""
    return int(name.rsplit("-", 1)[1])


def generate_many(count: int, seeds: range = EVALUATION_SEEDS) -> list[Arch]:
    """The first ``count`` architectures of a seed range."""
    return [generate(seeds[i]) for i in range(count)]
