"""Commands beyond counting: `guidelines` (ShuffleNet V2's G1-G4), `roofline` and `bench` (measured latency).

Each command parses, calls the library (flopcount.guidelines / roofline / bench) and renders; the
renderers below only format what the library computed. torch loads inside the commands.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli import DebugOption, InputSizeOption, KwargsOption, app, console, load_and_analyze, resolve_inputs, run_command

WidthOption = Annotated[Optional[int], typer.Option("--width", help="Console width for the tables.")]
ThreadsOption = Annotated[
    int, typer.Option("--threads", min=1, help="Intra-op CPU threads for timing (1: steady timings, the paper's ARM setting).")
]
_MAC_NOTE = ("MAC = memory access cost in elements read + written (ShuffleNet V2); FLOPs = multiply-adds. "
             "Costs are MAC elements; shares are of the model's total MAC.")


def _pct(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _num(x: float) -> str:
    return f"{x:,.0f}"


def _table(title: str, headers: list[str], align: str, rows: list[list[str]], caption: str | None = None):
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for header, a in zip(headers, align):
        table.add_column(header, justify="right" if a == "r" else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _measure_records(name: str, input_size, kwargs, threads: int, repeats: int):
    """A CPU analysis of the model and the measured seconds of each of its records (median of ``repeats``)."""
    from flopcount.analysis import analyze
    from flopcount.bench import make_inputs, measure_layers
    from flopcount.errors import FlopcountError
    from flopcount.loading import load_model, parse_kwargs

    loaded = load_model(name, parse_kwargs(kwargs), "cpu")
    args = make_inputs(resolve_inputs(loaded, input_size))
    report = analyze(loaded.model, inputs=args, device="cpu", name=name)
    measured = measure_layers(loaded.model, args, repeats=repeats, threads=threads)
    if measured.names != [r.name for r in report.records]:
        raise FlopcountError("timed layers do not match the analysis records")
    return report, [t.median for t in measured.timings]


# -- guidelines ---------------------------------------------------------------------------------------

def render_guidelines(g, top: int, show_all: bool) -> list:
    from rich.text import Text

    from flopcount.units import human

    def cut(rows: list) -> list:
        return rows if show_all else rows[:top]

    out: list = [Text(f"{g.model}: total MAC {g.total_mac:,} elements, all-ops FLOPs {g.total_flops:,}. {_MAC_NOTE}")]
    totals = g.totals()

    def share(mac: float) -> str:
        return _pct(mac / g.total_mac if g.total_mac else 0)

    n_branching = sum(b.branches > 1 for b in g.g3)
    time_note = f" ({_pct(g.g4_time_share)} of time)" if g.g4_time_share is not None else ""
    out.append(_table(
        "Guidelines, MAC each accounts for (shares overlap: an add that joins branches is G3 and G4)",
        ["guideline", "what is counted", "MAC", "% of MAC"], "llrr",
        [["G1 equal widths", f"{len(g.g1)} 1x1 convs with c1 != c2: MAC above the bound at equal FLOPs",
          _num(totals["G1"]), share(totals["G1"])],
         ["G2 groups", f"{len(g.g2)} group convs (1 < g < c1): outputs beyond g=1 at equal FLOPs",
          _num(totals["G2"]), share(totals["G2"])],
         ["G3 fragmentation", f"{n_branching} of {len(g.g3)} blocks (depth {g.g3_depth}) branch: join ops",
          _num(totals["G3"]), share(totals["G3"])],
         ["G4 element-wise", "activations, element-wise, norms, copies", _num(totals["G4"]),
          share(totals["G4"]) + time_note]],
    ))
    out.append(_table(
        f"Summary: findings ranked by share of total MAC (top {min(top, len(g.summary))} of {len(g.summary)})",
        ["#", "G", "where", "MAC cost", "% MAC", "detail"], "rllrrl",
        [[str(i), f.guideline, f.where, _num(f.mac), f"{f.share:.2%}", f.detail] for i, f in enumerate(g.summary[:top], 1)],
    ))
    if g.g1:
        rows = sorted(g.g1, key=lambda f: f.excess, reverse=True)
        out.append(_table(
            f"G1: 1x1 convs with unequal widths ({len(g.g1)}{'' if show_all or len(g.g1) <= top else f', top {top}'})",
            ["layer", "N*h*w = A", "c1", "c2", "g", "FLOPs B", "MAC A(c1+c2)+c1c2/g", "bound 2sqrt(gAB)+B/A", "excess", "% MAC"],
            "lrrrrrrrrr",
            [[f.name, f"{f.n}*{f.h}*{f.w} = {f.n * f.h * f.w:,}", str(f.c1), str(f.c2), str(f.groups), _num(f.flops),
              _num(f.mac), _num(f.bound), _num(f.excess), f"{f.share:.2%}"] for f in cut(rows)],
        ))
    if g.g2:
        rows = sorted(g.g2, key=lambda f: f.extra, reverse=True)
        out.append(_table(
            f"G2: group convs ({len(g.g2)}{'' if show_all or len(g.g2) <= top else f', top {top}'})",
            ["layer", "c1->c2", "g", "kernel", "outputs A*c2", "extra A*c2*(1-1/g)", "layer MAC", "% MAC"], "llrlrrrr",
            [[f.name, f"{f.c1}->{f.c2}", str(f.groups), "x".join(map(str, f.kernel)), _num(f.outputs), _num(f.extra),
              _num(f.mac), f"{f.share:.2%}"] for f in cut(rows)],
        ))
    branching = [b for b in g.g3 if b.branches > 1]
    blocks = branching if branching else g.g3
    out.append(_table(
        f"G3 per block (block = module path of depth {g.g3_depth}; {len(branching)} of {len(g.g3)} branch; "
        f"branches = input-to-output paths in the dataflow"
        + (f"; first {top} of {len(blocks)} shown)" if not show_all and len(blocks) > top else ")"),
        ["block", "type", "branches", "kernels", "join MAC", "% MAC", "G1 excess", "G2 extra", "G4 MAC", "block MAC"],
        "llrrrrrrrr",
        [[b.path, b.type, str(b.branches), str(b.kernels), _num(b.join_mac), f"{b.share:.2%}", _num(b.g1_excess),
          _num(b.g2_extra), _num(b.g4_mac), _num(b.mac)] for b in cut(blocks)],
    ))
    timed = g.total_time is not None
    rows = [[r.op, r.category, str(r.calls), human(r.flops), _pct(r.share_flops), _num(r.mac), _pct(r.share_mac)]
            + ([f"{r.time * 1e3:.3f}", _pct(r.share_time)] if timed else []) for r in g.g4]
    if g.depthwise is not None:
        d = g.depthwise
        rows.append([f"({d.op}: not in the sum)", d.category, str(d.calls), human(d.flops), _pct(d.share_flops),
                     _num(d.mac), _pct(d.share_mac)] + ([f"{d.time * 1e3:.3f}", _pct(d.share_time)] if timed else []))
    out.append(_table(
        f"G4 element-wise ops by type: {_pct(g.g4_share)} of MAC"
        + (f", {_pct(g.g4_time_share)} of measured time ({g.total_time * 1e3:.2f} ms over all layers)" if timed else ""),
        ["op", "category", "calls", "FLOPs", "% FLOPs", "MAC", "% MAC"] + (["ms", "% time"] if timed else []),
        "llrrrrr" + ("rr" if timed else ""), rows,
    ))
    return out


@app.command()
def guidelines(
    name: Annotated[str, typer.Argument(help="A bundled model, path/to/file.py:factory or package.module:factory.")],
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    block_depth: Annotated[Optional[int], typer.Option("--block-depth", min=0, help="G3 blocks are module paths of this depth (default: the depth where most blocks branch).")] = None,
    measure: Annotated[bool, typer.Option("--measure", help="Also time every layer on this CPU and give G4's share of time.")] = False,
    threads: ThreadsOption = 1,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed forwards with --measure.")] = 5,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows per table.")] = 12,
    show_all: Annotated[bool, typer.Option("--all", help="Every finding, not only the top rows.")] = False,
    width: WidthOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every finding as JSON instead of tables.")] = False,
    debug: DebugOption = False,
) -> None:
    """ShuffleNet V2's guidelines G1-G4 checked layer by layer and block by block, costs in MAC."""
    with run_command(debug):
        from flopcount.guidelines import guidelines as check

        times = None
        if measure:
            report, times = _measure_records(name, input_size, kwargs, threads, repeats)
        else:
            report = load_and_analyze(name, input_size, kwargs, None)
        result = check(report, times=times, block_depth=block_depth)
        if as_json:
            import json

            typer.echo(json.dumps(result.to_dict(), indent=2))
            return
        con = console(width)
        for renderable in render_guidelines(result, top, show_all):
            con.print(renderable)
            con.print()


