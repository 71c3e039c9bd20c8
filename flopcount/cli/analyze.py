"""`flopcount analyze`: per-layer params, FLOPs and MAC of one model on one input."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import (AmpOption, BaselineOption, ContextOption, DebugOption, DeviceOption, ExpandOption,
                                   FlopsPerMacOption, InputSizeOption, KwargsOption, ModelArgument, NamedInputOption,
                                   Optimizer, OptimizerOption, OutputOption, PageFormat, PageFormatOption, PhaseOption,
                                   ProfilesOption, SeqLenOption, TopOption, TrainOption, WeightDtypeOption, WidthOption,
                                   analysis_options)
from flopcount.cli.runtime import html_baseline, load_and_analyze, refuse_unused, run_command, writable_output
from flopcount.cli.sampled import InputsDirOption, SamplesOption, analyze_sampled


class SortKey(str, Enum):
    flops = "flops"
    mac = "mac"
    params = "params"


def analyze(
    name: ModelArgument,
    input_size: InputSizeOption = None,
    named_inputs: NamedInputOption = None,
    seq_len: SeqLenOption = None,
    kwargs: KwargsOption = None,
    device: DeviceOption = None,
    depth: Annotated[Optional[int], typer.Option("--depth", min=0, metavar="D",
                                                 help="Roll records up to module paths of this depth.")] = None,
    sort: Annotated[Optional[SortKey], typer.Option("--sort", help="Sort rows by this column (descending).")] = None,
    top: TopOption = None,
    output_format: PageFormatOption = PageFormat.table,
    output: OutputOption = None,
    baseline: BaselineOption = None,
    samples: SamplesOption = None,
    inputs_dir: InputsDirOption = None,
    flops_per_mac: FlopsPerMacOption = 1,
    width: WidthOption = None,
    expand: ExpandOption = False,
    phases: PhaseOption = None,
    context: ContextOption = None,
    weight_dtype: WeightDtypeOption = None,
    profiles: ProfilesOption = None,
    train: TrainOption = False,
    optimizer: OptimizerOption = Optimizer.adamw,
    amp: AmpOption = None,
    debug: DebugOption = False,
) -> None:
    """Per-layer params, FLOPs and MAC of one model on one input.

    With -f json the whole report is printed; --depth, --sort and --top add the selected "rows". A block
    repeated identically is shown once with its count (--expand: every row). -f html -o report.html writes
    one offline page: module treemap (FLOPs, MAC, params, memory, roofline time, predicted latency),
    per-layer bars, roofline, and with --baseline a before/after view.
    With --phase (hf: models), the prefill / decode summary instead: FLOPs per token, bytes moved, KV cache,
    and per --profile the time bound and whether weights + cache fit.
    The totals include the peak memory of the forward; --train adds one training step's FLOPs and peak.
    """
    with run_command(debug):
        from flopcount.cli.analyze_phases import run_phases

        if phases:
            refuse_unused("applies to the per-layer table, not to --phase", depth=depth, sort=sort, top=top,
                          expand=expand, flops_per_mac=flops_per_mac != 1)
            return run_phases(name, phases, input_size, named_inputs, seq_len, context, weight_dtype, profiles,
                              device, kwargs, output_format, width)
        refuse_unused("applies with --phase", context=context, dtype=weight_dtype, profile=profiles)
        from flopcount.blocks import condensed_rows
        from flopcount.render import report as R

        output = writable_output(output)
        if samples is not None or inputs_dir is not None:
            analyze_sampled(name, input_size, kwargs, device, samples, inputs_dir, output_format, output, width)
            return
        against = html_baseline(baseline, output_format, input_size, kwargs, device)
        # The same pass measures live memory (issue #13: the totals show the peak); --train analyses a step.
        report = load_and_analyze(name, input_size, kwargs, device, named_inputs, seq_len,
                                  **analysis_options(train, optimizer, amp))
        rows = report.records if depth is None else report.by_module(depth)
        if sort is not None:
            rows = sorted(rows, key=lambda r: getattr(r, sort.value), reverse=True)
        if top is not None:
            rows = rows[:top]
        selection = {k: v for k, v in (("depth", depth), ("sort", sort and sort.value), ("top", top)) if v is not None}
        # for reading, repeated blocks once; json and csv keep every record
        shown = lambda: rows if selection or expand else condensed_rows(report)  # noqa: E731
        emit(output_format, {
            "table": lambda w: R.report_renderable(report, shown(), flops_per_mac, w),
            "json": lambda: R.to_json(report, flops_per_mac, rows, selection),
            "csv": lambda: R.to_csv(rows, flops_per_mac),
            "markdown": lambda: R.to_markdown(report, shown(), flops_per_mac),
            "html": lambda: _html(report, against),
        }, width=width, output=output)


def _html(report, baseline) -> str:
    from flopcount.render.html import render_html  # the page's renderer loads only for -f html

    return render_html(report, baseline=baseline)
