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


def check(
    file: Annotated[Optional[Path], typer.Argument(
        metavar="[FILE]", help="Budget file (TOML). Default: ./pyproject.toml when it has a [tool.flopcount] table, "
                               "else ./configs/budgets.toml.")] = None,
    output_format: Annotated[CheckFormat, typer.Option("--format", "-f", help=(
        "table, json (with schema_version), csv, markdown (a pull-request comment), junit (XML) or github "
        "(workflow annotations)."))] = CheckFormat.table,
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
        from flopcount.errors import UsageError
        from flopcount.render import budget as R

        path = file if file is not None else B.find_budget_file(Path.cwd())
        if path is None:
            raise UsageError("no budget file: give one, add [tool.flopcount] to ./pyproject.toml, or create "
                             "./configs/budgets.toml")
        budget_file = B.load_budget_file(path).select(only)
        baseline_path = baseline if baseline is not None else budget_file.baseline
        if update_baseline and baseline_path is None:
            raise UsageError("--update-baseline needs a baseline file: set baseline = \"...json\" in "
                             f"{path} or pass --baseline")
        baselines = B.load_baseline(baseline_path) if baseline_path is not None and not update_baseline else None
        plan = B.resolve(budget_file, baselines)  # everything is validated before the first model is analysed

        show = output_format is CheckFormat.table and output is None and sys.stderr.isatty()
        with progress(len(plan), "analysing", show) as step, user_code("checking budgets"):
            result = B.check_models(plan, budget_file.path, lambda done: step(f"{done} done"))

        if update_baseline:
            _rewrite_baseline(B, result, baseline_path)

        emit(output_format, {
            "table": lambda w: R.table_renderable(result, w),
            "json": lambda: R.to_json(result), "csv": lambda: R.to_csv(result),
            "markdown": lambda: R.to_markdown(result), "junit": lambda: R.to_junit(result),
            "github": lambda: R.to_github(result),
        }, width=width, output=output)
        if output is not None:
            typer.echo(R.summary(result))
        raise typer.Exit(0 if result.passed else 1)


def _rewrite_baseline(B, result, baseline_path: Path) -> None:
    """Write every model's measurement as its baseline entry, and re-evaluate against it."""
    entries = {m.budget.id: B.baseline_entry(m.budget.model, m.input_size, m.budget.kwargs, m.measurement)
               for m in result.models}
    B.write_baseline(baseline_path, entries)
    for m in result.models:
        fresh = B.BaselineEntry(m.budget.model, m.input_size, m.budget.kwargs, m.measurement.totals,
                                m.measurement.layers)
        m.checks = B.evaluate(m.budget, m.measurement, fresh)
    typer.echo(f"flopcount: wrote the baseline of {len(entries)} models to {baseline_path}", err=True)
