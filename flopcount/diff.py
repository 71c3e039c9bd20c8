"""Two models side by side, module by module: params, FLOPs and MAC with deltas and ratios.

Either side is a :class:`~flopcount.report.Report`, a saved JSON report (``Report.to_dict()``, what
``flopcount analyze -f json`` writes) or one entry of a budget baseline (``configs/budgets.baseline.json``).
Each becomes a :class:`Side`: totals and per-module counts keyed by module path, the function-level ops
of a module's ``forward`` folded into its path (the baseline's own granularity).

Modules are matched in two passes. First by path: the same path on both sides is the same place in the
network, even when its type changed (a row says so). Then, among what is left, by structure: when both
sides know their module types, the unmatched modules of each side, in execution order, are aligned by
type (``difflib``: the longest common runs of types pair up), so a renamed stage still meets its
counterpart; when a side has no types (a baseline keeps only counts), modules pair up only where every
shared count is equal, i.e. a rename. The rest is "only in A" / "only in B".

Conventions: ``flops`` counts every op's multiply-adds (the all-ops total), ``paper_flops`` only
conv + linear + matmul + attention; ``mac`` is memory access cost in elements read + written. A baseline
keeps paper FLOPs per module (its ``flops``) and no all-ops FLOPs per module: the diff compares only
the metrics that both sides have, per module and in total.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from flopcount.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from flopcount.budget import BaselineEntry

# Metric -> meaning, in display order. Latency and memory join when a side carries them.
METRICS = {
    "params": "parameter elements",
    "flops": "FLOPs of every op (multiply-adds)",
    "paper_flops": "FLOPs of conv + linear + matmul + attention (multiply-adds)",
    "mac": "memory access cost: elements read + written",
    "mac_bytes": "memory access cost in bytes",
    "latency_ms": "latency in ms",
    "memory_bytes": "peak memory in bytes",
}
_MODULE_METRICS = ("params", "flops", "paper_flops", "mac", "mac_bytes")


@dataclass
class Side:
    """One model's numbers: what a diff compares."""

    label: str
    source: str  # "report", "report json <path>" or "baseline <path>#<id>"
    totals: dict[str, float]
    modules: dict[str, dict[str, int]]  # module path -> metric -> count ("" is the root's own forward)
    types: dict[str, str] = field(default_factory=dict)  # module path -> class name, when known
    order: list[str] = field(default_factory=list)  # module paths in execution order, when known

    @property
    def metrics(self) -> tuple[str, ...]:
        present = set(self.totals)
        return tuple(m for m in METRICS if m in present)

    def module_metrics(self) -> tuple[str, ...]:
        present = {m for values in self.modules.values() for m in values}
        return tuple(m for m in METRICS if m in present)

    def rolled_up(self, depth: int) -> "Side":
        """Module paths cut to ``depth`` components, counts summed (``depth=1``: features, classifier...)."""
        modules: dict[str, dict[str, int]] = {}
        for path, values in self.modules.items():
            key = ".".join(path.split(".")[:depth]) if path else ""
            slot = modules.setdefault(key, {})
            for metric, value in values.items():
                slot[metric] = slot.get(metric, 0) + value
        order = list(dict.fromkeys(".".join(p.split(".")[:depth]) if p else "" for p in self.order))
        types = {k: v for k, v in self.types.items() if k in modules}
        return Side(self.label, self.source, dict(self.totals), modules, types, order)


@dataclass(frozen=True)
class DiffRow:
    a_path: str | None  # None: only in B
    b_path: str | None  # None: only in A
    match: str  # "path", "structure", "only_a" or "only_b"
    a_type: str | None
    b_type: str | None
    a: dict[str, int]
    b: dict[str, int]

    @property
    def name(self) -> str:
        a, b = _display(self.a_path), _display(self.b_path)
        if self.a_path is None:
            return b
        if self.b_path is None or self.a_path == self.b_path:
            return a
        return f"{a} -> {b}"

    def delta(self, metric: str) -> int:
        return self.b.get(metric, 0) - self.a.get(metric, 0)

    def ratio(self, metric: str) -> float | None:
        """B / A; None when A is zero (nothing to scale)."""
        return ratio(self.a.get(metric, 0), self.b.get(metric, 0))

    def to_dict(self, metrics: tuple[str, ...]) -> dict[str, Any]:
        return {
            "name": self.name, "match": self.match, "a_path": self.a_path, "b_path": self.b_path,
            "a_type": self.a_type, "b_type": self.b_type,
            **{m: {"a": self.a.get(m, 0), "b": self.b.get(m, 0), "delta": self.delta(m), "ratio": self.ratio(m)}
               for m in metrics},
        }


