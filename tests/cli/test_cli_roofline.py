"""`flopcount roofline`: the table, the chart and the errors through the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_cli_roofline_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "roofline.png"
    result = runner.invoke(app, ["roofline", "mobilenet_v2", "--profile", "h100", "--top", "5", "--plot", str(out),
                                 "--width", "200"])
    assert result.exit_code == 0, result.output
    assert "ridge 19.97 FLOP/byte" in result.output and "memory" in result.output
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_cli_roofline_errors_exit_2():
    assert runner.invoke(app, ["roofline", "mobilenet_v2", "--profile", "nope"]).exit_code == 2
    assert runner.invoke(app, ["roofline"]).exit_code == 2
