"""`flopcount list`: every bundled model with its counts and its distance from the published ones."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from flopcount.cli import DebugOption, OutputFormat, app, console, run_command


def _percent(gap: float | None) -> str:
    return "" if gap is None else f"{100 * gap:+.2f}%"


@app.command("list")
def list_command(
    pattern: Annotated[str, typer.Argument(help="Shell-style wildcard on model names, e.g. 'mobilenet_v2*'.")] = "*",
    family: Annotated[Optional[str], typer.Option("--family", help="Only this family (wildcards allowed).")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    width: Annotated[Optional[int], typer.Option("--width", help="Console width for the table.")] = None,
    debug: DebugOption = False,
) -> None:
    """Bundled models: input size, params, paper FLOPs, MAC, and deviation from their reference counts.

    'vs impl' compares with the exact counts of the implementation each model follows (torchvision, timm,
    pytorchcv); 'vs paper' with the paper's own rounded figures (see configs/references.toml for why
    some differ).
    """
    with run_command(debug):
        import torch

        from flopcount.analysis import analyze
        from flopcount.zoo import get_spec, list_models
        from flopcount.zoo.references import deviation

        rows = []
        for name in list_models(pattern, family):
            spec = get_spec(name)
            with torch.device("meta"):
                model = spec.build().eval()
            totals = analyze(model, spec.input_size, name=name).totals
            gap = deviation(name, totals.params, totals.paper_flops)
            rows.append({
                "name": name, "family": spec.family, "input_size": "x".join(map(str, spec.input_size)),
                "params": totals.params, "paper_flops": totals.paper_flops, "mac": totals.mac,
                "params_vs_impl": gap and gap.params, "flops_vs_impl": gap and gap.flops,
                "params_vs_paper": gap and gap.paper_params, "flops_vs_paper": gap and gap.paper_flops,
                "within_tolerance": gap.within_tolerance if gap else None,
            })
        _render(rows, output_format, width)


def _render(rows: list[dict], output_format: OutputFormat, width: int | None) -> None:
    from flopcount.units import human

    if output_format is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if output_format is OutputFormat.csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
        return
    headers = ["model", "input", "params", "FLOPs (paper)", "MAC", "params vs impl", "FLOPs vs impl",
               "params vs paper", "FLOPs vs paper"]
    body = [
        [r["name"], r["input_size"], human(r["params"]), human(r["paper_flops"]), human(r["mac"]),
         _percent(r["params_vs_impl"]), _percent(r["flops_vs_impl"]), _percent(r["params_vs_paper"]),
         _percent(r["flops_vs_paper"])]
        for r in rows
    ]
    if output_format is OutputFormat.markdown:
        from flopcount.render.text import markdown_table

        typer.echo(markdown_table(headers, body, "llrrrrrrr"))
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < 2 else "right")
    for row, raw in zip(body, rows):
        style = None if raw["within_tolerance"] in (True, None) else "red"
        table.add_row(*row, style=style)
    console(width).print(table)
