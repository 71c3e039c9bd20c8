"""`flopcount guidelines`: the G1-G4 tables and their JSON through the command line."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from flopcount.cli import app
from flopcount.guidelines import g1_bound

runner = CliRunner()


def test_cli_guidelines_shufflenet_v1_g8_prints_checkable_numbers():
    result = runner.invoke(app, ["guidelines", "shufflenet_v1_g8", "--width", "220"])
    assert result.exit_code == 0, result.output
    for heading in ("G1:", "G2:", "G3 per block", "G4 element-wise", "Summary"):
        assert heading in result.output
    # a stride-1 unit's compress conv, 384 -> 96 with g = 8 on 28x28 (A = 784):
    # MAC = 784 * 480 + 384 * 96 / 8 = 380,928; bound = 2 sqrt(8 * 784 * 3,612,672) + 4,608 = 305,664
    assert "380,928" in result.output and "305,664" in result.output
    assert math.isclose(g1_bound(784, 3_612_672, 8), 305_664)


def test_cli_guidelines_unknown_model_exits_2():
    result = runner.invoke(app, ["guidelines", "no_such_model"])
    assert result.exit_code == 2


def test_cli_guidelines_json_has_every_finding_with_checkable_numbers():
    result = runner.invoke(app, ["guidelines", "shufflenet_v1_g8", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [compress] = [f for f in data["g1"] if f["name"] == "stages.0.1.compress_conv1"]
    # A = 1*28*28 = 784, c1 = 384, c2 = 96, g = 8: MAC = 784 * (384 + 96) + 384 * 96 / 8 = 380,928
    assert (compress["c1"], compress["c2"], compress["groups"], compress["mac"]) == (384, 96, 8, 380_928)
    # bound 2 sqrt(8 * 784 * 3,612,672) + 3,612,672 / 784 = 301,056 + 4,608 = 305,664
    assert compress["bound"] == pytest.approx(305_664)
    assert set(data["shares"]) == {"G1", "G2", "G3", "G4"}
    assert sum(f["excess"] for f in data["g1"]) == pytest.approx(data["totals"]["G1"])
