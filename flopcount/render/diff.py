"""Renderings of a :class:`~flopcount.diff.Diff`: a rich table, JSON (exact integers) and Markdown.

Every rendering shows the totals first (A, B, B - A, B / A), then one row per matched module. Ratios
read as a factor: ``0.02043 (48.94x fewer)``; B / A is undefined where A is 0 and shown as a dash.
"""

from __future__ import annotations

from flopcount.diff import Diff, DiffRow
from flopcount.render.common import Column, fit_table, json_document, markdown_table
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


def _cells(row: DiffRow, metric: str) -> list[str]:
    """A, B, B - A and B / A of one module in K/M/G (the totals table carries the exact integers)."""
    a = "" if row.a_path is None else human(row.a[metric])
    b = "" if row.b_path is None else human(row.b[metric])
    delta = row.delta(metric)
    r = row.ratio(metric)
    ratio_text = "" if r is None or row.b_path is None or not delta else f"{r:.3g}x"
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
    """A rich Group: the totals table and the per-module table (``top`` rows of the largest changes).

    On a narrow terminal columns give way in this order: type, the B - A columns, the B / A columns, then
    the A and B of the third and later metrics; the table's caption names them."""
    from rich.console import Group
    from rich.text import Text

    totals_columns = [Column("total"), Column("A", "right"), Column("B", "right"), Column("B - A", "right", drop=1),
                      Column("B / A", "right")]
    totals_rows = []
    for metric in diff.metrics:
        a, b, d, r = diff.total(metric)
        totals_rows.append([LABELS[metric], f"{a:,}", f"{b:,}", _signed(d), factor(r)])
    totals = fit_table(totals_columns, totals_rows, width, title_justify="left", header_style="bold")

    metrics = tuple(metrics or default_metrics(diff))
    rows = _ordered_for_top(diff, _changed(diff, only_changed), top, metrics)
    columns = [Column("module", text=True), Column("type", text=True, drop=6), Column("match")]
    for k, metric in enumerate(metrics):
        label = SHORT.get(metric, LABELS[metric])
        later = 2 if k >= 2 else 0  # a third metric's A and B give way before the first two metrics' ratios
        columns += [Column(f"{label} A", "right", drop=later), Column(f"{label} B", "right", drop=later),
                    Column(f"{label} B-A", "right", drop=5), Column(f"{label} B/A", "right", drop=3)]
    body = [[row.name, _types(row), MATCH_TEXT[row.match], *[c for m in metrics for c in _cells(row, m)]]
            for row in rows]
    modules = fit_table(columns, body, width, title_justify="left", header_style="bold")
    return Group(Text(_heading(diff)), totals, modules)


def _ordered_for_top(diff: Diff, rows: list[DiffRow], top: int | None, metrics: tuple[str, ...]) -> list[DiffRow]:
    """The ``top`` rows with the largest change of the first metric shown; all rows (A's order) without."""
    if top is None or not metrics:
        return rows
    return sorted(rows, key=lambda r: abs(r.delta(metrics[0])), reverse=True)[:top]


def diff_to_json(diff: Diff) -> str:
    return json_document("diff", diff.to_dict())


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
