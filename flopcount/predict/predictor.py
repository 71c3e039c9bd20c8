"""predict(report, profile): latency of a model and of each of its ops, from the analysis records alone.

No forward runs: a Report made on ``meta`` is enough. Each record maps to the kernel eager PyTorch
runs (``kernels.py``), each kernel's time comes from its kind's fitted predictor, and the model's time
is the sum plus the model-level terms calibration fitted on whole networks of its own (never the ones
being predicted): a scale on the kernel sum, the cost of reading weights that are cold in cache, of
fresh output allocations (page faults), of each kernel call in context rather than in a warm loop, and
the Python cost of each container module's forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from flopcount.errors import ConfigError
from flopcount.predict.kernels import Kernel, kernels_of
from flopcount.predict.kinds import FALLBACK, KINDS, VIEW
from flopcount.predict.measure import num_threads
from flopcount.predict.profile import EAGER_CPU, PredictProfile, RuntimeProfile
from flopcount.records import LayerRecord
from flopcount.report import Report

FLOPS_PER_FMA = 2
COLD_WEIGHTS = ("capped", "threshold")  # see ModelTerms.cold_weights


@dataclass(frozen=True)
class OpPrediction:
    index: int  # record index in the report
    name: str
    op: str
    kind: str  # kernel kind, or "fallback"
    predictor: str  # how the time was obtained: "fit:<kind>", "fit:<kind> (extrapolated)", "fallback: ..."
    seconds: float  # this op's share of the model's time (model-level terms included)
    kernel_seconds: float  # the kernel predictor's own time for one isolated call

    @property
    def ms(self) -> float:
        return self.seconds * 1e3


@dataclass(frozen=True)
class ModelTerms:
    """How isolated kernel times add up to a whole forward (fitted by calibration on its own networks)."""

    scale: float = 1.0
    per_weight_byte: float = 0.0
    per_output_byte: float = 0.0
    per_container: float = 0.0
    per_kernel_call: float = 0.0  # what a kernel costs in a model beyond its isolated time (cold caches)
    # What a view (a chunk's split, a shuffle's transpose, Flatten) costs in a model beyond the view fit's
    # x.view(): fitted on whole networks, it took the calibration networks' leave-one-out error from 4.1% to
    # 3.2% and ShuffleNet V2's bias from -4.8% to -2.1% (profile of 2026-11-28, 40 networks).
    per_view: float = 0.0
    # Not a coefficient: how many bytes of a kernel's weights stay in cache while it is timed alone on the
    # calibrated machine (a fraction of its last-level cache, chosen by calibration: see model_terms.py).
    # In a model those bytes come from memory; the rest streamed even alone, so the kernel's fit holds
    # their cost already. Counting every weight, VGG-style networks with 38-77 MB fully connected layers
    # were over-predicted by 6% (median, 2026-11-29).
    weight_cache_bytes: float = math.inf
    # How a kernel with more weights than that counts: "capped" at weight_cache_bytes, or, in profiles
    # calibrated before 2026-11-29 12:00 UTC, "threshold": not at all. The threshold left a 24.5 MB fully
    # connected layer (held in the 32 MB cache when timed alone) wholly warm in a forward, and vgg-69 at
    # -20% to -24% in every evaluation; capped, the same stored networks put it at -14% and resnet-83's
    # 5.3 MB convs from -4% to +1% (2026-11-29, four evaluations' measurements re-predicted).
    cold_weights: str = "capped"

    NAMES = ("scale", "per_weight_byte", "per_output_byte", "per_container", "per_kernel_call", "per_view")

    @classmethod
    def of(cls, runtime: RuntimeProfile) -> "ModelTerms":
        terms = runtime.model_terms
        if not terms:
            return cls(per_container=float(runtime.overheads.get("container_call_s", 0.0)))
        cache = terms.get("weight_cache_bytes")  # absent from profiles before 2026-11-29: every weight counts
        cold = terms.get("cold_weights", "threshold")
        if cold not in COLD_WEIGHTS:
            raise ConfigError(f"latency profile's model terms: cold_weights {cold!r}, expected one of {COLD_WEIGHTS}")
        return cls(*[float(terms.get(name, 1.0 if name == "scale" else 0.0)) for name in cls.NAMES],
                   weight_cache_bytes=math.inf if cache is None else float(cache),
                   cold_weights=cold)

    def to_dict(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {name: getattr(self, name) for name in self.NAMES}
        out["weight_cache_bytes"] = None if math.isinf(self.weight_cache_bytes) else self.weight_cache_bytes
        out["cold_weights"] = self.cold_weights
        return out

    def cold_bytes(self, weight_bytes: float) -> float:
        """Of a kernel's ``weight_bytes``, those it reads from memory in a model but not timed alone."""
        if self.cold_weights == "threshold":
            return weight_bytes if weight_bytes <= self.weight_cache_bytes else 0.0
        return min(weight_bytes, self.weight_cache_bytes)