@dataclass
class Diff:
    a: Side
    b: Side
    metrics: tuple[str, ...]  # compared in totals (both sides have them)
    module_metrics: tuple[str, ...]  # compared per module
    rows: list[DiffRow]

    def total(self, metric: str) -> tuple[float, float, float, float | None]:
        """(A, B, B - A, B / A) of a total."""
        a, b = self.a.totals[metric], self.b.totals[metric]
        return a, b, b - a, ratio(a, b)

    def counts(self) -> dict[str, int]:
        out = {"path": 0, "structure": 0, "only_a": 0, "only_b": 0}
        for row in self.rows:
            out[row.match] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"label": self.a.label, "source": self.a.source},
            "b": {"label": self.b.label, "source": self.b.source},
            "conventions": {m: METRICS[m] for m in self.metrics},
            "ratio": "B / A (null when A is 0)",
            "totals": {m: dict(zip(("a", "b", "delta", "ratio"), self.total(m))) for m in self.metrics},
            "matches": self.counts(),
            "modules": [row.to_dict(self.module_metrics) for row in self.rows],
        }


def ratio(a: float, b: float) -> float | None:
    return b / a if a else None


def _display(path: str | None) -> str:
    return "(root)" if path == "" else (path or "")


# ----------------------------------------------------------------------------------------------------
# Sides


def side_from_report(report: Any, label: str | None = None) -> Side:
    """A Side from a Report: per path, the params its modules hold (shared ones once, as the budget
    baseline counts them), all-ops and paper FLOPs and MAC of the calls at that path."""
    t = report.totals
    calls = [(r.path, r.op, r.source, r.flops, r.is_paper, r.mac, r.mac_bytes, r.params) for r in report.records]
    totals = {"params": t.params, "flops": t.flops, "paper_flops": t.paper_flops, "mac": t.mac,
              "mac_bytes": t.mac_bytes}
    return _side(label or report.model, "report", totals, calls, report.module_params, report.module_types)


