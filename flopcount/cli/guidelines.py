"""`flopcount guidelines`: ShuffleNet V2's G1-G4 checked layer by layer and block by block, costs in MAC."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import (DebugOption, FormatOption, InputSizeOption, KwargsOption, MeasureOption,
                                   ModelArgument, NamedInputOption, OutputFormat, RepeatsOption, SeqLenOption,
                                   ThreadsOption, WidthOption)
from flopcount.cli.runtime import analyze_maybe_timed, run_command


def guidelines(
    name: ModelArgument,
    input_size: InputSizeOption = None,
    named_inputs: NamedInputOption = None,
    seq_len: SeqLenOption = None,
    kwargs: KwargsOption = None,
    block_depth: Annotated[Optional[int], typer.Option("--block-depth", min=0, metavar="D", help=(
        "G3 blocks are module paths of this depth (default: the depth where most blocks branch)."))] = None,
    measure: MeasureOption = False,
    threads: ThreadsOption = 1,
    repeats: RepeatsOption = 5,
    top: Annotated[int, typer.Option("--top", min=1, metavar="K", help="Rows per table.")] = 12,
    show_all: Annotated[bool, typer.Option("--all", help="Every finding, not only the top rows.")] = False,
    output_format: FormatOption = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """ShuffleNet V2's guidelines G1-G4 checked layer by layer and block by block, costs in MAC.

    With --measure, G4 also gets its share of measured time. -f json and -f csv carry every finding.
    """
    with run_command(debug):
        from flopcount.guidelines import guidelines as check
        from flopcount.render import guidelines as R

        report, times = analyze_maybe_timed(name, input_size, kwargs, named_inputs, seq_len, measure, threads, repeats)
        result = check(report, times=times, block_depth=block_depth)
        emit(output_format, {
            "table": lambda w: R.renderables(result, top, show_all, w),
            "json": lambda: R.to_json(result),
            "csv": lambda: R.to_csv(result),
            "markdown": lambda: R.to_markdown(result, top, show_all),
        }, width=width)
