"""The result of one analysis: per-call records, totals, and roll-ups by module path or layer type."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from flopcount.records import PAPER_CATEGORIES, LayerRecord, TensorSpec


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    paper_flops: int  # conv + linear + matmul + attention multiply-adds: what papers quote
    flops: int  # every counted op
    mac: int  # memory access cost, elements
    mac_bytes: int
    uncounted_calls: int


@dataclass(frozen=True)
class Rollup:
    key: str
    type: str
    calls: int
    params: int
    flops: int
    paper_flops: int
    mac: int
    mac_bytes: int


@dataclass
class Report:
    model: str
    inputs: tuple[TensorSpec, ...]
    device: str
    records: list[LayerRecord]
    totals: Totals
    uncounted: dict[str, int] = field(default_factory=dict)  # op name -> calls with no formula
    counted_from_ops: dict[str, str] = field(default_factory=dict)  # leaf path -> type with no formula
    module_params: dict[str, int] = field(default_factory=dict)  # path -> its own params (each counted once)
    module_types: dict[str, str] = field(default_factory=dict)  # path -> class name
    notes: list[str] = field(default_factory=list)  # one line each, e.g. why the analysis ran on cpu, not meta
    # Issue #13, filled only when asked for: analyze(memory=True) / analyze(train=True).
    memory: Any = None  # flopcount.memory.MemoryProfile
    training: Any = None  # flopcount.training.TrainingProfile

    @property
    def complete(self) -> bool:
        """True when every op that moves or computes data had a formula: the totals are exact, not a
        lower bound. Metadata queries, grad-mode switches, asserts and constants are not ops; an op with
        no formula still adds its tensors' traffic to MAC, but makes the FLOPs a lower bound."""
        return not self.uncounted

    def by_module(self, depth: int | None = None) -> list[Rollup]:
        """Sum records by module path cut to ``depth`` components (None: leaf records, one row per call)."""
        if depth is None:
            return [
                Rollup(r.name, r.op, 1, r.params, r.flops, r.flops if r.is_paper else 0, r.mac, r.mac_bytes)
                for r in self.records
            ]
        groups: dict[str, list[LayerRecord]] = {}
        for record in self.records:
            groups.setdefault(_cut(record.path, depth), []).append(record)
        rollups = []
        for key, records in groups.items():
            typ = self.module_types.get(key, records[0].op)
            if key == "" and depth > 0:  # ops of the root's own forward: only the root's own params
                params = self.module_params.get("", 0)
            else:
                params = sum(n for path, n in self.module_params.items() if _under(path, key))
            rollups.append(_sum(key or "(root)", typ, records, params))
        return rollups

    def by_type(self) -> list[Rollup]:
        groups: dict[str, list[LayerRecord]] = {}
        for record in self.records:
            groups.setdefault(record.op, []).append(record)
        return [_sum(op, records[0].category, records, sum(r.params for r in records)) for op, records in groups.items()]

    def by_category(self) -> dict[str, int]:
        flops: dict[str, int] = {}
        for record in self.records:
            flops[record.category] = flops.get(record.category, 0) + record.flops
        return flops

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "inputs": [{"shape": list(t.shape), "dtype": t.dtype} for t in self.inputs],
            "device": self.device,
            "notes": list(self.notes),
            "conventions": {
                "flops": "multiply-adds (one fused multiply-add = 1 FLOP)",
                "paper_flops": "FLOPs of " + " + ".join(sorted(PAPER_CATEGORIES)),
                "mac": "memory access cost: elements read + elements written (ShuffleNet V2)",
            },
            "totals": asdict(self.totals),
            "complete": self.complete,
            "uncounted": dict(self.uncounted),
            "counted_from_ops": dict(self.counted_from_ops),
            "flops_by_category": self.by_category(),
            "module_params": dict(self.module_params),  # path -> params it holds (shared ones counted once)
            "module_types": dict(self.module_types),
            "records": [r.to_dict() for r in self.records],
            **self.memory_dict(),
        }

    def memory_dict(self) -> dict[str, Any]:
        """Top-level memory and training keys (issue #13), present only when they were computed."""
        out: dict[str, Any] = {}
        if self.memory is not None:
            out["peak_memory_bytes"] = self.memory.peak_memory_bytes
            out["peak_activation_bytes"] = self.memory.peak_activation_bytes
            out["memory"] = self.memory.to_dict()
        if self.training is not None:
            out["backward_flops"] = self.training.backward_flops
            out["train_flops"] = self.training.train_flops
            out["training"] = self.training.to_dict()
        return out


def _cut(path: str, depth: int) -> str:
    return ".".join(path.split(".")[:depth]) if path else ""


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + ".")


def _sum(key: str, typ: str, records: list[LayerRecord], params: int) -> Rollup:
    return Rollup(
        key=key,
        type=typ,
        calls=len(records),
        params=params,
        flops=sum(r.flops for r in records),
        paper_flops=sum(r.flops for r in records if r.is_paper),
        mac=sum(r.mac for r in records),
        mac_bytes=sum(r.mac_bytes for r in records),
    )
