"""`flopcount compare`: flopcount beside fvcore and torch's FlopCounterMode, layer by layer.

Exits 1 when a conv, linear or matmul row differs from an available reference (so CI can run it).
"""

from __future__ import annotations

from typing import Annotated

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import (DebugOption, InputSizeOption, KwargsOption, ModelArgument, OutputOption, PageFormat,
                                   PageFormatOption, WidthOption)
from flopcount.cli.runtime import load, progress, run_command, user_code, writable_output


def compare(
    name: ModelArgument,
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    output_format: PageFormatOption = PageFormat.table,
    output: OutputOption = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, metavar="FRACTION", help=(
        "Relative difference allowed on conv/linear/matmul rows (default 0: exact)."))] = 0.0,
    only_differences: Annotated[bool, typer.Option("--only-differences",
                                                   help="Hide rows where all counters agree.")] = False,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Cross-check FLOPs against fvcore and torch's FlopCounterMode, per module path.

    Runs on CPU with real tensors (fvcore traces with torch.jit), model in eval mode under torch.no_grad.
    FLOPs are multiply-adds; FlopCounterMode's counts (2 per multiply-add) are halved. Exit status 1 when
    a conv, linear or matmul count differs from a reference beyond --tolerance. -f html -o compare.html
    writes the tables as one offline page.
    """
    with run_command(debug):
        from flopcount.compare import compare as run_compare
        from flopcount.render import compare as R
        from flopcount.render import compare_html as H

        output = writable_output(output)
        with progress(1, f"comparing {name} with fvcore and FlopCounterMode") as step:
            loaded, specs = load(name, input_size, kwargs, "cpu")
            with user_code(f"running the forward of {name}"):
                result = run_compare(loaded.model, specs, name=name, tolerance=tolerance)
            step("done")
        emit(output_format, {
            "table": lambda w: R.renderable(result, only_differences, w),
            "json": lambda: R.to_json(result),
            "csv": lambda: R.to_csv(result, only_differences),
            "markdown": lambda: R.to_markdown(result, only_differences),
            "html": lambda: H.to_html(result, only_differences),
        }, width=width, output=output)
        if not result.ok:
            listed = ", ".join(f"{r.name} ({r.family})" for r in result.mismatches)
            typer.echo(f"flopcount: {len(result.mismatches)} conv/linear/matmul rows differ from a reference: {listed}",
                       err=True)
            raise typer.Exit(1)
