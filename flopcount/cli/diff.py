"""`flopcount diff A B`: two models (or a model against a saved report or a budget baseline), module by module."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import (DebugOption, DeviceOption, FormatOption, InputSizeOption, KwargsOption,
                                   OutputFormat, OutputOption, TopOption, WidthOption)
from flopcount.cli.runtime import report_or_saved, run_command, writable_output

SIDE_HELP = ("a bundled model, path/to/file.py:factory, a saved report (analyze -f json > report.json) or a "
             "budget baseline entry (configs/budgets.baseline.json#mobilenet_v2)")


def diff(
    a: Annotated[str, typer.Argument(metavar="A", help=f"Before: {SIDE_HELP}.")],
    b: Annotated[str, typer.Argument(metavar="B", help="After: the same kinds as A.")],
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    device: DeviceOption = None,
    depth: Annotated[Optional[int], typer.Option("--depth", min=1, metavar="D", help=(
        "Roll modules up to paths of this depth first (1: the top-level children)."))] = None,
    only_changed: Annotated[bool, typer.Option("--only-changed", help="Hide modules equal on both sides.")] = False,
    top: TopOption = None,
    output_format: FormatOption = OutputFormat.table,
    output: OutputOption = None,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Params, FLOPs and MAC of A and B side by side, per module, with B - A and B / A.

    Modules are matched by path, then by structure (types in execution order; counts for a baseline).
    --input-size and --kwargs apply to both models. FLOPs are multiply-adds; MAC is memory access cost
    (elements read + written). With --top, the K modules that changed most.
    """
    with run_command(debug):
        from flopcount.diff import diff as run_diff
        from flopcount.render import diff as R

        output = writable_output(output)
        result = run_diff(report_or_saved(a, input_size, kwargs, device),
                          report_or_saved(b, input_size, kwargs, device), depth=depth)
        emit(output_format, {
            "table": lambda w: R.diff_renderable(result, only_changed=only_changed, top=top, width=w),
            "json": lambda: R.diff_to_json(result),
            "markdown": lambda: R.diff_to_markdown(result, only_changed=only_changed, top=top),
        }, width=width, output=output)
