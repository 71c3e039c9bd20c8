"""Rich rendering of a Report: the per-layer table and the totals panel."""

from __future__ import annotations

from typing import Iterable

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from flopcount.records import LayerRecord
from flopcount.units import human, human_bytes
from flopcount.report import Report, Rollup


def _shape_text(record: LayerRecord) -> str:
    first_in = str(record.inputs[0]) if record.inputs else "-"
    first_out = str(record.outputs[0]) if record.outputs else "-"
    return f"{first_in} → {first_out}"


def _geometry(record: LayerRecord) -> str:
    attrs = record.attrs
    parts = []
    if "kernel" in attrs:
        parts.append("k" + "x".join(map(str, attrs["kernel"])))
    if "stride" in attrs and any(s != 1 for s in attrs["stride"]):
        parts.append("s" + "x".join(map(str, attrs["stride"])))
    if attrs.get("groups", 1) != 1:
        parts.append(f"g{attrs['groups']}")
    return " ".join(parts)


def layer_table(report: Report, rows: Iterable[LayerRecord | Rollup], flops_per_mac: int = 1, title: str = "",
                compact: bool = False) -> Table:
    """Per-call rows (LayerRecord) or roll-ups; ``compact`` (narrow terminals) shows the output shape only."""
    total_flops = report.totals.flops or 1
    rows = list(rows)
    per_call = not rows or isinstance(rows[0], LayerRecord)
    table = Table(title=title or None, header_style="bold", show_lines=False, expand=False)
    if not per_call:
        middle: tuple = (("calls", "right"),)
    elif compact:
        middle = (("output", "left"),)
    else:
        middle = (("kernel/stride/groups", "left"), ("input → output", "left"))
    for column, justify in (("name", "left"), ("type", "left"), *middle, ("params", "right"), ("FLOPs", "right"),
                            ("MAC", "right"), ("% FLOPs", "right")):
        # Numbers never wrap; names and shapes fold when the terminal is narrow.
        numeric = justify == "right"
        table.add_column(column, justify=justify, overflow="fold", no_wrap=numeric,
                         min_width=max(len(column), 7) if numeric else None)
    for row in rows:
        if isinstance(row, LayerRecord):
            flops_text = human(row.flops * flops_per_mac) if row.counted else "[red]uncounted[/red]"
            shapes = (str(row.outputs[0]) if row.outputs else "-",) if compact else (_geometry(row), _shape_text(row))
            table.add_row(row.name, row.op, *shapes, human(row.params) if row.params else "",
                          flops_text, human(row.mac), f"{100 * row.flops / total_flops:.2f}")
        else:
            table.add_row(row.key, row.type, str(row.calls), human(row.params) if row.params else "",
                          human(row.flops * flops_per_mac), human(row.mac), f"{100 * row.flops / total_flops:.2f}")
    return table


def _input_text(spec) -> str:
    return str(spec) if spec.dtype == "float32" else f"{spec}:{spec.dtype}"


def totals_panel(report: Report, flops_per_mac: int = 1) -> Panel:
    t = report.totals
    unit = "multiply-adds" if flops_per_mac == 1 else "FLOPs, 2 per multiply-add"
    lines = [
        f"model           {report.model}   input {', '.join(_input_text(i) for i in report.inputs)}   device {report.device}",
        f"params          {t.params:,} ({human(t.params)}), trainable {t.trainable_params:,}",
        f"paper FLOPs     {t.paper_flops * flops_per_mac:,} ({human(t.paper_flops * flops_per_mac)})  conv+linear+matmul, {unit}",
        f"all-ops FLOPs   {t.flops * flops_per_mac:,} ({human(t.flops * flops_per_mac)})  + norms, activations, pools, element-wise",
        f"MAC             {t.mac:,} elements ({human(t.mac)}), {human_bytes(t.mac_bytes)}  memory read + written",
    ]
    if report.complete:
        lines.append("complete        every op had a formula")
    else:
        missing = ", ".join(f"{op} x{n}" for op, n in sorted(report.uncounted.items()))
        lines.append(f"[yellow]lower bound     no formula for: {missing}[/yellow]")
    if report.counted_from_ops:
        lines.append("counted from ops " + ", ".join(f"{p} ({typ})" for p, typ in report.counted_from_ops.items()))
    return Panel("\n".join(lines), title="totals", expand=False)


def report_renderable(report: Report, rows, flops_per_mac: int = 1, width: int = 200) -> Group:
    table = layer_table(report, rows, flops_per_mac, compact=width < 150)
    return Group(table, totals_panel(report, flops_per_mac))
