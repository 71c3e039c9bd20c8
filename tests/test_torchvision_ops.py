"""Formulas of torchvision.ops, registered once torchvision is imported.

Skipped where torchvision cannot import (the project's torch 2.13 has no matching wheel); `.ci/run` runs
them in their own environment with torch 2.14.1 and torchvision 0.29.1 (`.ci/torchvision_ops.sh`).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

torchvision = pytest.importorskip("torchvision", exc_type=ImportError)
ops = pytest.importorskip("torchvision.ops", exc_type=ImportError)

from flopcount import analyze  # noqa: E402

# three boxes (batch index, x1, y1, x2, y2) on one 16 x 16 feature map
BOXES = torch.tensor([[0, 0, 0, 8, 8], [0, 2, 2, 10, 10], [0, 0, 0, 16, 16]], dtype=torch.float32)


class Call(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def only_op(report, op_name):
    [record] = [r for r in report.records if op_name in r.op]
    return record


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_roi_align_with_a_fixed_sampling_ratio(device):
    model = Call(lambda x: ops.roi_align(x, BOXES.to(x.device), output_size=7, sampling_ratio=2))
    report = analyze(model, inputs=(torch.randn(1, 8, 16, 16),), device=device)
    # 3 boxes x 8 channels x 7 x 7 outputs, each 2 x 2 bilinear samples of 4 multiply-adds: 3*8*49*16 = 18,816
    assert only_op(report, "roi_align").flops == 18_816
    assert report.complete


def test_adaptive_roi_align_and_nms_and_roi_pool_are_uncounted():
    def heads(x):
        pooled = ops.roi_align(x, BOXES, output_size=7, sampling_ratio=-1)  # samples from each box's size
        kept = ops.nms(BOXES[:, 1:], torch.tensor([0.9, 0.8, 0.7]), 0.5)
        return pooled, kept, ops.roi_pool(x, BOXES, output_size=7)

    report = analyze(Call(heads), inputs=(torch.randn(1, 8, 16, 16),), device="cpu")
    assert not report.complete
    assert dict(report.uncounted) == {"roi_align": 1, "nms": 1, "roi_pool": 1}


def test_ps_roi_align():
    model = Call(lambda x: ops.ps_roi_align(x, BOXES, output_size=3, sampling_ratio=2))
    report = analyze(model, inputs=(torch.randn(1, 18, 16, 16),), device="cpu")
    # 18 channels = 2 x 3 x 3 bins -> output 3 x 2 x 3 x 3 = 54 elements, 2*2 samples of 4: 54*16 = 864
    assert only_op(report, "ps_roi_align").flops == 864


def test_deform_conv2d():
    model = Call(ops.DeformConv2d(4, 6, 3, padding=1))  # a child module without a formula: its op counts
    report = analyze(model, inputs=(torch.randn(1, 4, 8, 8), torch.zeros(1, 2 * 9, 8, 8)), device="cpu")
    # conv 6*8*8 outputs x 4 x 3*3 = 13,824; sampling 4 channels x 9 taps x 8*8 positions x 4 = 9,216
    assert only_op(report, "deform_conv2d").flops == 13_824 + 9_216
