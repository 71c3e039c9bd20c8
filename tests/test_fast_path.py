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
