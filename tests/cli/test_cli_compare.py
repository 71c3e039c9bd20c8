"""`flopcount compare`: exit status, JSON and Markdown through the command line."""

from __future__ import annotations

import json
import textwrap

from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()


def test_cli_mobilenet_v2_exits_0_with_an_exact_match():
    result = runner.invoke(app, ["compare", "mobilenet_v2", "--width", "250"])
    assert result.exit_code == 0, result.output
    # torchvision's mobilenet_v2 at 224x224: 300,774,272 conv + linear multiply-adds, counted three ways
    paper_line = next(line for line in result.stdout.splitlines() if "paper total (conv" in line)
    assert paper_line.count("300,774,272") == 3
    assert "OK: all 53 conv/linear/matmul rows agree exactly with fvcore and FlopCounterMode" in result.stdout
    assert "ran on CPU with real tensors" in result.stdout


def test_cli_json_and_markdown():
    result = runner.invoke(app, ["compare", "mobilenet_v2", "-i", "1x3x64x64", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["mismatches"] == []
    paper = data["totals"]["paper"]
    assert paper["flopcount"] == paper["fvcore"] == paper["FlopCounterMode"]
    (pool,) = [r for r in data["rows"] if r["family"] == "pool"]
    # 1280 channels at 2x2 after five stride-2 stages of 64x64: one per input element
    assert (pool["flopcount"], pool["fvcore"], pool["FlopCounterMode"]) == (1280 * 2 * 2, 1280 * 2 * 2, 0)

    result = runner.invoke(app, ["compare", "mobilenet_v2", "-i", "1x3x64x64", "--format", "markdown",
                                 "--only-differences"])
    assert result.exit_code == 0, result.output
    assert "| layer | op | family | flopcount | fvcore | FCM/2 | Δ fvcore | Δ FCM | status | reason |" in result.stdout
    assert "| match |" not in result.stdout  # only the rows that differ
    assert "fvcore counts batch_norm; paper total does not" in result.stdout


def test_cli_exits_1_and_lists_the_layers_on_a_model_built_to_disagree(tmp_path):
    path = tmp_path / "disagree.py"
    path.write_text(textwrap.dedent("""
        from torch import nn

        class Pair(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 1)
                self.pair = nn.Bilinear(4, 4, 2)

            def forward(self, x):
                y = self.conv(x).mean((2, 3))
                return self.pair(y, y)

        def build():
            return Pair()
    """))
    result = runner.invoke(app, ["compare", f"{path}:build", "-i", "1x3x4x4"])
    assert result.exit_code == 1, result.output
    # nn.Bilinear: 2 outputs x (4 x 4 + 4) = 40 multiply-adds that neither reference has a formula for
    assert "pair (linear)" in result.stderr
    assert "conv (conv)" not in result.stderr
    assert "MISMATCH: 1 of 2 conv/linear/matmul rows" in result.stdout
    assert "fvcore has no handle for aten::bilinear" in result.stdout


def test_cli_usage_errors_exit_2():
    assert runner.invoke(app, ["compare", "mobilenet_v2", "--tolerance", "-1"]).exit_code == 2
    assert runner.invoke(app, ["compare", "no_such_model"]).exit_code == 2
    assert runner.invoke(app, ["compare", "mobilenet_v2", "-i", "1x3xabc"]).exit_code == 2