# -- roofline -----------------------------------------------------------------------------------------

class RooflineSort(str, Enum):
    time = "time"
    intensity = "intensity"
    order = "order"


def render_roofline(result, top: int | None, sort: RooflineSort) -> list:
    from rich.text import Text

    from flopcount.units import human, human_bytes

    d = result.device
    total = result.total_time
    by_bound = result.time_by_bound()
    points = result.points
    if sort is RooflineSort.time:
        points = sorted(points, key=lambda p: p.time, reverse=True)
    elif sort is RooflineSort.intensity:
        points = sorted(points, key=lambda p: p.intensity)
    shown = points[:top] if top else points
    measured = result.measured_time
    header = Text(
        f"{d.name}: {d.description}\n"
        f"peak {d.peak_flops / 1e9:,.1f} GFLOP/s (2 FLOPs per multiply-add), bandwidth {d.bandwidth / 1e9:,.1f} GB/s, "
        f"ridge {d.ridge:.2f} FLOP/byte. Source: {d.source}\n"
        "Intensity = 2 x multiply-adds / MAC bytes; time = max(FLOP / peak, bytes / bandwidth)."
    )
    n_mem = sum(p.bound == "memory" for p in result.points)
    table = _table(
        f"{result.model} on {d.name}: predicted {total * 1e3:.3f} ms; {n_mem} of {len(result.points)} layers memory bound "
        f"({_pct(by_bound['memory'] / total if total else 0)} of the time)"
        + (f"; measured {measured * 1e3:.3f} ms (sum of layers)" if measured is not None else "")
        + (f", showing {len(shown)}" if len(shown) < len(points) else ""),
        ["layer", "op", "FLOP", "MAC bytes", "FLOP/B", "bound", "time us", "% time"]
        + (["measured us", "roof/measured"] if measured is not None else []),
        "llrrrlrr" + ("rr" if measured is not None else ""),
        [[p.name, p.op, human(p.flop), human_bytes(p.bytes), f"{p.intensity:.2f}", p.bound, f"{p.time * 1e6:.2f}",
          _pct(p.time / total if total else 0)]
         + ([f"{p.measured * 1e6:.2f}", _pct(p.time / p.measured if p.measured else None)] if measured is not None else [])
         for p in shown],
    )
    return [header, table]


