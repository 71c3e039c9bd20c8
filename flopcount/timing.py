"""Wall-clock timing shared by bench, budget latency and roofline device measurement.

One place decides how flopcount times things: untimed warm-up calls, then ``repeats`` timed calls, at a
fixed number of intra-op threads (one by default for model forwards: on a shared machine torch's default
thread pool turns a 0.08 ms model into tens of ms of scheduling noise), summarised as median and
quartiles. ``spearman`` is the rank correlation used to ask whether FLOPs or MAC better predicts time.
Imports only the standard library at module level (torch lazily), so every analysis can use it.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

DEFAULT_THREADS = 1  # model forwards are timed on one thread unless the caller asks otherwise
# How `flopcount bench` times a whole model, and so what a latency prediction is calibrated and judged
# against: a fresh process needs about three forwards to reach its steady state (allocator, oneDNN's
# primitive cache), and shorter visits measured the same networks 1-4% slower (2026-11-29).
BENCH_WARMUP = 3
BENCH_REPEATS = 20


@dataclass(frozen=True)
class Timing:
    """Seconds of ``repeats`` runs, summarised."""

    median: float
    p25: float
    p75: float
    min: float
    max: float
    repeats: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> "Timing":
        if not samples:
            raise ValueError("no timing samples")
        s = sorted(samples)
        # "inclusive": linear interpolation between order statistics, as numpy's default percentile
        p25, _, p75 = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else (s[0], s[0], s[0])
        return cls(statistics.median(s), p25, p75, s[0], s[-1], len(s))

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return (self.p75 - self.p25) / self.median if self.median else 0.0


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson of the tie-averaged ranks); nan if either side is constant."""
    if len(x) != len(y):
        raise ValueError("spearman needs two sequences of the same length")
    if len(x) < 2:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return float("nan")
    return sxy / math.sqrt(sxx * syy)


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (None: leave torch's setting), restoring it afterwards."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            from flopcount.errors import UsageError

            raise UsageError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_calls(fn: Callable[[], Any], *, warmup: int, repeats: int,
               timer: Callable[[], float] = time.perf_counter) -> Timing:
    """``fn()`` ``warmup`` times untimed, then ``repeats`` times timed (seconds). Threads: the caller's."""
    if repeats < 1:
        from flopcount.errors import UsageError

        raise UsageError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = timer()
        fn()
        samples.append(timer() - start)
    return Timing.of(samples)


def time_model(model, args: tuple, *, warmup: int = BENCH_WARMUP, repeats: int = BENCH_REPEATS,
               threads: int | None = DEFAULT_THREADS, timer: Callable[[], float] = time.perf_counter) -> Timing:
    """Median and spread of a plain forward of ``model(*args)`` (no_grad, no hooks) at ``threads`` threads,
    on a steady heap (:mod:`flopcount.allocator`)."""
    import torch

    from flopcount.allocator import steady_heap

    steady_heap()
    with num_threads(threads), torch.no_grad():
        return time_calls(lambda: model(*args), warmup=warmup, repeats=repeats, timer=timer)


def threads_in_use(threads: int | None) -> int:
    """The intra-op thread count a timing at ``threads`` runs with (None: torch's current setting)."""
    import torch

    with num_threads(threads):
        return torch.get_num_threads()
