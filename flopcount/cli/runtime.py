"""What every command runs inside: one mapping of errors to exit codes, the user's code kept off stdout,
a console, progress feedback, and the load-then-analyse step most commands start with.

Only typer is imported here at start-up; rich, torch and the library load when a command runs.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import warnings
from typing import Any, Callable, Iterator

import typer


@contextlib.contextmanager
def run_command(debug: bool) -> Iterator[None]:
    """Turn flopcount's errors into a one-line message and an exit code (2 usage, 1 failure)."""
    from flopcount.errors import FlopcountError

    try:
        with warnings.catch_warnings():
            warnings.showwarning = functools.partial(_show_warning, warnings.showwarning)  # restored at the end
            yield
    except (typer.Exit, typer.Abort):
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


def _show_warning(others, message, category, filename, lineno, file=None, line=None) -> None:
    """flopcount's own warnings (a broken formula plug-in) as one line; other libraries' as Python prints them."""
    from flopcount.plugins import PluginWarning

    if issubclass(category, PluginWarning):
        typer.echo(f"flopcount: warning: {message}", err=True)
    else:
        others(message, category, filename, lineno, file, line)


def refuse_unused(why: str, **options: Any) -> None:
    """A UsageError naming the first option given (not None / False) where it has no effect."""
    from flopcount.errors import UsageError

    for name, value in options.items():
        if value not in (None, False, [], ()):
            raise UsageError(f"--{name.replace('_', '-')} {why}")


@contextlib.contextmanager
def user_code(what: str) -> Iterator[None]:
    """Run the user's factory or forward: its prints go to stderr (stdout stays parseable JSON/CSV), and a
    ``sys.exit`` inside it is a failure, not a silent exit 0 that would let a CI job pass unchecked."""
    from flopcount.errors import FlopcountError

    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except SystemExit as error:
        raise FlopcountError(f"the model's code called sys.exit({error.code!r}) while {what}") from None


def console(width: int | None = None):
    """A rich console; when output goes to a file or pipe, wide enough that table rows stay one line."""
    from rich.console import Console

    out = Console(width=width, soft_wrap=False)
    if width is None and not out.is_terminal:
        out = Console(width=200, soft_wrap=False)
    return out


@contextlib.contextmanager
def progress(total: int, verb: str, show: bool | None = None) -> Iterator[Callable[[str], None]]:
    """A transient progress bar on stderr (only when stderr is a terminal); yields ``step(label)``."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(verb, total=total)
        yield lambda label: bar.update(task, advance=1, description=f"{verb} {label}")


@contextlib.contextmanager
def fraction_progress(verb: str, show: bool | None = None) -> Iterator[Callable[[float, str], None]]:
    """A transient progress bar on stderr (only when stderr is a terminal) driven by a library's
    ``on_progress(fraction, message)``; yields that callback."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield lambda fraction, message: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(verb, total=1.0)
        yield lambda fraction, message: bar.update(task, completed=fraction, description=f"{verb}: {message}")


@contextlib.contextmanager
def first_load_uncollected() -> Iterator[None]:
    """The first model load of a CLI process imports torch (and transformers for an hf: model): some 400,000
    long-lived objects, which Python's cyclic collector would rescan in full several times while they arrive
    and once more at exit (0.6 s + 0.9 s of an hf: LLaMA's 4 s). During that load the collector pauses; then
    what was loaded is frozen (reference counting still frees it; the collector no longer scans it) and
    collection resumes. Later loads run as usual, so at most the first model's cyclic garbage outlives its
    use in a process (hf: models are on meta: small)."""
    if gc.get_freeze_count() or not gc.isenabled():  # not the first load, or the collector is off anyway
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def load(name: str, input_size: list[str] | None, kwargs: str | None, device: str | None,
         named: list[str] | None = None, seq_len: int | None = None, with_inputs: bool = True):
    """The named model built on ``device`` and its input specs: a list (positional) or, with ``named``
    inputs or an hf: model's defaults, a dict (keyword); None without ``with_inputs`` (saved inputs)."""
    from flopcount.loading import load_model, parse_kwargs, resolve_inputs

    with user_code(f"building {name}"), first_load_uncollected():
        loaded = load_model(name, parse_kwargs(kwargs), device)
    return loaded, resolve_inputs(loaded, input_size, named, seq_len) if with_inputs else None


def load_and_analyze(name: str, input_size: list[str] | None, kwargs: str | None, device: str | None = None,
                     named: list[str] | None = None, seq_len: int | None = None, **options):
    """Analyse on ``device``, or on meta with the library's fallback to a real device (noted in the report);
    ``options`` go to ``analyze`` (memory=True, train=True, optimizer=..., amp=...)."""
    loaded, specs = load(name, input_size, kwargs, device, named, seq_len)
    with user_code(f"running the forward of {name}"):
        return loaded.analyze(specs, **options)


def analyze_maybe_timed(name: str, input_size: list[str] | None, kwargs: str | None, named: list[str] | None,
                        seq_len: int | None, measure: bool, threads: int, repeats: int):
    """The report, and with ``measure`` each record's measured seconds (a CPU run), else None."""
    if not measure:
        return load_and_analyze(name, input_size, kwargs, None, named, seq_len), None
    refuse_unused("applies without --measure (timing runs positional inputs on cpu)", input=named, seq_len=seq_len)
    return analyze_and_time(name, input_size, kwargs, threads, repeats)


def analyze_and_time(name: str, input_size: list[str] | None, kwargs: str | None, threads: int, repeats: int):
    """A CPU analysis of the model and the measured median seconds of each of its records."""
    from flopcount.bench import make_inputs, measure_records

    loaded, specs = load(name, input_size, kwargs, "cpu")
    with user_code(f"timing the forward of {name}"):
        return measure_records(loaded.model, make_inputs(specs), repeats=repeats, threads=threads, name=name)


def writable_output(path):
    """``-o PATH`` checked before any model runs (None stays None)."""
    if path is None:
        return None
    from flopcount.budget import validate_output_path

    return validate_output_path(path)


def report_or_saved(reference: str, input_size: list[str] | None, kwargs: str | None, device: str | None):
    """What a diff side names: a saved file (``report.json``, ``budgets.baseline.json#id``) as a
    :class:`~flopcount.diff.Side`, anything else as a model analysed on the same input."""
    if reference.partition("#")[0].endswith(".json"):
        from flopcount.diff import load_side

        return load_side(reference)
    return load_and_analyze(reference, input_size, kwargs, device)


def html_baseline(reference: str | None, output_format, input_size, kwargs, device):
    """The ``--baseline`` of an HTML page, loaded (None without one); refused with any other format."""
    if reference is None:
        return None
    if getattr(output_format, "value", output_format) != "html":
        from flopcount.errors import UsageError

        raise UsageError("--baseline draws a before/after view in -f html; for a table: flopcount diff A B")
    return report_or_saved(reference, input_size, kwargs, device)
