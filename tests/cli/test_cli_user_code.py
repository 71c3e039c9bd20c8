"""The user's code inside the CLI: a sys.exit in a factory or forward fails loudly, and prints never reach stdout."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()
MODELS = """
import sys
from torch import nn

class ExitsInForward(nn.Module):
    def forward(self, x):
        sys.exit(0)

class Chatty(nn.Linear):
    def forward(self, x):
        print("hello from forward")
        return super().forward(x)

def exits():
    sys.exit(0)

def exits_in_forward():
    return ExitsInForward()

def chatty():
    print("hello from the factory")
    return Chatty(4, 3, bias=False)
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "user_code_models.py"
    path.write_text(MODELS)
    return path


@pytest.mark.parametrize("factory, when", [("exits", "building"), ("exits_in_forward", "running the forward of")])
def test_sys_exit_in_a_factory_or_forward_fails_with_one_line(models, factory, when):
    result = runner.invoke(app, ["analyze", f"{models}:{factory}", "-i", "1x4"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"flopcount: error: the model's code called sys.exit(0) while {when} {models}:{factory}"]
    assert result.stdout == ""


def test_sys_exit_under_check_fails_the_job(models, tmp_path):
    budget = tmp_path / "budgets.toml"
    budget.write_text(textwrap.dedent(f"""
        [models.exits]
        model = "{models}:exits_in_forward"
        input_size = "1x4"
        max_flops = "1K"
    """))
    result = runner.invoke(app, ["check", str(budget)])
    assert result.exit_code == 1
    assert "called sys.exit(0)" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_model_that_prints_leaves_stdout_parseable(models, fmt):
    result = runner.invoke(app, ["analyze", f"{models}:chatty", "-i", "2x4", "-f", fmt])
    assert result.exit_code == 0, result.output
    assert "hello from the factory" in result.stderr and "hello from forward" in result.stderr
    # Linear(4, 3) on 2 rows: 2 * 4 * 3 = 24 multiply-adds
    if fmt == "json":
        assert json.loads(result.stdout)["totals"]["flops"] == 24
    else:
        assert [int(r["flops"]) for r in csv.DictReader(io.StringIO(result.stdout))] == [24]
