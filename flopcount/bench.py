"""Measured latency on this machine's CPU, whole model and per layer, beside FLOPs and MAC.

Whole-model time is a plain forward (eval, ``no_grad``, no hooks): warm-up runs, then ``repeats`` timed
runs, reported as median and spread (quartiles, min, max). Per-layer time comes from the same walker
that makes the analysis records (module hooks + a function mode), timing each recorded call with a wall
clock, so every timed row is exactly one analysis record. Hooks add overhead to small layers, so the
per-layer times sum to more than the plain forward; compare layers with each other, and the whole model
with the plain forward.

``spearman`` (from :mod:`flopcount.timing`, like the statistics) is the rank correlation used to ask the
ShuffleNet V2 paper's question: does FLOPs or MAC better predict measured time?
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from flopcount.numerics import Denormals, count_denormals
from flopcount.report import Report
# Timing, ranks, spearman and time_model are re-exported: bench's public names since before timing.py existed.
from flopcount.timing import (BENCH_REPEATS, BENCH_WARMUP, Timing, num_threads, ranks, spearman,  # noqa: F401
                              threads_in_use, time_model)


@dataclass(frozen=True)
class LayerTimes:
    names: list[str]  # record names, in record order, to check alignment with a report
    timings: list[Timing]  # one per record


def measure_layers(model, args: tuple, *, warmup: int = 1, repeats: int = 5, threads: int | None = None,
                   registry=None) -> LayerTimes:
    """Per-record wall-clock times of ``model(*args)`` on its own (CPU) device, median of ``repeats`` runs."""
    import torch

    from flopcount.formulas import REGISTRY
    from flopcount.walker import Walker

    runs: list[tuple[list[str], dict[int, float]]] = []
    with num_threads(threads), torch.no_grad():
        for i in range(warmup + repeats):
            # The analysis walker itself, timing each call it records (a module, or an op outside one).
            walker = Walker(model, registry or REGISTRY, clock=time.perf_counter)
            walker.attach()
            try:
                with walker:
                    model(*args)
            finally:
                walker.detach()
            if i >= warmup:
                runs.append(([r.name for r in walker.records], walker.times))
    names = runs[0][0]
    if any(r[0] != names for r in runs):
        from flopcount.errors import FlopcountError

        raise FlopcountError("the model ran different layers on repeated forwards; per-layer times cannot be aligned")
    timings = [Timing.of([times.get(i, 0.0) for _, times in runs]) for i in range(len(names))]
    return LayerTimes(names, timings)


@dataclass(frozen=True)
class BenchResult:
    report: Report
    whole: Timing | None  # None when bench(whole=False)
    layers: list[Timing]  # aligned with report.records
    threads: int
    denormals: Denormals | None = None  # counted in one more forward (see flopcount.numerics)

    def _layer_pairs(self, attr: str) -> tuple[list[float], list[float]]:
        rows = [(getattr(r, attr), t.median) for r, t in zip(self.report.records, self.layers)
                if r.counted and (r.flops or r.mac)]
        return [a for a, _ in rows], [b for _, b in rows]

    @property
    def spearman_flops(self) -> float:
        return spearman(*self._layer_pairs("flops"))

    @property
    def spearman_mac(self) -> float:
        return spearman(*self._layer_pairs("mac"))


def make_inputs(input_size: Any) -> tuple:
    """CPU tensors for an input size: random floats (seeded), zeros for integer inputs (valid token ids)."""
    import torch

    from flopcount.inputs import make_tensor, normalize_input_size

    generator = torch.Generator().manual_seed(0)
    return tuple(make_tensor(spec, "cpu", generator) for spec in normalize_input_size(input_size))


def bench(model, input_size: Any, *, name: str | None = None, warmup: int = BENCH_WARMUP, repeats: int = BENCH_REPEATS,
          threads: int | None = None, layers: bool = True, layer_repeats: int | None = None,
          whole: bool = True, denormals: bool = True) -> BenchResult:
    """Analyse ``model`` on CPU, then time it whole (``whole``; else ``whole`` is None) and (``layers``) per
    record; ``denormals``: count denormal activations in one more forward."""
    from flopcount.analysis import analyze

    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        from flopcount.errors import UsageError

        raise UsageError("bench needs real weights: build the model on cpu, not meta")
    model = model.to("cpu").eval()
    args = make_inputs(input_size)
    report = analyze(model, inputs=args, device="cpu", name=name)
    whole_timing = time_model(model, args, warmup=warmup, repeats=repeats, threads=threads) if whole else None
    if layers:
        measured = measure_layers(model, args, warmup=1, repeats=layer_repeats or max(3, repeats // 2), threads=threads)
        if measured.names != [r.name for r in report.records]:
            from flopcount.errors import FlopcountError

            raise FlopcountError("timed layers do not match the analysis records; per-layer times unavailable")
        per_layer = measured.timings
    else:
        per_layer = []
    return BenchResult(report, whole_timing, per_layer, threads_in_use(threads),
                       count_denormals(model, args) if denormals else None)


def time_zoo_model(name: str, warmup: int, repeats: int, threads: int) -> Timing:
    """Whole-forward timing of the zoo model ``name`` at its default input (run in a fresh worker by
    ``bench_zoo``)."""
    from flopcount.loading import load_model

    loaded = load_model(name, {}, "cpu")
    return time_model(loaded.model.eval(), make_inputs(loaded.default_inputs), warmup=warmup, repeats=repeats,
                      threads=threads)


@dataclass(frozen=True)
class ZooRow:
    name: str
    paper_flops: int
    flops: int
    mac: int
    mac_bytes: int
    roofline_time: float | None  # seconds predicted on the device profile, if one was given
    latency: Timing
    layer_spearman_flops: float
    layer_spearman_mac: float
    predicted_time: float | None = None  # seconds predicted by the latency profile (flopcount.predict), if given

    @property
    def prediction_error(self) -> float | None:
        """(predicted - measured median) / measured median; None without a prediction."""
        if self.predicted_time is None:
            return None
        return self.predicted_time / self.latency.median - 1


@dataclass(frozen=True)
class ZooBench:
    rows: list[ZooRow]
    threads: int
    device: str | None
    latency_profile: str | None = None
    # The predictions' scale for this machine's speed now against its calibration (the mean of its
    # measurements before and after the models), or None: predicted as calibrated (not asked for).
    host_speed: float | None = None
    host_speed_note: str = ""
    host_speed_by_kind: dict[str, float] = dataclasses.field(default_factory=dict)  # kinds the probe re-timed

    def correlation(self, attr: str, statistic: str = "median") -> float:
        """Spearman of ``attr`` (paper_flops, flops, mac, roofline_time, predicted_time) with latency's ``statistic``.

        ``min`` is the latency least disturbed by other processes on a shared machine.
        """
        rows = [r for r in self.rows if getattr(r, attr) is not None]
        return spearman([getattr(r, attr) for r in rows], [getattr(r.latency, statistic) for r in rows])


@dataclass(frozen=True)
class Band:
    """Models of similar paper FLOPs, and how each predictor ranks their latency among themselves."""

    names: list[str]
    low: int
    high: int
    rho_flops: float
    rho_mac: float
    rho_roofline: float | None


def flop_bands(zoo: ZooBench, factor: float = 1.2, min_size: int = 4) -> list[Band]:
    """Group models whose paper FLOPs lie within ``factor`` of the group's smallest (greedy, ascending).

    Across the whole zoo FLOPs span three orders of magnitude and rank latency well almost by
    construction; among models of the same FLOPs, the paper's question is whether MAC does better.
    """
    rows = sorted(zoo.rows, key=lambda r: r.paper_flops)
    groups: list[list[ZooRow]] = []
    for row in rows:
        if groups and row.paper_flops <= groups[-1][0].paper_flops * factor:
            groups[-1].append(row)
        else:
            groups.append([row])
    bands = []
    for group in groups:
        if len(group) < min_size:
            continue
        latency = [r.latency.median for r in group]
        roof = None
        if all(r.roofline_time is not None for r in group):
            roof = spearman([r.roofline_time for r in group], latency)
        bands.append(Band([r.name for r in group], group[0].paper_flops, group[-1].paper_flops,
                          spearman([r.paper_flops for r in group], latency), spearman([r.mac for r in group], latency),
                          roof))
    return bands


def bench_zoo(names: Sequence[str], *, warmup: int = 1, repeats: int = 3, threads: int | None = None,
              device=None, layers: bool = True, on_model: Callable[[str], None] | None = None,
              latency_profile=None, host_speed: bool = False) -> ZooBench:
    """Latency of each named zoo model (default input) beside its FLOPs, MAC, roofline prediction (with a
    ``device`` profile) and predicted latency (with a ``latency_profile``, a flopcount.predict profile).

    With ``host_speed``, on the machine the latency profile was calibrated on, the predictions are scaled
    to the machine's speed while the models are timed (``predict.drift.speed_now``, before and after them).
    Off by default: re-timed kernels track a whole model's speed only to a few percent (see drift.py)."""
    from flopcount.loading import load_model
    from flopcount.predict.drift import mean_reading
    from flopcount.predict.worker import KernelTimer

    used = threads_in_use(threads)
    scaled = host_speed and latency_profile is not None
    speeds = [_host_speed_now(latency_profile, used)] if scaled else []  # before the models, and after
    measured = []
    for name in names:
        if on_model:
            on_model(name)
        loaded = load_model(name, {}, "cpu")
        result = bench(loaded.model, loaded.default_inputs, name=name, warmup=warmup, repeats=repeats,
                       threads=threads, layers=layers, layer_repeats=repeats, whole=False, denormals=False)
        # Whole, each model in a fresh process, as `flopcount bench MODEL` times it: timed one after another in
        # this process, the zoo ran 8% slower (median over 32 models, 2026-11-29) than each alone, and a
        # latency profile predicts a model in a process of its own.
        with KernelTimer(used) as worker:
            measured.append(dataclasses.replace(result, whole=worker.run(time_zoo_model, name, warmup, repeats, used)))
        del loaded, result
    if scaled:
        speeds.append(_host_speed_now(latency_profile, used))
    speed, by_kind = mean_reading(speeds) if speeds else (None, {})
    rows = []
    for name, result in zip(names, measured):
        t = result.report.totals
        predicted = None
        if device is not None:
            from flopcount.roofline import roofline

            predicted = roofline(result.report, device).total_time
        predicted_time = None
        if latency_profile is not None:
            from flopcount.predict import predict

            predicted_time = predict(result.report, latency_profile, host_speed=speed or 1.0,
                                     host_speed_by_kind=by_kind).total_seconds
        rows.append(ZooRow(name, t.paper_flops, t.flops, t.mac, t.mac_bytes, predicted, result.whole,
                           result.spearman_flops if layers else float("nan"),
                           result.spearman_mac if layers else float("nan"), predicted_time))
    note = ("measured before and after the models: " + ", ".join(f"{s.median:.3f}" for s in speeds) if scaled
            else "as calibrated (host speed not measured)" if latency_profile is not None else "")
    return ZooBench(rows, used, device.name if device is not None else None,
                    latency_profile.name if latency_profile is not None else None, speed, note, by_kind)


def _host_speed_now(latency_profile, threads: int):
    """This machine's speed now against the profile's calibration (a ``drift.Drift``: its median and each
    re-timed kind's); ConfigError on another machine or thread count (raised before any model is timed)."""
    from flopcount.errors import ConfigError
    from flopcount.predict.drift import speed_now

    runtime = latency_profile.runtime()
    if runtime.threads != threads:
        raise ConfigError(f"cannot measure the host's speed against a profile calibrated at {runtime.threads} "
                          f"thread(s) while timing at {threads}")
    return speed_now(runtime)


def measure_records(model, args: tuple, *, repeats: int = 5, threads: int | None = None,
                    name: str | None = None) -> tuple[Report, list[float]]:
    """A CPU analysis of ``model(*args)`` and the median seconds of each of its records (``repeats`` runs)."""
    from flopcount.analysis import analyze
    from flopcount.errors import FlopcountError

    report = analyze(model, inputs=args, device="cpu", name=name)
    measured = measure_layers(model, args, repeats=repeats, threads=threads)
    if measured.names != [r.name for r in report.records]:
        raise FlopcountError("timed layers do not match the analysis records")
    return report, [t.median for t in measured.timings]
