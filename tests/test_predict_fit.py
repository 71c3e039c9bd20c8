"""Sampling and fitting of the latency predictors, on synthetic timings with a known ground truth.

No test here measures anything: the "times" are functions of the configs, so every expectation is exact
or follows from the ground truth the test writes down.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from flopcount.predict import sampling
from flopcount.predict.fit import KindFit, cross_validate, fit_base, fit_kind, grow_tree, nnls
from flopcount.predict.kinds import KINDS, conv_kind, conv_shapes
from flopcount.predict.measure import num_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Which conv kind a config is depends on the backend torch picks for it, which depends on the thread
    count: sample as `flopcount calibrate --threads 1` does."""
    with num_threads(1):
        yield


def test_nnls_matches_hand_solution_with_an_active_bound():
    # Unconstrained least squares of [[1,0],[0,1],[1,1]] x = [2,-1,1] gives x = (5/3, -4/3); x2 < 0 is
    # clamped, and with x2 = 0 the best x1 minimises (x1-2)^2 + 1 + (x1-1)^2: x1 = 1.5.
    x = nnls(np.array([[1.0, 0], [0, 1], [1, 1]]), np.array([2.0, -1, 1]))
    assert x == pytest.approx([1.5, 0.0])


def test_fit_base_recovers_a_linear_law_exactly():
    # t = 4 us per call + 1 ns per 10 FLOPs + 0.5 ns per element: relative least squares is exact.
    rng = np.random.default_rng(0)
    flops, elements = 10 ** rng.uniform(3, 9, 50), 10 ** rng.uniform(2, 7, 50)
    seconds = 4e-6 + flops * 1e-10 + elements * 5e-10
    coef = fit_base(np.stack([np.ones(50), flops, elements], 1), seconds)
    assert coef == pytest.approx([4e-6, 1e-10, 5e-10], rel=1e-6)


def test_tree_splits_where_the_step_is():
    # y = 0 for x < 5, 1 above: the best split threshold is the midpoint of 4 and 5.
    x = np.arange(10, dtype=float).reshape(-1, 1)
    y = (x[:, 0] >= 5).astype(float)
    tree = grow_tree(x, y, depth=1, min_leaf=1)
    assert tree.feature[0] == 0 and tree.threshold[0] == pytest.approx(4.5)
    assert tree.predict(np.array([[2.0], [7.0]])) == pytest.approx([0.0, 1.0])


def _depthwise_truth(config: dict) -> float:
    """Ground truth of a synthetic machine: 3 us per call, 0.2 ns per multiply-add, 1 ns per element moved,
    and 3x slower multiply-adds when there are fewer than 32 channels (a shape effect the base cannot see)."""
    flops, xin, xout, weights, _ = conv_shapes(config)
    slow = 3.0 if config["cin"] < 32 else 1.0
    return 3e-6 + 2e-10 * flops * slow + 1e-9 * (xin + xout)


def test_sampled_configs_are_affordable_of_their_kind_and_cover_the_space():
    rng = random.Random(1)
    configs = [sampling.sample("conv_dw_mkldnn", rng) for _ in range(300)]
    assert all(conv_kind(c) == "conv_dw_mkldnn" and sampling.affordable("conv_dw_mkldnn", c) for c in configs)
    channels = [c["cin"] for c in configs]
    sizes = [c["h"] for c in configs]
    # Log-uniform over 8..2048 channels and 3..224 pixels: 300 draws reach both ends' decades.
    assert min(channels) < 16 and max(channels) > 512
    assert min(sizes) < 8 and max(sizes) > 100
    assert {c["kh"] for c in configs} == {3, 5, 7} and {c["s"] for c in configs} == {1, 2}


def test_attention_is_sampled_mostly_as_models_call_it_and_refined_in_its_form():
    rng = random.Random(3)
    configs = [sampling.sample("sdpa", rng) for _ in range(400)]
    four_d = sum(c["rank"] == 4 for c in configs) / len(configs)
    causal = sum(c["causal"] for c in configs) / len(configs)
    masked = sum(c["masked"] for c in configs) / len(configs)
    # drawn with 0.8, 0.15 and 0.15: 400 draws put each within 4 standard errors (sqrt(p (1 - p) / 400) <= 0.02)
    assert abs(four_d - 0.8) < 0.08 and abs(causal - 0.15) < 0.072 and abs(masked - 0.15) < 0.072
    assert not any(c["causal"] and c["masked"] for c in configs)  # torch refuses a mask with is_causal
    near = [sampling.neighbour("sdpa", c, rng) for c in configs[:50]]
    assert [(n["rank"], n["causal"], n["masked"]) for n in near] == [(c["rank"], c["causal"], c["masked"]) for c in configs[:50]]


def test_windowed_convs_often_keep_their_width_as_networks_do():
    rng = random.Random(5)
    grouped = [c for c in (sampling.sample("conv_group_mkldnn", rng) for _ in range(900)) if c["kh"] > 1]
    dense = [sampling.sample("conv_mkldnn", rng) for _ in range(600)]
    pointwise = [sampling.sample("conv1x1", rng) for _ in range(600)]

    def same_width(configs):
        return np.mean([c["cin"] == c["cout"] for c in configs])

    # SAME_WIDTH_SHARE = 0.4 of windowed draws set c_out = c_in, except dense convs on 3 input channels (an
    # RGB stem: 12% of dense draws), so 0.4 for grouped and 0.88 x 0.4 = 0.35 for dense, plus the few that
    # independent widths make equal. ~600 draws: standard error sqrt(0.4 x 0.6 / 600) = 0.02.
    assert 0.34 <= same_width(grouped) <= 0.52
    assert 0.29 <= same_width(dense) <= 0.45
    assert same_width(pointwise) < 0.1  # 1x1 convs change width (expand, project): widths stay independent
    assert all(c["cin"] % c["g"] == 0 and c["cout"] % c["g"] == 0 for c in grouped)


