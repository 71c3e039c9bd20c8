"""Renderings of a :class:`~flopcount.diff.Diff`: a rich table, JSON (exact integers) and Markdown.

Every rendering shows the totals first (A, B, B - A, B / A), then one row per matched module. Ratios
read as a factor: ``0.02043 (48.94x fewer)``; B / A is undefined where A is 0 and shown as a dash.
"""

from __future__ import annotations

import json

from flopcount.diff import Diff, DiffRow
from flopcount.render.common import markdown_table
from flopcount.units import human

LABELS = {"params": "params", "flops": "all-ops FLOPs", "paper_flops": "paper FLOPs", "mac": "MAC",
          "mac_bytes": "MAC bytes", "latency_ms": "latency ms", "memory_bytes": "memory bytes"}
SHORT = {"flops": "FLOPs", "paper_flops": "FLOPs (paper)"}
MATCH_TEXT = {"path": "", "structure": "by structure", "only_a": "only in A", "only_b": "only in B"}


def factor(ratio: float | None) -> str:
    """B / A as a readable factor: '0.02043 (48.94x fewer)', '2.5 (2.50x more)', '1 (same)', '-'."""
    if ratio is None:
        return "-"
    if ratio == 0:
        return "0 (none left)"
    head = f"{ratio:.4g}"
    if abs(ratio - 1) < 5e-5:
        return f"{head} (same)"
    return f"{head} ({ratio:.2f}x more)" if ratio > 1 else f"{head} ({1 / ratio:.2f}x fewer)"


def _signed(value: float) -> str:
    return f"+{value:,}" if value > 0 else f"{value:,}"


def _changed(diff: Diff, only_changed: bool) -> list[DiffRow]:
    if not only_changed:
        return diff.rows
    return [r for r in diff.rows if r.match in ("only_a", "only_b") or any(r.delta(m) for m in diff.module_metrics)]


def default_metrics(diff: Diff) -> tuple[str, ...]:
    """Per-module columns: params, FLOPs (all ops, or the paper total when a side has only that), MAC,
    and latency / memory when both sides have them."""
    have = diff.module_metrics
    flops = "flops" if "flops" in have else "paper_flops"
    return tuple(m for m in ("params", flops, "mac", "latency_ms", "memory_bytes") if m in have)


def _cells(row: DiffRow, metric: str, compact: bool = False) -> list[str]:
    """A, B, B - A and B / A of one module in K/M/G (the totals table carries the exact integers);
    ``compact``: 'A -> B' and B / A."""
    a = "" if row.a_path is None else human(row.a[metric])
    b = "" if row.b_path is None else human(row.b[metric])
    delta = row.delta(metric)
    r = row.ratio(metric)
    ratio_text = "" if r is None or row.b_path is None or not delta else f"{r:.3g}x"
    if compact:
        return [f"{a or '-'} -> {b or '-'}" if delta else a or b, ratio_text]
    return [a, b, "" if not delta else ("+" if delta > 0 else "") + human(delta), ratio_text]


def _types(row: DiffRow) -> str:
    if row.a_type == row.b_type or row.b_path is None:
        return row.a_type or ""
    if row.a_path is None:
        return row.b_type or ""
    return f"{row.a_type or '?'} -> {row.b_type or '?'}"


def _heading(diff: Diff) -> str:
    c = diff.counts()
    return (f"A: {diff.a.label} ({diff.a.source})  B: {diff.b.label} ({diff.b.source}); modules: {c['path']} matched "
            f"by path, {c['structure']} by structure, {c['only_a']} only in A, {c['only_b']} only in B")


def diff_renderable(diff: Diff, *, metrics: tuple[str, ...] | None = None, only_changed: bool = False,
                    top: int | None = None, width: int = 200):
    """A rich Group: the totals table and the per-module table (``top`` rows of the largest changes)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    totals = Table(title="totals", title_justify="left", header_style="bold")
    for column, justify in (("", "left"), ("A", "right"), ("B", "right"), ("B - A", "right"), ("B / A", "right")):
        totals.add_column(column, justify=justify, no_wrap=True)
    for metric in diff.metrics:
        a, b, d, r = diff.total(metric)
        totals.add_row(LABELS[metric], f"{a:,}", f"{b:,}", _signed(d), factor(r))

    metrics = tuple(metrics or default_metrics(diff))
    rows = _ordered_for_top(diff, _changed(diff, only_changed), top, metrics)
    modules = Table(title="modules", title_justify="left", header_style="bold")
    compact = width < 160
    modules.add_column("module", overflow="fold", min_width=20)
    if not compact:
        modules.add_column("type", overflow="fold")
    modules.add_column("match", overflow="fold")
    for metric in metrics:
        label = SHORT.get(metric, LABELS[metric]) if compact else LABELS[metric]
        for suffix in ((" A -> B", " B/A") if compact else (" A", " B", " B-A", " B/A")):
            # numbers never wrap; a narrow terminal folds "A -> B" at the arrow
            header = "B/A" if compact and suffix == " B/A" else label + suffix
            modules.add_column(header, justify="right", no_wrap=suffix != " A -> B")
    for row in rows:
        cells = [c for m in metrics for c in _cells(row, m, compact)]
        first = [row.name] if compact else [row.name, _types(row)]
        modules.add_row(*first, MATCH_TEXT[row.match], *cells)
    return Group(Text(_heading(diff)), totals, modules)


def _ordered_for_top(diff: Diff, rows: list[DiffRow], top: int | None, metrics: tuple[str, ...]) -> list[DiffRow]:
    """The ``top`` rows with the largest change of the first metric shown; all rows (A's order) without."""
    if top is None or not metrics:
        return rows
    return sorted(rows, key=lambda r: abs(r.delta(metrics[0])), reverse=True)[:top]


def diff_to_json(diff: Diff) -> str:
    return json.dumps(diff.to_dict(), indent=2)


def diff_to_markdown(diff: Diff, *, metrics: tuple[str, ...] | None = None, only_changed: bool = False,
                     top: int | None = None) -> str:
    headline = f"**{diff.a.label}** (A) vs **{diff.b.label}** (B)"
    totals_rows = []
    for metric in diff.metrics:
        a, b, d, r = diff.total(metric)
        totals_rows.append([LABELS[metric], f"{a:,}", f"{b:,}", _signed(d), factor(r)])
    totals = markdown_table(["total", "A", "B", "B - A", "B / A"], totals_rows, "lrrrr")
    metrics = tuple(metrics or default_metrics(diff))
    headers = ["module", "type", "match"] + [LABELS[m] + s for m in metrics for s in (" A", " B", " B-A", " B/A")]
    rows = [[row.name, _types(row), MATCH_TEXT[row.match], *[c for m in metrics for c in _cells(row, m)]]
            for row in _ordered_for_top(diff, _changed(diff, only_changed), top, metrics)]
    modules = markdown_table(headers, rows, "lll" + "r" * (len(headers) - 3))
    return f"{headline}\n\n_{_heading(diff)}_\n\n{totals}\n\n{modules}\n"
