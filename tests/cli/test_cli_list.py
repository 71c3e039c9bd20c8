"""`flopcount list`: every model, its counts, and its gaps to the recorded references."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flopcount.cli import app
from flopcount.zoo import list_models

runner = CliRunner()


def test_list_json_covers_the_zoo_with_zero_gap_to_implementations():
    result = runner.invoke(app, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["models"]
    assert [r["name"] for r in rows] == list_models()
    for row in rows:
        assert row["params_vs_impl"] == 0.0 and row["flops_vs_impl"] == 0.0, row["name"]
        assert row["within_tolerance"] is True, row["name"]


def test_list_filters_by_pattern_and_family():
    rows = json.loads(runner.invoke(app, ["list", "mobilenet_v2*", "--format", "json"]).output)["models"]
    assert [r["name"] for r in rows] == ["mobilenet_v2", "mobilenet_v2_w1.4", "mobilenet_v2_w0.75", "mobilenet_v2_w0.5",
                                         "mobilenet_v2_w0.35"]
    rows = json.loads(runner.invoke(app, ["list", "--family", "shufflenet_v2", "--format", "json"]).output)["models"]
    assert len(rows) == 4


def test_list_markdown_is_a_table():
    lines = runner.invoke(app, ["list", "squeezenet*", "--format", "markdown"]).output.splitlines()
    assert lines[0].startswith("| model | input | params |")
    assert len(lines) == 2 + 3


def test_list_with_no_match_says_so():
    result = runner.invoke(app, ["list", "no_such_model*"])
    assert result.exit_code == 2
    assert "no bundled model matches 'no_such_model*'" in result.output
