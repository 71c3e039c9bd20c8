"""Kernel timing in a young worker process, so that a profile's samples do not depend on how long
calibration has been running.

A process that has been timing kernels for a few minutes times the same kernel slower than a fresh one:
the same 1x1 group convs measured 10-20% slower late in a calibration than early, and 4-11% slower in
one process after a 2-minute calibration than before it (neither ``gc.collect()`` nor ``malloc_trim``
brought it back). A model timed afterwards, by `bench` or an evaluation, runs in a young process, so
calibration times its kernels in a worker that is replaced once it has lived ``recycle_s`` seconds.

Workers are forked from a fork server that has imported torch and the timing code but run nothing, so a
new one starts in a few tens of milliseconds instead of the second a spawned ``import torch`` takes, and
every one starts from the same state: each model of an evaluation, and each calibration network, can be
timed in a process of its own, as `flopcount bench` times one. Where there is no fork server (Windows),
workers are spawned.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

from flopcount.errors import FlopcountError

from flopcount.predict.measure import ModelTiming, Sample

RECYCLE_S = 30.0
_PRELOAD = ["torch", "flopcount.predict.measure", "flopcount.predict.worker"]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)  # imported once by the server, never run there: safe to fork
    return context


def _start(threads: int) -> None:
    import torch

    from flopcount.allocator import steady_heap

    torch.set_num_threads(threads)
    steady_heap()


def _time_configs(items: Sequence[tuple[str, dict]], rounds: int, seed: int) -> list[Sample]:
    from flopcount.predict.measure import time_configs

    return time_configs(items, rounds=rounds, seed=seed)


def _time_networks(seeds: Sequence[int], rounds: int, warmup: int, repeats: int,
                   deadline: float | None) -> list[ModelTiming]:
    import torch

    from flopcount.predict import archgen
    from flopcount.predict.measure import time_models

    models = []
    for seed in seeds:
        arch = archgen.generate(seed)
        models.append((arch.build(), (torch.randn(arch.input_size),)))
    return time_models(models, rounds=rounds, warmup=warmup, repeats=repeats, deadline=deadline)


class KernelTimer:
    """Timing in a worker process at ``threads`` threads, the worker replaced every ``recycle_s`` seconds."""

    def __init__(self, threads: int, recycle_s: float = RECYCLE_S):
        self.threads = threads
        self.recycle_s = recycle_s
        self._pool: ProcessPoolExecutor | None = None
        self._born = 0.0
        self.workers_started = 0

    def time_configs(self, items: Sequence[tuple[str, dict]], *, rounds: int, seed: int) -> list[Sample]:
        return self.run(_time_configs, list(items), rounds, seed)

    def time_networks(self, seeds: Sequence[int], *, rounds: int, warmup: int, repeats: int = 3,
                      deadline: float | None = None) -> list[ModelTiming]:
        """``measure.time_models`` of the generated networks ``seeds`` (built in the worker); ``deadline``
        is a ``time.perf_counter()`` time, which is system-wide on Linux and macOS."""
        return self.run(_time_networks, list(seeds), rounds, warmup, repeats, deadline)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the worker (``fn`` importable by name: a module-level function)."""
        try:
            return self._worker().submit(fn, *args).result()
        except BrokenProcessPool:
            self.close()
            raise FlopcountError(
                "the timing worker process ended abruptly: a script that calls calibrate() (or times anything "
                "in a worker) must do so under `if __name__ == \"__main__\":` (the spawned worker imports the "
                "script again), or the worker ran out of memory") from None

    def _worker(self) -> ProcessPoolExecutor:
        if self._pool is None or time.perf_counter() - self._born > self.recycle_s:
            self.close()
            self._pool = ProcessPoolExecutor(1, mp_context=_context(),
                                             initializer=_start, initargs=(self.threads,))
            self._born = time.perf_counter()
            self.workers_started += 1
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> "KernelTimer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
