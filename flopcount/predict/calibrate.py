"""calibrate(): measure this machine's kernels, fit the per-kind predictors, return a latency profile.

Within a time budget (default 5 minutes):

1. the runtime's fixed per-call costs (op, module, container) and two rates for the fallback;
2. a first pass of configs per kind, half drawn over the whole space networks use and half from the
   layers of generated calibration networks, timed interleaved;
3. refinement rounds: fit each kind, cross-validate, and spend the next round where the out-of-fold
   error is largest (more configs for the worse kinds, drawn near their worst samples);
4. the final per-kind fits and their k-fold cross-validated error;
5. model-level terms: generated networks (``archgen.CALIBRATION_SEEDS``, never the evaluation's seeds)
   timed whole, between the kernel rounds of steps 2-3 (so that both see the host in the same states),
   to learn how isolated kernel times add up in a real forward (cold weights, fresh allocations, the
   Python of container modules), with their leave-one-out error (`model_terms.py`).

At one thread everything is timed by the calling thread's CPU time (``measure.clock``), which a busy
machine disturbs far less than wall-clock; the provenance records the clock used.
A longer budget buys more samples where they help. ``on_progress(fraction, message)`` reports progress.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Callable, Sequence

import numpy as np

from flopcount.errors import UsageError
from flopcount.predict import sampling
from flopcount.predict.drift import speed_reference
from flopcount.predict.fit import TREES, cross_validate, fit_kind
from flopcount.predict.kinds import KINDS
from flopcount.predict.measure import Sample, clock, measure_overheads, num_threads
from flopcount.predict.model_terms import NetworkTimings, choose_networks, refit_model_terms
from flopcount.predict.profile import EAGER_CPU, KindEntry, PredictProfile, RuntimeProfile, provenance
from flopcount.predict.worker import KernelTimer

Progress = Callable[[float, str], None]

DEFAULT_BUDGET_S = 300.0
KERNEL_SHARE = 0.7  # of the budget, kernels and whole calibration networks; then the final fits (78 s of a
# 300 s budget for 3,772 kernels at tree depth 5: 0.85 overran it by 42 s)
FIRST_PASS_SHARE = 0.4  # of the kernel time, spent covering the space before refining
ROUNDS = 5  # interleaved timing rounds per config
POOL_NETWORKS = 120  # generated calibration networks whose kernels seed the first pass
MIN_SAMPLES_PER_KIND = 4  # what a kind's cross-validation needs, however short the budget


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
        self.refused = 0  # configs torch raised on (measure.time_configs drops them)

    def fewest(self) -> int:
        return min(map(len, self.samples.values()), default=0)

    def add(self, samples: Sequence[Sample], timed_of: int) -> None:
        self.refused += timed_of - len(samples)
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


def _require_known(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"unknown kernel kind(s): {', '.join(unknown)} (known: {', '.join(KINDS)})")


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
    _require_known(kinds)
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
        networks = NetworkTimings(choose_networks(overheads.to_dict(), rates, progress) if whole_networks else [],
                                  used_threads, progress)
        kernels_start = time.perf_counter()

        def networks_keep_pace() -> None:
            elapsed = time.perf_counter() - kernels_start
            networks.keep_pace(elapsed / (kernel_deadline - kernels_start), elapsed)

        round_no = 0
        with KernelTimer(used_threads) as timer:  # a young worker process: see worker.py
            # First pass: cover the space, every kind in every round.
            while time.perf_counter() < first_pass_end or collected.fewest() < MIN_SAMPLES_PER_KIND:
                items = _round_items(kinds, weights, lambda k, n: [sampling.draw(k, rng, pool) for _ in range(n)], 1.0)
                rng.shuffle(items)
                collected.add(timer.time_configs(items, rounds=ROUNDS, seed=rng.randrange(2**31)), len(items))
                round_no += 1
                progress(f"first pass, round {round_no}: {sum(map(len, collected.samples.values()))} kernels timed")
                networks_keep_pace()
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
                collected.add(timer.time_configs(items, rounds=ROUNDS, seed=rng.randrange(2**31)), len(items))
                round_no += 1
                progress(f"refining, round {round_no}: {sum(map(len, collected.samples.values()))} kernels timed")
                networks_keep_pace()
        networks.ensure_minimum()

        progress("fitting kernel predictors")
        entries: dict[str, KindEntry] = {}
        for kind in kinds:
            samples = [{"config": s.config, "min_s": float(f"{s.min_s:.6g}"), "median_s": float(f"{s.median_s:.6g}")}
                       for s in collected.samples[kind]]
            if samples:
                entries[kind] = fit_entry(kind, samples, statistic, seed)
        runtime = RuntimeProfile(
            EAGER_CPU, provenance(used_threads, budget_s=budget_s, seed=seed, clock=clock().__name__, kernels_timed=sum(
                map(len, collected.samples.values())), configs_refused=collected.refused, rounds_per_kernel=ROUNDS),
            overheads.to_dict(), entries, statistic, {}, {}, rates)
        if networks.timings:
            networks.fit(runtime)
        progress("re-timing some kernels for the host-speed reference")
        reference = speed_reference(runtime)
        if reference is not None:
            runtime.provenance["speed_reference"] = round(reference, 4)
        runtime.provenance["seconds_spent"] = round(time.perf_counter() - start, 1)
    progress("done")
    return PredictProfile(name, {EAGER_CPU: runtime})


def retime_kinds(runtime: RuntimeProfile, kinds: Sequence[str], *, budget_s: float = DEFAULT_BUDGET_S, seed: int = 0,
                 on_progress: Progress | None = None) -> dict:
    """Time ``kinds`` again on this machine and put their fits in place of the profile's (beside them for a
    kind the profile has no fit of: one newer than the profile); then fit the model-level terms again to the
    stored calibration networks' times (not re-timed), since the networks' kernel sums changed. Returns the
    record it adds to the provenance's ``kinds_retimed``.

    For a kind whose timed form changed (sdpa, 2026-11-29: timed 3-D on the math path, while models call
    it 4-D on the flash path, 1.4-2.6x faster), without a whole calibration. The kind is timed as the host
    runs now, the others as it ran then: worth it for an error larger than the host's swings (8-12% on
    this one), not for a smaller one (max pools re-timed on ReLU'd values, 7-10% faster, moved the
    model-level scale from 0.933 to 0.996 and predicted no better).
    """
    _require_known(kinds)
    added = [k for k in kinds if k not in runtime.kinds]  # kinds newer than the profile (GELU's tanh form)
    fresh = calibrate("retime", threads=runtime.threads, budget_s=budget_s, seed=seed, kinds=kinds,
                      statistic=runtime.statistic, whole_networks=False, pool_networks=0,
                      on_progress=on_progress).runtime()
    runtime.kinds.update({kind: fresh.kinds[kind] for kind in kinds})
    if runtime.model_cv.get("networks"):
        refit_model_terms(runtime)
    record = {"kinds": list(kinds), "date": fresh.provenance["date"], "budget_s": budget_s, "seed": seed,
              "kernels_timed": fresh.provenance["kernels_timed"], **({"added": added} if added else {})}
    runtime.provenance["kinds_retimed"] = [*runtime.provenance.get("kinds_retimed", []), record]
    return record


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
    if rt.model_cv.get("networks"):
        refit_model_terms(rt)
