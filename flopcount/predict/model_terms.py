"""The model-level stage of calibration: how isolated kernel times add up to a whole forward.

Generated calibration networks (``archgen.CALIBRATION_SEEDS``, never the evaluation's) are timed whole,
each alone in a fresh worker as `flopcount bench` times a model, and ``ModelTerms`` are fitted to them
with non-negative least squares on relative error: a scale on the kernel sum, cold weights, fresh outputs,
container modules, kernel calls and views (see ``predictor.ModelTerms``).

In a model, a kernel reads from memory the weights that stayed in cache while it was timed alone: all
of them for a small kernel, the cache's share of a large one (the rest streamed even alone, so its fit
holds that cost). That share is chosen among fractions of the last-level cache by the calibration
networks' own leave-one-out error: the cache is shared with the other cores (and, on a cloud host, with
other tenants), and a kernel keeps only part of it. On 2026-11-29 the 120 networks chose 4 of 32 MB
(score 7.4% against 8.3% for 32 MB).
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable, Sequence

import numpy as np

from flopcount.devices import last_level_cache_bytes
from flopcount.errors import UsageError
from flopcount.predict import archgen
from flopcount.predict.fit import fit_base
from flopcount.predict.kernels import kernels_of
from flopcount.predict.measure import ModelTiming, clock, num_threads
from flopcount.predict.predictor import ModelTerms, kernel_seconds, model_features
from flopcount.predict.profile import EAGER_CPU, RuntimeProfile
from flopcount.predict.worker import KernelTimer
from flopcount.report import Report
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


def network_report(arch: archgen.Arch) -> Report:
    """A generated network analysed on meta (no forward runs)."""
    import torch

    from flopcount.analysis import analyze

    with torch.device("meta"):
        model = arch.build()
    return analyze(model, tuple(arch.input_size), device="meta")


def network_rows(report: Report, runtime: RuntimeProfile,
                 weight_caches: Sequence[float] = (math.inf,)) -> list[list[float]]:
    """For each of ``weight_caches``: [kernel sum, weight bytes, output bytes, containers, kernel calls,
    views] of a network, its model-level design row aligned with ``ModelTerms.NAMES``."""
    with num_threads(runtime.threads):  # the kinds torch runs at the profile's threads, as predict() maps them
        kernels = kernels_of(report.records)
    seconds = sum(s for s, _ in kernel_seconds(kernels, report.records, runtime))
    rows = []
    for cache in weight_caches:
        terms = ModelTerms(weight_cache_bytes=cache)
        weight_bytes, output_bytes, containers, calls, views = model_features(report.records, kernels, terms)
        rows.append([seconds, weight_bytes, output_bytes, float(containers), float(calls), float(views)])
    return rows


def cache_candidates(cache_bytes: int | None) -> list[float]:
    return [cache_bytes * f for f in CACHE_FRACTIONS] if cache_bytes else [math.inf]


def choose_networks(overheads: dict[str, float], rates: dict[str, float], progress: Callable[[str], None],
                    networks: int = NETWORKS, max_estimated_s: float = 0.08) -> list[tuple[archgen.Arch, Report]]:
    """The first ``networks`` generated calibration networks whose forward, estimated before any kernel is
    fitted (each op's per-call ``overheads`` + its roofline time at the measured fallback ``rates``), is at
    most ``max_estimated_s``: small and mid-sized ones, so that timing them stays short. On the networks of
    the profile of 2026-11-29 the estimate was 0.26-1.05x their measured time (10th-90th percentile), and
    it chose the same 120 networks as the fitted kernel sum had. Each comes with its analysis, which the
    model-level fit reuses once the kernels are fitted."""
    unfitted = RuntimeProfile(EAGER_CPU, {}, overheads, {}, fallback_rates=rates)
    chosen: list[tuple[archgen.Arch, Report]] = []
    for seed in archgen.CALIBRATION_SEEDS:
        if len(chosen) >= networks:
            break
        arch = archgen.generate(seed)
        report = network_report(arch)
        if network_rows(report, unfitted)[0][0] <= max_estimated_s:
            chosen.append((arch, report))
            progress(f"choosing calibration networks: {len(chosen)}")
    return chosen


class NetworkTimings:
    """Calibration networks timed whole, each alone in a fresh worker as `flopcount bench` times a model
    (timed together in one process, 40 calibration networks ran 3-4% slower than each alone, 2026-11-28),
    paced across the kernel rounds.

    Timed after every kernel, the networks saw another machine: in a calibration of 2026-11-29 the kernels
    were timed while the host ran 5-7% slower than during the networks' four minutes after them, the
    model-level scale came out at 0.88 instead of 0.94, and every model of the evaluation was predicted
    8% low (median). Spread over the kernel rounds, networks and kernels sample the same states of the host.
    """

    # At most this share of the time so far goes to networks: 120 take ~40 s here, which a short budget
    # cannot give them all.
    MAX_SHARE = 0.25

    def __init__(self, chosen: Sequence[tuple[archgen.Arch, Report]], threads: int, progress: Callable[[str], None]):
        self.chosen, self.threads, self.progress = list(chosen), threads, progress
        self.timings: list[ModelTiming] = []
        self.spent_s = 0.0

    def keep_pace(self, fraction: float, elapsed_s: float) -> None:
        """Time networks until ``fraction`` (0-1) of them are timed, or they have had ``MAX_SHARE`` of
        ``elapsed_s``."""
        while (len(self.timings) < min(len(self.chosen), math.ceil(fraction * len(self.chosen)))
               and self.spent_s < self.MAX_SHARE * elapsed_s):
            self._time_next()

    def ensure_minimum(self) -> None:
        """Time networks until ``MIN_NETWORKS`` are (the model-level fit needs a few, however short the budget)."""
        while len(self.timings) < min(len(self.chosen), MIN_NETWORKS):
            self._time_next()

    def _time_next(self) -> None:
        self.progress(f"timing calibration network {len(self.timings) + 1} of {len(self.chosen)}, "
                      "alone in a fresh worker")
        start = time.perf_counter()
        arch, _ = self.chosen[len(self.timings)]
        self.timings.append(time_network(arch.seed, self.threads))
        self.spent_s += time.perf_counter() - start

    def fit(self, runtime: RuntimeProfile) -> None:
        """The model-level terms of ``runtime`` (its kernel fits done) from the networks timed so far."""
        timed = self.chosen[:len(self.timings)]
        caches = cache_candidates(last_level_cache_bytes())
        # The same clock as the kernels: thread CPU time at one thread (see measure.clock).
        cpu = clock() is time.thread_time
        y = [float(getattr(t, ("cpu_" if cpu else "") + NETWORK_STATISTIC)) for t in self.timings]
        fit_model_terms(runtime, _rows_by_cache([report for _, report in timed], runtime, caches), y,
                        [arch.name for arch, _ in timed])


def _rows_by_cache(reports: Sequence[Report], runtime: RuntimeProfile,
                   caches: Sequence[float]) -> dict[float, list[list[float]]]:
    """Each network's model-level design row (``network_rows``) for each candidate cache size."""
    rows = [network_rows(report, runtime, caches) for report in reports]
    return {cache: [r[i] for r in rows] for i, cache in enumerate(caches)}


def refit_model_terms(runtime: RuntimeProfile) -> None:
    """Fit the model-level terms again from the profile's stored calibration networks and their times
    (after a change of the kernel fits), over the cache sizes calibration chose among."""
    names = runtime.model_cv["networks"]
    stored = runtime.model_cv.get("weight_cache_scores")
    caches = ([math.inf if c == "inf" else float(c) for c in stored] if stored
              else [ModelTerms.of(runtime).weight_cache_bytes])
    reports = [network_report(archgen.generate(archgen.seed_of(name))) for name in names]
    fit_model_terms(runtime, _rows_by_cache(reports, runtime, caches),
                    [float(v) for v in runtime.model_cv["measured_s"]], names)


def add_sitting(runtime: RuntimeProfile, on_progress: Callable[[float, str], None] = lambda f, m: None) -> dict:
    """Time the profile's calibration networks again, now, each alone in a fresh worker as calibration
    timed them, and fit the model-level terms to every sitting: per network, the geometric mean of its
    sittings' times. Returns this sitting's record (date, times, its median ratio to the sittings before).

    A shared host runs in phases: this one ran 5-12% faster for tens of minutes at a time on 2026-11-29,
    and a profile whose networks were timed in one sitting predicts the phase it was made in (evaluated
    in the other, 56-87% of 153 models within 10% instead of 96-99%). Sittings at other times of day put
    the model-level scale at the host's average. The kernel fits stay as they were calibrated: they set
    how kernels compare, the networks how their sum maps to a forward.
    """
    names = runtime.model_cv.get("networks")
    if not names:
        raise UsageError("the profile has no calibration networks (calibrated with --kind): no sitting to add")
    cpu = runtime.provenance.get("clock") == "thread_time"  # the clock its networks were timed by
    times = []
    for i, name in enumerate(names):
        on_progress(i / len(names), f"timing calibration network {i + 1} of {len(names)}, alone in a fresh worker")
        timing = time_network(archgen.seed_of(name), runtime.threads)
        times.append(timing.cpu_median_s if cpu else timing.median_s)
    sittings = runtime.model_cv.get("sittings") or [
        {"date": runtime.provenance.get("date"), "measured_s": list(runtime.model_cv["measured_s"])}]
    before = combined_times(sittings)
    sitting = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "measured_s": [float(f"{t:.6g}") for t in times],
               "against_before": round(statistics.median(t / b for t, b in zip(times, before)), 4)}
    sittings.append(sitting)
    runtime.model_cv["sittings"], runtime.model_cv["measured_s"] = sittings, combined_times(sittings)
    on_progress(1.0, "fitting the model-level terms to every sitting")
    refit_model_terms(runtime)
    return sitting