@dataclass
class Prediction:
    model: str
    profile: str
    runtime: str
    threads: int
    ops: list[OpPrediction]
    containers: int  # container module calls (blocks, Sequentials, the root) whose Python forward costs time
    container_seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)
    report: Report | None = field(default=None, repr=False)
    # This machine's kernel times now over their times at calibration (drift.speed_now), applied to every
    # op; 1.0 predicts the machine as it ran while calibrated. Kinds the probe re-timed take their own.
    host_speed: float = 1.0
    host_speed_by_kind: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(o.seconds for o in self.ops) + self.container_seconds

    @property
    def total_ms(self) -> float:
        return self.total_seconds * 1e3

    def seconds_at(self, host_speed: float, host_speed_by_kind: Mapping[str, float]) -> float:
        """``total_seconds`` had it been predicted at another host speed, as ``predict(...,
        host_speed=, host_speed_by_kind=)`` scales (a stored run's probe readings, without predicting again)."""
        def rescale(kind: str) -> float:
            return _speed(kind, host_speed, host_speed_by_kind) / _speed(kind, self.host_speed, self.host_speed_by_kind)

        return (sum(o.seconds * rescale(o.kind) for o in self.ops)
                + self.container_seconds * host_speed / self.host_speed)

    def by_predictor(self) -> dict[str, float]:
        """Seconds per predictor family (kind fits, views, fallback)."""
        out: dict[str, float] = {}
        for o in self.ops:
            out[o.kind] = out.get(o.kind, 0.0) + o.seconds
        return out

    @property
    def fallback_ops(self) -> list[OpPrediction]:
        return [o for o in self.ops if o.kind == FALLBACK]


def _speed(kind: str, host_speed: float, host_speed_by_kind: Mapping[str, float]) -> float:
    """The host's speed an op of ``kind`` is scaled by: its kind's reading when the probe re-timed it."""
    return host_speed_by_kind.get(kind, host_speed)


def model_features(records: Sequence[LayerRecord], kernels: Sequence[Kernel],
                   terms: ModelTerms = ModelTerms()) -> tuple[float, float, int, int, int]:
    """(bytes of weights cold in a model but not alone, ``terms.cold_bytes``; bytes of freshly allocated
    outputs; container calls; kernel calls; views) of a forward.

    Views are no kernel calls: they move nothing; their dispatch cost is their own kind's fit plus ``per_view``.
    """
    weight_bytes = output_bytes = 0.0
    calls = views = 0
    for r, k in zip(records, kernels):
        if k.kind == VIEW:
            views += 1
            continue
        calls += 1
        if r.source == "module" and r.outputs:
            elements = r.mac - sum(t.numel for t in r.inputs) - sum(t.numel for t in r.outputs)
            weight_bytes += terms.cold_bytes(max(elements, 0) * r.outputs[0].itemsize)
        if not k.config.get("inplace"):
            output_bytes += sum(t.nbytes for t in r.outputs)
        if k.copies:  # an implicit copy allocates its output too
            output_bytes += sum(c["numel"] for c in k.copies) * r.inputs[0].itemsize
    return weight_bytes, output_bytes, container_calls(records), calls, views


def container_calls(records: Sequence[LayerRecord]) -> int:
    """Modules whose own forward ran Python around the records: every ancestor of a record, and the root."""
    containers = {""}
    for r in records:
        parts = r.path.split(".") if r.path else []
        last = len(parts) if r.source == "op" else len(parts) - 1
        for i in range(1, last + 1):
            containers.add(".".join(parts[:i]))
    return len(containers)


