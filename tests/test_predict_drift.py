"""host_drift and network_drift: a profile's kernels and networks timed now against their stored times."""

from __future__ import annotations

import pytest

from flopcount.predict import drift as drift_module
from flopcount.predict.measure import Sample
from flopcount.predict.profile import EAGER_CPU, KindEntry, RuntimeProfile


def _runtime(stored: dict[str, list[float]]) -> RuntimeProfile:
    kinds = {kind: KindEntry([{"config": {"numel": 1000 + i}, "min_s": s, "median_s": s} for i, s in enumerate(times)],
                             None, {}) for kind, times in stored.items()}
    return RuntimeProfile(EAGER_CPU, {"threads": 1}, {}, kinds)


def test_drift_is_the_median_ratio_of_now_to_stored_within_the_timed_range(monkeypatch):
    # act_relu stores 1e-4, 2e-4, 4e-4 s and a 1e-6 s sample below MIN_S (2e-5: not re-timed); now every
    # kernel takes 1e-4 s: ratios 1, 0.5, 0.25 -> median 0.5, quartiles of (0.25, 0.5, 1) by
    # statistics.quantiles' exclusive method: 0.25 and 1.0.
    runtime = _runtime({"act_relu": [1e-4, 2e-4, 4e-4, 1e-6]})
    timed = []

    def fake_time_configs(items, rounds, seed):
        timed.extend(items)
        return [Sample(kind, config, 1e-4, 1e-4, rounds) for kind, config in items]

    monkeypatch.setattr(drift_module, "time_configs", fake_time_configs)
    result = drift_module.host_drift(runtime, per_kind=10)
    assert sorted(c["numel"] for _, c in timed) == [1000, 1001, 1002]
    assert result.count == 3
    assert result.median == pytest.approx(0.5)
    assert (result.p25, result.p75) == (pytest.approx(0.25), pytest.approx(1.0))


def test_the_drift_keeps_each_kinds_own_median(monkeypatch):
    # act_relu stores 1e-4, 2e-4, 4e-4 s, batchnorm 1e-4 and 3e-4 s; now every kernel takes 1e-4 s.
    # act_relu's ratios 1, 0.5, 0.25 -> median 0.5; batchnorm's 1 and 1/3 -> median (1 + 1/3) / 2 = 2/3;
    # all five: 1, 1, 0.5, 1/3, 0.25 -> 0.5. Scaled by a stored calibration reading of 0.8 (no sittings):
    # 0.5 / 0.8 = 0.625 and (2/3) / 0.8 = 0.8333.
    runtime = _runtime({"act_relu": [1e-4, 2e-4, 4e-4], "batchnorm": [1e-4, 3e-4]})
    monkeypatch.setattr(drift_module, "time_configs",
                        lambda items, rounds, seed: [Sample(k, c, 1e-4, 1e-4, rounds) for k, c in items])
    result = drift_module.host_drift(runtime, per_kind=10)
    assert result.median == pytest.approx(0.5)
    assert result.by_kind == {"act_relu": pytest.approx(0.5), "batchnorm": pytest.approx(2 / 3)}
    assert result.to_dict()["by_kind"] == result.by_kind
    runtime.provenance["speed_reference"] = 0.8
    scaled = drift_module.against_reference(runtime, result)
    assert scaled.by_kind == {"act_relu": pytest.approx(0.625), "batchnorm": pytest.approx(0.8333, abs=1e-4)}
    # Whole networks carry no kinds: nothing per kind to report.
    assert "by_kind" not in drift_module.Drift.of([1.0, 1.1]).to_dict()


def test_readings_before_and_after_average_their_medians_and_the_kinds_both_re_timed():
    # medians 0.90 and 0.94 -> 0.92; maxpool 1.10 and 1.20 -> 1.15; conv read only before: left out
    before = drift_module.Drift(100, 0.90, 0.0, 0.0, {"maxpool": 1.10, "conv": 0.5})
    after = drift_module.Drift(100, 0.94, 0.0, 0.0, {"maxpool": 1.20})
    speed, by_kind = drift_module.mean_reading([before, after])
    assert speed == pytest.approx(0.92) and by_kind == {"maxpool": pytest.approx(1.15)}


