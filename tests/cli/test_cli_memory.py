"""`flopcount memory`: formats, the plot, and options that only make sense with --train."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()
TINY = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("memory") / "tiny_memory.py"
    path.write_text(TINY)
    return f"{path}:build"


def test_csv_rows_mark_the_peak(tiny):
    result = runner.invoke(app, ["memory", tiny, "-i", "1x3x16x16", "-f", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # each output 8*16*16*4 = 8,192 B; the ReLU's input and output live together: 16,384 B, the first peak
    assert [r["peak_during_bytes"] for r in rows] == ["8192", "16384", "16384"]
    assert [r["peak"] for r in rows] == ["False", "True", "False"]


def test_markdown_and_train_columns(tiny):
    result = runner.invoke(app, ["memory", tiny, "-i", "1x3x16x16", "--train", "--optimizer", "sgd", "-f", "markdown"])
    assert result.exit_code == 0, result.output
    # the step peaks in backward, so no forward row is marked; the ReLU's output (8*16*16*4 = 8 KiB) is saved
    assert "(in backward)" in result.stdout and "**peak**" not in result.stdout
    assert "| 1 | ReLU | 8.00 KiB | 8.00 KiB | 16.00 KiB | 8.00 KiB |" in result.stdout
    # the first conv's weight gradient: 3*3*3*8*16*16 = 55,296 multiply-adds
    assert "| 0 | Conv2d | 8.00 KiB | 8.00 KiB | 8.00 KiB | 0 B | 0 | 55.30K |" in result.stdout


def test_optimizer_without_train_is_a_usage_error(tiny):
    result = runner.invoke(app, ["memory", tiny, "-i", "1x3x16x16", "--amp", "bf16"])
    assert result.exit_code == 2 and "add --train" in result.output


def test_plot_writes_a_png(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "live.png"
    result = runner.invoke(app, ["memory", tiny, "-i", "1x3x16x16", "--plot", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
