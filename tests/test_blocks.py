"""Repeated blocks: identical numbered children fold into one block with its repeat count."""

from __future__ import annotations

import torch
from torch import nn

from flopcount import analyze
from flopcount.blocks import condensed_rows, counted_from_ops_line, find_repeated_blocks


class Block(nn.Module):
    def __init__(self, width: int, inner: int = 2):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.ReLU()
        self.inner = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(inner))

    def forward(self, x):
        x = self.act(self.fc(x))
        for layer in self.inner:
            x = layer(x)
        return x


class Stack(nn.Module):
    """4 identical blocks of width 8, then one of width 8 with 3 inner layers (a different block)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Block(8) for _ in range(4)] + [Block(8, inner=3)])
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def test_identical_children_fold_into_one_block_with_its_count():
    report = analyze(Stack(), (1, 8), device="meta")
    blocks = find_repeated_blocks(report)
    # layers.4 differs (3 inner layers) and stays in detail, where its 3 identical inner layers fold
    assert [(b.container, b.first, b.repeat) for b in blocks] == [("layers", "layers.0", 4),
                                                                  ("layers.4.inner", "layers.4.inner.0", 3)]
    block = blocks[0]
    # fc 8 x 8 = 64 + two inner 8 x 8 = 128 -> 192 multiply-adds, + 8 for the ReLU on 8 elements
    assert block.paper_flops == 192 and block.flops == 200
    # params 64 + 8 bias + 2 x 64 = 200
    assert block.params == 200
    assert block.members == ("layers.0", "layers.1", "layers.2", "layers.3")
    # the inner ModuleList of the folded block stays in detail: not a block of its own
    assert not any(b.container.startswith("layers.0.") for b in blocks)


def test_condensed_rows_keep_the_totals():
    report = analyze(Stack(), (1, 8), device="meta")
    rows = condensed_rows(report)
    # 4 records of layers.0 (fc, act, inner.0, inner.1), 3 of layers.4 (fc, act, inner.0 x3), 1 head:
    # 8 rows instead of 22
    assert len(report.records) == 4 * 4 + 5 + 1
    assert len(rows) == 8
    assert sum(r.record.flops * r.repeat for r in rows) == report.totals.flops
    # layers: 4 x 192 + (64 + 3 x 64) = 1,024; head 8 x 2 = 16
    assert report.totals.paper_flops == 4 * 192 + 256 + 16
    assert sum(r.record.flops * r.repeat for r in rows if r.record.is_paper) == 1_040
    assert {r.repeat for r in rows if r.block == "layers.0"} == {4}
    assert [r.repeat for r in rows if r.block == "layers.4.inner.0"] == [3]
    assert [r.record.path for r in rows if r.block is None] == ["layers.4.fc", "layers.4.act", "head"]


def test_blocks_differing_in_shape_do_not_fold():
    model = nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 8))
    report = analyze(model, (1, 8), device="meta")
    # children 1 and 2 are both 16 -> 16; 0 and 3 differ from them and from each other
    assert [(b.first, b.repeat) for b in find_repeated_blocks(report)] == [("1", 2)]
    assert len(condensed_rows(report)) == 3


class Custom(nn.Module):
    def forward(self, x):
        return torch.relu(x) * 2


def test_counted_from_ops_is_one_line():
    model = nn.Sequential(Custom(), Custom(), nn.Linear(4, 4))
    report = analyze(model, (1, 4), device="meta")
    line = counted_from_ops_line(report)
    assert line is not None and "\n" not in line
    assert "2 modules" in line and "Custom x2" in line
    assert counted_from_ops_line(analyze(nn.Linear(4, 4), (1, 4), device="meta")) is None
