"""One way out for every result: the chosen format's renderer, to stdout or to a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import typer

from flopcount.cli.runtime import console

# A table renderer takes the console width and returns rich renderables; the others return text.
Renderers = Mapping[str, Callable[..., Any]]


def standard(render_module, *args) -> dict[str, Callable[..., Any]]:
    """The four renderers of a ``flopcount.render`` module whose functions all take ``args``:
    ``renderables(*args, width)``, ``to_json(*args)``, ``to_csv(*args)``, ``to_markdown(*args)``."""
    return {
        "table": lambda width: render_module.renderables(*args, width=width),
        "json": lambda: render_module.to_json(*args),
        "csv": lambda: render_module.to_csv(*args),
        "markdown": lambda: render_module.to_markdown(*args),
    }


def emit(fmt: str, renderers: Renderers, *, width: int | None = None, output: Path | None = None) -> None:
    """Print the result as ``fmt`` (a key of ``renderers``); with ``output``, write it to that file instead."""
    from flopcount.errors import UsageError

    fmt = getattr(fmt, "value", fmt)
    if fmt not in renderers:
        raise UsageError(f"--format {fmt} is not available here; choose one of {', '.join(renderers)}")
    if fmt == "table":
        _print_table(renderers["table"], width, output)
        return
    if fmt == "html" and output is None and sys.stdout.isatty():
        raise UsageError("-f html writes a page: give -o report.html (or pipe it to a file)")
    text = renderers[fmt]()
    if not text.endswith("\n"):
        text += "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _print_table(render: Callable[[int], Any], width: int | None, output: Path | None) -> None:
    if output is None:
        out = console(width)
        _print_all(out, render(out.width))
        return
    from rich.console import Console

    with output.open("w", encoding="utf-8") as handle:
        out = Console(file=handle, width=width or 120, no_color=True, soft_wrap=False)
        _print_all(out, render(out.width))


def _print_all(out, renderables) -> None:
    for renderable in renderables if isinstance(renderables, (list, tuple)) else [renderables]:
        out.print(renderable)
