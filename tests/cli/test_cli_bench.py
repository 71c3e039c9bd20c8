"""`flopcount bench`: measured latency of one model or of the zoo, through the command line."""

from __future__ import annotations

import textwrap

from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()


def test_cli_bench_user_model(tmp_path):
    source = tmp_path / "tiny_model.py"
    source.write_text(textwrap.dedent("""
        from torch import nn

        def build():
            return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
    """))
    result = runner.invoke(app, ["bench", f"{source}:build", "-i", "1x3x16x16", "--repeats", "3", "--warmup", "1",
                                 "--width", "200"])
    assert result.exit_code == 0, result.output
    assert "median" in result.output and "Spearman" in result.output
    # 3*3*3*8*256 = 55,296 multiply-adds in the first conv
    assert "55.30K" in result.output


def test_cli_bench_zoo_subset_reports_correlations():
    result = runner.invoke(app, ["bench", "--zoo", "--models", "shufflenet_v2_x0_5,mobilenet_v2_w0.35",
                                 "--repeats", "1", "--warmup", "0", "--no-layers", "--profile", "h100",
                                 "--width", "200"])
    assert result.exit_code == 0, result.output
    for line in ("paper FLOPs (conv+linear)", "MAC (elements)", "roofline time (h100)"):
        assert line in result.output


def test_cli_bench_usage_errors_exit_2():
    assert runner.invoke(app, ["bench"]).exit_code == 2
    assert runner.invoke(app, ["bench", "--zoo", "--models", "nope"]).exit_code == 2


def test_cli_bench_zoo_puts_the_prediction_beside_the_measurement():
    import json

    import jsonschema
    import pytest

    from flopcount.render.common import output_schema

    args = ["--profile", "cpu_measured", "-f", "json"]
    result = runner.invoke(app, ["bench", "--zoo", "--models", "squeezenet1_1", "--repeats", "1", "--warmup", "0",
                                 "--no-layers", *args])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, output_schema())
    (row,) = document["models"]
    # the same number `flopcount predict` gives for the model's default input (a prediction: nothing timed)
    prediction = json.loads(runner.invoke(app, ["predict", "squeezenet1_1", *args]).stdout)
    predicted = prediction["predicted_ms"]
    assert document["latency_profile"] == "cpu_measured" and document["device"] == "cpu_measured"
    assert document["host_speed"] is None and "not measured" in document["host_speed_note"]
    assert row["predicted_time"] * 1e3 == pytest.approx(predicted)
    # --host-speed now: times this machine's speed against the profile's calibration when it is that machine,
    # else a one-line error before any model is timed
    from flopcount.predict import load_profile
    from flopcount.predict.drift import not_calibrated_here

    result = runner.invoke(app, ["bench", "--zoo", "--models", "squeezenet1_1", "--repeats", "1", "--warmup", "0",
                                 "--no-layers", "--host-speed", "now", *args])
    if not_calibrated_here(load_profile("cpu_measured").runtime()) is None:
        document = json.loads(result.stdout)
        speed, by_kind = document["host_speed"], document["host_speed_by_kind"]
        assert speed > 0 and "measured before and after the models" in document["host_speed_note"]
        assert {"conv1x1", "maxpool"} <= set(by_kind)  # kinds squeezenet1_1 runs, re-timed by the probe
        # each op by its kind's reading (the median's for kinds not re-timed), the containers by the median
        expected = (sum(op["predicted_ms"] * by_kind.get(op["kind"], speed) for op in prediction["ops"])
                    + prediction["container_ms"] * speed)
        assert document["models"][0]["predicted_time"] * 1e3 == pytest.approx(expected)
    else:
        assert result.exit_code != 0 and "calibrated elsewhere" in result.output
        assert result.output.strip().count("\n") == 0
