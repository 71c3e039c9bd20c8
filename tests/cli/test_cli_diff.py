"""`flopcount diff A B`: two models, a model against a saved report or a budget baseline entry; errors in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "configs" / "budgets.baseline.json"

# AlexNet: features 3*64*11*11+64 + 64*192*5*5+192 + 192*384*9+384 + 384*256*9+256 + 256*256*9+256 = 2,469,696;
# classifier 9216*4096+4096 + 4096*4096+4096 + 4096*1000+1000 = 58,631,144 -> 61,100,840.
ALEXNET_PARAMS = 2_469_696 + 58_631_144
# SqueezeNet 1.0: conv1 96*3*7*7+96 = 14,208, eight Fire modules 721,216 (derived in tests/test_diff.py),
# final conv 512*1000+1000 = 513,000 -> 1,248,424.
SQUEEZENET_PARAMS = 14_208 + 721_216 + 513_000


def run(*args: str):
    return runner.invoke(app, ["diff", *args])


@pytest.fixture(scope="module")
def alexnet_vs_squeezenet_markdown():
    result = run("alexnet", "squeezenet1_0", "--depth", "1", "-f", "markdown")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_alexnet_accuracy_with_50x_fewer_parameters(alexnet_vs_squeezenet_markdown):
    # 61,100,840 / 1,248,424 = 48.94: the paper's "50x fewer parameters"
    assert (f"| params | {ALEXNET_PARAMS:,} | {SQUEEZENET_PARAMS:,} | -59,852,416 | 0.02043 (48.94x fewer) |"
            in alexnet_vs_squeezenet_markdown)
    # the depth-1 rows: AlexNet's classifier holds 58,631,144 = 58.63M, SqueezeNet's one conv 513,000
    assert "| classifier | Sequential |  | 58.63M | 513.00K | -58.12M | 0.00875x |" in alexnet_vs_squeezenet_markdown


def test_json_validates_and_carries_exact_totals():
    import jsonschema

    from flopcount.render.common import SCHEMA_VERSION, output_schema

    result = run("alexnet", "squeezenet1_0", "--depth", "1", "-f", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, output_schema())
    assert (document["schema_version"], document["kind"]) == (SCHEMA_VERSION, "diff")
    assert document["totals"]["params"] == {"a": ALEXNET_PARAMS, "b": SQUEEZENET_PARAMS,
                                            "delta": SQUEEZENET_PARAMS - ALEXNET_PARAMS,
                                            "ratio": pytest.approx(SQUEEZENET_PARAMS / ALEXNET_PARAMS)}
    # AlexNet's avgpool (AdaptiveAvgPool2d, 6x6 out of 6x6) has no counterpart at depth 1 in SqueezeNet
    assert document["matches"] == {"path": 2, "structure": 0, "only_a": 1, "only_b": 0}


def test_a_model_against_its_budget_baseline_entry_and_a_saved_report(tmp_path):
    against_baseline = run(f"{BASELINE}#mobilenet_v2", "mobilenet_v2", "-f", "json")
    assert against_baseline.exit_code == 0, against_baseline.output
    totals = json.loads(against_baseline.stdout)["totals"]
    # the baseline was written from this model: 3,504,872 params on both sides, nothing changed
    assert totals["params"]["a"] == totals["params"]["b"] == 3_504_872 and totals["params"]["delta"] == 0
    saved = tmp_path / "squeezenet.json"
    analysed = runner.invoke(app, ["analyze", "squeezenet1_0", "-f", "json", "-o", str(saved)])
    assert analysed.exit_code == 0, analysed.output
    result = run("alexnet", str(saved), "-f", "json", "--top", "1")
    document = json.loads(result.stdout)
    assert document["b"]["source"] == f"report json {saved}"
    assert document["totals"]["params"]["b"] == SQUEEZENET_PARAMS


@pytest.mark.parametrize(("args", "message"), [
    (("alexnet", "no_such_net"), "no_such_net"),
    (("alexnet", "missing.json"), "no such file: missing.json"),
    (("alexnet", f"{BASELINE}#mobilenet_v9"), "no model 'mobilenet_v9' in the baseline; did you mean mobilenet_v2?"),
])
def test_errors_are_one_line(args, message):
    result = run(*args)
    assert result.exit_code in (1, 2)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("flopcount: error: ") and message in line
