"""`flopcount check`: hold models to the budgets of a TOML file; exit 1 when one is over, 2 when the file is broken."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli import DebugOption, app, console, run_command


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    github = "github"
    markdown = "markdown"


@app.command()
def check(
    file: Annotated[Optional[Path], typer.Argument(
        help="Budget file (TOML). Default: ./pyproject.toml when it has a [tool.flopcount] table, "
             "else ./configs/budgets.toml.")] = None,
    output_format: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = CheckFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file; print "
                                                   "only the summary line.")] = None,
    update_baseline: Annotated[bool, typer.Option("--update-baseline", help="Measure every model and (re)write its "
                                                  "entry in the baseline file, then check.")] = False,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="Baseline JSON to use instead of the "
                                                     "file's `baseline`.")] = None,
    only: Annotated[Optional[str], typer.Option("--only", help="Check only model ids matching this wildcard.")] = None,
    width: Annotated[Optional[int], typer.Option("--width", help="Console width for the table.")] = None,
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

        show_progress = output_format is CheckFormat.table and output is None and sys.stderr.isatty()
        result = _run(plan, budget_file.path, show_progress)

        if update_baseline:
            entries = {m.budget.id: B.baseline_entry(m.budget.model, m.input_size, m.budget.kwargs, m.measurement)
                       for m in result.models}
            B.write_baseline(baseline_path, entries)
            for m in result.models:
                fresh = B.BaselineEntry(m.budget.model, m.input_size, m.budget.kwargs, m.measurement.totals,
                                        m.measurement.layers)
                m.checks = B.evaluate(m.budget, m.measurement, fresh)
            typer.echo(f"flopcount: wrote the baseline of {len(entries)} models to {baseline_path}", err=True)

        _emit(result, output_format, output, width)
        raise typer.Exit(0 if result.passed else 1)


def _run(plan, path: Path, show_progress: bool):
    from flopcount.budget import check_models

    if not show_progress:
        return check_models(plan, path)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("analysing", total=len(plan))
        return check_models(plan, path, lambda done: progress.update(task, advance=1, description=f"{done} done"))


def _emit(result, output_format: CheckFormat, output: Path | None, width: int | None) -> None:
    from flopcount import budget_render as R

    if output_format is CheckFormat.table:
        if output is None:
            console(width).print(R.table_renderable(result))
            return
        from rich.console import Console

        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=width or 120, no_color=True, soft_wrap=False).print(R.table_renderable(result))
    else:
        render = {CheckFormat.json: R.to_json, CheckFormat.junit: R.to_junit, CheckFormat.github: R.to_github,
                  CheckFormat.markdown: R.to_markdown}[output_format]
        text = render(result)
        if output is None:
            typer.echo(text, nl=not text.endswith("\n"))
            return
        output.write_text(text, encoding="utf-8")
    typer.echo(R.summary(result))
