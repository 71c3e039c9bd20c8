"""The pytest plugin (entry point pytest11), run inside throwaway test suites through `pytester`."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def _torch_loaded_before_pytester():
    """pytester's in-process runs drop the modules they imported when they end; torch cannot be imported a
    second time in one process (it crashes), so everything the inner runs use is imported here first."""
    import torch

    from flopcount.budget import check_model

    check_model(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.Flatten(), torch.nn.Linear(2, 1)),
                "1x3x1x1", name="warm", max_flops=10, max_latency_ms=1e9)
    check_model("squeezenet1_1", name="warm", max_flops="1G")

# conv 3->w 3x3 pad 1, ReLU, conv w->16 1x1, global pool, flatten, linear 16->10, on 1x3x32x32.
# width 8: params (3*8*9 + 8) + (8*16 + 16) + (16*10 + 10) = 224 + 144 + 170 = 538
#          paper FLOPs 3*8*9*1024 + 8*16*1024 + 160 = 221,184 + 131,072 + 160 = 352,416
MODEL = """
import pytest
from torch import nn

def tiny(width=8):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 16, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
"""


def run(pytester, body: str, *args: str):
    pytester.makepyfile(test_model=MODEL + body)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_fixture_passes_and_returns_the_counts(pytester):
    result = run(pytester, """
def test_ok(flopcount_budget):
    r = flopcount_budget(tiny(), (1, 3, 32, 32), max_flops="352.416K", max_params=538, max_mac="70K")
    assert r.measurement.totals["flops"] == 352_416 and r.measurement.totals["params"] == 538
""")
    result.assert_outcomes(passed=1)


def test_fixture_fails_saying_by_how_much_and_which_layers(pytester):
    result = run(pytester, """
def test_over(flopcount_budget):
    flopcount_budget(tiny(), "1x3x32x32", max_flops="350K")
""")
    result.assert_outcomes(failed=1)
    # 352,416 / 350,000 - 1 = 0.69%; 2,416 over
    result.stdout.fnmatch_lines([
        "*flopcount budget of test_over (1x3x32x32) failed 1 of 1 checks:",
        "*flops: 352.42K > 350.00K: 352.42K is 0.7% over the budget 350.00K (+2.42K); largest layers: "
        "0 (Conv2d) 221.18K, 2 (Conv2d) 131.07K, 5 (Linear) 160",
    ])
    assert "Traceback" not in result.stdout.str()


def test_baseline_written_then_a_grown_model_fails_naming_grown_layers(pytester):
    body = """
WIDTH = {width}

def test_budget(flopcount_budget):
    flopcount_budget(tiny(WIDTH), "1x3x32x32", max_flops="1M", baseline="flops_baseline.json")
"""
    first = run(pytester, body.format(width=8), "--flopcount-update-baseline")
    first.assert_outcomes(passed=1)
    saved = json.loads((pytester.path / "flops_baseline.json").read_text())["models"]["test_budget"]
    assert saved["totals"]["flops"] == 352_416 and saved["layers"]["2"]["flops"] == 131_072

    run(pytester, body.format(width=8)).assert_outcomes(passed=1)  # same model: no growth

    grown = run(pytester, body.format(width=12))
    grown.assert_outcomes(failed=1)
    # width 12: conv0 3*12*9*1024 = 331,776 (+110,592, +50%), conv2 12*16*1024 = 196,608 (+65,536, +50%)
    # total 528,544 = +50.0% of 352,416; with a baseline and no max_regression_pct, any growth fails
    grown.stdout.fnmatch_lines([
        "*flops vs baseline: 528.54K > 352.42K: +50.0% vs baseline 352.42K (allowed +0%); grew most: "
        "0 (Conv2d) +110.59K (+50.0%), 2 (Conv2d) +65.54K (+50.0%)",
    ])
    # max_flops = 1M still holds: only the baseline checks fail (params, flops, mac)
    grown.stdout.fnmatch_lines(["*failed 3 of 4 checks:"])


def test_missing_baseline_entry_warns_and_skips(pytester):
    result = run(pytester, """
def test_first_run(flopcount_budget):
    r = flopcount_budget(tiny(), "1x3x32x32", baseline="none_yet.json")
    assert [c.status for c in r.checks] == ["skip"]
""", "-W", "default")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*none_yet.json: no baseline entry for test_first_run; write it with pytest "
                                 "--flopcount-update-baseline*"])


def test_marker_gives_the_limits_and_call_arguments_override(pytester):
    result = run(pytester, """
@pytest.mark.flops_budget(max_params=500)
def test_marked_over(flopcount_budget):
    flopcount_budget(tiny(), "1x3x32x32")

@pytest.mark.flops_budget(max_params=500)
def test_marked_overridden(flopcount_budget):
    flopcount_budget(tiny(), "1x3x32x32", max_params="0.6K")
""")
    result.assert_outcomes(passed=1, failed=1)
    # 538 params: 7.6% over 500
    result.stdout.fnmatch_lines(["*params: 538 > 500: 538 is 7.6% over the budget 500 (+38)*"])


def test_marker_misuse_is_reported(pytester):
    result = run(pytester, """
@pytest.mark.flops_budget(max_flops="1M")
def test_without_fixture():
    pass

@pytest.mark.flops_budget(max_flops="1M")
def test_never_calls(flopcount_budget):
    pass

def test_unknown_argument(flopcount_budget):
    flopcount_budget(tiny(), "1x3x32x32", max_flop="1M")

def test_bad_limit(flopcount_budget):
    flopcount_budget(tiny(), "1x3x32x32", max_flops="-1M")
""")
    result.assert_outcomes(passed=1, failed=2, errors=2)  # a failure in setup or teardown is an error
    text = result.stdout.str()
    assert "@pytest.mark.flops_budget on test_without_fixture needs the flopcount_budget fixture" in text
    assert "@pytest.mark.flops_budget on test_never_calls, but the test never called flopcount_budget" in text
    assert "flopcount_budget: unknown argument max_flop" in text
    assert "flopcount_budget: models.test_bad_limit.max_flops: must not be negative, got '-1M'" in text
    assert "During handling" not in text


def test_zoo_models_by_name_and_layer_limits(pytester):
    # squeezenet1_1: 1,235,496 params; its classifier conv 512 -> 1000 1x1 on 13x13 = 86,528,000 FLOPs
    result = run(pytester, """
def test_squeezenet(flopcount_budget):
    r = flopcount_budget("squeezenet1_1", max_params="1.3M", layers={"classifier.*": {"max_flops": 86_528_000}})
    assert r.measurement.totals["params"] == 1_235_496
""")
    result.assert_outcomes(passed=1)


def test_the_entry_point_loads_the_plugin_in_a_fresh_process(pytester):
    pytester.makepyfile(test_fresh="def test_f(flopcount_budget):\n    assert callable(flopcount_budget)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.flops_budget(max_params=None, max_flops=None*"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
