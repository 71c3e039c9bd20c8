"""`flopcount calibrate`: measure this machine's kernels and write a latency profile for `flopcount predict`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit
from flopcount.cli.options import DebugOption, OutputFormat, WidthOption
from flopcount.cli.runtime import fraction_progress, run_command


def refuse_package_path(target: Path) -> None:
    """A calibration is this machine's: it never overwrites the profiles installed with flopcount."""
    import flopcount
    from flopcount.errors import UsageError

    package = Path(flopcount.__file__).resolve().parent
    if target.resolve().is_relative_to(package):
        raise UsageError(f"--profile {target}: inside the installed flopcount package; give a NAME (written to "
                         "your user directory) or a .json path elsewhere")


def calibrate(
    profile: Annotated[str, typer.Option(
        "--profile", metavar="NAME|PATH",
        help="Where the profile goes: a NAME is written to $XDG_CONFIG_HOME/flopcount/predict/NAME.json (else "
             "~/.config/...), a path ending .json is written as given.")],
    threads: Annotated[Optional[int], typer.Option(
        "--threads", min=1, metavar="N", help="Intra-op CPU threads to calibrate (default 1: the steadiest).")] = None,
    budget_s: Annotated[Optional[float], typer.Option("--budget-s", min=0.1, metavar="S", help=(
        "Seconds to spend (default 300); a longer budget buys more samples where the fits are worst."))] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="N", help=(
        "Seed of the sampled configurations (default 0)."))] = None,
    kinds: Annotated[Optional[list[str]], typer.Option("--kind", metavar="KIND", help=(
        "Calibrate only this kernel kind (repeat for several); whole networks are then not timed, so model "
        "totals add isolated kernel times."))] = None,
    add_sitting: Annotated[bool, typer.Option("--add-sitting", help=(
        "Time an existing profile's calibration networks again now (~1 minute) and fit its model-level terms "
        "to all its sittings: on a host whose speed moves in phases, sittings at other times of day predict "
        "its average instead of one phase. Kernels are not re-timed."))] = False,
    retime: Annotated[Optional[list[str]], typer.Option("--retime", metavar="KIND", help=(
        "Time this kernel kind of an existing profile again, or for the first time (repeat for several), and "
        "keep the rest; its model-level terms are fitted again to its stored network times."))] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")] = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Measure this machine's kernels by kind, fit a predictor per kind, write the latency profile.

    Prints where it went and each kind's cross-validated error. A progress bar runs on stderr.
    """
    with run_command(debug):
        from flopcount.predict import DEFAULT_BUDGET_S
        from flopcount.predict import calibrate as run_calibration
        from flopcount.predict.profile import SUFFIX, user_profile_path

        if add_sitting and retime:
            from flopcount.errors import UsageError

            raise UsageError("--add-sitting and --retime: one at a time")
        if add_sitting:
            _add_sitting(profile, threads, budget_s, seed, kinds, output_format, width)
            return
        if retime:
            _retime(profile, retime, threads, budget_s, seed, kinds, output_format, width)
            return
        target = Path(profile) if profile.endswith(SUFFIX) else user_profile_path(profile)
        refuse_package_path(target)
        threads, budget_s = threads or 1, budget_s or DEFAULT_BUDGET_S
        seed = 0 if seed is None else seed
        only_kinds = {"whole_networks": False, "pool_networks": 0} if kinds else {}
        with fraction_progress("calibrating") as on_progress:
            result = run_calibration(target.stem, threads=threads, budget_s=budget_s, seed=seed, kinds=kinds,
                                     on_progress=on_progress, **only_kinds)
        _save_and_show(result, target, output_format, width)


def _save_and_show(result, target: Path, output_format: OutputFormat, width: int | None) -> None:
    """Write the profile to ``target``, then print where it went and each kind's cross-validated error."""
    from flopcount.predict import save_profile
    from flopcount.render import predict as R

    path = save_profile(result, target)
    emit(output_format, {"table": lambda w: R.calibration_table(result, path, width=w),
                         "json": lambda: R.calibration_json(result, path)}, width=width)


def _existing_profile_of_this_machine(profile: str, threads: int | None, flag: str):
    """The profile ``flag`` changes in place: the user's own, calibrated here at the threads asked."""
    from flopcount.errors import ConfigError, UsageError
    from flopcount.predict import load_profile
    from flopcount.predict.drift import not_calibrated_here

    result = load_profile(profile)
    runtime = result.runtime()
    if threads is not None and threads != runtime.threads:
        raise UsageError(f"--threads {threads}: profile '{profile}' was calibrated at {runtime.threads}")
    refuse_package_path(result.path)
    elsewhere = not_calibrated_here(runtime)
    if elsewhere:
        raise ConfigError(f"{flag}: profile '{profile}' was calibrated on another machine ({elsewhere})")
    return result


def _retime(profile: str, kinds_to_retime: list[str], threads: int | None, budget_s: float | None, seed: int | None,
            kinds: list[str] | None, output_format: OutputFormat, width: int | None) -> None:
    from flopcount.errors import UsageError
    from flopcount.predict import DEFAULT_BUDGET_S, retime_kinds

    if kinds is not None:
        raise UsageError("--retime names the kinds to time again; --kind cannot apply to it")
    result = _existing_profile_of_this_machine(profile, threads, "--retime")
    with fraction_progress("re-timing " + ", ".join(kinds_to_retime)) as on_progress:
        retime_kinds(result.runtime(), kinds_to_retime, budget_s=budget_s or DEFAULT_BUDGET_S,
                     seed=0 if seed is None else seed, on_progress=on_progress)
    _save_and_show(result, result.path, output_format, width)


def _add_sitting(profile: str, threads: int | None, budget_s: float | None, seed: int | None,
                 kinds: list[str] | None, output_format: OutputFormat, width: int | None) -> None:
    from flopcount.errors import UsageError
    from flopcount.predict.model_terms import add_sitting

    options = (("--budget-s", budget_s), ("--seed", seed), ("--kind", kinds))
    given = [flag for flag, value in options if value is not None]
    if given:
        raise UsageError(f"--add-sitting re-times the profile's calibration networks; {', '.join(given)} "
                         "cannot apply to it")
    result = _existing_profile_of_this_machine(profile, threads, "--add-sitting")
    with fraction_progress("adding a sitting") as on_progress:
        add_sitting(result.runtime(), on_progress)
    _save_and_show(result, result.path, output_format, width)
