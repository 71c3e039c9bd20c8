"""A Comparison rendered: flopcount beside fvcore and FlopCounterMode per module path, by family, in total.

Every reason printed comes from :mod:`flopcount.conventions`; nothing is computed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flopcount.render.common import Column, csv_text, fit_table, json_document, markdown_table

if TYPE_CHECKING:
    from flopcount.compare import Comparison, Row

_NUMERIC = ("flopcount", "fvcore", "FCM/2")
_STATUS_STYLE = {"match": "green", "mismatch": "bold red", "explained": "yellow", "unexplained": "magenta"}


def _count(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,}" if float(value).is_integer() else f"{value:,.1f}"


def _delta(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "=" if value == 0 else f"{value:+,}"


def _columns(result: Comparison, deltas: bool = True) -> list[str]:
    refs = list(result.references)
    return (["layer", "op", "family", "flopcount"] + [_ref_header(c) for c in refs]
            + ([f"Δ {_short(c)}" for c in refs] if deltas else []) + ["status", "reason"])


def _short(counter: str) -> str:
    from flopcount.conventions import FCM, LABELS

    return "FCM" if counter == FCM else LABELS[counter]


def _ref_header(counter: str) -> str:
    from flopcount.conventions import FCM, LABELS

    return "FCM/2" if counter == FCM else LABELS[counter]


def _cells(row: Row, deltas: bool = True) -> list[str]:
    refs = list(row.references)
    return ([row.name, row.op, row.family, _count(row.ours)] + [_count(row.references[c]) for c in refs]
            + ([_delta(row.difference(c)) for c in refs] if deltas else []) + [row.status, row.reason])


def _rows(result: Comparison, only_differences: bool) -> list[Row]:
    return [r for r in result.rows if not (only_differences and r.status == "match")]


def _family_lines(result: Comparison) -> tuple[list[str], list[list[str]]]:
    from flopcount.conventions import FAMILIES, FLOPCOUNT

    refs = list(result.references)
    headers = ["family", "paper total", "flopcount"] + [_ref_header(c) for c in refs] + [f"{_short(c)} convention" for c in refs]
    body = []
    for family, values in result.by_family.items():
        rules = FAMILIES[family].rules
        body.append([family, "yes" if FAMILIES[family].paper else "no", _count(values[FLOPCOUNT])]
                    + [_count(values.get(c)) for c in refs] + [f"{rules[c].status.value}: {rules[c].how}" for c in refs])
    return headers, body


def _totals_lines(result: Comparison) -> tuple[list[str], list[list[str]]]:
    from flopcount.conventions import FLOPCOUNT

    refs = list(result.references)
    headers = ["total", "flopcount"] + [_ref_header(c) for c in refs]
    labels = {"paper": "paper total (conv + linear + matmul + attention)", "all": "all ops"}
    body = [[labels[k], _count(t[FLOPCOUNT])] + [_count(t.get(c)) for c in refs] for k, t in result.totals.items()]
    return headers, body


def _summary(result: Comparison, deltas: bool = True) -> str:
    inputs = ", ".join(str(i) for i in result.inputs)
    return (f"{result.model} on {inputs}: {result.note}. FLOPs are multiply-adds; FCM is torch's FlopCounterMode, "
            f"which counts 2 per multiply-add, halved here" + ("; Δ = reference − flopcount." if deltas else "."))


def _verdict(result: Comparison) -> list[str]:
    from flopcount.conventions import LABELS

    lines = [f"{LABELS[c]} unavailable: {s.reason}" for c, s in result.references.items() if not s.available]
    against = " and ".join(LABELS[c] for c in result.available()) or "no reference"
    bound = "exactly" if result.tolerance == 0 else f"within {result.tolerance:g} (relative)"
    strict = [r for r in result.rows if r.strict]
    if result.ok:
        lines.append(f"OK: all {len(strict)} conv/linear/matmul rows agree {bound} with {against}.")
    else:
        listed = ", ".join(f"{r.name} ({r.family})" for r in result.mismatches)
        lines.append(f"MISMATCH: {len(result.mismatches)} of {len(strict)} conv/linear/matmul rows differ from "
                     f"{against}: {listed}")
    explained = [r for r in result.rows if r.status == "explained"]
    if explained:
        lines.append(f"{len(explained)} other rows differ by convention (reason column).")
    if result.unexplained:
        lines.append(f"{len(result.unexplained)} rows differ for no known reason: "
                     + ", ".join(f"{r.name} ({r.family})" for r in result.unexplained))
    return lines


def renderable(result: Comparison, only_differences: bool = False, width: int = 200):
    from rich.console import Group
    from rich.text import Text

    # Below 200 columns the difference columns give way to the reason: the status column still says
    # whether the numbers agree. Below 120 the reasons, a handful of distinct sentences, become numbered
    # notes under the table, so that no row grows to a column of one-word lines.
    deltas = width >= 200
    legend: dict[str, int] = {}
    drops = {"family": 3, "op": 2}
    columns = [Column(h, "right" if h in _NUMERIC or h.startswith("Δ") else "left", text=h == "reason",
                      drop=drops.get(h, 0)) for h in _columns(result, deltas)]
    if width < 120:
        columns[-1] = Column("note", "right")
    body = []
    for row in _rows(result, only_differences):
        cells = [Text(c) for c in _cells(row, deltas)]
        cells[-2] = Text(row.status, style=_STATUS_STYLE[row.status])
        if width < 120 and row.reason:
            cells[-1] = Text(f"[{legend.setdefault(row.reason, len(legend) + 1)}]")
        body.append(cells)
    notes = [Text(f"[{n}] {reason}") for reason, n in legend.items()]
    table = fit_table(columns, body, width, header_style="bold")

    headers, lines = _family_lines(result)
    families = fit_table([Column(h, "right" if h in _NUMERIC else "left", text=h.endswith("convention"))
                          for h in headers], lines, width, title="by family", header_style="bold")
    headers, lines = _totals_lines(result)
    totals = fit_table([Column(h, "left" if h == "total" else "right", text=h == "total") for h in headers], lines,
                       width, title="totals", header_style="bold")
    verdict = [Text(line, style="bold red" if line.startswith("MISMATCH") else "green" if line.startswith("OK")
                    else "") for line in _verdict(result)]
    return Group(Text(_summary(result, deltas)), table, *notes, families, totals, *verdict)


def to_json(result: Comparison) -> str:
    return json_document("compare", result.to_dict())


def to_csv(result: Comparison, only_differences: bool = False) -> str:
    headers = _columns(result)
    return csv_text((dict(zip(headers, _cells(r))) for r in _rows(result, only_differences)), headers)


def to_markdown(result: Comparison, only_differences: bool = False) -> str:
    refs = len(result.references)
    rows = markdown_table(_columns(result), [_cells(r) for r in _rows(result, only_differences)],
                          "lllr" + "r" * (2 * refs) + "ll")
    headers, body = _family_lines(result)
    families = markdown_table(headers, body, "llr" + "r" * refs + "l" * refs)
    headers, body = _totals_lines(result)
    totals = markdown_table(headers, body, "lr" + "r" * refs)
    verdict = "\n".join(f"- {line}" for line in _verdict(result))
    return f"{_summary(result)}\n\n{rows}\n\n{families}\n\n{totals}\n\n{verdict}\n"
