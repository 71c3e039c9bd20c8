"""Evaluating a model's numbers against its budget and baseline: pure arithmetic, one Check per limit,
and a one-line explanation of a failure (the layers that grew most, or the largest ones)."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from flopcount.budget.baseline import BaselineEntry
from flopcount.budget.measure import Measurement
from flopcount.budget.schema import COUNT_METRICS, STEP_METRICS, ModelBudget
from flopcount.units import human, human_bytes

_TOP_LAYERS = 5  # layers named in a failure's explanation


@dataclass(frozen=True)
class Check:
    model: str  # the budget id
    metric: str  # params | flops | mac | latency_ms | flops[features.*] | flops vs baseline ...
    value: float
    limit: float | None
    status: str  # pass | fail | skip
    detail: str = ""
    line: int | None = None
    unit: str = "count"  # count | ms | bytes
    basis: str = ""  # latency_ms only: "measured" or "predicted (profile NAME)"

    @property
    def headroom_pct(self) -> float | None:
        """How far below the limit the value is, in percent of the limit (negative: over)."""
        if self.limit is None or self.limit == 0:
            return None
        return (self.limit - self.value) / self.limit * 100.0

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass
class ModelResult:
    budget: ModelBudget
    input_size: tuple[str, ...]
    measurement: Measurement
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)


@dataclass
class BudgetResult:
    path: Path | None
    models: list[ModelResult]

    @property
    def checks(self) -> list[Check]:
        return [c for m in self.models for c in m.checks]

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.models)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]


def evaluate(budget: ModelBudget, measured: Measurement, baseline: BaselineEntry | None = None) -> list[Check]:
    """Compare one model's numbers with its budget (and baseline); one Check per limit."""
    checks = []
    for metric in COUNT_METRICS:
        if metric not in budget.limits:
            continue
        limit, value = budget.limits[metric], measured.totals[metric]
        detail = ""
        if value > limit:
            detail = f"{_over(value, limit, 'budget')}; " + explain(measured, baseline, metric)
        checks.append(Check(budget.id, metric, value, limit, "fail" if value > limit else "pass", detail.rstrip("; "),
                            budget.line))
    for metric, unit in STEP_METRICS.items():
        if metric in budget.limits:
            limit, value = budget.limits[metric], measured.totals[metric]
            show = human_bytes if unit == "bytes" else human
            detail = "" if value <= limit else (f"{show(value)} is {(value / limit - 1) * 100:.1f}% over the budget "
                                                f"{show(limit)}" if limit else f"{show(value)} over a budget of 0")
            checks.append(Check(budget.id, metric, value, limit, "fail" if value > limit else "pass", detail,
                                budget.line, unit))
    if budget.max_latency_ms is not None:
        value = measured.latency_ms
        if value is None:
            checks.append(Check(budget.id, "latency_ms", math.nan, budget.max_latency_ms, "skip", "not measured",
                                budget.line, "ms", "measured"))
        else:
            ok = value <= budget.max_latency_ms
            what = ("median CPU forward" if measured.latency_basis == "measured" else
                    f"CPU forward {measured.latency_basis}")
            detail = "" if ok else (f"{what} {value:.2f} ms is "
                                    f"{(value / budget.max_latency_ms - 1) * 100:.1f}% over {budget.max_latency_ms:g} ms")
            checks.append(Check(budget.id, "latency_ms", value, budget.max_latency_ms, "pass" if ok else "fail",
                                detail, budget.line, "ms", measured.latency_basis))
    checks += _layer_checks(budget, measured)
    if budget.max_regression_pct is not None:
        checks += _regression_checks(budget, measured, baseline)
    return checks


