"""The `flopcount` command line: each command parses, calls the library, renders, and exits.

Only typer is imported at start-up; torch and the library load inside the commands that need them, so
`flopcount --help` answers at once. Errors map to exit codes in one place, :func:`run_command`.
"""

from __future__ import annotations

import contextlib
import sys
from enum import Enum
from typing import Annotated, Iterator, Optional

import typer

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
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class SortKey(str, Enum):
    flops = "flops"
    mac = "mac"
    params = "params"


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


@contextlib.contextmanager
def run_command(debug: bool) -> Iterator[None]:
    """Turn flopcount's errors into a one-line message and an exit code (2 usage, 1 failure)."""
    from flopcount.errors import FlopcountError

    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except FlopcountError as error:
        if debug:
            raise
        typer.echo(f"flopcount: error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except Exception as error:  # a bug of ours or an unexpected failure: still one line without --debug
        if debug:
            raise
        typer.echo(f"flopcount: error: {type(error).__name__}: {error} (rerun with --debug for a traceback)", err=True)
        raise typer.Exit(1) from None


def console(width: int | None = None):
    """A rich console; when output goes to a file or pipe, wide enough that table rows stay one line."""
    from rich.console import Console

    out = Console(width=width, soft_wrap=False)
    if width is None and not out.is_terminal:
        out = Console(width=200, soft_wrap=False)
    return out


DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
InputSizeOption = Annotated[
    Optional[list[str]],
    typer.Option("--input-size", "-i", help="Input shape like 1x3x224x224 (':int64' for token ids); repeat for several inputs."),
]
KwargsOption = Annotated[Optional[str], typer.Option("--kwargs", help="JSON object of keyword arguments for the factory.")]
DeviceOption = Annotated[
    Optional[str], typer.Option("--device", help="Device to analyse on (default: meta for bundled models, cpu for yours).")
]


def resolve_inputs(loaded, input_size: list[str] | None):
    from flopcount.errors import UsageError
    from flopcount.inputs import parse_input_spec

    if input_size:
        return [parse_input_spec(text) for text in input_size]
    if loaded.default_inputs is None:
        raise UsageError(f"{loaded.name}: give --input-size (e.g. --input-size 1x3x224x224)")
    return loaded.default_inputs


def load_and_analyze(name: str, input_size: list[str] | None, kwargs: str | None, device: str | None):
    from flopcount.analysis import analyze
    from flopcount.loading import load_model, parse_kwargs

    loaded = load_model(name, parse_kwargs(kwargs), device)
    specs = resolve_inputs(loaded, input_size)
    return analyze(loaded.model, specs, device=loaded.device, name=name)


@app.command()
def analyze(
    name: Annotated[str, typer.Argument(help="A bundled model (see `flopcount list`), path/to/file.py:factory or package.module:factory.")],
    input_size: InputSizeOption = None,
    kwargs: KwargsOption = None,
    device: DeviceOption = None,
    depth: Annotated[Optional[int], typer.Option("--depth", min=0, help="Roll records up to module paths of this depth.")] = None,
    sort: Annotated[Optional[SortKey], typer.Option("--sort", help="Sort rows by this column (descending).")] = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Show only the first K rows.")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    flops_per_mac: Annotated[int, typer.Option("--flops-per-mac", min=1, max=2, help="1: FLOPs = multiply-adds; 2: torch's FlopCounterMode convention.")] = 1,
    width: Annotated[Optional[int], typer.Option("--width", help="Console width for the table.")] = None,
    debug: DebugOption = False,
) -> None:
    """Per-layer params, FLOPs and MAC of one model on one input."""
    with run_command(debug):
        report = load_and_analyze(name, input_size, kwargs, device)
        rows = report.records if depth is None else report.by_module(depth)
        if sort is not None:
            rows = sorted(rows, key=lambda r: getattr(r, sort.value), reverse=True)
        if top is not None:
            rows = rows[:top]
        if output_format is OutputFormat.json:
            from flopcount.render.text import to_json

            typer.echo(to_json(report, flops_per_mac))
        elif output_format is OutputFormat.csv:
            from flopcount.render.text import to_csv

            typer.echo(to_csv(rows, flops_per_mac), nl=False)
        elif output_format is OutputFormat.markdown:
            from flopcount.render.text import to_markdown

            typer.echo(to_markdown(report, rows, flops_per_mac), nl=False)
        else:
            from flopcount.render.tables import report_renderable

            out = console(width)
            out.print(report_renderable(report, rows, flops_per_mac, out.width))


# Commands that live in their own modules register themselves on `app` when imported (they import
# torch lazily too). Add a module here to add its commands.
_COMMAND_MODULES: tuple[str, ...] = ("flopcount.cli_zoo", "flopcount.cli_check", "flopcount.cli_compare", "flopcount.cli_beyond")
for _module in _COMMAND_MODULES:
    __import__(_module)


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


if __name__ == "__main__":
    sys.exit(main())
