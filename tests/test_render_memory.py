"""Renderers of the memory profile: the peak row is marked, JSON keys, the PNG plot."""

import json

import pytest
from rich.console import Console
from torch import nn

import flopcount
from flopcount.errors import UsageError
from flopcount.render.memory import PEAK_MARK, memory_json, memory_summary, memory_table, plot_live_bytes


def chain_report(**kwargs):
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16))
    return flopcount.analyze(model, (2, 16), device="meta", **kwargs)


def render(table):
    console = Console(width=160, record=True)
    console.print(table)
    return console.export_text()


def test_table_marks_the_peak_row():
    report = chain_report(memory=True)
    lines = [line for line in render(memory_table(report)).splitlines() if PEAK_MARK in line]
    # Peak 2 x (2x16 float32) = 256 B, first reached during the ReLU (record 1).
    assert len(lines) == 1 and "ReLU" in lines[0]
    assert "256 B" in lines[0]


def test_json_carries_peak_keys():
    data = json.loads(json.dumps(memory_json(chain_report(memory=True))))
    # Params: 2 x (16*16 + 16) = 544 floats = 2176 bytes; peak activations 256 bytes.
    assert data["peak_activation_bytes"] == 256
    assert data["peak_memory_bytes"] == 256 + 2176
    assert [r["live_after_bytes"] for r in data["records"]] == [128, 128, 128]


def test_training_json_and_summary():
    report = chain_report(train=True, optimizer="sgd")
    data = memory_json(report)
    assert data["train_flops"] == data["training"]["forward_flops"] + data["backward_flops"]
    labels = [label for label, _ in memory_summary(report)]
    assert "peak of the training step" in labels and "backward FLOPs" in labels


def test_png_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = plot_live_bytes(chain_report(memory=True), tmp_path / "live.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_memory_is_a_usage_error():
    with pytest.raises(UsageError, match="memory=True"):
        memory_table(chain_report())
