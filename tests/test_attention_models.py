"""ViT-B/16: attention counted where torch's FlopCounterMode does not see it."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from flopcount import analyze
from flopcount.zoo import get_model


def vit_b_16_flops(tokens: int, patches: int) -> tuple[int, int]:
    """(all conv + linear + attention multiply-adds, the attention products alone) of ViT-B/16."""
    hidden, mlp, layers = 768, 3072, 12
    conv_proj = patches * hidden * 3 * 16 * 16
    projections = 3 * tokens * hidden**2 + tokens * hidden**2  # Q, K, V and the output projection
    attention = 2 * tokens**2 * hidden  # Q K^T and attn V, summed over the 12 heads
    feed_forward = 2 * tokens * hidden * mlp
    head = hidden * 1000
    return conv_proj + layers * (projections + attention + feed_forward) + head, layers * attention


def test_vit_b_16_at_224_matches_the_hand_count_and_torchvision():
    with torch.device("meta"):
        model = get_model("vit_b_16")
    report = analyze(model, (1, 3, 224, 224))
    total, attention = vit_b_16_flops(tokens=197, patches=196)
    assert report.totals.paper_flops == total == 17_563_828_224  # torchvision's _ops: 17.564 GFLOPs
    assert attention == 12 * 2 * 197**2 * 768 == 715_327_488
    assert report.totals.params == 86_567_656  # torchvision's num_params for vit_b_16
    assert report.complete


def test_flop_counter_mode_misses_exactly_the_attention_products():
    torch.manual_seed(0)
    model = get_model("vit_b_16", image_size=32)  # 2x2 patches + the class token: 5 tokens, fast on CPU
    total, attention = vit_b_16_flops(tokens=5, patches=4)
    assert analyze(model, (1, 3, 32, 32)).totals.paper_flops == total

    model.train()  # no fused path: FlopCounterMode sees every projection, but not the CPU SDPA kernel
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() // 2 == total - attention

    model.eval()  # the fused nn.MultiheadAttention path hides the projections as well
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() // 2 < total - attention
    assert analyze(model, (1, 3, 32, 32)).totals.paper_flops == total  # ours does not change with mode
