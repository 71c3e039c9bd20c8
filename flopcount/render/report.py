"""A Report rendered: the per-layer table and totals panel (rich), JSON, CSV and Markdown (exact integers)."""

from __future__ import annotations

from typing import Iterable, Sequence

from flopcount.blocks import CondensedRow, counted_from_ops_line
from flopcount.records import LayerRecord
from flopcount.render.common import Column, csv_text, fit_table, json_document, markdown_table
from flopcount.report import Report, Rollup
from flopcount.units import human, human_bytes

CSV_COLUMNS = ("name", "type", "calls", "inputs", "outputs", "params", "flops", "paper_flops", "mac", "mac_bytes")


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


def with_block_lines(rows: Sequence[CondensedRow], module_types: dict[str, str] | None = None) -> list:
    """Condensed rows (blocks.condensed_rows) as records, each repeated block preceded by a Rollup line that
    sums all its copies (key: 'model.layers.0 ×32', type: the block's class)."""
    out: list = []
    current = None
    for row in rows:
        if row.block is not None and row.block != current:
            members = [r.record for r in rows if r.block == row.block]
            out.append(Rollup(
                key=f"{row.block} ×{row.repeat}", type=(module_types or {}).get(row.block, "block"), calls=row.repeat,
                params=row.repeat * sum(r.params for r in members),
                flops=row.repeat * sum(r.flops for r in members),
                paper_flops=row.repeat * sum(r.flops for r in members if r.is_paper),
                mac=row.repeat * sum(r.mac for r in members),
                mac_bytes=row.repeat * sum(r.mac_bytes for r in members)))
        current = row.block
        out.append(row.record)
    return out


def folded_caption(rows: Sequence[CondensedRow]) -> str | None:
    """What the condensed table hides, in one line, or None when nothing repeats."""
    blocks = {row.block: row.repeat for row in rows if row.block is not None}
    if not blocks:
        return None
    listed = ", ".join(f"{block} ×{repeat}" for block, repeat in blocks.items())
    return (f"Repeated blocks shown once: {listed}; the ×N line sums all N copies, the rows under it are one "
            "copy (--expand shows every call; -f json has every record).")


def layer_table(report: Report, rows: Iterable[LayerRecord | Rollup], flops_per_mac: int = 1, title: str = "",
                compact: bool = False, width: int = 200, caption: str | None = None):
    """Per-call rows (LayerRecord) or roll-ups, or per-call rows with the Rollup lines of repeated blocks
    among them; ``compact`` (narrow terminals) shows the output shape only."""
    from rich.text import Text

    total_flops = report.totals.flops or 1
    rows = list(rows)
    per_call = not rows or any(isinstance(row, LayerRecord) for row in rows)
    if not per_call:
        middle: tuple = (Column("calls", "right", drop=4),)
    elif compact:
        middle = (Column("output", drop=4),)
    else:
        middle = (Column("kernel/stride/groups", drop=5), Column("input → output", drop=4))
    columns = (Column("name"), Column("type", drop=3), *middle, Column("params", "right", drop=2, min_width=7),
               Column("FLOPs", "right", min_width=7), Column("MAC", "right", min_width=7),
               Column("% FLOPs", "right", drop=1))
    body = []
    for row in rows:
        share = f"{100 * row.flops / total_flops:.2f}"
        params = human(row.params) if row.params else ""
        if isinstance(row, LayerRecord):
            flops = human(row.flops * flops_per_mac) if row.counted else Text("uncounted", style="red")
            shapes = (str(row.outputs[0]) if row.outputs else "-",) if compact else (_geometry(row), _shape_text(row))
            body.append([row.name, row.op, *shapes, params, flops, human(row.mac), share])
        elif per_call:  # a repeated block's line among per-call rows
            body.append([Text(row.key, style="bold"), Text(row.type, style="bold"), *[""] * (len(middle)), params,
                         human(row.flops * flops_per_mac), human(row.mac), share])
        else:
            body.append([row.key, row.type, str(row.calls), params, human(row.flops * flops_per_mac), human(row.mac),
                         share])
    return fit_table(columns, body, width, title=title or None, caption=caption, header_style="bold")


def _input_text(spec) -> str:
    return str(spec) if spec.dtype == "float32" else f"{spec}:{spec.dtype}"


