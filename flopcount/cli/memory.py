"""`flopcount memory`: live memory layer by layer (the peak marked), the weights' what-if, a PNG, and with
--train one training step (backward FLOPs, saved activations, gradients, optimizer state, its peak)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit, standard
from flopcount.cli.options import (AmpOption, DebugOption, DeviceOption, InputSizeOption, KwargsOption, ModelArgument,
                                   Optimizer, OptimizerOption, OutputOption, PageFormat, PageFormatOption, TrainOption,
                                   WidthOption, analysis_options)
from flopcount.cli.runtime import load_and_analyze, run_command, writable_output


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
    output_format: PageFormatOption = PageFormat.table,
    output: OutputOption = None,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Live memory of one forward, layer by layer, with the peak marked and the weights at fp16/bf16/int8/int4.

    Bytes live after each layer under eager execution, the highest while it ran, parameters and buffers.
    --train analyses one training step on meta instead: backward FLOPs (input and weight gradients), saved
    activations, gradients, optimizer state (--optimizer, --amp) and the peak of the whole step.
    -f html -o mem.html writes the analyze page opened on the module tree sized by the memory each module allocates.
    """
    with run_command(debug):
        from flopcount.render import html as H
        from flopcount.render import memory as R

        output = writable_output(output)
        report = load_and_analyze(name, input_size, kwargs, device, **analysis_options(train, optimizer, amp))
        renderers = {**standard(R, report), "html": lambda: H.render_html(report, metric="activation_bytes")}
        emit(output_format, renderers, width=width, output=output)
        if plot is not None:
            typer.echo(f"plot written to {R.plot_live_bytes(report, plot)}", err=True)
