"""The model-level stage: fitting ModelTerms and choosing which weights count as cold."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