def test_a_kernel_torch_refuses_now_is_left_out_not_misaligned(monkeypatch):
    # Stored 1e-4, 2e-4, 4e-4 s; now the second config fails to build (time_configs drops it) and the
    # others take 2e-4 s: ratios 2.0 and 0.5 of their own stored times, median 1.25. Matched by position,
    # the third sample would have been divided by the second's time (ratio 1.0).
    runtime = _runtime({"act_relu": [1e-4, 2e-4, 4e-4]})

    def fake_time_configs(items, rounds, seed):
        return [Sample(kind, config, 2e-4, 2e-4, rounds) for kind, config in items if config["numel"] != 1001]

    monkeypatch.setattr(drift_module, "time_configs", fake_time_configs)
    result = drift_module.host_drift(runtime, per_kind=10)
    assert result.count == 2 and result.median == pytest.approx(1.25)


def test_the_host_speed_is_measured_only_on_the_profiles_machine(monkeypatch):
    import platform

    import torch

    from flopcount.devices import cpu_name
    from flopcount.errors import ConfigError

    here = {"cpu": cpu_name(), "machine": platform.machine(), "torch": torch.__version__, "threads": 1}
    runtime = RuntimeProfile(EAGER_CPU, dict(here), {}, {})
    assert drift_module.not_calibrated_here(runtime) is None
    runtime.provenance["cpu"] = "Raspberry Pi 5 (Cortex-A76)"
    runtime.provenance["torch"] = "1.0"
    why = drift_module.not_calibrated_here(runtime)
    assert "cpu 'Raspberry Pi 5 (Cortex-A76)'" in why and "torch '1.0'" in why
    with pytest.raises(ConfigError, match="calibrated elsewhere: cpu 'Raspberry Pi 5"):
        drift_module.speed_now(runtime)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    runtime = RuntimeProfile(EAGER_CPU, {**here, "threads": 4}, {}, {})
    assert drift_module.not_calibrated_here(runtime) == "4 threads (here 2 cores)"


def test_the_host_speed_is_the_probes_reading_over_the_one_calibration_stored(monkeypatch):
    # The probe reads 0.95 now (quartiles 0.90-1.00). Calibration's own reading was 0.95: the host runs as it
    # did then, 0.95 / 0.95 = 1.0 (quartiles 0.90 / 0.95 = 0.947, 1.00 / 0.95 = 1.053). A profile from before
    # readings were stored is compared with its stored times as they are: 0.95.
    # (Calibration stores no reading when there is nothing to re-time.)
    assert drift_module.speed_reference(_runtime({"act_relu": [1e-7]})) is None
    monkeypatch.setattr(drift_module, "not_calibrated_here", lambda runtime: None)
    monkeypatch.setattr(drift_module, "_probe", lambda runtime: drift_module.Drift(100, 0.95, 0.90, 1.00))
    runtime = _runtime({"act_relu": [1e-4]})
    runtime.provenance["speed_reference"] = 0.95
    now = drift_module.speed_now(runtime)
    assert now.count == 100 and now.median == pytest.approx(1.0)
    assert (now.p25, now.p75) == (pytest.approx(0.90 / 0.95), pytest.approx(1.00 / 0.95))
    del runtime.provenance["speed_reference"]
    assert drift_module.speed_now(runtime).median == pytest.approx(0.95)


def test_the_host_speed_is_against_the_average_of_the_network_sittings(monkeypatch):
    # Kernels and networks timed in one sitting (1 ms and 4 ms); a second sitting found the networks at
    # 0.5 and 2 ms. The terms stand for the geometric means, sqrt(1 x 0.5) = 0.7071 ms and sqrt(4 x 2) =
    # 2.828 ms: 0.7071x the kernels' sitting. A probe reading 0.95 x 0.7071 of the stored kernel times, with
    # calibration's own reading 0.95, is the host at the sittings' average: 1.0.
    monkeypatch.setattr(drift_module, "not_calibrated_here", lambda runtime: None)
    monkeypatch.setattr(drift_module, "_probe", lambda runtime: drift_module.Drift(100, 0.95 * 0.5 ** 0.5, 0.6, 0.7))
    runtime = _runtime({"act_relu": [1e-4]})
    runtime.provenance["speed_reference"] = 0.95
    runtime.model_cv = {"sittings": [{"date": "a", "measured_s": [1e-3, 4e-3]}, {"date": "b", "measured_s": [5e-4, 2e-3]}]}
    assert drift_module.speed_now(runtime).median == pytest.approx(1.0, rel=1e-5)


