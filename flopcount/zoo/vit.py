"""Vision Transformer ViT-B/16 (Dosovitskiy et al. 2021), the architecture of torchvision's ``vit_b_16``.

Not a lightweight CNN: the zoo's transformer baseline, where attention must be counted. Hook-only
tools miss it (thop, torchinfo), and torch's FlopCounterMode misses the attention products when
nn.MultiheadAttention takes its fused path (eval under no_grad) or CPU SDPA kernels.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.zoo._registry import register_model


class _EncoderBlock(nn.Module):
    def __init__(self, hidden: int, heads: int, mlp: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(hidden, mlp), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp, hidden),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    def __init__(self, *, image_size: int = 224, patch_size: int = 16, layers: int = 12, heads: int = 12,
                 hidden: int = 768, mlp: int = 3072, dropout: float = 0.0, num_classes: int = 1000):
        super().__init__()
        self.patch_size = patch_size
        self.conv_proj = nn.Conv2d(3, hidden, patch_size, patch_size)
        tokens = (image_size // patch_size) ** 2 + 1  # patches and the class token
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, hidden).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(*[_EncoderBlock(hidden, heads, mlp, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(hidden, eps=1e-6)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)  # (N, patches, hidden)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.layers(self.dropout(x + self.pos_embedding))
        return self.head(self.ln(x)[:, 0])


def vit_b_16(*, image_size: int = 224, num_classes: int = 1000) -> VisionTransformer:
    return VisionTransformer(image_size=image_size, num_classes=num_classes)


register_model("vit_b_16", family="vit", builder=vit_b_16, description="ViT-B/16 (transformer baseline)")
