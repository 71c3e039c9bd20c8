"""`flopcount check`: hold models to the budgets of a TOML file; exit 1 when one is over, 2 when the file is broken."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import DebugOption, WidthOption
from flopcount.cli.runtime import progress, run_command, user_code


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    junit = "junit"
    github = "github"
    html = "html"


def check(
    file: Annotated[Optional[Path], typer.Argument(
        metavar="[FILE]", help="Budget file (TOML). Default: ./pyproject.toml when it has a [tool.flopcount] table, "
                               "else ./configs/budgets.toml.")] = None,
    output_format: Annotated[CheckFormat, typer.Option("--format", "-f", help=(
        "table, json (with schema_version), csv, markdown (a pull-request comment), junit (XML), github "
        "(workflow annotations) or html (one offline page; with -o, or piped)."))] = CheckFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="PATH", help=(
        "Write the report to this file; print only the summary line."))] = None,
    update_baseline: Annotated[bool, typer.Option("--update-baseline", help=(
        "Measure every model and (re)write its entry in the baseline file, then check."))] = False,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", metavar="PATH", help=(
        "Baseline JSON to use instead of the file's `baseline`."))] = None,
    only: Annotated[Optional[str], typer.Option("--only", metavar="PATTERN", help=(
        "Check only model ids matching this wildcard."))] = None,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Check models against the params / FLOPs / MAC / latency budgets of a TOML file.

    FLOPs here are the paper total: multiply-adds of conv + linear + matmul + attention. MAC is memory
    access cost (elements read + written). Exit code 0: every budget holds; 1: a model is over a budget
    or grew more than max_regression_pct against the baseline; 2: the budget file is broken.
    """
    with run_command(debug):
        from flopcount import budget as B
        from flopcount.render import budget as R
        from flopcount.render import budget_html

        prepared = B.prepare_check(file, only=only, baseline=baseline, update_baseline=update_baseline,
                                   output=output)  # everything is validated before the first model runs
        show = output_format is CheckFormat.table and output is None and sys.stderr.isatty()
        with progress(len(prepared.plan), "analysing", show) as step, user_code("checking budgets"):
            result = B.run_check(prepared, lambda done: step(f"{done} done"))
        if update_baseline:
            typer.echo(f"flopcount: wrote the baseline of {len(result.models)} models to {prepared.baseline}",
                       err=True)

        emit(output_format, {
            "table": lambda w: R.table_renderable(result, w),
            "json": lambda: R.to_json(result), "csv": lambda: R.to_csv(result),
            "markdown": lambda: R.to_markdown(result), "junit": lambda: R.to_junit(result),
            "github": lambda: R.to_github(result), "html": lambda: budget_html.to_html(result),
        }, width=width, output=output)
        if output is not None:
            typer.echo(R.summary(result))
        raise typer.Exit(0 if result.passed else 1)
