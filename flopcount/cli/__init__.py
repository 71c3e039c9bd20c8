"""The `flopcount` command line: one module per command (parse -> call the library -> render).

This root builds the typer app and registers each command module's function on it; the command
modules never import this root. Only typer loads at start-up: torch, rich and the library load inside
the commands, so `flopcount --help` answers at once. Errors map to exit codes in one place,
:func:`flopcount.cli.runtime.run_command`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from flopcount.cli import (analyze, bench, calibrate, check, compare, diff, guidelines, listing, memory, predict,
                           roofline)

CONVENTIONS = (
    "FLOPs are multiply-adds (one fused multiply-add = 1 FLOP; --flops-per-mac 2 doubles them). "
    "MAC is memory access cost: elements read + written (ShuffleNet V2), never multiply-accumulates. "
    "The paper total counts conv + linear + matmul + attention; the all-ops total adds norms, "
    "activations, pooling and element-wise ops."
)

app = typer.Typer(
    name="flopcount",
    help="Params, FLOPs and memory access cost (MAC) of PyTorch models, layer by layer.\n\n" + CONVENTIONS,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# (command name, function, the one-line summary `flopcount --help` lists)
COMMANDS = (
    ("analyze", analyze.analyze, "Per-layer params, FLOPs and MAC of one model."),
    ("list", listing.list_models, "Bundled models and their gaps to published counts."),
    ("diff", diff.diff, "Two models side by side, module by module, with ratios."),
    ("compare", compare.compare, "FLOPs beside fvcore and torch's FlopCounterMode."),
    ("check", check.check, "Hold models to the budgets of a TOML file (CI)."),
    ("guidelines", guidelines.guidelines, "ShuffleNet V2's guidelines G1-G4, costs in MAC."),
    ("roofline", roofline.roofline, "Compute- or memory-bound time per layer on a profile."),
    ("bench", bench.bench, "Measured CPU latency beside FLOPs and MAC."),
    ("memory", memory.memory, "Live memory per layer, its peak, and a training step's (--train)."),
    ("predict", predict.predict, "Predicted CPU latency per op and in total, from a profile."),
    ("calibrate", calibrate.calibrate, "Time this CPU's kernels into a latency profile for predict."),
)
for _name, _function, _summary in COMMANDS:
    app.command(_name, short_help=_summary)(_function)


def _version(value: bool) -> None:
    if value:
        from flopcount import __version__

        typer.echo(f"flopcount {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    pass


def main() -> None:
    """Console entry point: like ``app()``, but a usage error is one line too, like our own errors."""
    try:
        code = app(standalone_mode=False)
    except Exception as error:
        # typer's (vendored click's) usage errors: duck-typed, as their classes are not public API
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `flopcount`: the help, as click does
            typer.echo(error.format_message(), err=True)
            sys.exit(2)
        if getattr(error, "exit_code", None) == 2 and hasattr(error, "format_message"):
            ctx = getattr(error, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"flopcount: error: {error.format_message()}{hint}", err=True)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main", "CONVENTIONS"]
