"""`flopcount list` rendered: one row per bundled model, its counts and its gaps to the references."""

from __future__ import annotations

from flopcount.render.common import Column, csv_text, fit_table, json_document, markdown_table
from flopcount.units import human

HEADERS = ["model", "input", "params", "FLOPs (paper)", "MAC", "params vs impl", "FLOPs vs impl",
           "params vs paper", "FLOPs vs paper"]


def row(name: str, spec, totals, gap) -> dict:
    """The plain-data row of one model (``gap``: its deviation from the references, or None)."""
    return {
        "name": name, "family": spec.family, "input_size": "x".join(map(str, spec.input_size)),
        "params": totals.params, "paper_flops": totals.paper_flops, "mac": totals.mac,
        "params_vs_impl": gap and gap.params, "flops_vs_impl": gap and gap.flops,
        "params_vs_paper": gap and gap.paper_params, "flops_vs_paper": gap and gap.paper_flops,
        "within_tolerance": gap.within_tolerance if gap else None,
    }


def _percent(gap: float | None) -> str:
    return "" if gap is None else f"{100 * gap:+.2f}%"


def _cells(rows: list[dict]) -> list[list[str]]:
    return [[r["name"], r["input_size"], human(r["params"]), human(r["paper_flops"]), human(r["mac"]),
             _percent(r["params_vs_impl"]), _percent(r["flops_vs_impl"]), _percent(r["params_vs_paper"]),
             _percent(r["flops_vs_paper"])] for r in rows]


def to_json(rows: list[dict]) -> str:
    return json_document("list", {"models": rows})


def to_csv(rows: list[dict]) -> str:
    return csv_text(rows, list(rows[0]) if rows else ["name"])


def to_markdown(rows: list[dict]) -> str:
    return markdown_table(HEADERS, _cells(rows), "llrrrrrrr")


def renderables(rows: list[dict], width: int = 200):
    from rich.text import Text

    # The gaps to the implementation are the checked ones; the paper gaps and the input size give way first.
    drops = [0, 3, 0, 0, 0, 1, 1, 4, 2]
    columns = [Column(h, "left" if i < 2 else "right", drop=d) for i, (h, d) in enumerate(zip(HEADERS, drops))]
    body = []
    for cells, raw in zip(_cells(rows), rows):
        style = "" if raw["within_tolerance"] in (True, None) else "red"
        body.append([Text(c, style=style) for c in cells])
    return fit_table(columns, body, width, header_style="bold")
