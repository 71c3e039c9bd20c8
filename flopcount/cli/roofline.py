"""`flopcount roofline`: arithmetic intensity, bound and roofline time of every layer on a hardware profile."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit, standard
from flopcount.cli.options import (DebugOption, FormatOption, InputSizeOption, KwargsOption, MeasureOption,
                                   NamedInputOption, OptionalModelArgument, OutputFormat, ProfileOption, RepeatsOption,
                                   SeqLenOption, ThreadsOption, TopOption, WidthOption)
from flopcount.cli.runtime import analyze_maybe_timed, run_command


class RooflineSort(str, Enum):
    time = "time"
    intensity = "intensity"
    order = "order"


def roofline(
    name: OptionalModelArgument = None,
    profile: ProfileOption = None,
    measure_profile: Annotated[Optional[str], typer.Option("--measure-profile", metavar="NAME", help=(
        "Measure this CPU (matmul + large copy) and write the hardware profile NAME.toml."))] = None,
    threads: ThreadsOption = 1,
    input_size: InputSizeOption = None,
    named_inputs: NamedInputOption = None,
    seq_len: SeqLenOption = None,
    kwargs: KwargsOption = None,
    measure: MeasureOption = False,
    repeats: RepeatsOption = 5,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="PATH", help=(
        "Write the roofline chart here (PNG/SVG/PDF; needs matplotlib)."))] = None,
    sort: Annotated[RooflineSort, typer.Option("--sort", help="Row order.")] = RooflineSort.time,
    top: TopOption = None,
    output_format: FormatOption = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Arithmetic intensity, bound (compute or memory) and roofline time of every layer on a profile.

    The default profile is cpu_measured. --measure-profile NAME profiles this CPU first.
    """
    with run_command(debug):
        from flopcount import roofline as rl
        from flopcount.errors import UsageError
        from flopcount.render import roofline as R

        if measure_profile:
            measured = rl.measure_device(measure_profile, threads=threads)
            target = rl.write_device(measured, rl.measured_profile_path(measure_profile))
            typer.echo(f"wrote {target}: peak {measured.peak_flops / 1e9:,.1f} GFLOP/s, "
                       f"bandwidth {measured.bandwidth / 1e9:,.1f} GB/s ({measured.description})", err=True)
            if name is None:
                return
            profile = str(target)
        if name is None:
            raise UsageError("give a model name (or --measure-profile NAME to profile this CPU)")
        device = rl.load_device(profile or "cpu_measured")
        report, times = analyze_maybe_timed(name, input_size, kwargs, named_inputs, seq_len, measure, threads, repeats)
        result = rl.roofline(report, device, times)
        emit(output_format, standard(R, result, top, sort.value), width=width)
        if plot is not None:
            typer.echo(f"chart written to {rl.plot_roofline(result, plot)}", err=True)
