"""`flopcount compare`: flopcount beside fvcore and torch's FlopCounterMode, layer by layer.

The command parses, calls :func:`flopcount.compare.compare`, renders, and exits 1 when a conv, linear
or matmul row differs from an available reference (so CI can run it). The renderers below only format a
:class:`~flopcount.compare.Comparison`; every reason they print comes from :mod:`flopcount.conventions`.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from flopcount.cli import DebugOption, InputSizeOption, KwargsOption, app, console, resolve_inputs, run_command

if TYPE_CHECKING:
    from flopcount.compare import Comparison, Row


class CompareFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def compare(
    name: Annotated[str, typer.Argument(help="A bundled model (see `flopcount list`), path/to/file.py:factory or package.module:factory.")],
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    output_format: Annotated[CompareFormat, typer.Option("--format", "-f", help="Output format.")] = CompareFormat.table,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, help="Relative difference allowed on conv/linear/matmul rows (default 0: exact).")] = 0.0,
    only_differences: Annotated[bool, typer.Option("--only-differences", help="Hide rows where all counters agree.")] = False,
    width: Annotated[Optional[int], typer.Option("--width", help="Console width for the table.")] = None,
    debug: DebugOption = False,
) -> None:
    """Cross-check FLOPs against fvcore and torch's FlopCounterMode, per module path.

    Runs on CPU with real tensors (fvcore traces with torch.jit), model in eval mode under torch.no_grad.
    FLOPs are multiply-adds; FlopCounterMode's counts (2 per multiply-add) are halved. Exit status 1 when
    a conv, linear or matmul count differs from a reference beyond --tolerance.
    """
    with run_command(debug):
        from flopcount.compare import compare as run_compare
        from flopcount.loading import load_model, parse_kwargs

        loaded = load_model(name, parse_kwargs(kwargs), "cpu")
        result = run_compare(loaded.model, resolve_inputs(loaded, input_size), name=name, tolerance=tolerance)
        if output_format is CompareFormat.json:
            typer.echo(json.dumps(result.to_dict(), indent=2))
        elif output_format is CompareFormat.markdown:
            typer.echo(to_markdown(result, only_differences), nl=False)
        else:
            out = console(width)
            out.print(renderable(result, only_differences, out.width))
        if not result.ok:
            listed = ", ".join(f"{r.name} ({r.family})" for r in result.mismatches)
            typer.echo(f"flopcount: {len(result.mismatches)} conv/linear/matmul rows differ from a reference: {listed}",
                       err=True)
            raise typer.Exit(1)


# -- rendering ------------------------------------------------------------------------------------------
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
    from rich.table import Table
    from rich.text import Text

    # Below 200 columns the difference columns give way to the reason: the status column still says
    # whether the numbers agree.
    deltas = width >= 200
    table = Table(header_style="bold", expand=False)
    for column in _columns(result, deltas):
        numeric = column in _NUMERIC or column.startswith("Δ")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold", no_wrap=numeric,
                         max_width=24 if column in ("layer", "op") else None)
    for row in _rows(result, only_differences):
        cells = _cells(row, deltas)
        cells[-2] = Text(row.status, style=_STATUS_STYLE[row.status])
        table.add_row(*[c if isinstance(c, Text) else Text(c) for c in cells])

    families = Table(title="by family", header_style="bold", expand=False)
    headers, body = _family_lines(result)
    for h in headers:
        families.add_column(h, justify="right" if h in _NUMERIC else "left", overflow="fold", no_wrap=h in _NUMERIC)
    for line in body:
        families.add_row(*line)

    totals = Table(title="totals", header_style="bold", expand=False)
    headers, body = _totals_lines(result)
    for h in headers:
        totals.add_column(h, justify="left" if h == "total" else "right")
    for line in body:
        totals.add_row(*line)

    verdict = [Text(line, style="bold red" if line.startswith("MISMATCH") else "green" if line.startswith("OK")
                    else "") for line in _verdict(result)]
    return Group(Text(_summary(result, deltas)), table, families, totals, *verdict)


def to_markdown(result: Comparison, only_differences: bool = False) -> str:
    from flopcount.render.text import markdown_table

    refs = len(result.references)
    rows = markdown_table(_columns(result), [_cells(r) for r in _rows(result, only_differences)],
                          "lllr" + "r" * (2 * refs) + "ll")
    headers, body = _family_lines(result)
    families = markdown_table(headers, body, "llr" + "r" * refs + "l" * refs)
    headers, body = _totals_lines(result)
    totals = markdown_table(headers, body, "lr" + "r" * refs)
    verdict = "\n".join(f"- {line}" for line in _verdict(result))
    return f"{_summary(result)}\n\n{rows}\n\n{families}\n\n{totals}\n\n{verdict}\n"
