"""calibrate(): measure this machine's kernels, fit the per-kind predictors, return a latency profile.

Within a time budget (default 5 minutes):

1. the runtime's fixed per-call costs (op, module, container) and two rates for the fallback;
2. a first pass of configs per kind, half drawn over the whole space networks use and half from the
   layers of generated calibration networks, timed interleaved;
3. refinement rounds: fit each kind, cross-validate, and spend the next round where the out-of-fold
   error is largest (more configs for the worse kinds, drawn near their worst samples);
4. the final per-kind fits and their k-fold cross-validated error;
5. model-level terms: generated networks (``archgen.CALIBRATION_SEEDS``, never the evaluation's seeds)
   timed whole, to learn how isolated kernel times add up in a real forward (cold weights, fresh
   allocations, the Python of container modules), with their leave-one-out error.

At one thread everything is timed by the calling thread's CPU time (``measure.clock``), which a busy
machine disturbs far less than wall-clock; the provenance records the clock used.
A longer budget buys more samples where they help. ``on_progress(fraction, message)`` reports progress.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from typing import Callable, Sequence

import numpy as np

from flopcount.devices import last_level_cache_bytes
from flopcount.errors import UsageError
from flopcount.predict import archgen, sampling
from flopcount.predict.fit import TREES, cross_validate, fit_base, fit_kind
from flopcount.predict.kernels import kernels_of
from flopcount.predict.kinds import KINDS
from flopcount.predict.measure import ModelTiming, Sample, clock, measure_overheads, num_threads
from flopcount.predict.worker import KernelTimer
from flopcount.predict.predictor import ModelTerms, kernel_seconds, model_features
from flopcount.predict.profile import EAGER_CPU, KindEntry, PredictProfile, RuntimeProfile, provenance
from flopcount.timing import BENCH_REPEATS, BENCH_WARMUP

Progress = Callable[[float, str], None]

DEFAULT_BUDGET_S = 300.0
KERNEL_SHARE = 0.7  # of the budget; then the final fits, and whole calibration networks
FIRST_PASS_SHARE = 0.4  # of the kernel time, spent covering the space before refining
ROUNDS = 5  # interleaved timing rounds per config
# Generated calibration networks timed whole. Each takes ~0.2 s alone in a fresh worker; fitted on 120
# instead of 40, the model-level terms missed fewer of 53 models outside the generator (2026-11-29).
NETWORKS = 120
POOL_NETWORKS = 120  # generated calibration networks whose kernels seed the first pass
MIN_NETWORKS = 8
MIN_SAMPLES_PER_KIND = 4  # what a kind's cross-validation needs, however short the budget
# Whole networks are fitted to the median of their forwards: what `flopcount bench` reports and what a
# prediction is compared with. Kernels keep the profile's statistic (the min of their rounds: a kernel's
# burst noise would otherwise enter every fit); the model-level scale absorbs the difference.
NETWORK_STATISTIC = "median_s"


def fallback_rates(repeats: int = 5) -> dict[str, float]:
    """FLOP/s (2 per multiply-add) of a mid-sized matmul and byte/s of a large copy: the fallback's roofline."""
    import torch

    a, b = torch.randn(512, 512), torch.randn(512, 512)
    src = torch.randn(8 * 2**20)
    dst = torch.empty_like(src)
    with torch.no_grad():
        torch.mm(a, b)
        dst.copy_(src)
        mm = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
        copy = min(_timed(lambda: dst.copy_(src)) for _ in range(repeats))
    return {"flops": 2 * 512**3 / mm, "bytes": 2 * src.numel() * 4 / copy}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class _Collector:
    def __init__(self, kinds: Sequence[str]):
        self.samples: dict[str, list[Sample]] = {k: [] for k in kinds}

    def fewest(self) -> int:
        return min(map(len, self.samples.values()), default=0)

    def add(self, samples: Sequence[Sample]) -> None:
        for s in samples:
            self.samples[s.kind].append(s)

    def arrays(self, kind: str, statistic: str):
        spec = KINDS[kind]
        rows = self.samples[kind]
        return ([spec.terms(s.config) for s in rows], [spec.features(s.config) for s in rows],
                [getattr(s, statistic) for s in rows])


def _round_items(kinds: Sequence[str], weights: dict[str, float], make: Callable[[str, int], list[dict]],
                 scale: float) -> list[tuple[str, dict]]:
    items = []
    for kind in kinds:
        for config in make(kind, max(1, round(weights.get(kind, 1.0) * scale))):
            items.append((kind, config))
    return items