@app.command()
def roofline(
    name: Annotated[Optional[str], typer.Argument(help="A bundled model or path:factory (optional with --measure-device).")] = None,
    device: Annotated[str, typer.Option("--device", help="Device profile: a name in configs/devices (cpu_measured, phone, h100) or a .toml path.")] = "cpu_measured",
    measure_device: Annotated[Optional[str], typer.Option("--measure-device", help="Measure this CPU (matmul + large copy) and write configs/devices/NAME.toml.")] = None,
    threads: ThreadsOption = 1,
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    measure: Annotated[bool, typer.Option("--measure", help="Also time every layer on this CPU (table column, hollow markers).")] = False,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed forwards with --measure.")] = 5,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write the roofline chart here (PNG/SVG/PDF; needs matplotlib).")] = None,
    sort: Annotated[RooflineSort, typer.Option("--sort", help="Row order.")] = RooflineSort.time,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Show only the first K rows.")] = None,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Arithmetic intensity, bound (compute or memory) and roofline time of every layer on a device."""
    with run_command(debug):
        from flopcount.errors import UsageError
        from flopcount import roofline as rl

        con = console(width)
        if measure_device:
            profile = rl.measure_device(measure_device, threads=threads)
            target = rl.measured_profile_path(measure_device)
            rl.write_device(profile, target)
            con.print(f"wrote {target}: peak {profile.peak_flops / 1e9:,.1f} GFLOP/s, "
                      f"bandwidth {profile.bandwidth / 1e9:,.1f} GB/s ({profile.description})")
            if name is None:
                return
            device = str(target)
        if name is None:
            raise UsageError("give a model name (or --measure-device NAME to profile this CPU)")
        profile = rl.load_device(device)
        times = None
        if measure:
            report, times = _measure_records(name, input_size, kwargs, threads, repeats)
        else:
            report = load_and_analyze(name, input_size, kwargs, None)
        result = rl.roofline(report, profile, times)
        for renderable in render_roofline(result, top, sort):
            con.print(renderable)
        if plot is not None:
            path = rl.plot_roofline(result, plot)
            con.print(f"chart written to {path}")