def kernel_seconds(kernels: Sequence[Kernel], records: Sequence[LayerRecord], runtime: RuntimeProfile) -> list[tuple[float, str]]:
    """(seconds, predictor label) for each kernel, batched per kind."""
    out: list[tuple[float, str] | None] = [None] * len(kernels)
    by_kind: dict[str, list[int]] = {}
    for i, k in enumerate(kernels):
        entry = runtime.kinds.get(k.kind)
        if k.kind == FALLBACK or entry is None or entry.fit is None:
            out[i] = _fallback(records[i], runtime, k.kind)
        else:
            by_kind.setdefault(k.kind, []).append(i)
    for kind, rows in by_kind.items():
        spec, fit = KINDS[kind], runtime.kinds[kind].fit
        features = [spec.features(kernels[i].config) for i in rows]
        seconds = fit.predict([spec.terms(kernels[i].config) for i in rows], features)
        for i, s, f in zip(rows, seconds, features):
            out[i] = (float(s), f"fit:{kind}" + ("" if fit.in_range(f) else " (extrapolated)"))
    for i, seconds in _implicit_copy_seconds(kernels, runtime).items():
        s, label = out[i]  # type: ignore[misc]
        out[i] = (s + seconds, label + " + input copy")
    return out  # type: ignore[return-value]


def _implicit_copy_seconds(kernels: Sequence[Kernel], runtime: RuntimeProfile) -> dict[int, float]:
    """Seconds of the copies kernels make of non-contiguous inputs (kernels.implicit_copies), by kernel."""
    entry = runtime.kinds.get("copy")
    owners = [(i, c) for i, k in enumerate(kernels) for c in k.copies]
    if not owners or entry is None or entry.fit is None:
        return {}
    spec = KINDS["copy"]
    seconds = entry.fit.predict([spec.terms(c) for _, c in owners], [spec.features(c) for _, c in owners])
    out: dict[int, float] = {}
    for (i, _), s in zip(owners, seconds):
        out[i] = out.get(i, 0.0) + float(s)
    return out


def _fallback(record: LayerRecord, runtime: RuntimeProfile, kind: str) -> tuple[float, str]:
    overhead = runtime.overheads.get("module_call_s" if record.source == "module" else "op_call_s", 1e-5)
    rates = runtime.fallback_rates
    compute = FLOPS_PER_FMA * record.flops / rates["flops"] if rates.get("flops") else 0.0
    memory = record.mac_bytes / rates["bytes"] if rates.get("bytes") else 0.0
    why = "no formula" if not record.counted else ("kind not calibrated" if kind != FALLBACK else "no kernel kind")
    return overhead + max(compute, memory), f"fallback: overhead + roofline ({why})"


def predict(report: Report, profile: PredictProfile, *, runtime: str = EAGER_CPU,
            host_speed: float = 1.0, host_speed_by_kind: Mapping[str, float] | None = None) -> Prediction:
    """Predicted latency of the model ``report`` describes, whole and per op, on the profile's machine.

    ``host_speed`` scales every op: how much slower (> 1) or faster the machine runs now than while it was
    calibrated, as ``drift.speed_now`` measures it on that machine. A shared host's speed moves: this
    one's swung by 8-12% within an hour (2026-11-29), which no profile can know in advance.
    ``host_speed_by_kind`` (``Drift.by_kind``) scales the ops of each kind it names instead: the host's
    phases do not move every kind alike (see drift.py).
    """
    by_kind = dict(host_speed_by_kind or {})
    for label, value in (("host_speed", host_speed), *((f"host_speed of {k}", v) for k, v in by_kind.items())):
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{label} must be a positive number, got {value}")
    rt = profile.runtime(runtime)
    records = report.records
    with num_threads(rt.threads):  # which kernel torch runs can depend on it (kinds.runs_on_mkldnn)
        kernels = kernels_of(records)
    timed = kernel_seconds(kernels, records, rt)
    terms = ModelTerms.of(rt)
    ops = []
    for r, k, (seconds, label) in zip(records, kernels, timed):
        weight_bytes, output_bytes, _, calls, views = model_features([r], [k], terms)
        share = _speed(k.kind, host_speed, by_kind) * (terms.scale * seconds + terms.per_weight_byte * weight_bytes
                              + terms.per_output_byte * output_bytes + terms.per_kernel_call * calls
                              + terms.per_view * views)
        ops.append(OpPrediction(r.index, r.name, r.op, k.kind, label, share, seconds))
    containers = container_calls(records)
    return Prediction(report.model, profile.name, runtime, rt.threads, ops, containers,
                      host_speed * containers * terms.per_container, dict(rt.provenance), report, host_speed,
                      by_kind)