def sittings_factor(runtime: RuntimeProfile) -> float:
    """How long the networks took over all sittings against the first, in which the kernels were timed
    (the median over networks; 1.0 with one sitting): what the model-level terms carry of other phases."""
    sittings = runtime.model_cv.get("sittings")
    if not sittings:
        return 1.0
    first, combined = sittings[0]["measured_s"], combined_times(sittings)
    return float(statistics.median(c / f for c, f in zip(combined, first)))


def combined_times(sittings: Sequence[dict]) -> list[float]:
    """Per network, the geometric mean of its times over ``sittings``: a phase scales every time alike."""
    logs = np.log(np.asarray([s["measured_s"] for s in sittings], dtype=float))
    return [float(f"{t:.6g}") for t in np.exp(logs.mean(axis=0))]


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
    sittings = runtime.model_cv.get("sittings")  # what ``measured`` combines, when there is more than one
    runtime.model_terms = ModelTerms(*[float(c) for c in coef], weight_cache_bytes=cache).to_dict()
    runtime.model_cv = {"networks": names, "statistic": NETWORK_STATISTIC,
                        "measured_s": [float(f"{v:.6g}") for v in measured],
                        "rows": [[float(f"{v:.6g}") for v in row] for row in rows],
                        "leave_one_out_errors": [round(e, 4) for e in errors],
                        "median_abs_error": round(float(np.median(np.abs(errors))), 4) if errors else math.nan,
                        "weight_cache_scores": {("inf" if math.isinf(c) else str(int(c))): round(s, 4)
                                                for c, s in scores.items()},
                        "kernel_sum_errors": [round(float(r[0] / m - 1), 4) for r, m in zip(rows, measured)]}
    if sittings:
        runtime.model_cv["sittings"] = sittings