# -- bench --------------------------------------------------------------------------------------------

class BenchSort(str, Enum):
    time = "time"
    flops = "flops"
    mac = "mac"
    order = "order"


def render_bench(result, top: int | None, sort: BenchSort) -> list:
    from rich.text import Text

    from flopcount.units import human

    r, w = result.report, result.whole
    t = r.totals
    out = [Text(
        f"{r.model} on CPU, {result.threads} thread(s), {', '.join(map(str, r.inputs))}: "
        f"median {w.median * 1e3:.3f} ms (IQR {w.p25 * 1e3:.3f}-{w.p75 * 1e3:.3f}, min {w.min * 1e3:.3f}, "
        f"max {w.max * 1e3:.3f}; {w.repeats} runs, no hooks)\n"
        f"paper FLOPs {t.paper_flops:,}, all-ops FLOPs {t.flops:,}, MAC {t.mac:,} elements ({t.mac_bytes:,} bytes)"
    )]
    if result.layers:
        rows = list(zip(r.records, result.layers))
        layer_total = sum(lt.median for _, lt in rows)
        key = {BenchSort.time: lambda x: x[1].median, BenchSort.flops: lambda x: x[0].flops,
               BenchSort.mac: lambda x: x[0].mac}.get(sort)
        if key is not None:
            rows = sorted(rows, key=key, reverse=True)
        shown = rows[:top] if top else rows
        out.append(_table(
            f"Per layer (medians of {result.layers[0].repeats} runs with timing hooks, which add a little per call; "
            f"sum {layer_total * 1e3:.3f} ms). Spearman over layers vs time: FLOPs {result.spearman_flops:.3f}, MAC {result.spearman_mac:.3f}"
            + (f"; showing {len(shown)} of {len(rows)}" if len(shown) < len(rows) else ""),
            ["layer", "op", "FLOPs", "% FLOPs", "MAC", "% MAC", "time us", "IQR us", "% time"], "llrrrrrrr",
            [[rec.name, rec.op, human(rec.flops), _pct(rec.flops / t.flops if t.flops else 0), human(rec.mac),
              _pct(rec.mac / t.mac if t.mac else 0), f"{lt.median * 1e6:.1f}", f"{(lt.p75 - lt.p25) * 1e6:.1f}",
              _pct(lt.median / layer_total if layer_total else 0)] for rec, lt in shown],
        ))
    return out


