"""Measured latency rendered: one model (whole and per layer) or the zoo sweep; rich, JSON, CSV, Markdown."""

from __future__ import annotations

import dataclasses

from flopcount.render.common import csv_text, json_document, markdown_table, number_or_none, pct, simple_table
from flopcount.units import human

LAYER_COLUMNS = ("name", "op", "flops", "mac", "median", "p25", "p75", "min", "max", "repeats")


def _timing(t) -> dict:
    return {k: number_or_none(v) for k, v in dataclasses.asdict(t).items()}


def _layer_pairs(result, sort: str) -> list:
    rows = list(zip(result.report.records, result.layers))
    key = {"time": lambda x: x[1].median, "flops": lambda x: x[0].flops, "mac": lambda x: x[0].mac}.get(sort)
    return sorted(rows, key=key, reverse=True) if key is not None else rows


def _headline(result) -> str:
    r, w = result.report, result.whole
    t = r.totals
    warning = _denormal_warning(result)
    return (f"{r.model} on CPU, {result.threads} thread(s), {', '.join(map(str, r.inputs))}: "
            f"median {w.median * 1e3:.3f} ms (IQR {w.p25 * 1e3:.3f}-{w.p75 * 1e3:.3f}, min {w.min * 1e3:.3f}, "
            f"max {w.max * 1e3:.3f}; {w.repeats} runs, no hooks)\n"
            f"paper FLOPs {t.paper_flops:,}, all-ops FLOPs {t.flops:,}, MAC {t.mac:,} elements ({t.mac_bytes:,} bytes)"
            + (f"\n{warning}" if warning else ""))


def _denormal_warning(result) -> str:
    d = result.denormals
    return d.warning() if d is not None and d.significant else ""


_LAYER_HEADERS = ["layer", "op", "FLOPs", "% FLOPs", "MAC", "% MAC", "time us", "IQR us", "% time"]


def _layer_cells(result, shown) -> list[list[str]]:
    t = result.report.totals
    layer_total = sum(lt.median for lt in result.layers)
    return [[rec.name, rec.op, human(rec.flops), pct(rec.flops / t.flops if t.flops else 0), human(rec.mac),
             pct(rec.mac / t.mac if t.mac else 0), f"{lt.median * 1e6:.1f}", f"{(lt.p75 - lt.p25) * 1e6:.1f}",
             pct(lt.median / layer_total if layer_total else 0)] for rec, lt in shown]


def renderables(result, top: int | None, sort: str, width: int = 200) -> list:
    from rich.text import Text

    out: list = [Text(_headline(result))]
    if result.layers:
        rows = _layer_pairs(result, sort)
        shown = rows[:top] if top else rows
        layer_total = sum(lt.median for lt in result.layers)
        title = (f"Per layer (medians of {result.layers[0].repeats} runs with timing hooks, which add a little per "
                 f"call; sum {layer_total * 1e3:.3f} ms). Spearman over layers vs time: FLOPs "
                 f"{result.spearman_flops:.3f}, MAC {result.spearman_mac:.3f}"
                 + (f"; showing {len(shown)} of {len(rows)}" if len(shown) < len(rows) else ""))
        drops = {"op": 5, "IQR us": 4, "% FLOPs": 3, "% MAC": 2, "% time": 1}
        out.append(simple_table(title, _LAYER_HEADERS, "llrrrrrrr", _layer_cells(result, shown), width, drops=drops))
    return out


def to_json(result, top: int | None = None, sort: str = "order") -> str:
    rows = _layer_pairs(result, sort) if result.layers else []
    rows = rows[:top] if top else rows
    return json_document("bench", {
        "model": result.report.model, "inputs": [str(i) for i in result.report.inputs], "threads": result.threads,
        "totals": dataclasses.asdict(result.report.totals),
        "whole": _timing(result.whole),
        "denormal_fraction": number_or_none(result.denormals.fraction) if result.denormals else None,
        "warnings": [w for w in (_denormal_warning(result),) if w],
        "spearman_flops": number_or_none(result.spearman_flops) if result.layers else None,
        "spearman_mac": number_or_none(result.spearman_mac) if result.layers else None,
        "layers": [{"name": rec.name, "op": rec.op, "flops": rec.flops, "mac": rec.mac, **_timing(lt)} for rec, lt in rows],
    })


def to_csv(result, top: int | None = None, sort: str = "order") -> str:
    rows = _layer_pairs(result, sort) if result.layers else []
    rows = rows[:top] if top else rows
    return csv_text(({"name": rec.name, "op": rec.op, "flops": rec.flops, "mac": rec.mac, **dataclasses.asdict(lt)}
                     for rec, lt in rows), LAYER_COLUMNS)


def to_markdown(result, top: int | None = None, sort: str = "order") -> str:
    rows = _layer_pairs(result, sort) if result.layers else []
    table = markdown_table(_LAYER_HEADERS, _layer_cells(result, rows[:top] if top else rows), "llrrrrrrr")
    return _headline(result) + "\n\n" + table + "\n"