def calibrate(name: str, *, threads: int = 1, budget_s: float = DEFAULT_BUDGET_S, seed: int = 0,
              kinds: Sequence[str] | None = None, statistic: str = "min_s", whole_networks: bool = True,
              pool_networks: int = POOL_NETWORKS, on_progress: Progress | None = None) -> PredictProfile:
    """Calibrate the eager-CPU runtime of this machine at ``threads`` threads within ``budget_s`` seconds.

    ``kinds`` limits the kernel kinds (default: all); ``whole_networks=False`` skips the model-level
    terms; ``pool_networks`` generated networks seed the first pass with their kernels (0: none).
    """
    import torch

    if budget_s <= 0:
        raise UsageError(f"--budget-s must be > 0, got {budget_s}")
    if threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")
    kinds = list(kinds or sampling.sampler_kinds())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"unknown kernel kind(s): {', '.join(unknown)} (known: {', '.join(KINDS)})")
    start = time.perf_counter()
    deadline = start + budget_s
    kernel_deadline = start + budget_s * (KERNEL_SHARE if whole_networks else 0.97)
    first_pass_end = start + (kernel_deadline - start) * FIRST_PASS_SHARE
    rng = random.Random(seed)
    report = on_progress or (lambda fraction, message: None)
    weights = {k: sampling.DEFAULT_WEIGHTS.get(k, 1.0) for k in kinds}

    def progress(message: str) -> None:
        report(min(1.0, (time.perf_counter() - start) / budget_s), message)

    with num_threads(threads):
        used_threads = torch.get_num_threads()
        kinds = [k for k in kinds if sampling.realizable(k, seed)]
        if not kinds:
            raise UsageError(f"none of the kernel kinds asked for runs at {used_threads} thread(s) "
                             "(which conv kind torch picks depends on the thread count)")
        collected = _Collector(kinds)
        progress("measuring per-call overheads")
        overheads = measure_overheads()
        rates = fallback_rates()
        progress("collecting the kernels of calibration networks")
        pool = sampling.network_pool(pool_networks) if pool_networks else {}
        round_no = 0
        with KernelTimer(used_threads) as timer:  # a young worker process: see worker.py
            # First pass: cover the space, every kind in every round.
            while time.perf_counter() < first_pass_end or collected.fewest() < MIN_SAMPLES_PER_KIND:
                items = _round_items(kinds, weights, lambda k, n: [sampling.draw(k, rng, pool) for _ in range(n)], 1.0)
                rng.shuffle(items)
                collected.add(timer.time_configs(items, rounds=ROUNDS, seed=rng.randrange(2**31)))
                round_no += 1
                progress(f"first pass, round {round_no}: {sum(map(len, collected.samples.values()))} kernels timed")
            # Refinement: more configs where the cross-validated error is largest.
            while time.perf_counter() < kernel_deadline:
                errors = {}
                for kind in kinds:
                    terms, features, seconds = collected.arrays(kind, statistic)
                    errors[kind] = cross_validate(terms, features, seconds, folds=4, seed=round_no, trees=40).errors
                score = {k: (float(np.median(np.abs(e))) + float(np.quantile(np.abs(e), 0.9))) / 2 if e else 1.0
                         for k, e in errors.items()}
                mean_score = statistics.fmean(score.values()) or 1.0
                items = _round_items(
                    kinds, {k: weights[k] * score[k] / mean_score for k in kinds},
                    lambda k, n: sampling.refine(k, [s.config for s in collected.samples[k]], errors[k] or [1.0] * len(
                        collected.samples[k]), n, rng), 1.0)
                rng.shuffle(items)
                collected.add(timer.time_configs(items, rounds=ROUNDS, seed=rng.randrange(2**31)))
                round_no += 1
                progress(f"refining, round {round_no}: {sum(map(len, collected.samples.values()))} kernels timed")

        progress("fitting kernel predictors")
        entries: dict[str, KindEntry] = {}
        for kind in kinds:
            samples = [{"config": s.config, "min_s": float(f"{s.min_s:.6g}"), "median_s": float(f"{s.median_s:.6g}")}
                       for s in collected.samples[kind]]
            if samples:
                entries[kind] = fit_entry(kind, samples, statistic, seed)
        runtime = RuntimeProfile(
            EAGER_CPU, provenance(used_threads, budget_s=budget_s, seed=seed, clock=clock().__name__, kernels_timed=sum(
                map(len, collected.samples.values())), rounds_per_kernel=ROUNDS),
            overheads.to_dict(), entries, statistic, {}, {}, rates)
        if whole_networks:
            calibrate_model_terms(runtime, deadline, progress)
        runtime.provenance["seconds_spent"] = round(time.perf_counter() - start, 1)
    progress("done")
    return PredictProfile(name, {EAGER_CPU: runtime})


def fit_entry(kind: str, samples: list[dict], statistic: str = "min_s", seed: int = 0, trees: int = TREES) -> KindEntry:
    """A kind's fit and its k-fold cross-validated error, from stored samples."""
    spec = KINDS[kind]
    terms = [spec.terms(s["config"]) for s in samples]
    features = [spec.features(s["config"]) for s in samples]
    seconds = [s[statistic] for s in samples]
    return KindEntry(samples, fit_kind(terms, features, seconds, trees=trees),
                     cross_validate(terms, features, seconds, seed=seed, trees=trees).summary())


