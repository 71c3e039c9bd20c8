"""`flopcount memory`: live memory layer by layer (the peak marked), the weights' what-if, a PNG, and with
--train one training step (backward FLOPs, saved activations, gradients, optimizer state, its peak)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit, standard
from flopcount.cli.options import (AmpOption, DebugOption, DeviceOption, FormatOption, InputSizeOption, KwargsOption,
                                   ModelArgument, Optimizer, OptimizerOption, OutputFormat, TrainOption, WidthOption,
                                   analysis_options)
from flopcount.cli.runtime import load_and_analyze, run_command


def memory(
    name: ModelArgument,
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    device: DeviceOption = None,
    train: TrainOption = False,
    optimizer: OptimizerOption = Optimizer.adamw,
    amp: AmpOption = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="PATH", help=(
        "Draw the live bytes over the forward as a PNG here (needs matplotlib)."))] = None,
    output_format: FormatOption = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Live memory of one forward, layer by layer, with the peak marked and the weights at fp16/bf16/int8/int4.

    Bytes live after each layer under eager execution, the highest while it ran, parameters and buffers.
    --train analyses one training step on meta instead: backward FLOPs (input and weight gradients), saved
    activations, gradients, optimizer state (--optimizer, --amp) and the peak of the whole step.
    """
    with run_command(debug):
        from flopcount.render import memory as R

        report = load_and_analyze(name, input_size, kwargs, device, **analysis_options(train, optimizer, amp))
        emit(output_format, standard(R, report), width=width)
        if plot is not None:
            typer.echo(f"plot written to {R.plot_live_bytes(report, plot)}", err=True)
