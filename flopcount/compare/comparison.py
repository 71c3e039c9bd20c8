"""flopcount against fvcore and torch's FlopCounterMode, layer by layer.

All three counters run on the same model and the same real CPU tensors, in eval mode under
``torch.no_grad`` (fvcore traces with ``torch.jit``, so it needs real tensors; ``inference_mode`` would
make FlopCounterMode count nothing). Each reports per module path, counting every op against the
innermost module whose ``forward`` ran it; the references report cumulative counts per module, so a
module's own ops are its count minus those of its nearest counted descendants.

Rows are (module path, op family) pairs; the reason for each difference comes from the convention map
in :mod:`flopcount.conventions`. Conv, linear and matmul rows must agree exactly (or within a relative
tolerance) with every available reference: :attr:`Comparison.mismatches` lists those that do not.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import torch
from torch import nn

from flopcount.analysis import analyze
from flopcount.compare.counters import ReferenceStatus, as_number, run_flop_counter_mode, run_fvcore
from flopcount.conventions import (
    FAMILIES,
    FCM,
    FLOPCOUNT,
    FVCORE,
    LABELS,
    REFERENCES,
    Observation,
    explain,
    family_of_category,
    family_of_op,
)
from flopcount.errors import UsageError
from flopcount.formulas import REGISTRY, FormulaRegistry
from flopcount.inputs import make_tensor, normalize_input_size
from flopcount.records import TensorSpec
from flopcount.report import Report
from flopcount.walker import spec_of, tensors_in

_DENSE = ("linear", "matmul")
RUN_NOTE = "ran on CPU with real tensors (fvcore traces with torch.jit), model in eval mode, under torch.no_grad"


@dataclass
class Row:
    path: str
    family: str
    op: str  # the ops of the row, flopcount's names first
    ours: int
    references: dict[str, float | None]  # counter -> multiply-adds (FlopCounterMode halved); None: unavailable
    status: str  # "match", "mismatch" (conv/linear/matmul), "explained" or "unexplained"
    reasons: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path or "(root)"

    @property
    def paper(self) -> bool:
        return FAMILIES[self.family].paper

    @property
    def strict(self) -> bool:
        return FAMILIES[self.family].strict

    def difference(self, counter: str) -> float | None:
        """Reference minus ours (None when the reference is unavailable)."""
        value = self.references.get(counter)
        return None if value is None else value - self.ours

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "name": self.name, "family": self.family, "op": self.op, "paper": self.paper,
            "flopcount": self.ours, **{LABELS[c]: v for c, v in self.references.items()},
            **{f"diff_{LABELS[c]}": self.difference(c) for c in self.references},
            "status": self.status, "reason": self.reason,
        }


@dataclass
class Comparison:
    model: str
    inputs: tuple[TensorSpec, ...]
    tolerance: float
    references: dict[str, ReferenceStatus]
    rows: list[Row]
    by_family: dict[str, dict[str, float | None]]  # family -> counter -> FLOPs (multiply-adds)
    totals: dict[str, dict[str, float | None]]  # "paper" / "all" -> counter -> FLOPs
    report: Report  # flopcount's own analysis of the same forward
    note: str = RUN_NOTE

    @property
    def mismatches(self) -> list[Row]:
        """Conv, linear and matmul rows that differ from an available reference: compare fails on these."""
        return [r for r in self.rows if r.status == "mismatch"]

    @property
    def unexplained(self) -> list[Row]:
        return [r for r in self.rows if r.status == "unexplained"]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def available(self) -> list[str]:
        return [c for c, s in self.references.items() if s.available]

    def to_dict(self) -> dict[str, Any]:
        from flopcount.conventions import convention_table

        return {
            "model": self.model,
            "inputs": [{"shape": list(t.shape), "dtype": t.dtype} for t in self.inputs],
            "note": self.note,
            "flops": "multiply-adds (one fused multiply-add = 1 FLOP); FlopCounterMode's counts are halved",
            "tolerance": self.tolerance,
            "references": {LABELS[c]: {"available": s.available, "reason": s.reason} for c, s in self.references.items()},
            "ok": self.ok,
            "mismatches": [r.name for r in self.mismatches],
            "unexplained": [r.name for r in self.unexplained],
            "totals": {k: {LABELS[c]: v for c, v in t.items()} for k, t in self.totals.items()},
            "by_family": {f: {LABELS[c]: v for c, v in t.items()} for f, t in self.by_family.items()},
            "rows": [r.to_dict() for r in self.rows],
            "conventions": convention_table(),
        }


def compare(
    model: nn.Module,
    inputs_or_input_size: Any,
    *,
    name: str | None = None,
    tolerance: float = 0.0,
    registry: FormulaRegistry = REGISTRY,
    references: tuple[str, ...] = REFERENCES,
) -> Comparison:
    """Count ``model`` with flopcount, fvcore and FlopCounterMode on one CPU input and align the results.

    ``inputs_or_input_size``: a tensor, a tuple of tensors, a dict of keyword tensors, or an input size as
    :func:`flopcount.analyze` takes it ((1, 3, 224, 224), '1x3x224x224', a list of them). ``tolerance`` is
    the relative difference allowed on conv, linear and matmul rows (0: exact). The model must hold real
    weights on the CPU; it is put in eval mode for the comparison and given its mode back afterwards.
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"compare() needs a torch.nn.Module, got {type(model).__name__}")
    if tolerance < 0:
        raise UsageError(f"tolerance must be >= 0, got {tolerance}")
    unknown = set(references) - set(REFERENCES)
    if unknown:
        raise UsageError(f"unknown reference {', '.join(sorted(unknown))}: use {', '.join(REFERENCES)}")
    devices = {t.device.type for t in (*model.parameters(), *model.buffers())}
    if devices - {"cpu"}:
        raise UsageError(f"compare runs on CPU with real weights (fvcore traces real tensors); the model is on "
                         f"{', '.join(sorted(devices))}: build it on cpu")
    args, kwargs = _inputs(inputs_or_input_size)
    name = name or type(model).__name__

    with _eval_mode(model), torch.no_grad():
        report = analyze(model, inputs=kwargs if kwargs else args, registry=registry, name=name)
        found: dict[str, tuple[ReferenceStatus, dict, dict]] = {}
        if FVCORE in references:
            found[FVCORE] = run_fvcore(model, args, kwargs)
        if FCM in references:
            found[FCM] = run_flop_counter_mode(model, args, kwargs)

    rows, by_family = _align(report, found, tolerance)
    paper = {f for f, fam in FAMILIES.items() if fam.paper}
    totals = {
        "paper": {FLOPCOUNT: report.totals.paper_flops,
                  **{c: _sum_families(by_family, c, paper) for c in found}},
        "all": {FLOPCOUNT: report.totals.flops, **{c: _sum_families(by_family, c, set(FAMILIES)) for c in found}},
    }
    return Comparison(
        model=name,
        inputs=tuple(spec_of(t) for t in tensors_in((args, kwargs))),
        tolerance=tolerance,
        references={c: status for c, (status, _, _) in found.items()},
        rows=rows,
        by_family=by_family,
        totals=totals,
        report=report,
    )


