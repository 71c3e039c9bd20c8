"""The model-level stage of calibration: how isolated kernel times add up to a whole forward.

Generated calibration networks (``archgen.CALIBRATION_SEEDS``, never the evaluation's) are timed whole,
each alone in a fresh worker as `flopcount bench` times a model, and ``ModelTerms`` are fitted to them
with non-negative least squares on relative error: a scale on the kernel sum, cold weights, fresh outputs,
container modules, kernel calls and views (see ``predictor.ModelTerms``).

Which weights count as cold depends on how much of a kernel's weights stays in cache when it is timed
alone: those of a kernel larger than that stream from memory either way. The size is chosen among
fractions of the last-level cache by the calibration networks' own leave-one-out error: the cache is
shared with the other cores (and, on a cloud host, with other tenants), and a kernel keeps only part of
it. On 2026-11-29 the 120 networks chose 8 of 32 MB (score 5.2% against 5.7% for 32 MB); with the full
32 MB, VGG-style networks whose fully connected layers hold 16-32 MB were over-predicted by up to 21%.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import numpy as np

from flopcount.devices import last_level_cache_bytes
from flopcount.predict import archgen
from flopcount.predict.fit import fit_base
from flopcount.predict.kernels import kernels_of
from flopcount.predict.measure import ModelTiming, clock
from flopcount.predict.predictor import ModelTerms, kernel_seconds, model_features
from flopcount.predict.profile import RuntimeProfile
from flopcount.predict.worker import KernelTimer
from flopcount.timing import BENCH_REPEATS, BENCH_WARMUP

# Generated calibration networks timed whole. Each takes ~0.2 s alone in a fresh worker; fitted on 120
# instead of 40, the model-level terms missed fewer of 53 models outside the generator (2026-11-29).
NETWORKS = 120
MIN_NETWORKS = 8
# Whole networks are fitted to the median of their forwards: what `flopcount bench` reports and what a
# prediction is compared with. Kernels keep the profile's statistic (the min of their rounds: a kernel's
# burst noise would otherwise enter every fit); the model-level scale absorbs the difference.
NETWORK_STATISTIC = "median_s"
CACHE_FRACTIONS = (1.0, 0.5, 0.25, 0.125)  # of the last-level cache: the candidates for weight_cache_bytes


def network_rows(model, input_size: Sequence[int], runtime: RuntimeProfile,
                 weight_caches: Sequence[float] = (math.inf,)) -> list[list[float]]:
    """For each of ``weight_caches``: [kernel sum, weight bytes, output bytes, containers, kernel calls,
    views] of a network, its model-level design row aligned with ``ModelTerms.NAMES``."""
    from flopcount.analysis import analyze

    report = analyze(model, tuple(input_size), device="meta")
    kernels = kernels_of(report.records)
    seconds = sum(s for s, _ in kernel_seconds(kernels, report.records, runtime))
    rows = []
    for cache in weight_caches:
        weight_bytes, output_bytes, containers, calls, views = model_features(report.records, kernels, cache)
        rows.append([seconds, weight_bytes, output_bytes, float(containers), float(calls), float(views)])
    return rows


def cache_candidates(cache_bytes: int | None) -> list[float]:
    return [cache_bytes * f for f in CACHE_FRACTIONS] if cache_bytes else [math.inf]


def calibrate_model_terms(runtime: RuntimeProfile, deadline: float, progress: Callable[[str], None],
                          networks: int = NETWORKS, max_predicted_s: float = 0.08) -> None:
    """Fit ModelTerms on generated calibration networks, each timed whole alone, by ``deadline``."""
    import torch

    caches = cache_candidates(last_level_cache_bytes())
    chosen, rows = [], []
    for seed in archgen.CALIBRATION_SEEDS:
        if len(chosen) >= networks or (time.perf_counter() > deadline and len(chosen) >= MIN_NETWORKS):
            break
        arch = archgen.generate(seed)
        with torch.device("meta"):
            meta_model = arch.build()
        per_cache = network_rows(meta_model, arch.input_size, runtime, caches)
        if per_cache[0][0] > max_predicted_s:  # keep the stage short: small and mid-sized networks only
            continue
        chosen.append(arch)
        rows.append(per_cache)
        progress(f"choosing calibration networks: {len(chosen)}")
    timings = []
    for arch in chosen:
        # Each alone in a young process, as `flopcount bench` times a model: timed together in one process,
        # the 40 calibration networks ran 3-4% slower than each alone (2026-11-28), and the model-level
        # terms carried that into every prediction.
        if time.perf_counter() > deadline and len(timings) >= MIN_NETWORKS:
            break
        progress(f"timing calibration network {len(timings) + 1} of {len(chosen)}, alone in a fresh worker")
        timings.append(time_network(arch.seed, runtime.threads))
    chosen, rows = chosen[:len(timings)], rows[:len(timings)]
    # The same clock as the kernels: thread CPU time at one thread (see measure.clock).
    cpu = clock() is time.thread_time
    y = [float(getattr(t, ("cpu_" if cpu else "") + NETWORK_STATISTIC)) for t in timings]
    fit_model_terms(runtime, {cache: [r[i] for r in rows] for i, cache in enumerate(caches)}, y,
                    [arch.name for arch in chosen])


def refit_model_terms(runtime: RuntimeProfile) -> None:
    """Fit the model-level terms again from the profile's stored calibration networks and their times
    (after a change of the kernel fits), over the cache sizes calibration chose among."""
    import torch

    names = runtime.model_cv["networks"]
    stored = runtime.model_cv.get("weight_cache_scores")
    caches = ([math.inf if c == "inf" else float(c) for c in stored] if stored
              else [ModelTerms.of(runtime).weight_cache_bytes])
    rows = []
    for name in names:
        arch = archgen.generate(archgen.seed_of(name))
        with torch.device("meta"):
            rows.append(network_rows(arch.build(), arch.input_size, runtime, caches))
    fit_model_terms(runtime, {cache: [r[i] for r in rows] for i, cache in enumerate(caches)},
                    [float(v) for v in runtime.model_cv["measured_s"]], names)


def time_network(seed: int, threads: int) -> ModelTiming:
    """The generated network ``seed`` timed whole, alone in a fresh worker, as `flopcount bench` times a
    model (its warm-up, then its repeats in a row)."""
    with KernelTimer(threads, recycle_s=math.inf) as timer:
        return timer.time_networks([seed], rounds=1, warmup=BENCH_WARMUP, repeats=BENCH_REPEATS)[0]


def leave_one_out(rows: Sequence[Sequence[float]], measured: Sequence[float]) -> list[float]:
    """Relative error of each network predicted by the terms fitted on all the others."""
    a, y = np.asarray(rows, dtype=float), np.asarray(measured, dtype=float)
    errors = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        errors.append(float(a[i] @ fit_base(a[keep], y[keep]) / y[i] - 1))
    return errors


def _score(errors: Sequence[float]) -> float:
    """What the cache size is chosen by: the mean of the median and 90th-percentile absolute error."""
    e = np.abs(np.asarray(errors))
    return float((np.median(e) + np.quantile(e, 0.9)) / 2) if len(e) else math.inf


def fit_model_terms(runtime: RuntimeProfile, rows_by_cache: dict[float, list[list[float]]], measured: list[float],
                    names: list[str]) -> None:
    """Non-negative model-level terms from network rows and their measured seconds, for the candidate cache
    size whose leave-one-out error is least, stored with that error and every candidate's score."""
    errors_by_cache = {cache: leave_one_out(rows, measured) for cache, rows in rows_by_cache.items()}
    scores = {cache: _score(errors) for cache, errors in errors_by_cache.items()}
    cache = min(scores, key=lambda c: (scores[c], -c))  # ties: the larger cache, the fewer weights called cold
    rows, errors = rows_by_cache[cache], errors_by_cache[cache]
    coef = fit_base(np.asarray(rows, dtype=float), np.asarray(measured, dtype=float))
    runtime.model_terms = ModelTerms(*[float(c) for c in coef], weight_cache_bytes=cache).to_dict()
    runtime.model_cv = {"networks": names, "statistic": NETWORK_STATISTIC,
                        "measured_s": [float(f"{v:.6g}") for v in measured],
                        "rows": [[float(f"{v:.6g}") for v in row] for row in rows],
                        "leave_one_out_errors": [round(e, 4) for e in errors],
                        "median_abs_error": round(float(np.median(np.abs(errors))), 4) if errors else math.nan,
                        "weight_cache_scores": {("inf" if math.isinf(c) else str(int(c))): round(s, 4)
                                                for c, s in scores.items()},
                        "kernel_sum_errors": [round(float(r[0] / m - 1), 4) for r, m in zip(rows, measured)]}
