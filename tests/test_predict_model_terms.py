"""The model-level stage: fitting ModelTerms and choosing which weights count as cold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flopcount.predict import archgen
from flopcount.predict.model_terms import cache_candidates, fit_model_terms, leave_one_out
from flopcount.predict.predictor import ModelTerms
from flopcount.predict.profile import EAGER_CPU, RuntimeProfile


def _runtime() -> RuntimeProfile:
    return RuntimeProfile(EAGER_CPU, {"threads": 1}, {}, {})


def test_cache_candidates_are_fractions_of_the_last_level_cache():
    assert cache_candidates(32 * 2**20) == [32 * 2**20, 16 * 2**20, 8 * 2**20, 4 * 2**20]
    assert cache_candidates(None) == [math.inf]  # unknown cache: every weight counts, as before


def test_the_cache_size_whose_leave_one_out_error_is_least_is_chosen():
    # Ground truth: a forward takes its kernel sum plus 0.1 ns per byte of the weights of kernels up to
    # 4 MB; kernels of 4-8 MB stream their weights in the kernel's own time already. The rows made with a
    # 4 MB cache fit exactly; those made with 8 MB also call the 4-8 MB weights cold and cannot.
    rng = np.random.default_rng(0)
    kernel_sum = rng.uniform(2e-3, 20e-3, 12)
    small = rng.uniform(0, 20e6, 12)  # bytes of weights in kernels up to 4 MB
    mid = rng.uniform(0, 40e6, 12)  # bytes in kernels of 4-8 MB
    measured = list(kernel_sum + 1e-10 * small)
    zeros = np.zeros(12)

    def rows(weights):
        return [list(r) for r in np.column_stack([kernel_sum, weights, zeros, zeros, zeros, zeros])]

    runtime = _runtime()
    fit_model_terms(runtime, {8e6: rows(small + mid), 4e6: rows(small)}, measured, [f"vgg-{i}" for i in range(12)])
    terms = ModelTerms.of(runtime)
    assert terms.weight_cache_bytes == 4e6
    assert terms.scale == pytest.approx(1.0, rel=1e-6) and terms.per_weight_byte == pytest.approx(1e-10, rel=1e-6)
    assert runtime.model_cv["median_abs_error"] < 1e-6
    scores = runtime.model_cv["weight_cache_scores"]
    assert set(scores) == {"8000000", "4000000"} and scores["4000000"] < scores["8000000"]


def test_leave_one_out_predicts_each_network_from_the_others():
    # time = 2 x kernel sum exactly: every network left out is predicted exactly by the others' fit
    rows = [[s, 0, 0, 0, 0, 0] for s in (1e-3, 2e-3, 5e-3)]
    assert leave_one_out(rows, [2e-3, 4e-3, 10e-3]) == pytest.approx([0, 0, 0], abs=1e-9)
    # the third doubled: the others fit 2x, so it is predicted at half its time (-50%)
    assert leave_one_out(rows, [2e-3, 4e-3, 20e-3])[2] == pytest.approx(-0.5, rel=1e-6)


class _FakeArch:
    def __init__(self, seed: int):
        self.seed, self.name = seed, f"vgg-{seed}"


def _timings_with_fake_networks(monkeypatch, count: int):
    from flopcount.predict import model_terms
    from flopcount.predict.measure import ModelTiming

    timed = []

    def fake_time_network(seed, threads):
        timed.append(seed)
        return ModelTiming(0.01, 0.01, 0.0, 0.01, 0.01, 0.0, 20)

    monkeypatch.setattr(model_terms, "time_network", fake_time_network)
    return model_terms.NetworkTimings([(_FakeArch(i), None) for i in range(count)], 1, lambda message: None), timed


def test_calibration_networks_are_timed_at_the_pace_of_the_kernel_rounds(monkeypatch):
    networks, timed = _timings_with_fake_networks(monkeypatch, 10)
    networks.keep_pace(0.35, elapsed_s=100.0)  # 35% of the kernel time gone: ceil(0.35 x 10) = 4 networks
    assert timed == [0, 1, 2, 3]
    networks.keep_pace(0.35, elapsed_s=110.0)  # on pace: nothing more
    assert len(timed) == 4
    networks.keep_pace(0.61, elapsed_s=160.0)  # ceil(6.1) = 7, in calibration order
    assert timed == list(range(7))


def test_networks_get_at_most_their_share_of_a_short_budget(monkeypatch):
    networks, timed = _timings_with_fake_networks(monkeypatch, 10)
    networks.spent_s = 3.0  # as if timing networks had taken 3 s of the 10 s gone
    networks.keep_pace(0.9, elapsed_s=10.0)  # 3 s >= MAX_SHARE (0.25) x 10 s: the kernels keep the time
    assert timed == []
    networks.ensure_minimum()  # over their share, still the few the model-level fit needs
    from flopcount.predict.model_terms import MIN_NETWORKS

    assert len(timed) == MIN_NETWORKS == 8


def test_calibration_networks_are_chosen_small_before_any_kernel_is_fitted():
    from flopcount.predict import archgen
    from flopcount.predict.model_terms import choose_networks

    overheads = {"op_call_s": 5e-6, "module_call_s": 1e-5, "container_call_s": 3e-6}
    rates = {"flops": 1e11, "bytes": 1e10}
    small = choose_networks(overheads, rates, lambda m: None, networks=4, max_estimated_s=0.004)
    anything = choose_networks(overheads, rates, lambda m: None, networks=4, max_estimated_s=math.inf)
    assert [a.seed for a, _ in anything] == list(archgen.CALIBRATION_SEEDS[:4])  # in seed order
    assert len(small) == 4 and all(a.seed in archgen.CALIBRATION_SEEDS for a, _ in small)
    assert [a.seed for a, _ in small] != [a.seed for a, _ in anything]  # 4 ms skips some of the first four


def _runtime_with_networks(times_s: list[float]) -> RuntimeProfile:
    runtime = RuntimeProfile(EAGER_CPU, {"threads": 1, "clock": "thread_time", "date": "2026-11-29T07:57:44Z"}, {}, {})
    runtime.model_cv = {"networks": [f"vgg-{i}" for i in range(len(times_s))], "measured_s": list(times_s)}
    return runtime


def test_a_sitting_fits_the_terms_to_the_geometric_mean_of_every_sittings_times(monkeypatch):
    from flopcount.predict import model_terms
    from flopcount.predict.measure import ModelTiming

    # Calibration timed vgg-0 at 1 ms and vgg-1 at 4 ms (thread CPU time, the profile's clock).
    runtime = _runtime_with_networks([1e-3, 4e-3])
    now = {0: 4e-3, 1: 1e-3}  # this sitting's CPU-time medians; its wall-clock ones (9 s) must not be used
    monkeypatch.setattr(model_terms, "time_network",
                        lambda seed, threads: ModelTiming(9.0, 9.0, 0.0, now[seed], now[seed], 0.0, 20))
    refitted = []
    monkeypatch.setattr(model_terms, "refit_model_terms", lambda rt: refitted.append(list(rt.model_cv["measured_s"])))
    sitting = model_terms.add_sitting(runtime)
    # per network sqrt(1 ms x 4 ms) = 2 ms, and sqrt(4 ms x 1 ms) = 2 ms; against the first sitting the
    # networks took 4 ms / 1 ms = 4x and 1 ms / 4 ms = 0.25x: median (4 + 0.25) / 2 = 2.125
    assert refitted == [pytest.approx([2e-3, 2e-3])]
    assert sitting["against_before"] == pytest.approx(2.125) and sitting["measured_s"] == [4e-3, 1e-3]
    sittings = runtime.model_cv["sittings"]
    assert [s["date"] for s in sittings][0] == "2026-11-29T07:57:44Z" and len(sittings) == 2
    # a third sitting at 2 ms each: the cube root of 1 x 4 x 2 (ms^3) = 2 ms, and 2 ms / 2 ms = 1x
    now = {0: 2e-3, 1: 2e-3}
    assert model_terms.add_sitting(runtime)["against_before"] == pytest.approx(1.0)
    assert refitted[-1] == pytest.approx([2e-3, 2e-3]) and len(runtime.model_cv["sittings"]) == 3


def test_fitting_the_model_terms_keeps_the_sittings_it_was_given():
    runtime = _runtime_with_networks([2e-3, 4e-3])
    sittings = [{"date": "a", "measured_s": [1e-3, 4e-3]}, {"date": "b", "measured_s": [4e-3, 4e-3]}]
    runtime.model_cv["sittings"] = sittings
    fit_model_terms(runtime, {math.inf: [[1e-3, 0, 0, 0, 0, 0], [2e-3, 0, 0, 0, 0, 0]]}, [2e-3, 4e-3],
                    ["vgg-0", "vgg-1"])
    assert runtime.model_cv["sittings"] == sittings
    assert ModelTerms.of(runtime).scale == pytest.approx(2.0)  # 2 ms / 1 ms and 4 ms / 2 ms


def test_a_profile_without_calibration_networks_has_no_sitting_to_add():
    from flopcount.errors import UsageError
    from flopcount.predict.model_terms import add_sitting

    with pytest.raises(UsageError, match="no calibration networks"):
        add_sitting(RuntimeProfile(EAGER_CPU, {"threads": 1}, {}, {}))


def test_network_rows_map_kernels_at_the_profiles_threads_whatever_torch_is_set_to():
    from flopcount.predict import load_profile
    from flopcount.predict.measure import num_threads
    from flopcount.predict.model_terms import network_report, network_rows

    runtime = load_profile("cpu_measured").runtime()  # calibrated at 1 thread
    report = network_report(archgen.generate(1000002))  # a calibration MobileNet: its 1x1 convs' kind depends on it
    with num_threads(1):
        at_one = network_rows(report, runtime)
    with num_threads(2):  # as a refit run from a plain script on this 2-core machine: 5.90 ms read as 6.80 before
        assert network_rows(report, runtime) == at_one