# -- the model and its inputs ---------------------------------------------------------------------
def _inputs(value: Any) -> tuple[tuple, dict]:
    if any(True for _ in tensors_in(value)):
        if any(t.device.type != "cpu" for t in tensors_in(value)):
            raise UsageError("compare runs on CPU: give CPU tensors (or an input size)")
        if isinstance(value, Mapping):
            return (), dict(value)
        return (tuple(value) if isinstance(value, (tuple, list)) else (value,)), {}
    return tuple(make_tensor(spec, "cpu") for spec in normalize_input_size(value)), {}


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _sum_families(by_family: dict[str, dict[str, float | None]], counter: str, families: set[str]) -> float | None:
    values = [by_family[f].get(counter) for f in by_family if f in families]
    if any(v is None for v in values):
        return None
    return as_number(sum(values))



# -- aligning -------------------------------------------------------------------------------------------
@dataclass
class _Cell:
    value: float = 0
    ops: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def observation(self, available: bool = True) -> Observation:
        if not available:
            return Observation(None)
        return Observation(as_number(self.value), tuple(self.ops), tuple(self.unsupported), tuple(self.outside))


def _align(report: Report, found: dict[str, tuple[ReferenceStatus, dict, dict]], tolerance: float):
    ours: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
    first_seen: dict[tuple[str, str], int] = {}
    dense_at: dict[str, set[str]] = defaultdict(set)
    for record in report.records:
        family = family_of_category(record.category, record.op)
        if family in _DENSE:
            dense_at[record.path].add(family)
    for record in report.records:
        family = family_of_category(record.category, record.op)
        if family == "linear" and dense_at[record.path] == set(_DENSE):
            # The references see F.linear and torch.matmul as the same aten kernels (addmm, mm): where a
            # module runs both, one "matmul" row holds them all.
            family = "matmul"
        key = (record.path, family)
        cell = ours[key]
        first_seen.setdefault(key, record.index)
        cell.ops.append(record.op)
        if not record.counted:
            cell.unsupported.append(record.op)
            continue
        cell.value += record.flops
        if record.source == "op" and record.flops:
            cell.outside.append(record.op)

    def reference_family(path: str, op: str) -> str:
        family = family_of_op(op)
        if family in _DENSE and dense_at.get(path):
            # An nn.Linear reaches FlopCounterMode as aten.addmm or aten.mm, like a matmul: take the
            # family flopcount saw at that path.
            return "linear" if dense_at[path] == {"linear"} else "matmul"
        return family

    refs: dict[str, dict[tuple[str, str], _Cell]] = {}
    for counter, (status, counts, unsupported) in found.items():
        cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
        for path, ops in counts.items():
            for op, n in ops.items():
                cell = cells[(path, reference_family(path, op))]
                cell.value += n
                cell.ops.append(op.removeprefix("aten."))
        for path, ops in unsupported.items():
            for op in ops:
                cells[(path, reference_family(path, op))].unsupported.append(op)
        refs[counter] = cells

    by_family = {f: {FLOPCOUNT: 0, **{c: (0 if s.available else None) for c, (s, _, _) in found.items()}}
                 for f in FAMILIES}
    for (path, family), cell in ours.items():
        by_family[family][FLOPCOUNT] += cell.value
    for counter, cells in refs.items():
        for (path, family), cell in cells.items():
            by_family[family][counter] += cell.value
    by_family = {f: {c: (None if v is None else as_number(v)) for c, v in t.items()} for f, t in by_family.items()
                 if any(t.values())}

    keys = list(ours) + [k for cells in refs.values() for k in cells if k not in ours]
    rows = []
    for key in dict.fromkeys(keys):
        mine = ours.get(key, _Cell())
        seen = {c: refs[c].get(key, _Cell()).observation(found[c][0].available) for c in found}
        values = [mine.value, *(o.value or 0 for o in seen.values())]
        if not any(values) and not mine.unsupported:
            continue  # free everywhere (views, dropout in eval): nothing to compare
        rows.append(_row(key, mine, seen, tolerance))
    order = _order(report, first_seen)
    rows.sort(key=lambda r: order(r.path, r.family))
    return rows, by_family