def test_fit_learns_a_shape_effect_the_linear_base_misses():
    rng = random.Random(2)
    spec = KINDS["conv_dw_mkldnn"]
    train = [sampling.sample("conv_dw_mkldnn", rng) for _ in range(300)]
    test = [sampling.sample("conv_dw_mkldnn", rng) for _ in range(200)]
    fit = fit_kind([spec.terms(c) for c in train], [spec.features(c) for c in train], [_depthwise_truth(c) for c in train])
    predicted = fit.predict([spec.terms(c) for c in test], [spec.features(c) for c in test])
    errors = np.abs(predicted / np.array([_depthwise_truth(c) for c in test]) - 1)
    base_only = KindFit(fit.coef).predict([spec.terms(c) for c in test], [spec.features(c) for c in test])
    base_errors = np.abs(base_only / np.array([_depthwise_truth(c) for c in test]) - 1)
    assert np.mean(errors <= 0.10) >= 0.9  # the boosted correction finds the < 32 channels step
    assert np.median(errors) < np.median(base_errors)


def test_cross_validation_reports_out_of_fold_errors_per_sample():
    rng = random.Random(3)
    spec = KINDS["conv_dw_mkldnn"]
    configs = [sampling.sample("conv_dw_mkldnn", rng) for _ in range(120)]
    truth = [_depthwise_truth(c) for c in configs]
    cv = cross_validate([spec.terms(c) for c in configs], [spec.features(c) for c in configs], truth, folds=4, trees=40)
    assert len(cv.errors) == 120 and cv.folds == 4
    summary = cv.summary()
    assert summary["samples"] == 120 and 0 <= summary["within_10pct"] <= 1
    assert summary["median_abs_error"] < 0.05  # noiseless ground truth: held-out error stays small


def test_refinement_draws_near_the_worst_sample():
    rng = random.Random(4)
    configs = [sampling.sample("conv1x1", rng) for _ in range(40)]
    errors = [0.01] * 40
    errors[7] = 2.0  # one config the predictor gets badly wrong
    new = sampling.refine("conv1x1", configs, errors, 60, rng, explore=0.0)
    worst = configs[7]
    # The worst quarter (10 configs) is drawn in proportion to |error|: 2.0 against nine times 0.011.
    near = [c for c in new if all(worst[k] / 1.5 - 1 <= c[k] <= worst[k] * 1.5 + 1 for k in ("cin", "cout", "h"))]
    assert len(near) >= 40
    assert all(conv_kind(c) == "conv1x1" and sampling.affordable("conv1x1", c) for c in new)


@pytest.mark.parametrize("kind", sampling.sampler_kinds())
def test_neighbours_stay_in_kind_and_affordable(kind):
    rng = random.Random(5)
    for _ in range(20):
        config = sampling.sample(kind, rng)
        other = sampling.neighbour(kind, config, rng)
        assert sampling.affordable(kind, other)
        assert len(KINDS[kind].terms(other)) == len(KINDS[kind].term_names)
        assert len(KINDS[kind].features(other)) == len(KINDS[kind].feature_names)
        if kind.startswith("conv"):
            assert conv_kind(other) == kind


def test_fit_round_trips_through_a_dict():
    rng = random.Random(6)
    spec = KINDS["conv_dw_mkldnn"]
    configs = [sampling.sample("conv_dw_mkldnn", rng) for _ in range(60)]
    terms, features = [spec.terms(c) for c in configs], [spec.features(c) for c in configs]
    fit = fit_kind(terms, features, [_depthwise_truth(c) for c in configs])
    again = KindFit.from_dict(fit.to_dict())
    assert again.predict(terms, features) == pytest.approx(fit.predict(terms, features), rel=1e-3)  # stored rounded
    assert again.in_range(features[0]) and not again.in_range([f + 100 for f in features[0]])


def test_refit_rebuilds_fits_from_stored_samples():
    from flopcount.predict import EAGER_CPU, PredictProfile, refit
    from flopcount.predict.profile import KindEntry, RuntimeProfile

    rng = random.Random(7)
    configs = [sampling.sample("conv_dw_mkldnn", rng) for _ in range(80)]
    samples = [{"config": c, "min_s": _depthwise_truth(c), "median_s": _depthwise_truth(c)} for c in configs]
    runtime = RuntimeProfile(EAGER_CPU, {"threads": 1}, {}, {"conv_dw_mkldnn": KindEntry(samples, None, {})})
    profile = refit(PredictProfile("synthetic", {EAGER_CPU: runtime}), trees=40)
    entry = profile.runtime().kinds["conv_dw_mkldnn"]
    spec = KINDS["conv_dw_mkldnn"]
    assert entry.cv["samples"] == 80 and entry.fit is not None
    # In-sample: the fit reproduces the ground truth it was fitted to within 10% on 90% of the configs.
    predicted = entry.fit.predict([spec.terms(c) for c in configs], [spec.features(c) for c in configs])
    assert np.mean(np.abs(predicted / np.array([_depthwise_truth(c) for c in configs]) - 1) <= 0.10) >= 0.9
