"""`flopcount check` end to end: real analyses of a small user model and of zoo models, every output
format parsed back, baselines written and regressions caught, and every broken-file case exiting 2."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()

# conv 3->w 3x3 pad 1, ReLU, conv w->16 1x1, global pool, flatten, linear 16->10, on 1x3x32x32.
NET = textwrap.dedent("""
    from torch import nn

    def tiny(width: int = 8):
        return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 16, 1),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
""")


def tiny_counts(w: int) -> dict[str, int]:
    hw = 32 * 32
    conv0_p, conv2_p, fc_p = 3 * w * 9 + w, w * 16 + 16, 16 * 10 + 10
    return {
        "params": conv0_p + conv2_p + fc_p,
        "flops": 3 * w * 9 * hw + w * 16 * hw + 16 * 10,  # convs + linear; ReLU and pool are not paper FLOPs
        # MAC = inputs + weights read + outputs written, per layer (flatten is a view: 0)
        "mac": (3 * hw + conv0_p + w * hw) + (w * hw + w * hw) + (w * hw + conv2_p + 16 * hw)
        + (16 * hw + 16) + (16 + fc_p + 10),
    }


# width 8: params 224 + 144 + 170 = 538; flops 221,184 + 131,072 + 160 = 352,416; mac 69,188
assert tiny_counts(8) == {"params": 538, "flops": 352_416, "mac": 11_488 + 16_384 + 24_720 + 16_400 + 196}


def write(tmp_path, toml: str, name: str = "budgets.toml"):
    (tmp_path / "net.py").write_text(NET)
    path = tmp_path / name
    path.write_text(textwrap.dedent(toml))
    return path


def check(*args: str):
    return runner.invoke(app, ["check", *map(str, args)])


def tiny_budget(**limits) -> str:
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in limits.items())
    return f'[models.tiny]\nmodel = "net.py:tiny"\ninput_size = "1x3x32x32"\n{body}\n'


# ------------------------------------------------------------------------------------ pass / fail


def test_all_metrics_pass_at_exact_counts_and_exit_0(tmp_path):
    c = tiny_counts(8)
    path = write(tmp_path, tiny_budget(max_params=c["params"], max_flops=c["flops"], max_mac=c["mac"]))
    result = check(path, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True
    assert data["models"][0]["totals"] == {**c, "all_ops_flops": data["models"][0]["totals"]["all_ops_flops"]}
    assert [(k["metric"], k["value"], k["limit"], k["headroom_pct"]) for k in data["models"][0]["checks"]] == [
        ("params", 538, 538, 0.0), ("flops", 352_416, 352_416, 0.0), ("mac", 69_188, 69_188, 0.0)]


@pytest.mark.parametrize("metric", ["params", "flops", "mac"])
def test_each_metric_one_over_fails_with_exit_1(tmp_path, metric):
    limit = tiny_counts(8)[metric] - 1
    path = write(tmp_path, tiny_budget(**{f"max_{metric}": limit}))
    result = check(path, "--format", "json")
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)["models"][0]["checks"]
    assert (row["metric"], row["status"], row["limit"]) == (metric, "fail", limit)
    assert "over the budget" in row["detail"]


def test_units_in_the_file(tmp_path):
    # 352,416 FLOPs: under "0.36M" (360,000), over "0.35M" (350,000); 538 params under "0.6K"
    path = write(tmp_path, tiny_budget(max_flops="0.36M", max_params="0.6K"))
    assert check(path).exit_code == 0
    path = write(tmp_path, tiny_budget(max_flops="0.35M"))
    assert check(path).exit_code == 1


def test_latency_is_measured_only_when_asked(tmp_path):
    path = write(tmp_path, tiny_budget(max_flops="1G", max_latency_ms=100000))
    model = json.loads(check(path, "-f", "json").stdout)["models"][0]
    (flops, latency) = model["checks"]
    assert latency["metric"] == "latency_ms" and model["latency_ms"] > 0
    assert latency["status"] == ("pass" if latency["value"] <= 100000 else "fail")
    path = write(tmp_path, tiny_budget(max_flops="1G"))
    assert json.loads(check(path, "-f", "json").stdout)["models"][0]["latency_ms"] is None


def test_latency_under_a_profile_is_the_prediction_not_a_timing(tmp_path):
    from flopcount import analyze
    from flopcount.loading import load_model
    from flopcount.predict import load_profile, predict

    path = write(tmp_path, tiny_budget(max_latency_ms=100000, latency_profile="cpu_measured"))
    model = json.loads(check(path, "-f", "json").stdout)["models"][0]
    (latency,) = model["checks"]
    # the same analysis on meta, predicted by the shipped profile: equal, since nothing is timed
    net = load_model(f"{tmp_path / 'net.py'}:tiny", {}, "meta").model
    expected = predict(analyze(net, (1, 3, 32, 32), device="meta"), load_profile("cpu_measured")).total_ms
    assert latency["value"] == pytest.approx(expected) and model["latency_ms"] == pytest.approx(expected)
    assert latency["basis"] == model["latency_basis"] == "predicted (profile cpu_measured)"
    assert latency["status"] == "pass"
    # a limit below the prediction fails, and the explanation says it is a prediction
    path = write(tmp_path, tiny_budget(max_latency_ms=expected / 2, latency_profile="cpu_measured"))
    result = check(path, "--width", "200")
    assert result.exit_code == 1 and "predicted (profile cpu_measured)" in result.stdout
    assert "% over" in result.stdout


def test_latency_without_a_profile_says_measured(tmp_path):
    path = write(tmp_path, tiny_budget(max_latency_ms=100000))
    model = json.loads(check(path, "-f", "json").stdout)["models"][0]
    assert model["checks"][0]["basis"] == model["latency_basis"] == "measured"


def test_an_unknown_latency_profile_is_named_at_its_line_before_any_model_runs(tmp_path):
    # the model does not even exist: the profile is refused first
    path = write(tmp_path, """
        latency_profile = "no-such-profile"

        [models.ghost]
        model = "missing.py:nothing"
        max_latency_ms = 20
    """)
    result = check(path)
    assert result.exit_code == 2
    assert f"{path}:2: latency_profile: unknown latency profile 'no-such-profile'" in result.output
    path = write(tmp_path, tiny_budget(max_flops="1G", latency_profile="cpu_measured"))
    result = check(path)
    assert result.exit_code == 2 and "latency_profile predicts max_latency_ms: add max_latency_ms" in result.output


def test_device_cpu_runs_a_real_forward_with_the_same_counts(tmp_path):
    c = tiny_counts(8)
    path = write(tmp_path, tiny_budget(max_flops=c["flops"], device="cpu") + "[models.squeezenet1_1]\n"
                 'max_params = "1.3M"\ndevice = "cpu"\ninput_size = "1x3x64x64"\n')
    result = check(path, "-f", "json")
    assert result.exit_code == 0, result.output
    tiny, squeeze = json.loads(result.stdout)["models"]
    assert tiny["totals"]["flops"] == 352_416 and tiny["totals"]["mac"] == c["mac"]
    assert squeeze["totals"]["params"] == 1_235_496  # a zoo model built on cpu, not on meta
    path.write_text(path.read_text().replace('device = "cpu"\ninput', 'device = "tpu9"\ninput'))
    assert "models.squeezenet1_1.device: unknown device 'tpu9'" in check(path).stderr


def test_zoo_model_with_layer_limits(tmp_path):
    # mobilenet_v2: classifier = Linear(1280, 1000): 1,281,000 params; features.2 (the largest block) 29,202,432
    path = write(tmp_path, """
        [models.mobilenet_v2]
        max_flops = "301M"
        [models.mobilenet_v2.layers]
        "classifier" = { max_params = 1281000 }
        "features.*" = { max_flops = 29202431 }
    """)
    result = check(path, "-f", "json")
    assert result.exit_code == 1
    checks = {c["metric"]: c for c in json.loads(result.stdout)["models"][0]["checks"]}
    assert checks["flops"]["value"] == 300_774_272 and checks["flops"]["status"] == "pass"
    assert checks["params[classifier]"]["value"] == 1_281_000 and checks["params[classifier]"]["status"] == "pass"
    assert checks["flops[features.*]"]["value"] == 29_202_432 and checks["flops[features.*]"]["status"] == "fail"
    # "*" crosses dots: the block and its inner Sequential hold the same convs, so both are over
    detail = checks["flops[features.*]"]["detail"]
    assert detail.startswith("2 of ") and "features.2 (_InvertedResidual) 29.20M" in detail
    assert "features.2.conv (Sequential) 29.20M" in detail


# --------------------------------------------------------------------------------------- baseline


def grow_and_check(tmp_path, *args):
    base = tmp_path / "base.json"
    path = write(tmp_path, 'baseline = "base.json"\nmax_regression_pct = 1\n' + tiny_budget())
    first = check(path, "--update-baseline")
    assert first.exit_code == 0, first.output
    assert "wrote the baseline of 1 models" in first.stderr
    saved = json.loads(base.read_text())["models"]["tiny"]
    assert saved["totals"]["flops"] == 352_416 and saved["layers"]["0"] == {"params": 224, "flops": 221_184,
                                                                             "mac": 11_488}
    assert check(path).exit_code == 0  # unchanged model: 0% growth
    path.write_text(path.read_text() + "kwargs = { width = 12 }\n")  # the model grows
    return check(path, *args)


def test_a_grown_model_fails_against_the_baseline_naming_the_grown_layers(tmp_path):
    result = grow_and_check(tmp_path, "-f", "json")
    assert result.exit_code == 1
    checks = {c["metric"]: c for c in json.loads(result.stdout)["models"][0]["checks"]}
    # flops: baseline 352,416, allowed floor(352,416 * 1.01) = 355,940; width 12: 331,776 + 196,608 + 160 = 528,544
    grown = checks["flops vs baseline"]
    assert (grown["status"], grown["value"], grown["limit"]) == ("fail", 528_544, 355_940)
    assert tiny_counts(12)["flops"] == 528_544
    # conv0 grew 3*4*9*1024 = 110,592 (+50%), conv2 4*16*1024 = 65,536 (+50%)
    assert grown["detail"] == ("+50.0% vs baseline 352.42K (allowed +1%); grew most: 0 (Conv2d) +110.59K (+50.0%), "
                               "2 (Conv2d) +65.54K (+50.0%)")
    assert checks["params vs baseline"]["status"] == "fail"  # 538 -> 714
    assert checks["mac vs baseline"]["value"] == tiny_counts(12)["mac"] == 85_748


def test_a_model_missing_from_the_baseline_is_skipped_in_every_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # annotations name the file relative to the working directory
    (tmp_path / "base.json").write_text('{"format": 1, "models": {}}')
    path = write(tmp_path, 'baseline = "base.json"\nmax_regression_pct = 0\n' + tiny_budget())
    result = check(path, "-f", "github")
    assert result.exit_code == 0  # a new model is not a failure; the warning says how to record it
    assert result.stdout.splitlines() == [
        "::warning file=budgets.toml,line=3,title=flopcount budget%3A tiny baseline::tiny baseline: no baseline "
        "entry yet: run flopcount check --update-baseline",
        "::notice title=flopcount budgets::1 models, 1 checks: all passed, 1 skipped",
    ]
    assert ET.fromstring(check(path, "-f", "junit").stdout).get("skipped") == "1"
    (row,) = json.loads(check(path, "-f", "json").stdout)["models"][0]["checks"]
    assert (row["status"], row["value"], row["limit"]) == ("skip", None, None)
    assert "1 skipped" in check(path, "-f", "markdown").stdout and "SKIP" in check(path, "--width", "150").stdout


def test_update_baseline_needs_a_baseline_path(tmp_path):
    path = write(tmp_path, tiny_budget(max_flops="1G"))
    result = check(path, "--update-baseline")
    assert result.exit_code == 2 and "--update-baseline needs a baseline file" in result.stderr
    assert check(path, "--update-baseline", "--baseline", tmp_path / "b.json").exit_code == 0
    assert "tiny" in json.loads((tmp_path / "b.json").read_text())["models"]


def test_baseline_measured_on_another_input_is_a_config_error(tmp_path):
    path = write(tmp_path, 'baseline = "base.json"\nmax_regression_pct = 0\n' + tiny_budget())
    assert check(path, "--update-baseline").exit_code == 0
    path.write_text(path.read_text().replace("1x3x32x32", "1x3x64x64"))
    result = check(path)
    assert result.exit_code == 2
    assert "models.tiny: the baseline entry was measured for net.py:tiny on 1x3x32x32" in result.stderr


# ---------------------------------------------------------------------------------------- formats


def test_table_output_names_failures_and_summary(tmp_path):
    result = grow_and_check(tmp_path, "--width", "200")
    assert result.exit_code == 1
    out = result.stdout
    assert "FAIL tiny flops vs baseline: +50.0% vs baseline 352.42K (allowed +1%); grew most: 0 (Conv2d)" in out
    assert "1 models, 3 checks: 3 failed (tiny)" in out
    for column in ("model", "metric", "value", "budget", "headroom", "status"):
        assert column in out


def test_junit_output_parses_with_one_failure_per_failed_limit(tmp_path):
    result = grow_and_check(tmp_path, "-f", "junit")
    root = ET.fromstring(result.stdout)
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "3", "3")
    (suite,) = root.findall("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["flops"] == "528544" and props["input_size"] == "1x3x32x32"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == ["flops vs baseline", "mac vs baseline", "params vs baseline"]
    failure = cases["flops vs baseline"].find("failure")
    assert failure.get("message") == "flops vs baseline 528.54K (budget 355.94K)"
    assert "0 (Conv2d) +110.59K" in failure.text
    assert cases["flops vs baseline"].get("line") == "3"  # the [models.tiny] header


def test_junit_passing_cases_have_no_failure(tmp_path):
    path = write(tmp_path, tiny_budget(max_flops="1M", max_params="1K"))
    root = ET.fromstring(check(path, "-f", "junit").stdout)
    assert root.get("failures") == "0"
    assert [c.find("failure") for c in root.iter("testcase")] == [None, None]


def test_github_annotations(tmp_path):
    result = grow_and_check(tmp_path, "-f", "github")
    lines = result.stdout.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 3
    props, message = errors[1][len("::error "):].split("::", 1)
    assert props.endswith(",line=3,title=flopcount budget%3A tiny flops vs baseline")
    assert message.startswith("tiny flops vs baseline = 528.54K, budget 355.94K: +50.0%25 vs baseline")  # % escaped
    assert lines[-1] == "::notice title=flopcount budgets::1 models, 3 checks: 3 failed (tiny)"


def test_markdown_for_a_pull_request_comment(tmp_path):
    result = grow_and_check(tmp_path, "-f", "markdown")
    text = result.stdout
    assert text.startswith("### ❌ flopcount budgets (`")
    assert "| tiny | `flops vs baseline` | 528.54K | 355.94K | -48.5% | ❌ fail |" in text  # 355,940/528,544 - 1
    assert "- **tiny** `flops vs baseline`: +50.0% vs baseline 352.42K" in text
    assert "<details><summary>All checks</summary>" in text


def test_output_file_gets_the_report_and_stdout_the_summary(tmp_path):
    path = write(tmp_path, tiny_budget(max_flops="1M"))
    report = tmp_path / "report.xml"
    result = check(path, "-f", "junit", "-o", report)
    assert result.exit_code == 0
    assert result.stdout.strip() == "1 models, 1 checks: all passed"
    assert ET.parse(report).getroot().get("tests") == "1"


# -------------------------------------------------------------------------------------- discovery


def test_pyproject_tool_flopcount_is_the_default(tmp_path, monkeypatch):
    write(tmp_path, '[project]\nname = "x"\n\n[tool.flopcount.models.tiny]\nmodel = "net.py:tiny"\n'
                    'input_size = "1x3x32x32"\nmax_flops = "1M"\n', name="pyproject.toml")
    monkeypatch.chdir(tmp_path)
    result = check("-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"][0]["totals"]["flops"] == 352_416


def test_no_budget_file_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check()
    assert result.exit_code == 2 and "no budget file" in result.stderr


def test_only_selects_model_ids(tmp_path):
    path = write(tmp_path, tiny_budget(max_flops="1M") + '[models.mobilenet_v2]\nmax_flops = "1"\n')
    result = check(path, "--only", "ti*", "-f", "json")
    assert result.exit_code == 0
    assert [m["id"] for m in json.loads(result.stdout)["models"]] == ["tiny"]
    assert check(path, "--only", "nothing*").exit_code == 2


# ----------------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(("toml", "message"), [
    ('[models.tiny]\nmax_flops = "1M\n', "budgets.toml:2:"),  # unterminated string
    ("[models.tiny]\nmax_flops = 1\nmax_flops = 2\n", "budgets.toml:3:"),  # duplicate key
    ('[models.mobilenet_v2]\nmax_flops = "300M"\nmax_flop = "1M"\n',
     "budgets.toml:3: models.mobilenet_v2.max_flop: unknown key; did you mean max_flops?"),
    ('[models.mobilenet_v2]\nmax_params = -5\n', "budgets.toml:2: models.mobilenet_v2.max_params: must not be negative"),
    ('[models.mobilenet_v2]\nmax_mac = "lots"\n', "budgets.toml:2: models.mobilenet_v2.max_mac: not a count: 'lots'"),
    ('[models.mobilenetv2]\nmax_flops = "300M"\n',
     "budgets.toml:1: models.mobilenetv2: unknown model 'mobilenetv2'; did you mean mobilenet_v2"),
    ('[models.x]\nmodel = "nope.py:f"\nmax_flops = 1\ninput_size = "1x3"\n',
     "budgets.toml:2: models.x.model: no such file:"),
    ('[models.x]\nmodel = "net.py:nope"\nmax_flops = 1\ninput_size = "1x3"\n',
     "budgets.toml:2: models.x.model: 'net.py' has no callable named 'nope'"),
    ('[models.x]\nmodel = "net.py:tiny"\nmax_flops = 1\n', "models.x.input_size: a user model needs input_size"),
    ('baseline = "missing.json"\n[models.mobilenet_v2]\nmax_flops = 1\n', "missing.json: baseline file not found"),
    ('[models.mobilenet_v2.layers]\n"features.*" = { max_flops = "1M", max_flop = 2 }\n',
     'budgets.toml:2: models.mobilenet_v2.layers."features.*".max_flop: unknown key'),
])
def test_broken_files_exit_2_with_one_line_naming_file_and_key(tmp_path, toml, message):
    path = write(tmp_path, toml)
    result = check(path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("flopcount: error: ")
    assert message in line.replace(str(tmp_path) + "/", "")


def test_pyproject_without_tool_flopcount_is_a_config_error(tmp_path):
    path = write(tmp_path, '[project]\nname = "x"\n', name="pyproject.toml")
    result = check(path)
    assert result.exit_code == 2 and "pyproject.toml: no [tool.flopcount] table" in result.stderr


def test_nothing_is_analysed_when_a_later_entry_is_broken(tmp_path):
    # the first model's factory leaves a mark when it is built; the second entry names an unknown model
    (tmp_path / "marking.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        from torch import nn

        def build():
            Path({str(tmp_path / "built")!r}).write_text("built")
            return nn.Linear(4, 2)
    """))
    path = write(tmp_path, '[models.first]\nmodel = "marking.py:build"\ninput_size = "1x4"\nmax_flops = 100\n\n'
                           '[models.second]\nmodel = "no_such_zoo_model"\nmax_flops = 1\n')
    result = check(path)
    assert result.exit_code == 2
    assert "models.second.model: unknown model 'no_such_zoo_model'" in result.stderr
    assert not (tmp_path / "built").exists()
    # and with the second entry fixed, the first is built and analysed: Linear(4, 2) = 8 FLOPs
    path.write_text(path.read_text().replace("no_such_zoo_model", "mobilenet_v2").replace("max_flops = 1\n",
                                                                                         'max_flops = "1G"\n'))
    result = check(path, "-f", "json")
    assert result.exit_code == 0 and (tmp_path / "built").exists()
    assert json.loads(result.stdout)["models"][0]["totals"]["flops"] == 4 * 2


def test_the_projects_own_budget_file_passes():
    result = check(Path(__file__).parents[2] / "configs" / "budgets.toml", "-f", "json")
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    ids = [m["id"] for m in data["models"]]
    for name in ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_0", "mobilenet_v3_large"):
        assert name in ids
    totals = {m["id"]: m["totals"] for m in data["models"]}
    assert totals["mobilenet_v2"]["flops"] == 300_774_272 and totals["mobilenet_v2"]["params"] == 3_504_872