def _row(key: tuple[str, str], mine: _Cell, seen: dict[str, Observation], tolerance: float) -> Row:
    path, family = key
    ours = as_number(mine.value)
    agree = {c: o.value is None or _close(ours, o.value, tolerance) for c, o in seen.items()}
    if mine.unsupported:
        # flopcount could not count an op that a reference counted: never a match
        agree = {c: o.value is None or not o.value for c, o in seen.items()}
    reasons, explained = explain(family, mine.observation(), seen, agree)
    if all(agree.values()) and not mine.unsupported:
        status = "match"
    elif FAMILIES[family].strict:
        status = "mismatch"
    else:
        status = "explained" if explained else "unexplained"
    op_names = mine.ops or [op for o in seen.values() for op in (*o.ops, *o.unsupported)]
    return Row(path, family, ", ".join(dict.fromkeys(op_names)), ours, {c: o.value for c, o in seen.items()}, status, reasons)


def _close(ours: float, reference: float, tolerance: float) -> bool:
    return abs(ours - reference) <= tolerance * abs(reference)


def _order(report: Report, first_seen: dict[tuple[str, str], int]):
    """Forward order: a row sorts at flopcount's first record for it, or under its module path."""
    by_path: dict[str, int] = {}
    for record in report.records:
        by_path.setdefault(record.path, record.index)
    families = list(FAMILIES)

    def key(path: str, family: str) -> tuple[int, int]:
        if (path, family) in first_seen:
            return first_seen[(path, family)], families.index(family)
        under = [i for p, i in by_path.items() if p == path or p.startswith(path + ".") or not path]
        return (min(under) if under else len(report.records)), families.index(family)

    return key
