"""Running a check through the library: everything validated before a model runs, the baseline rewritten by
one update_baseline(). The model is a two-layer factory in a temporary file (analysed on meta: fast)."""

from __future__ import annotations

import os

import pytest

from flopcount.budget import load_baseline, prepare_check, run_check, validate_output_path
from flopcount.errors import ConfigError, UsageError

# conv 3->4 3x3 pad 1 on 1x3x8x8, flatten, linear 256->2:
#   params (3*4*9 + 4) + (256*2 + 2) = 112 + 514 = 626
#   paper FLOPs 3*4*9*8*8 + 256*2 = 6,912 + 512 = 7,424
FACTORY = """
from torch import nn

def tiny(width=4):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.Flatten(), nn.Linear(width * 64, 2))
"""


def write_budget(tmp_path, limits: str = 'max_flops = "7424"', top: str = "") -> os.PathLike:
    (tmp_path / "tiny.py").write_text(FACTORY)
    path = tmp_path / "budgets.toml"
    path.write_text(f'{top}[models.tiny]\nmodel = "tiny.py:tiny"\ninput_size = "1x3x8x8"\n{limits}\n')
    return path


def test_a_check_runs_and_holds_at_the_exact_count(tmp_path):
    result = run_check(prepare_check(write_budget(tmp_path)))
    (model,) = result.models
    assert model.measurement.totals["params"] == 626 and model.measurement.totals["flops"] == 7_424
    assert result.passed
    over = run_check(prepare_check(write_budget(tmp_path, 'max_flops = "7423"')))  # one under 7,424
    assert not over.passed and over.failures[0].metric == "flops"


@pytest.mark.parametrize("where, message", [
    ("missing/report.json", "directory {tmp}/missing does not exist"),
    (".", "is a directory"),
])
def test_an_unwritable_output_is_a_usage_error_before_any_model_runs(tmp_path, where, message):
    budget = write_budget(tmp_path)
    (tmp_path / "tiny.py").write_text("raise SystemExit('the model must not be imported')\n")
    target = tmp_path / where
    with pytest.raises(UsageError, match=f"--output {target}: " + message.format(tmp=tmp_path)):
        prepare_check(budget, output=target)


def test_a_read_only_output_is_refused(tmp_path):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if os.access(readonly, os.W_OK):  # root writes through directory permissions
            target = "/proc/version"
        else:
            target = str(readonly / "report.json")
        with pytest.raises(UsageError, match="cannot write"):
            validate_output_path(target)
    finally:
        readonly.chmod(0o700)


def test_a_writable_output_is_accepted_and_not_left_behind(tmp_path):
    assert validate_output_path(tmp_path / "report.json") == tmp_path / "report.json"
    assert not (tmp_path / "report.json").exists()


def test_a_non_utf8_budget_file_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_bytes(b'[models.tiny]\nmax_flops = "7\xe9"\n')  # Latin-1 e-acute: byte 14 + 14 = 28, line 2
    with pytest.raises(ConfigError, match=f"{path}:2: budget file is not UTF-8 text .byte 28: invalid continuation"):
        prepare_check(path)


def test_a_missing_baseline_is_named_at_its_line_in_the_budget_file(tmp_path):
    path = write_budget(tmp_path, top='max_regression_pct = 0\nbaseline = "gone.json"\n\n')
    with pytest.raises(ConfigError, match=f"^{path}:2: baseline: {tmp_path / 'gone.json'}: baseline file not found"):
        prepare_check(path)


def test_update_baseline_writes_the_counts_then_checks_growth_against_them(tmp_path):
    path = write_budget(tmp_path, top='max_regression_pct = 0\nbaseline = "b.json"\n\n')
    result = run_check(prepare_check(path, update_baseline=True))
    assert result.passed
    measured = result.models[0].measurement.totals
    assert load_baseline(tmp_path / "b.json")["tiny"].totals == {
        "params": 626, "flops": 7_424, "all_ops_flops": measured["all_ops_flops"], "mac": measured["mac"]}
    # width 5: conv 3*5*9*64 = 8,640, linear 320*2 = 640 -> 9,280 FLOPs, 25% over the baseline's 7,424
    path.write_text(path.read_text().replace('input_size', 'kwargs = { width = 5 }\ninput_size'))
    grown = run_check(prepare_check(path))
    (failure,) = [c for c in grown.failures if c.metric == "flops vs baseline"]
    assert failure.value == 9_280 and failure.limit == 7_424
    assert "+25.0% vs baseline" in failure.detail  # 9,280 / 7,424 = 1.25


def test_an_unwritable_baseline_is_one_line_not_a_traceback(tmp_path):
    from flopcount.budget import write_baseline
    from flopcount.errors import FlopcountError

    (tmp_path / "taken").write_text("a file where the baseline's directory should be")
    with pytest.raises(FlopcountError, match="taken/b.json: cannot write the baseline"):
        write_baseline(tmp_path / "taken" / "b.json", {})
