"""`flopcount analyze`: counts, formats, selections and errors through the command line."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import pytest
from typer.testing import CliRunner

from flopcount.cli import app
from flopcount.zoo import list_models
from flopcount.zoo.references import load_references

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_analyze_mobilenet_v2_json_reports_reference_numbers():
    result = invoke("analyze", "mobilenet_v2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # torchvision mobilenet_v2: 3,504,872 params; FlopCounterMode counts 601,548,544 FLOPs = 2 x 300,774,272
    assert data["totals"]["params"] == 3_504_872
    assert data["totals"]["paper_flops"] == 300_774_272
    assert data["complete"] is True
    assert data["device"] == "meta"
    # the functional pool in MobileNetV2.forward is counted (a hook-only tool misses it): 1280 * 7 * 7
    pools = [r for r in data["records"] if r["op"] == "adaptive_avg_pool2d"]
    assert [(p["path"], p["flops"]) for p in pools] == [("", 1280 * 7 * 7)]


def test_flops_per_mac_two_doubles_flops_only():
    data = json.loads(invoke("analyze", "mobilenet_v2", "--format", "json", "--flops-per-mac", "2").output)
    assert data["totals"]["paper_flops"] == 2 * 300_774_272
    assert data["totals"]["params"] == 3_504_872


def test_table_output_has_layers_and_totals():
    result = invoke("analyze", "mobilenet_v2", "--width", "200")
    assert result.exit_code == 0
    assert "features.0.0" in result.output and "Conv2d" in result.output
    assert "1x3x224x224 → 1x32x112x112" in result.output
    assert "300,774,272" in result.output


def test_csv_depth_sort_top():
    result = invoke("analyze", "mobilenet_v2", "--format", "csv", "--depth", "2", "--sort", "flops", "--top", "3")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 3
    flops = [int(r["flops"]) for r in rows]
    assert flops == sorted(flops, reverse=True)
    assert all(r["name"].startswith("features.") for r in rows)


def test_depth_rollup_sums_to_total():
    data = list(csv.DictReader(io.StringIO(invoke("analyze", "mobilenet_v2", "--format", "csv", "--depth", "1").output)))
    assert sum(int(r["flops"]) for r in data) == 320_515_392  # the all-ops total
    assert sum(int(r["params"]) for r in data) == 3_504_872


def test_markdown_output():
    result = invoke("analyze", "mobilenet_v2", "--format", "markdown", "--depth", "1")
    assert result.output.splitlines()[2].startswith("| name | type |")


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["analyze", "mobilenet_v3"], 2, "unknown model 'mobilenet_v3'; did you mean"),
        (["analyze", "mobilenet_v2", "--input-size", "1x3xabc"], 2, "malformed input size '1x3xabc'"),
        (["analyze", "no/such/file.py:build", "--input-size", "1x3"], 2, "no such file: no/such/file.py"),
        (["analyze", "json:nothing_here", "--input-size", "1x3"], 2, "'json' has no callable named 'nothing_here'"),
        (["analyze", "no_such_package_xyz:f", "--input-size", "1x3"], 2, "cannot import module 'no_such_package_xyz'"),
        (["analyze", "mobilenet_v2", "--kwargs", "{bad"], 2, "--kwargs is not valid JSON"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args, code, message):
    result = invoke(*args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture
def user_models(tmp_path):
    path = tmp_path / "mymodels.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        def tiny(width=4):
            return nn.Sequential(nn.Conv2d(3, width, 3, bias=False), nn.ReLU())

        def raises():
            raise RuntimeError("weights missing")
    """))
    return path


def test_user_factory_with_kwargs(user_models):
    result = invoke("analyze", f"{user_models}:tiny", "--input-size", "1x3x10x10", "--kwargs", '{"width": 8}', "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["totals"]["paper_flops"] == 9 * 3 * 8 * 8 * 8  # 3x3, 3 -> 8 channels, 8x8 output
    assert data["device"] == "meta"  # user factories are built and analysed on meta by default


def test_user_factory_needs_input_size(user_models):
    result = invoke("analyze", f"{user_models}:tiny")
    assert result.exit_code == 2 and "give --input-size" in result.output


def test_factory_that_raises_and_forward_that_fails(user_models):
    result = invoke("analyze", f"{user_models}:raises", "--input-size", "1x3")
    assert result.exit_code == 1
    assert "building" in result.output and "RuntimeError: weights missing" in result.output
    result = invoke("analyze", f"{user_models}:tiny", "--input-size", "1x5x10x10")
    assert result.exit_code == 1
    assert "forward of" in result.output and "failed on input 1x5x10x10" in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(user_models):
    result = invoke("analyze", f"{user_models}:raises", "--input-size", "1x3", "--debug")
    assert result.exit_code == 1 and result.exception is not None


@pytest.mark.parametrize("name", list_models())
def test_analyze_works_for_every_bundled_model(name):
    result = invoke("analyze", name, "--format", "json")
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output)["totals"]
    reference = load_references()[name]
    assert (totals["params"], totals["paper_flops"]) == (reference["params"], reference["flops"])