def test_a_stored_reading_is_held_against_another_profiles_reference():
    # A run stored its probe reading divided by its profile's reference 1.0 (one sitting): median 0.98,
    # quartiles 0.95-1.02, depthwise convs 0.93. The raw reading is the same 0.98; a later profile whose
    # sittings carry 0.94 holds it as 0.98 / 0.94 = 1.0426, the depthwise reading as 0.93 / 0.94 = 0.9894.
    # Through JSON and back first: what predict_eval.py --json writes and --measured reads.
    import json

    stored = drift_module.Drift(100, 0.98, 0.95, 1.02, {"conv_dw_mkldnn": 0.93})
    read_back = drift_module.Drift.from_dict(json.loads(json.dumps(stored.to_dict())))
    assert read_back == stored
    runtime = _runtime({"act_relu": [1e-4]})
    runtime.model_cv = {"sittings": [{"date": "a", "measured_s": [1e-3]}, {"date": "b", "measured_s": [0.94 ** 2 * 1e-3]}]}
    # geometric mean of 1 and 0.94^2 ms: 0.94 ms, so the sittings carry 0.94 (no speed_reference stored)
    assert drift_module.probe_reference(runtime) == pytest.approx(0.94)
    runtime.provenance["speed_reference"] = 0.9  # calibration's own reading multiplies in: 0.9 x 0.94 = 0.846
    assert drift_module.probe_reference(runtime) == pytest.approx(0.846)
    held = read_back.over(0.94 / 1.0)
    assert held.median == pytest.approx(1.0426, abs=1e-4)
    assert (held.p25, held.p75) == (pytest.approx(0.95 / 0.94), pytest.approx(1.02 / 0.94))
    assert held.by_kind == {"conv_dw_mkldnn": pytest.approx(0.9894, abs=1e-4)}
    # a whole-network reading (no kinds) reads back without any
    assert drift_module.Drift.from_dict({"count": 2, "median": 1.0, "p25": 0.9, "p75": 1.1}).by_kind == {}


def test_a_profile_without_samples_in_range_is_an_error():
    with pytest.raises(ValueError, match="no kernel samples"):
        drift_module.host_drift(_runtime({"act_relu": [1e-7]}))


def test_network_drift_retimes_the_calibration_networks_by_seed(monkeypatch):
    # Two calibration networks stored at 10 ms and 20 ms; now both take 12 ms (thread CPU time, the clock
    # calibration uses at one thread): ratios 1.2 and 0.6 -> median 0.9. Each is timed as bench times a
    # model: one visit of 3 warm-up and 20 timed forwards.
    import importlib

    from flopcount.predict.measure import ModelTiming

    model_terms = importlib.import_module("flopcount.predict.model_terms")

    asked = []

    class FakeTimer:
        def __init__(self, threads, recycle_s=None):
            assert threads == 1

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def time_networks(self, seeds, rounds, warmup, repeats):
            assert (rounds, warmup, repeats) == (1, 3, 20)
            asked.extend(seeds)
            return [ModelTiming(0.012, 0.012, 0.0, 0.012, 0.012, 0.0, 3)]

    monkeypatch.setattr(model_terms, "KernelTimer", FakeTimer)
    runtime = _runtime({"act_relu": [1e-4]})
    runtime.model_cv = {"networks": ["resnet-17", "vgg-4"], "measured_s": [0.010, 0.020]}
    result = drift_module.network_drift(runtime)
    assert asked == [17, 4]  # the seed is the name's number
    assert result.count == 2 and result.median == pytest.approx(0.9)
