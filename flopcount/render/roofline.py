"""A Roofline rendered: device header and per-layer table (rich), JSON, CSV and Markdown."""

from __future__ import annotations

import dataclasses

from flopcount.render.common import csv_text, json_document, markdown_table, number_or_none, pct, simple_table
from flopcount.units import human, human_bytes

POINT_COLUMNS = ("index", "name", "op", "category", "flop", "bytes", "intensity", "bound", "time", "measured")


def ordered(result, sort: str = "time") -> list:
    """The points by ``sort``: time (slowest first), intensity (lowest first) or order (as recorded)."""
    if sort == "time":
        return sorted(result.points, key=lambda p: p.time, reverse=True)
    if sort == "intensity":
        return sorted(result.points, key=lambda p: p.intensity)
    return list(result.points)


def _header(result) -> str:
    d = result.device
    return (f"{d.name}: {d.description}\n"
            f"peak {d.peak_flops / 1e9:,.1f} GFLOP/s (2 FLOPs per multiply-add), bandwidth {d.bandwidth / 1e9:,.1f} GB/s, "
            f"ridge {d.ridge:.2f} FLOP/byte. Source: {d.source}\n"
            "Intensity = 2 x multiply-adds / MAC bytes; time = max(FLOP / peak, bytes / bandwidth).")


def _headers_and_rows(result, shown: list) -> tuple[list[str], str, list[list[str]]]:
    total, measured = result.total_time, result.measured_time
    headers = (["layer", "op", "FLOP", "MAC bytes", "FLOP/B", "bound", "time us", "% time"]
               + (["measured us", "roof/measured"] if measured is not None else []))
    rows = [[p.name, p.op, human(p.flop), human_bytes(p.bytes), f"{p.intensity:.2f}", p.bound, f"{p.time * 1e6:.2f}",
             pct(p.time / total if total else 0)]
            + ([f"{p.measured * 1e6:.2f}", pct(p.time / p.measured if p.measured else None)] if measured is not None else [])
            for p in shown]
    return headers, "llrrrlrr" + ("rr" if measured is not None else ""), rows


def renderables(result, top: int | None, sort: str, width: int = 200) -> list:
    from rich.text import Text

    points = ordered(result, sort)
    shown = points[:top] if top else points
    total, measured = result.total_time, result.measured_time
    n_mem = sum(p.bound == "memory" for p in result.points)
    title = (f"{result.model} on {result.device.name}: predicted {total * 1e3:.3f} ms; {n_mem} of {len(result.points)} "
             f"layers memory bound ({pct(result.time_by_bound()['memory'] / total if total else 0)} of the time)"
             + (f"; measured {measured * 1e3:.3f} ms (sum of layers)" if measured is not None else "")
             + (f", showing {len(shown)}" if len(shown) < len(points) else ""))
    headers, align, rows = _headers_and_rows(result, shown)
    drops = {"op": 5, "MAC bytes": 4, "FLOP": 3, "% time": 2, "roof/measured": 1}
    return [Text(_header(result)), simple_table(title, headers, align, rows, width, drops=drops)]


def to_json(result, top: int | None = None, sort: str = "order") -> str:
    points = ordered(result, sort)
    points = points[:top] if top else points
    return json_document("roofline", {
        "model": result.model, "device": dataclasses.asdict(result.device) | {"ridge": result.device.ridge},
        "total_time": result.total_time, "measured_time": result.measured_time,
        "time_by_bound": result.time_by_bound(), "skipped": result.skipped,
        "points": [{k: number_or_none(v) if isinstance(v, float) else v for k, v in dataclasses.asdict(p).items()}
                   for p in points],
    })


def to_csv(result, top: int | None = None, sort: str = "order") -> str:
    points = ordered(result, sort)
    return csv_text((dataclasses.asdict(p) for p in (points[:top] if top else points)), POINT_COLUMNS)


def to_markdown(result, top: int | None = None, sort: str = "time") -> str:
    points = ordered(result, sort)
    headers, align, rows = _headers_and_rows(result, points[:top] if top else points)
    return _header(result) + "\n\n" + markdown_table(headers, rows, align) + "\n"