def _layer_checks(budget: ModelBudget, measured: Measurement) -> list[Check]:
    candidates = measured.candidates()
    checks = []
    for layer in budget.layers:
        matched = {k: v for k, v in candidates.items() if fnmatch.fnmatchcase(k, layer.pattern)}
        for metric, limit in layer.limits.items():
            label = f"{metric}[{layer.pattern}]"
            if not matched:
                checks.append(Check(budget.id, label, 0, limit, "fail", f"pattern '{layer.pattern}' matches no layer "
                                    f"(a renamed module?)", layer.line))
                continue
            over = sorted(((v[metric], k) for k, v in matched.items() if v[metric] > limit), reverse=True)
            worst_value, worst = max((v[metric], k) for k, v in matched.items())
            if over:
                names = ", ".join(f"{_layer(measured, k)} {human(v)}" for v, k in over[:_TOP_LAYERS])
                more = f" and {len(over) - _TOP_LAYERS} more" if len(over) > _TOP_LAYERS else ""
                detail = f"{len(over)} of {len(matched)} matching layers over {human(limit)}: {names}{more}"
            else:
                detail = f"largest: {_layer(measured, worst)} ({len(matched)} matching)"
            checks.append(Check(budget.id, label, worst_value, limit, "fail" if over else "pass", detail, layer.line))
    return checks


def _regression_checks(budget: ModelBudget, measured: Measurement, baseline: BaselineEntry | None) -> list[Check]:
    pct = budget.max_regression_pct or 0.0
    if baseline is None:
        return [Check(budget.id, "baseline", math.nan, None, "skip",
                      "no baseline entry yet: run flopcount check --update-baseline", budget.line)]
    checks = []
    for metric in COUNT_METRICS:
        base, value = baseline.totals[metric], measured.totals[metric]
        allowed = math.floor(base * (1 + Fraction(repr(pct)) / 100))  # exact: 1.15 * 100 is 114.99.. in floats
        ok = value <= allowed
        change = f"{_pct_change(value, base)} vs baseline {human(base)} (allowed +{pct:g}%)"
        detail = change if ok else f"{change}; " + explain(measured, baseline, metric)
        checks.append(Check(budget.id, f"{metric} vs baseline", value, allowed, "pass" if ok else "fail", detail,
                            budget.line))
    return checks


def explain(measured: Measurement, baseline: BaselineEntry | None, metric: str, top: int = _TOP_LAYERS) -> str:
    """Which layers grew most against the baseline (or, without one, which layers are largest)."""
    if baseline is None:
        largest = sorted(((v[metric], p) for p, v in measured.layers.items() if v[metric] > 0), reverse=True)[:top]
        return "largest layers: " + ", ".join(f"{_layer(measured, p)} {human(v)}" for v, p in largest) if largest else ""
    growth = []
    for path in set(measured.layers) | set(baseline.layers):
        now = measured.layers.get(path, {}).get(metric, 0)
        before = baseline.layers.get(path, {}).get(metric, 0)
        if now != before:
            growth.append((now - before, path, before, now))
    grown = sorted((g for g in growth if g[0] > 0), reverse=True)
    if not grown:
        return "no layer grew against the baseline; " + explain(measured, None, metric, top)
    parts = []
    for delta, path, before, now in grown[:top]:
        tag = "new" if path not in baseline.layers else f"{_pct_change(now, before)}" if before else "+inf%"
        parts.append(f"{_layer(measured, path)} +{human(delta)} ({tag})")
    more = f"; {len(grown) - top} more grew" if len(grown) > top else ""
    shrunk = sum(1 for g in growth if g[0] < 0)
    return f"grew most: {', '.join(parts)}{more}" + (f"; {shrunk} shrank" if shrunk else "")


def _layer(measured: Measurement, path: str) -> str:
    kind = measured.types.get(path)
    return f"{path or '(root)'} ({kind})" if kind else path or "(root)"


def _over(value: float, limit: float, what: str) -> str:
    if limit == 0:
        return f"{human(value)} over a {what} of 0"
    return f"{human(value)} is {(value / limit - 1) * 100:.1f}% over the {what} {human(limit)} (+{human(value - limit)})"


def _pct_change(now: float, before: float) -> str:
    if before == 0:
        return "+inf%" if now else "+0.0%"
    return f"{(now / before - 1) * 100:+.1f}%"