def side_from_report_dict(data: Mapping[str, Any], label: str | None = None, source: str = "report json") -> Side:
    """A Side from ``Report.to_dict()`` (``analyze -f json``), the same as from the Report itself.

    A report saved before ``module_params`` was written keeps params only per leaf call: parameters held
    by a module that never ran as a leaf (a class token) then show as one row, ``(params outside leaf
    calls)``, so that module rows still sum to the total.
    """
    from flopcount.records import PAPER_CATEGORIES

    try:
        t = data["totals"]
        calls = [(r["path"], r["op"], r["source"], int(r["flops"]), r["category"] in PAPER_CATEGORIES, int(r["mac"]),
                  int(r["mac_bytes"]), int(r["params"])) for r in data["records"]]
        totals = {m: int(t[m]) for m in ("params", "flops", "paper_flops", "mac", "mac_bytes")}
        model = str(data["model"])
        module_params = {str(k): int(v) for k, v in data["module_params"].items()} if "module_params" in data else None
        module_types = {str(k): str(v) for k, v in data.get("module_types", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"{source}: not a flopcount JSON report ({type(error).__name__}: {error})") from None
    if data.get("flops_per_mac", 1) != 1:
        raise ConfigError(f"{source}: saved with --flops-per-mac {data['flops_per_mac']}; save it with the default "
                          f"(1 FLOP per multiply-add) to compare")
    return _side(label or model, source, totals, calls, module_params, module_types)


_OUTSIDE = "(params outside leaf calls)"
Call = tuple[str, str, str, int, bool, int, int, int]  # path, op, source, flops, is_paper, mac, mac_bytes, params


def _side(label: str, source: str, totals: dict[str, float], calls: list[Call],
          module_params: Mapping[str, int] | None, module_types: Mapping[str, str]) -> Side:
    modules: dict[str, dict[str, int]] = {}
    types: dict[str, str] = {}
    order: list[str] = []

    def slot(path: str) -> dict[str, int]:
        return modules.setdefault(path, dict.fromkeys(_MODULE_METRICS, 0))

    for path, n in (module_params or {}).items():
        slot(path)["params"] += n
    for path, op, kind, flops, is_paper, mac, mac_bytes, params in calls:
        values = slot(path)
        values["flops"] += flops
        values["paper_flops"] += flops if is_paper else 0
        values["mac"] += mac
        values["mac_bytes"] += mac_bytes
        if module_params is None:
            values["params"] += params
        if kind == "module" or path not in types:
            types[path] = op
        order.append(path)
    if module_params is None and totals["params"] != sum(v["params"] for v in modules.values()):
        slot(_OUTSIDE)["params"] = int(totals["params"]) - sum(v["params"] for v in modules.values())
    types.update({path: typ for path, typ in module_types.items() if typ})  # containers too, for roll-ups
    first_calls = list(dict.fromkeys(order))
    order = first_calls + sorted(p for p in modules if p not in set(first_calls))
    return Side(label, source, totals, modules, types, order)


def side_from_baseline_entry(model_id: str, entry: "BaselineEntry", source: str = "baseline") -> Side:
    """A Side from one model of a budget baseline: params, paper FLOPs (its ``flops``) and MAC per module."""
    totals = {"params": entry.totals["params"], "paper_flops": entry.totals["flops"], "mac": entry.totals["mac"]}
    if "all_ops_flops" in entry.totals:
        totals["flops"] = entry.totals["all_ops_flops"]
    modules = {path: {"params": v["params"], "paper_flops": v["flops"], "mac": v["mac"]}
               for path, v in entry.layers.items()}
    return Side(model_id, source, totals, modules)


def load_side(reference: str | Path, *, model_id: str | None = None) -> Side:
    """A Side from a saved JSON file: a report (``analyze -f json``) or a budget baseline.

    A baseline holds several models: pick one with ``file.json#model_id`` or ``model_id``; a baseline of
    exactly one model needs neither.
    """
    from flopcount.budget import load_baseline

    path_text, _, fragment = str(reference).partition("#")
    path = Path(path_text)
    model_id = fragment or model_id
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    if isinstance(data, dict) and "records" in data and "totals" in data:
        return side_from_report_dict(data, source=f"report json {path}")
    if not (isinstance(data, dict) and "format" in data and "models" in data):
        raise ConfigError(f"{path}: neither a flopcount JSON report (analyze -f json) nor a budget baseline")
    models = load_baseline(path)  # the budget package owns the format and its errors
    if model_id is None:
        if len(models) != 1:
            raise UsageError(f"{path} holds {len(models)} models: name one as {path}#<id> "
                             f"(ids: {', '.join(sorted(models))})")
        model_id = next(iter(models))
    if model_id not in models:
        close = difflib.get_close_matches(model_id, list(models), n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (ids: {', '.join(sorted(models))})"
        raise UsageError(f"{path}: no model '{model_id}' in the baseline{hint}")
    return side_from_baseline_entry(model_id, models[model_id], source=f"baseline {path}#{model_id}")


def as_side(value: Any, label: str | None = None) -> Side:
    """A Side from a Side, a Report, a ``Report.to_dict()`` mapping or a path to a saved JSON file."""
    if isinstance(value, Side):
        return value
    from flopcount.report import Report

    if isinstance(value, Report):
        return side_from_report(value, label)
    if isinstance(value, Mapping):
        return side_from_report_dict(value, label)
    if isinstance(value, (str, Path)):
        return load_side(value)
    raise UsageError(f"cannot compare a {type(value).__name__}: give a Report, a saved JSON report or a baseline")


# ----------------------------------------------------------------------------------------------------
# Matching


def diff(a: Any, b: Any, *, depth: int | None = None) -> Diff:
    """A (before) against B (after): totals and matched module rows, in A's execution order.

    ``depth`` rolls module paths up to that many components first (1: top-level children).
    """
    side_a, side_b = as_side(a), as_side(b)
    if depth is not None:
        side_a, side_b = side_a.rolled_up(depth), side_b.rolled_up(depth)
    metrics = tuple(m for m in side_a.metrics if m in side_b.metrics)
    module_metrics = tuple(m for m in side_a.module_metrics() if m in side_b.module_metrics())
    if not metrics:
        raise UsageError(f"{side_a.label} and {side_b.label} have no metric in common")
    return Diff(side_a, side_b, metrics, module_metrics, match_modules(side_a, side_b, module_metrics))


def match_modules(a: Side, b: Side, metrics: tuple[str, ...]) -> list[DiffRow]:
    """Rows for every module of either side: same path and type first, then by structure, then same path
    with another type (a layer swapped in place), the rest only on one side. A module whose counts are all
    zero on both sides (Dropout, Identity; a baseline leaves them out) gets no row: it carries nothing."""
    def same_kind(path: str) -> bool:
        return path not in a.types or path not in b.types or a.types[path] == b.types[path]

    pairs: list[tuple[str | None, str | None, str]] = [(p, p, "path") for p in a.modules
                                                      if p in b.modules and same_kind(p)]
    left = [p for p in _order_of(a) if p not in b.modules or not same_kind(p)]
    right = [p for p in _order_of(b) if p not in a.modules or not same_kind(p)]
    structural = _by_type(a, b, left, right) if a.types and b.types else _by_counts(a, b, left, right, metrics)
    pairs += [(pa, pb, "structure") for pa, pb in structural]
    matched_a = {pa for pa, _, _ in pairs}
    matched_b = {pb for _, pb, _ in pairs}
    pairs += [(p, p, "path") for p in left if p not in matched_a and p in b.modules and p not in matched_b]
    matched_a = {pa for pa, _, _ in pairs}
    matched_b = {pb for _, pb, _ in pairs}
    pairs += [(p, None, "only_a") for p in left if p not in matched_a]
    pairs += [(None, p, "only_b") for p in right if p not in matched_b]

    rank_a = {p: i for i, p in enumerate(_order_of(a))}
    rank_b = {p: i for i, p in enumerate(_order_of(b))}
    # A's order; B-only modules sit after the A module that precedes them in B's order.
    def key(pair: tuple[str | None, str | None, str]) -> tuple[float, float]:
        pa, pb, _ = pair
        if pa is not None:
            return rank_a[pa], 0
        before = [rank_a[q] for q, r, _ in pairs if q is not None and r is not None and rank_b[r] < rank_b[pb]]
        return (max(before) if before else -1), 1 + rank_b[pb] / (len(rank_b) + 1)

    rows = []
    for pa, pb, how in sorted(pairs, key=key):
        if not any(a.modules.get(pa, {}).get(m) or b.modules.get(pb, {}).get(m) for m in metrics):
            continue  # zero on both sides (Dropout, Identity, a root without own ops): nothing to compare
        rows.append(DiffRow(pa, pb, how, a.types.get(pa) if pa is not None else None,
                            b.types.get(pb) if pb is not None else None,
                            _pick(a.modules.get(pa), metrics), _pick(b.modules.get(pb), metrics)))
    return rows


def _order_of(side: Side) -> list[str]:
    return [p for p in side.order if p in side.modules] + sorted(p for p in side.modules if p not in set(side.order))


def _pick(values: Mapping[str, int] | None, metrics: tuple[str, ...]) -> dict[str, int]:
    return {m: int(values.get(m, 0)) for m in metrics} if values else {}


def _by_type(a: Side, b: Side, left: list[str], right: list[str]) -> list[tuple[str, str]]:
    """Pair unmatched modules whose types line up in the longest common runs of both execution orders."""
    matcher = difflib.SequenceMatcher(None, [a.types.get(p, "") for p in left], [b.types.get(p, "") for p in right],
                                      autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        pairs += [(left[block.a + k], right[block.b + k]) for k in range(block.size)]
    return pairs


def _by_counts(a: Side, b: Side, left: list[str], right: list[str], metrics: tuple[str, ...]) -> list[tuple[str, str]]:
    """Pair unmatched modules whose shared counts are all equal and nonzero (a rename), first come first paired."""
    waiting: dict[tuple[int, ...], list[str]] = {}
    for path in right:
        signature = tuple(b.modules[path].get(m, 0) for m in metrics)
        if any(signature):
            waiting.setdefault(signature, []).append(path)
    pairs = []
    for path in left:
        candidates = waiting.get(tuple(a.modules[path].get(m, 0) for m in metrics))
        if candidates:
            pairs.append((path, candidates.pop(0)))
    return pairs