def render_zoo(z) -> list:
    from rich.text import Text

    from flopcount.units import human

    predicted = z.device is not None
    rows = sorted(z.rows, key=lambda r: r.latency.median)
    table = _table(
        f"Zoo on this CPU, {z.threads} thread(s), default inputs (median of {rows[0].latency.repeats if rows else 0} runs)",
        ["model", "paper FLOPs", "all-ops FLOPs", "MAC", "latency ms", "IQR ms"]
        + ([f"roofline ms ({z.device})"] if predicted else []) + ["layers rho FLOPs", "layers rho MAC"],
        "lrrrrr" + ("r" if predicted else "") + "rr",
        [[r.name, human(r.paper_flops), human(r.flops), human(r.mac), f"{r.latency.median * 1e3:.2f}",
          f"{(r.latency.p75 - r.latency.p25) * 1e3:.2f}"]
         + ([f"{r.roofline_time * 1e3:.2f}"] if predicted else [])
         + [f"{r.layer_spearman_flops:.2f}", f"{r.layer_spearman_mac:.2f}"] for r in rows],
    )
    predictors = [("paper FLOPs (conv+linear)", "paper_flops"), ("all-ops FLOPs", "flops"), ("MAC (elements)", "mac")]
    if predicted:
        predictors.append((f"roofline time ({z.device})", "roofline_time"))
    lines = [f"Spearman rank correlation with measured latency over {len(z.rows)} models (median / min latency):"]
    lines += [f"  {label:<32} {z.correlation(attr):.3f} / {z.correlation(attr, 'min'):.3f}" for label, attr in predictors]
    lines.append("Layer columns: the same correlation over one model's layers (per-layer hooked timings).")
    out = [table, Text("\n".join(lines))]
    from flopcount.bench import flop_bands

    bands = flop_bands(z)
    if bands:
        out.append(_table(
            "Among models of similar FLOPs (paper FLOPs within 1.2x of the band's smallest, 4+ models): "
            "Spearman with median latency",
            ["paper FLOPs", "models", "rho paper FLOPs", "rho MAC"] + (["rho roofline"] if predicted else []),
            "llrr" + ("r" if predicted else ""),
            [[f"{human(b.low)}-{human(b.high)}", ", ".join(b.names), f"{b.rho_flops:.2f}", f"{b.rho_mac:.2f}"]
             + ([f"{b.rho_roofline:.2f}"] if predicted and b.rho_roofline is not None else []) for b in bands],
        ))
    return out


@app.command()
def bench(
    name: Annotated[Optional[str], typer.Argument(help="A bundled model or path:factory (or --zoo).")] = None,
    zoo: Annotated[bool, typer.Option("--zoo", help="Sweep the bundled zoo and correlate FLOPs and MAC with latency.")] = False,
    models: Annotated[Optional[str], typer.Option("--models", help="With --zoo: comma-separated subset of models.")] = None,
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed forwards first.")] = 3,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed forwards.")] = 20,
    threads: ThreadsOption = 1,
    layers: Annotated[bool, typer.Option("--layers/--no-layers", help="Also time every layer.")] = True,
    device_profile: Annotated[Optional[str], typer.Option("--device-profile", help="With --zoo: add a roofline prediction on this profile (e.g. cpu_measured).")] = None,
    sort: Annotated[BenchSort, typer.Option("--sort", help="Row order of the per-layer table.")] = BenchSort.order,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Show only the first K layer rows.")] = None,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Measured CPU latency (median, spread), whole model and per layer, beside FLOPs and MAC."""
    with run_command(debug):
        from flopcount import bench as b
        from flopcount.errors import UsageError

        con = console(width)
        if zoo:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from flopcount.zoo import list_models

            names = [n.strip() for n in models.split(",") if n.strip()] if models else list_models()
            known = set(list_models())
            unknown = [n for n in names if n not in known]
            if unknown:
                raise UsageError(f"unknown zoo model(s): {', '.join(unknown)}")
            profile = None
            if device_profile:
                from flopcount.roofline import load_device

                profile = load_device(device_profile)
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=con, transient=True) as progress:
                task = progress.add_task("benchmarking", total=len(names))
                started: list[str] = []

                def on_model(model_name: str) -> None:
                    if started:
                        progress.advance(task)
                    started.append(model_name)
                    progress.update(task, description=f"benchmarking {model_name}")

                result = b.bench_zoo(names, warmup=warmup, repeats=repeats, threads=threads, device=profile,
                                     layers=layers, on_model=on_model)
                progress.advance(task)
            for renderable in render_zoo(result):
                con.print(renderable)
            return
        if name is None:
            raise UsageError("give a model name, or --zoo")
        from flopcount.loading import load_model, parse_kwargs

        loaded = load_model(name, parse_kwargs(kwargs), "cpu")
        specs = resolve_inputs(loaded, input_size)
        result = b.bench(loaded.model, specs, name=name, warmup=warmup, repeats=repeats, threads=threads, layers=layers)
        for renderable in render_bench(result, top, sort):
            con.print(renderable)
