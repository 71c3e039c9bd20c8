"""`flopcount predict` and `flopcount calibrate` through the command line: the numbers are the library's."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from flopcount.cli import app
from flopcount.loading import load_model
from flopcount.predict import load_profile, predict

runner = CliRunner()


@pytest.fixture(scope="module")
def prediction():
    loaded = load_model("mobilenet_v2", {}, None)
    return predict(loaded.analyze([[1, 3, 32, 32]]), load_profile("cpu_measured"))


def test_predict_json_is_the_library_prediction_with_roofline_beside(prediction):
    result = runner.invoke(app, ["predict", "mobilenet_v2", "--profile", "cpu_measured", "-i", "1x3x32x32", "-f",
                                 "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["predicted_ms"] == pytest.approx(prediction.total_ms)
    assert len(document["ops"]) == len(prediction.ops)
    # the whole is every op plus the container modules' calls
    assert document["predicted_ms"] == pytest.approx(sum(o["predicted_ms"] for o in document["ops"])
                                                     + document["container_ms"])
    assert all(o["predictor"] for o in document["ops"])
    # a device profile named cpu_measured exists too: its roofline is the one beside the prediction
    assert document["roofline_device"] == "cpu_measured" and "named like" in document["roofline_device_note"]
    assert document["roofline_ms"] == pytest.approx(sum(o["roofline_ms"] or 0 for o in document["ops"]))


def test_predict_csv_top_and_markdown(prediction):
    result = runner.invoke(app, ["predict", "mobilenet_v2", "--profile", "cpu_measured", "-i", "1x3x32x32", "-f",
                                 "csv", "--top", "2"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    slowest = sorted(prediction.ops, key=lambda o: -o.seconds)[:2]
    assert [r["name"] for r in rows] == [o.name for o in slowest] + ["(module calls)"]
    assert float(rows[0]["predicted_ms"]) == pytest.approx(slowest[0].ms)
    result = runner.invoke(app, ["predict", "mobilenet_v2", "--profile", "cpu_measured", "-i", "1x3x32x32", "-f",
                                 "markdown", "--top", "2"])
    assert result.exit_code == 0 and f"predicted {prediction.total_ms:.2f} ms" in result.stdout


def test_predict_unknown_profile_is_one_line_exit_2():
    result = runner.invoke(app, ["predict", "mobilenet_v2", "--profile", "no-such-profile"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "unknown latency profile 'no-such-profile'" in result.output


def test_predict_at_the_hosts_speed_now_needs_the_profiles_machine(tmp_path):
    from flopcount.predict import save_profile

    profile = load_profile("cpu_measured")
    profile.runtime().provenance["cpu"] = "Apple M3"
    path = save_profile(profile, tmp_path / "elsewhere.json")
    result = runner.invoke(app, ["predict", "mobilenet_v2", "--profile", str(path), "--host-speed", "now"])
    assert result.exit_code != 0 and result.output.strip().count("\n") == 0
    assert "calibrated elsewhere: cpu 'Apple M3'" in result.output
    # as calibrated, the profile predicts its machine from anywhere
    assert runner.invoke(app, ["predict", "mobilenet_v2", "--profile", str(path)]).exit_code == 0


def test_calibrate_by_name_goes_to_the_user_dir_and_predict_finds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = runner.invoke(app, ["calibrate", "--profile", "tinycal", "--budget-s", "1", "--kind", "act_relu",
                                 "--kind", "binary", "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    target = tmp_path / "config" / "flopcount" / "predict" / "tinycal.json"
    assert document["path"] == str(target) and target.is_file()
    assert [k["kind"] for k in document["kinds"]] == ["act_relu", "binary"]
    assert all(k["samples"] >= 1 and 0 <= k["within_10pct"] <= 1 for k in document["kinds"])
    from flopcount.render.common import output_schema
    import jsonschema

    jsonschema.validate(document, output_schema())
    assert load_profile("tinycal").path == target
    # no device profile is called tinycal: predict says it shows cpu_measured's roofline instead
    result = runner.invoke(app, ["predict", "mobilenet_v2", "--profile", "tinycal", "-i", "1x3x32x32", "--width",
                                 "200"])
    assert result.exit_code == 0, result.output
    assert "no device profile named 'tinycal': cpu_measured instead" in result.output
    assert "fallback" in result.output  # its convolutions have no fit in a profile of two kinds


def test_calibrate_to_a_json_path_prints_the_table(tmp_path):
    target = tmp_path / "out" / "mine.json"
    result = runner.invoke(app, ["calibrate", "--profile", str(target), "--budget-s", "0.5", "--kind", "binary",
                                 "--width", "120"])
    assert result.exit_code == 0, result.output
    assert target.is_file() and f"wrote {target}" in result.output
    assert "binary" in result.output and "within ±10%" in result.output
    assert load_profile(str(target)).name == "mine"


def test_the_calibration_progress_bar_takes_fractions_and_messages():
    from flopcount.cli.runtime import fraction_progress

    with fraction_progress("calibrating", show=False) as quiet:
        assert quiet(0.5, "half") is None
    with fraction_progress("calibrating", show=True) as on_progress:  # a rich bar on stderr, gone when done
        on_progress(0.25, "first pass")
        on_progress(1.0, "done")


def test_calibrate_never_writes_into_the_installed_package():
    import flopcount
    from pathlib import Path

    shipped = Path(flopcount.__file__).parent / "data" / "predict" / "cpu_measured.json"
    before = shipped.read_bytes()
    result = runner.invoke(app, ["calibrate", "--profile", str(shipped), "--budget-s", "0.5", "--kind", "binary"])
    assert result.exit_code == 2 and "inside the installed flopcount package" in result.output
    assert shipped.read_bytes() == before


def _profile_of_two_networks(tmp_path, **provenance):
    """The shipped profile cut to its first two calibration networks, timed in one sitting, as if calibrated
    on this machine."""
    from flopcount.predict import save_profile
    from flopcount.predict.profile import provenance as here

    profile = load_profile("cpu_measured")
    runtime = profile.runtime()
    runtime.provenance.update({k: here(runtime.threads)[k] for k in ("cpu", "machine", "torch")}, **provenance)
    runtime.model_cv = {k: (v[:2] if isinstance(v, list) else v) for k, v in runtime.model_cv.items()
                        if k != "sittings"}
    runtime.model_cv["measured_s"] = [2e-3, 3e-3]  # made up: the test checks how two sittings combine
    return save_profile(profile, tmp_path / "two.json")


def test_add_sitting_times_the_networks_again_and_refits(tmp_path):
    path = _profile_of_two_networks(tmp_path)
    before = load_profile(str(path)).runtime().model_cv["measured_s"]
    result = runner.invoke(app, ["calibrate", "--profile", str(path), "--add-sitting", "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    from flopcount.render.common import output_schema
    import jsonschema

    jsonschema.validate(document, output_schema())
    assert document["model_networks"] == 2 and len(document["network_sittings"]) == 2
    assert document["network_sittings"][0]["date"] == load_profile("cpu_measured").runtime().provenance["date"]
    cv = load_profile(str(path)).runtime().model_cv
    first, second = (s["measured_s"] for s in cv["sittings"])
    assert first == before
    # what the terms are fitted to: each network's geometric mean over the two sittings
    assert cv["measured_s"] == pytest.approx([(a * b) ** 0.5 for a, b in zip(first, second)], rel=1e-5)
    ratios = sorted(b / a for a, b in zip(first, second))
    assert document["network_sittings"][1]["against_before"] == pytest.approx(sum(ratios) / 2, rel=1e-3)


def test_add_sitting_refuses_what_it_cannot_do(tmp_path):
    shipped = runner.invoke(app, ["calibrate", "--profile", "cpu_measured", "--add-sitting"])
    assert shipped.exit_code == 2 and "inside the installed flopcount package" in shipped.output
    path = _profile_of_two_networks(tmp_path)
    for extra, message in ((["--budget-s", "60"], "--budget-s cannot apply"), (["--kind", "binary"], "--kind cannot"),
                           (["--seed", "0"], "--seed cannot"),
                           (["--threads", "2"], f"--threads 2: profile '{path}' was calibrated at 1")):
        result = runner.invoke(app, ["calibrate", "--profile", str(path), "--add-sitting", *extra])
        assert result.exit_code == 2 and message in result.output and result.output.strip().count("\n") == 0
    elsewhere = _profile_of_two_networks(tmp_path, cpu="Apple M3")
    result = runner.invoke(app, ["calibrate", "--profile", str(elsewhere), "--add-sitting"])
    assert result.exit_code == 2 and "calibrated on another machine (cpu 'Apple M3'" in result.output
    assert result.output.strip().count("\n") == 0


def test_retime_times_one_kind_again_keeps_the_rest_and_refits_the_model_terms(tmp_path):
    path = _profile_of_two_networks(tmp_path)
    before = load_profile(str(path)).runtime()
    result = runner.invoke(app, ["calibrate", "--profile", str(path), "--retime", "act_relu", "--budget-s", "1",
                                 "--seed", "3"])
    assert result.exit_code == 0, result.output
    after = load_profile(str(path)).runtime()
    assert after.kinds["act_relu"].samples != before.kinds["act_relu"].samples
    assert all(after.kinds[k].samples == before.kinds[k].samples for k in before.kinds if k != "act_relu")
    record = after.provenance["kinds_retimed"][-1]
    assert record["kinds"] == ["act_relu"] and record["seed"] == 3 and record["budget_s"] == 1
    assert record["kernels_timed"] == len(after.kinds["act_relu"].samples)
    # the model-level terms are fitted again to the two networks' stored times, which stay as they were
    assert after.model_cv["measured_s"] == before.model_cv["measured_s"] and len(after.model_cv["rows"]) == 2
    assert after.provenance["date"] == before.provenance["date"]


def test_retime_refuses_what_it_cannot_do(tmp_path):
    shipped = runner.invoke(app, ["calibrate", "--profile", "cpu_measured", "--retime", "sdpa"])
    assert shipped.exit_code == 2 and "inside the installed flopcount package" in shipped.output
    path = _profile_of_two_networks(tmp_path)
    for extra, message in ((["--retime", "nonsense"], "unknown kernel kind(s): nonsense"),
                           (["--retime", "binary", "--kind", "binary"], "--kind cannot apply"),
                           (["--retime", "binary", "--add-sitting"], "--add-sitting and --retime: one at a time"),
                           (["--retime", "binary", "--threads", "2"], "--threads 2: profile")):
        result = runner.invoke(app, ["calibrate", "--profile", str(path), *extra])
        assert result.exit_code == 2 and message in result.output and result.output.strip().count("\n") == 0
    elsewhere = _profile_of_two_networks(tmp_path, cpu="Apple M3")
    result = runner.invoke(app, ["calibrate", "--profile", str(elsewhere), "--retime", "binary"])
    assert result.exit_code == 2 and "--retime: profile" in result.output and "another machine" in result.output


def test_retime_adds_a_kind_the_profile_has_no_fit_of(tmp_path):
    from flopcount.predict import save_profile

    path = _profile_of_two_networks(tmp_path)
    profile = load_profile(str(path))
    profile.runtime().kinds.pop("act_gelu_tanh", None)  # as a profile from before the kind existed
    save_profile(profile, path)
    result = runner.invoke(app, ["calibrate", "--profile", str(path), "--retime", "act_gelu_tanh", "--budget-s", "1"])
    assert result.exit_code == 0, result.output
    after = load_profile(str(path)).runtime()
    assert after.kinds["act_gelu_tanh"].samples and after.kinds["act_gelu_tanh"].fit is not None
    assert after.provenance["kinds_retimed"][-1]["added"] == ["act_gelu_tanh"]