def totals_panel(report: Report, flops_per_mac: int = 1):
    from rich.panel import Panel
    from rich.table import Table

    t = report.totals
    unit = "multiply-adds" if flops_per_mac == 1 else "FLOPs, 2 per multiply-add"
    lines = [
        ("model", f"{report.model}   input {', '.join(_input_text(i) for i in report.inputs)}   device {report.device}"),
        ("params", f"{t.params:,} ({human(t.params)}), trainable {t.trainable_params:,}"),
        ("paper FLOPs", f"{t.paper_flops * flops_per_mac:,} ({human(t.paper_flops * flops_per_mac)})  "
                        f"conv+linear+matmul, {unit}"),
        ("all-ops FLOPs", f"{t.flops * flops_per_mac:,} ({human(t.flops * flops_per_mac)})  "
                          "+ norms, activations, pools, element-wise"),
        ("MAC", f"{t.mac:,} elements ({human(t.mac)}), {human_bytes(t.mac_bytes)}  memory read + written"),
    ]
    if report.memory is not None:  # analysed with memory=True or train=True (issue #13)
        from flopcount.render.memory import totals_lines

        lines += totals_lines(report)
    lines += [("note", note) for note in report.notes]  # e.g. why the analysis ran on a real device
    if report.complete:
        lines.append(("complete", "every op had a formula"))
    else:
        missing = ", ".join(f"{op} x{n}" for op, n in sorted(report.uncounted.items()))
        lines.append(("[yellow]lower bound[/yellow]", f"[yellow]no formula for: {missing}[/yellow]"))
    from_ops = counted_from_ops_line(report)
    if from_ops:
        lines.append(("from ops", from_ops))
    # A grid: labels never wrap, values fold at spaces under their own column on a narrow terminal.
    grid = Table.grid(padding=(0, 3))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in lines:
        grid.add_row(label, value)
    return Panel(grid, title="totals", expand=False)


def report_renderable(report: Report, rows, flops_per_mac: int = 1, width: int = 200):
    """The per-layer table and the totals; ``rows`` may be ``blocks.condensed_rows`` (repeated blocks once)."""
    from rich.console import Group

    caption = None
    if rows and isinstance(rows[0], CondensedRow):
        caption = folded_caption(rows)
        rows = with_block_lines(rows, report.module_types)
    table = layer_table(report, rows, flops_per_mac, compact=width < 150, width=width, caption=caption)
    return Group(table, totals_panel(report, flops_per_mac))


def _row(row: LayerRecord | Rollup, flops_per_mac: int) -> dict:
    if isinstance(row, LayerRecord):
        return {
            "name": row.name, "type": row.op, "calls": 1,
            "inputs": " ".join(str(s) for s in row.inputs), "outputs": " ".join(str(s) for s in row.outputs),
            "params": row.params, "flops": row.flops * flops_per_mac,
            "paper_flops": row.flops * flops_per_mac if row.is_paper else 0, "mac": row.mac, "mac_bytes": row.mac_bytes,
        }
    return {
        "name": row.key, "type": row.type, "calls": row.calls, "inputs": "", "outputs": "", "params": row.params,
        "flops": row.flops * flops_per_mac, "paper_flops": row.paper_flops * flops_per_mac, "mac": row.mac,
        "mac_bytes": row.mac_bytes,
    }


def to_json(report: Report, flops_per_mac: int = 1, rows: Sequence[LayerRecord | Rollup] | None = None,
            selection: dict | None = None) -> str:
    """The whole report; with a ``selection`` (--depth/--sort/--top), also the selected ``rows``."""
    data = report.to_dict()
    if flops_per_mac != 1:
        data["totals"]["flops"] *= flops_per_mac
        data["totals"]["paper_flops"] *= flops_per_mac
        data["flops_by_category"] = {k: v * flops_per_mac for k, v in data["flops_by_category"].items()}
        for record in data["records"]:
            record["flops"] *= flops_per_mac
    data["flops_per_mac"] = flops_per_mac
    if selection:
        data["selection"] = selection
        data["rows"] = [_row(r, flops_per_mac) for r in rows or []]
    return json_document("analyze", data)


def to_csv(rows: Iterable[LayerRecord | Rollup], flops_per_mac: int = 1) -> str:
    return csv_text((_row(row, flops_per_mac) for row in rows), CSV_COLUMNS)


def to_markdown(report: Report, rows: Iterable[LayerRecord | Rollup | CondensedRow], flops_per_mac: int = 1) -> str:
    rows = list(rows)
    caption = None
    if rows and isinstance(rows[0], CondensedRow):
        caption = folded_caption(rows)
        rows = with_block_lines(rows, report.module_types)
    body = [
        [r["name"], r["type"], r["outputs"], human(r["params"]) if r["params"] else "", human(r["flops"]), human(r["mac"])]
        for r in (_row(row, flops_per_mac) for row in rows)
    ]
    t = report.totals
    table = markdown_table(["name", "type", "output", "params", "FLOPs", "MAC"], body, "lllrrr")
    summary = (f"**{report.model}** ({', '.join(str(i) for i in report.inputs)}): params {t.params:,}, "
               f"paper FLOPs {t.paper_flops * flops_per_mac:,}, all-ops FLOPs {t.flops * flops_per_mac:,}, "
               f"MAC {t.mac:,} elements")
    return f"{summary}\n\n{table}\n" + (f"\n{caption}\n" if caption else "")
