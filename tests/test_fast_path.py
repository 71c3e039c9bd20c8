"""The fast path (shape rules instead of torch's meta kernels) must count exactly as the slow path.

Every record of every zoo model is compared field by field: shapes, FLOPs, MAC, dataflow.
"""

from __future__ import annotations

import pytest
import torch

from flopcount import analyze
from flopcount.zoo import get_spec, list_models


@pytest.mark.parametrize("name", list_models())
def test_fast_path_records_equal_slow_path(name):
    spec = get_spec(name)
    with torch.device("meta"):
        model = spec.build().eval()
    fast = analyze(model, spec.input_size, fast=True)
    slow = analyze(model, spec.input_size, fast=False)
    assert len(fast.records) == len(slow.records)
    for a, b in zip(fast.records, slow.records):
        assert a.to_dict() == b.to_dict(), a.name
    assert fast.totals == slow.totals
    assert fast.complete, fast.uncounted


def test_fast_path_equals_slow_path_in_training_mode():
    # Training mode takes other branches: BN batch statistics, dropout producing new tensors.
    with torch.device("meta"):
        model = get_spec("mobilenet_v3_small").build().train()
    fast = analyze(model, (2, 3, 224, 224), fast=True)
    slow = analyze(model, (2, 3, 224, 224), fast=False)
    assert [r.to_dict() for r in fast.records] == [r.to_dict() for r in slow.records]


@pytest.mark.parametrize("conv, shape, expected", [
    # 224 / 16 = 14 patches a side: ViT/SigLIP's patch embedding, padding="valid" (reaches aten as padding [0])
    (torch.nn.Conv2d(3, 8, 16, 16, padding="valid"), (1, 3, 224, 224), (1, 8, 14, 14)),
    (torch.nn.Conv1d(3, 8, 5, padding="valid"), (1, 3, 20), (1, 8, 16)),  # 20 - 5 + 1 = 16
    (torch.nn.Conv3d(3, 8, 3, padding="same"), (1, 3, 6, 7, 8), (1, 8, 6, 7, 8)),
])
def test_string_padded_convs_keep_every_spatial_dim_in_the_aten_rules(conv, shape, expected):
    # Memory and training analysis run the aten-level shape rules: the conv rule zipped a one-value padding
    # with the spatial dims, read one dim only, and gave (1, 8, 14) for the first conv (SigLIP's analysis then
    # failed at the position embedding's add).
    model = torch.nn.Sequential(conv, torch.nn.ReLU())
    assert tuple(conv(torch.randn(*shape)).shape) == expected
    for report in (analyze(model, shape, memory=True), analyze(model, shape, train=True)):
        assert tuple(report.records[0].outputs[0].shape) == expected
