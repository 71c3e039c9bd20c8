"""Measured latency: statistics by hand; timings only checked for being there and positive."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from flopcount.bench import Timing, bench, measure_layers, num_threads, ranks, spearman



def test_ranks_average_ties():
    assert ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert ranks([3, 1, 2]) == [3, 1, 2]


def test_spearman_by_hand():
    # ranks of y = [1, 2, 3.5, 5, 3.5]; deviations from 3: x (-2,-1,0,1,2), y (-2,-1,.5,2,.5)
    # sxy = 4+1+0+2+1 = 8, sxx = 10, syy = 4+1+.25+4+.25 = 9.5 -> 8 / sqrt(95)
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert spearman([1, 2, 3], [10, 200, 3000]) == pytest.approx(1.0)  # monotone, not linear: still 1
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_timing_summary():
    t = Timing.of([3.0, 1.0, 2.0, 4.0])
    # sorted 1,2,3,4: median 2.5; quartiles by linear interpolation at positions 0.75 and 2.25
    assert (t.median, t.p25, t.p75, t.min, t.max, t.repeats) == (2.5, 1.75, 3.25, 1.0, 4.0, 4)
    assert t.spread == pytest.approx(1.5 / 2.5)


def test_flop_bands_group_similar_flops_and_correlate_within():
    from flopcount.bench import ZooBench, ZooRow, flop_bands

    def row(name, flops, mac, ms):
        return ZooRow(name, flops, flops, mac, 4 * mac, None, Timing.of([ms]), float("nan"), float("nan"))

    # a band 100-115 (within 1.2x of 100) where latency follows MAC and runs against FLOPs, then a lone 1000
    rows = [row("a", 100, 40, 4.0), row("b", 105, 30, 3.0), row("c", 110, 20, 2.0), row("d", 115, 10, 1.0),
            row("big", 1000, 50, 9.0)]
    (band,) = flop_bands(ZooBench(rows, 1, None))
    assert band.names == ["a", "b", "c", "d"] and (band.low, band.high) == (100, 115)
    assert band.rho_flops == pytest.approx(-1.0) and band.rho_mac == pytest.approx(1.0)
    assert band.rho_roofline is None


def tiny():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 4))


def test_bench_tiny_model_gives_positive_times_aligned_with_records():
    before = torch.get_num_threads()
    result = bench(tiny(), (1, 3, 8, 8), warmup=1, repeats=3, threads=1)
    assert torch.get_num_threads() == before  # the thread setting is restored
    assert result.threads == 1
    assert result.whole.median > 0 and result.whole.repeats == 3
    assert len(result.layers) == len(result.report.records) == 4
    counted = [t for r, t in zip(result.report.records, result.layers) if r.mac]
    assert all(t.median > 0 for t in counted)


def test_measure_layers_times_ops_outside_modules():
    class AddRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return torch.relu(self.conv(x) + x)

    measured = measure_layers(AddRelu().eval(), (torch.randn(1, 4, 4, 4),), warmup=0, repeats=2)
    assert measured.names == ["conv", "(root):add", "(root):relu"]
    assert all(t.median > 0 for t in measured.timings)


def test_bench_refuses_a_meta_model():
    from flopcount.errors import UsageError

    with torch.device("meta"):
        model = tiny()
    with pytest.raises(UsageError, match="real weights"):
        bench(model, (1, 3, 8, 8))


def test_threads_must_be_positive():
    from flopcount.errors import UsageError

    with pytest.raises(UsageError):
        with num_threads(0):
            pass


def test_bench_zoo_gives_each_model_its_latency_beside_its_prediction():
    from flopcount.bench import bench_zoo
    from flopcount.predict import load_profile

    zoo = bench_zoo(["squeezenet1_1"], warmup=0, repeats=2, threads=1, layers=False,
                    latency_profile=load_profile("cpu_measured"))
    (row,) = zoo.rows
    assert zoo.threads == 1 and row.name == "squeezenet1_1" and row.latency.median > 0
    assert row.predicted_time > 0 and math.isnan(row.layer_spearman_flops)  # no layers asked for
    assert row.paper_flops == 349_151_936  # squeezenet1_1 at 224x224 (REFERENCES.md, torchvision's count)


def test_bench_zoo_scales_predictions_to_the_hosts_speed_only_on_the_profiles_machine(monkeypatch):
    from flopcount.bench import bench_zoo
    from flopcount.predict import drift, load_profile, predict
    from flopcount.predict.drift import Drift

    from flopcount.errors import ConfigError

    profile = load_profile("cpu_measured")
    real_speed_now = drift.speed_now
    # measured before and after the models: mean 0.92; max pools read 1.10 and 1.20 (mean 1.15), and the
    # kinds read only once (here conv) are left to the median
    speeds = iter([Drift(100, 0.90, 0.0, 0.0, {"maxpool": 1.10, "conv": 0.5}), Drift(100, 0.94, 0.0, 0.0, {"maxpool": 1.20})])
    monkeypatch.setattr(drift, "not_calibrated_here", lambda runtime: None)
    monkeypatch.setattr(drift, "speed_now", lambda runtime: next(speeds))
    zoo = bench_zoo(["squeezenet1_1"], warmup=0, repeats=1, threads=1, layers=False, latency_profile=profile,
                    host_speed=True)
    report = load_model_report("squeezenet1_1")
    assert zoo.host_speed == pytest.approx(0.92)
    assert zoo.host_speed_by_kind == {"maxpool": pytest.approx(1.15)}
    calibrated = predict(report, profile)
    pools = sum(o.seconds for o in calibrated.ops if o.kind == "maxpool")
    assert pools > 0  # squeezenet1_1's three max pools
    assert zoo.rows[0].predicted_time == pytest.approx(0.92 * (calibrated.total_seconds - pools) + 1.15 * pools)
    assert "0.900, 0.940" in zoo.host_speed_note

    # asked for on another machine: the one-line error speed_now gives, before any model is timed
    monkeypatch.setattr(drift, "not_calibrated_here", lambda runtime: "cpu 'Jetson Orin' (here 'x')")
    monkeypatch.setattr(drift, "speed_now", real_speed_now)
    with pytest.raises(ConfigError, match="calibrated elsewhere: cpu 'Jetson Orin'"):
        bench_zoo(["squeezenet1_1"], warmup=0, repeats=1, threads=1, layers=False, latency_profile=profile,
                  host_speed=True)
    with pytest.raises(ConfigError, match="calibrated at 1 thread"):
        bench_zoo(["squeezenet1_1"], warmup=0, repeats=1, threads=2, layers=False, latency_profile=profile,
                  host_speed=True)
    # by default predictions stay as calibrated, and the output says the speed was not measured
    zoo = bench_zoo(["squeezenet1_1"], warmup=0, repeats=1, threads=1, layers=False, latency_profile=profile)
    assert zoo.host_speed is None and "not measured" in zoo.host_speed_note


def load_model_report(name: str):
    from flopcount.analysis import analyze
    from flopcount.loading import load_model
    from flopcount.zoo import get_spec

    return analyze(load_model(name).model, tuple(get_spec(name).input_size), device="meta", name=name)


def test_bench_without_whole_times_layers_only():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    result = bench(model, (1, 3, 8, 8), warmup=0, repeats=1, whole=False)
    assert result.whole is None and len(result.layers) == len(result.report.records) == 2


class _Shrink(nn.Module):
    """Scales its input by 1e-39: below float32's smallest normal (2**-126 ~ 1.18e-38), above zero."""

    def forward(self, x):
        return x * 1e-39


def test_bench_warns_when_activations_are_denormal_floats():
    import json

    from flopcount.numerics import count_denormals
    from flopcount.render.bench import to_json

    model = nn.Sequential(nn.ReLU(), _Shrink())
    x = torch.rand(1, 100) + 0.5  # in [0.5, 1.5): the ReLU keeps all 100, the shrink makes all 100 denormal
    counted = count_denormals(model, (x,))
    # 100 denormal of 200 float elements output (100 by the ReLU, 100 by the shrink)
    assert (counted.elements, counted.total, counted.fraction) == (100, 200, 0.5)
    assert (counted.worst_layer, counted.worst_fraction) == ("1", 1.0)

    result = bench(model, (1, 100), repeats=3, layers=False)
    # bench's own input is normal random floats: the ReLU keeps about half of them, all of those shrink
    assert result.denormals.significant and result.denormals.worst_layer == "1"
    document = json.loads(to_json(result))
    assert document["warnings"][0].startswith("warning: ") and "denormal" in document["warnings"][0]

    plain = bench(nn.Sequential(nn.ReLU()), (1, 100), repeats=3, layers=False)
    assert plain.denormals.elements == 0 and not plain.denormals.significant
    assert json.loads(to_json(plain))["warnings"] == []
