"""Machine-readable renderings of a Report: JSON, CSV and Markdown, exact integers throughout."""

from __future__ import annotations

import csv
import io
import json
from typing import Iterable

from flopcount.records import LayerRecord
from flopcount.units import human
from flopcount.report import Report, Rollup

_COLUMNS = ("name", "type", "calls", "inputs", "outputs", "params", "flops", "paper_flops", "mac", "mac_bytes")


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


def to_json(report: Report, flops_per_mac: int = 1) -> str:
    data = report.to_dict()
    if flops_per_mac != 1:
        data["totals"]["flops"] *= flops_per_mac
        data["totals"]["paper_flops"] *= flops_per_mac
        data["flops_by_category"] = {k: v * flops_per_mac for k, v in data["flops_by_category"].items()}
        for record in data["records"]:
            record["flops"] *= flops_per_mac
    data["flops_per_mac"] = flops_per_mac
    return json.dumps(data, indent=2)


def to_csv(rows: Iterable[LayerRecord | Rollup], flops_per_mac: int = 1) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(_row(row, flops_per_mac))
    return buffer.getvalue()


def markdown_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" * len(headers)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: Report, rows: Iterable[LayerRecord | Rollup], flops_per_mac: int = 1) -> str:
    body = [
        [r["name"], r["type"], r["outputs"], human(r["params"]) if r["params"] else "", human(r["flops"]), human(r["mac"])]
        for r in (_row(row, flops_per_mac) for row in rows)
    ]
    t = report.totals
    table = markdown_table(["name", "type", "output", "params", "FLOPs", "MAC"], body, "lllrrr")
    summary = (f"**{report.model}** ({', '.join(str(i) for i in report.inputs)}): params {t.params:,}, "
               f"paper FLOPs {t.paper_flops * flops_per_mac:,}, all-ops FLOPs {t.flops * flops_per_mac:,}, "
               f"MAC {t.mac:,} elements")
    return f"{summary}\n\n{table}\n"