def refit(profile: PredictProfile, runtime: str = EAGER_CPU, seed: int = 0, trees: int = TREES) -> PredictProfile:
    """Fit every kind again from the profile's stored samples (after a change of features or fitting),
    and the model-level terms from its stored calibration networks: no measurement needed."""
    rt = profile.runtime(runtime)
    with num_threads(rt.threads):  # kinds and features as calibration saw them (see kinds.runs_on_mkldnn)
        _refit(rt, seed, trees)
    return profile


def _refit(rt: RuntimeProfile, seed: int, trees: int) -> None:
    rt.kinds = {kind: fit_entry(kind, entry.samples, rt.statistic, seed, trees) for kind, entry in rt.kinds.items()
                if kind in KINDS and entry.samples}
    networks = rt.model_cv.get("networks")
    if networks:
        import torch

        cache = ModelTerms.of(rt).weight_cache_bytes
        rows = []
        for name in networks:
            arch = archgen.generate(archgen.seed_of(name))
            with torch.device("meta"):
                rows.append(network_row(arch.build(), arch.input_size, rt, cache))
        fit_model_terms(rt, rows, [float(v) for v in rt.model_cv["measured_s"]], networks, cache)


def network_row(model, input_size: Sequence[int], runtime: RuntimeProfile,
                weight_cache_bytes: float = math.inf) -> list[float]:
    """[kernel sum, weight bytes, output bytes, containers, kernel calls, views] of a network: its model-level
    design row, aligned with ``ModelTerms.NAMES`` (weight bytes: see ``ModelTerms.weight_cache_bytes``)."""
    from flopcount.analysis import analyze

    report = analyze(model, tuple(input_size), device="meta")
    kernels = kernels_of(report.records)
    seconds = sum(s for s, _ in kernel_seconds(kernels, report.records, runtime))
    weight_bytes, output_bytes, containers, calls, views = model_features(report.records, kernels, weight_cache_bytes)
    return [seconds, weight_bytes, output_bytes, float(containers), float(calls), float(views)]


def calibrate_model_terms(runtime: RuntimeProfile, deadline: float,
                          progress: Callable[[str], None], networks: int = NETWORKS, max_predicted_s: float = 0.08) -> None:
    """Fit ModelTerms on generated calibration networks, each timed whole alone, by ``deadline``."""
    import torch

    cache = last_level_cache_bytes() or math.inf
    chosen, rows = [], []
    for seed in archgen.CALIBRATION_SEEDS:
        if len(chosen) >= networks or (time.perf_counter() > deadline and len(chosen) >= MIN_NETWORKS):
            break
        arch = archgen.generate(seed)
        with torch.device("meta"):
            meta_model = arch.build()
        row = network_row(meta_model, arch.input_size, runtime, cache)
        if row[0] > max_predicted_s:  # keep the stage short: small and mid-sized networks only
            continue
        chosen.append(arch)
        rows.append(row)
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
    y = np.asarray([getattr(t, ("cpu_" if cpu else "") + NETWORK_STATISTIC) for t in timings])
    fit_model_terms(runtime, rows, [float(v) for v in y], [arch.name for arch in chosen], cache)


def time_network(seed: int, threads: int) -> ModelTiming:
    """The generated network ``seed`` timed whole, alone in a fresh worker, as `flopcount bench` times a
    model (its warm-up, then its repeats in a row)."""
    with KernelTimer(threads, recycle_s=math.inf) as timer:
        return timer.time_networks([seed], rounds=1, warmup=BENCH_WARMUP, repeats=BENCH_REPEATS)[0]


def fit_model_terms(runtime: RuntimeProfile, rows: list[list[float]], measured: list[float], names: list[str],
                    weight_cache_bytes: float = math.inf) -> None:
    """Non-negative model-level terms from network rows (made with ``weight_cache_bytes``) and their measured
    seconds, with leave-one-out error."""
    a, y = np.asarray(rows), np.asarray(measured)
    coef = fit_base(a, y)
    runtime.model_terms = ModelTerms(*[float(c) for c in coef], weight_cache_bytes=weight_cache_bytes).to_dict()
    errors = []  # leave-one-out error of the model-level fit on the calibration networks
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        errors.append(float(a[i] @ fit_base(a[keep], y[keep]) / y[i] - 1))
    runtime.model_cv = {"networks": names, "statistic": NETWORK_STATISTIC, "measured_s": [float(f"{v:.6g}") for v in y],
                        "rows": [[float(f"{v:.6g}") for v in row] for row in rows],
                        "leave_one_out_errors": [round(e, 4) for e in errors],
                        "median_abs_error": round(float(np.median(np.abs(errors))), 4) if errors else math.nan,
                        "kernel_sum_errors": [round(float(r[0] / m - 1), 4) for r, m in zip(rows, y)]}
