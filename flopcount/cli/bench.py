"""`flopcount bench`: measured CPU latency (median, spread), whole model and per layer, beside FLOPs and MAC."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit, standard
from flopcount.cli.options import (DebugOption, FormatOption, HostSpeed, HostSpeedOption, InputSizeOption, KwargsOption,
                                   OptionalModelArgument, OutputFormat, ProfileOption, RepeatsOption, ThreadsOption,
                                   TopOption, WidthOption)
from flopcount.cli.runtime import load, progress, run_command, user_code
from flopcount.timing import BENCH_REPEATS, BENCH_WARMUP


class BenchSort(str, Enum):
    time = "time"
    flops = "flops"
    mac = "mac"
    order = "order"


def bench(
    name: OptionalModelArgument = None,
    zoo: Annotated[bool, typer.Option("--zoo", help="Sweep the bundled zoo and correlate FLOPs and MAC with latency.")] = False,
    models: Annotated[Optional[str], typer.Option("--models", metavar="NAMES", help=(
        "With --zoo: comma-separated subset of models."))] = None,
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    warmup: Annotated[int, typer.Option("--warmup", min=0, metavar="N", help="Untimed forwards first.")] = BENCH_WARMUP,
    repeats: RepeatsOption = BENCH_REPEATS,
    threads: ThreadsOption = 1,
    layers: Annotated[bool, typer.Option("--layers/--no-layers", help="Also time every layer.")] = True,
    profile: ProfileOption = None,
    host_speed: HostSpeedOption = HostSpeed.calibrated,
    sort: Annotated[BenchSort, typer.Option("--sort", help="Row order of the per-layer table.")] = BenchSort.order,
    top: TopOption = None,
    output_format: FormatOption = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Measured CPU latency (median, spread), whole model and per layer, beside FLOPs and MAC.

    With --zoo and --profile, each model also gets its roofline time on that device profile and, when a latency
    profile of that name exists (cpu_measured, or yours from `flopcount calibrate`), its predicted latency and
    the prediction's error against the measurement (--host-speed now: on the machine the profile was
    calibrated on, scaled to its speed while the models are timed).
    """
    with run_command(debug):
        from flopcount import bench as b
        from flopcount.errors import UsageError

        if zoo:
            _bench_zoo(models, warmup, repeats, threads, layers, profile, host_speed is HostSpeed.now, output_format,
                       width)
            return
        if name is None:
            raise UsageError("give a model name, or --zoo")
        from flopcount.render import bench as R

        loaded, specs = load(name, input_size, kwargs, "cpu")
        with user_code(f"timing the forward of {name}"):
            result = b.bench(loaded.model, specs, name=name, warmup=warmup, repeats=repeats, threads=threads,
                             layers=layers)
        emit(output_format, standard(R, result, top, sort.value), width=width)


def _bench_zoo(models, warmup, repeats, threads, layers, profile_name, host_speed, output_format, width) -> None:
    from flopcount.bench import bench_zoo, flop_bands
    from flopcount.errors import UsageError
    from flopcount.render import zoo_bench as R
    from flopcount.zoo import list_models

    names = [n.strip() for n in models.split(",") if n.strip()] if models else list_models()
    unknown = [n for n in names if n not in set(list_models())]
    if unknown:
        raise UsageError(f"unknown zoo model(s): {', '.join(unknown)}")
    device, latency_profile = None, None
    if profile_name:  # a device profile (roofline), a latency profile (prediction), or both of that name
        from flopcount.devices import list_devices
        from flopcount.predict import list_profiles, load_profile
        from flopcount.roofline import load_device

        if profile_name.endswith(".json") or profile_name in list_profiles():
            latency_profile = load_profile(profile_name)
        if latency_profile is None or profile_name in list_devices():
            device = load_device(profile_name)
    with progress(len(names), "benchmarked") as step:
        started: list[str] = []

        def on_model(model_name: str) -> None:  # called as each model starts: the previous one is done
            if started:
                step(started[-1])
            started.append(model_name)

        result = bench_zoo(names, warmup=warmup, repeats=repeats, threads=threads, device=device, layers=layers,
                           on_model=on_model, latency_profile=latency_profile, host_speed=host_speed)
    emit(output_format, standard(R, result, flop_bands(result)), width=width)
