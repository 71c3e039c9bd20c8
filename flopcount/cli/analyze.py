"""`flopcount analyze`: per-layer params, FLOPs and MAC of one model on one input."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import (AmpOption, DebugOption, DeviceOption, FlopsPerMacOption, FormatOption,
                                   InputSizeOption, KwargsOption, ModelArgument, Optimizer, OptimizerOption,
                                   OutputFormat, TopOption, TrainOption, WidthOption, analysis_options)
from flopcount.cli.runtime import load_and_analyze, run_command


class SortKey(str, Enum):
    flops = "flops"
    mac = "mac"
    params = "params"


def analyze(
    name: ModelArgument,
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    device: DeviceOption = None,
    depth: Annotated[Optional[int], typer.Option("--depth", min=0, metavar="D",
                                                 help="Roll records up to module paths of this depth.")] = None,
    sort: Annotated[Optional[SortKey], typer.Option("--sort", help="Sort rows by this column (descending).")] = None,
    top: TopOption = None,
    output_format: FormatOption = OutputFormat.table,
    flops_per_mac: FlopsPerMacOption = 1,
    width: WidthOption = None,
    train: TrainOption = False,
    optimizer: OptimizerOption = Optimizer.adamw,
    amp: AmpOption = None,
    debug: DebugOption = False,
) -> None:
    """Per-layer params, FLOPs and MAC of one model on one input.

    With -f json the whole report is printed; --depth, --sort and --top add the selected "rows".
    The totals include the peak memory of the forward; --train adds one training step's FLOPs and peak.
    """
    with run_command(debug):
        from flopcount.render import report as R

        # The same pass measures live memory (issue #13: the totals show the peak); --train analyses a step.
        report = load_and_analyze(name, input_size, kwargs, device, **analysis_options(train, optimizer, amp))
        rows = report.records if depth is None else report.by_module(depth)
        if sort is not None:
            rows = sorted(rows, key=lambda r: getattr(r, sort.value), reverse=True)
        if top is not None:
            rows = rows[:top]
        selection = {k: v for k, v in (("depth", depth), ("sort", sort and sort.value), ("top", top)) if v is not None}
        emit(output_format, {
            "table": lambda w: R.report_renderable(report, rows, flops_per_mac, w),
            "json": lambda: R.to_json(report, flops_per_mac, rows, selection),
            "csv": lambda: R.to_csv(rows, flops_per_mac),
            "markdown": lambda: R.to_markdown(report, rows, flops_per_mac),
        }, width=width)
