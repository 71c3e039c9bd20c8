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
    threads: Annotated[int, typer.Option(
        "--threads", min=1, metavar="N", help="Intra-op CPU threads to calibrate (1: the steadiest).")] = 1,
    budget_s: Annotated[float, typer.Option("--budget-s", min=0.1, metavar="S", help=(
        "Seconds to spend; a longer budget buys more samples where the fits are worst."))] = 300.0,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the sampled configurations.")] = 0,
    kinds: Annotated[Optional[list[str]], typer.Option("--kind", metavar="KIND", help=(
        "Calibrate only this kernel kind (repeat for several); whole networks are then not timed, so model "
        "totals add isolated kernel times."))] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")] = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Measure this machine's kernels by kind, fit a predictor per kind, write the latency profile.

    Prints where it went and each kind's cross-validated error. A progress bar runs on stderr.
    """
    with run_command(debug):
        from flopcount.predict import calibrate as run_calibration
        from flopcount.predict import save_profile
        from flopcount.predict.profile import SUFFIX, user_profile_path
        from flopcount.render import predict as R

        target = Path(profile) if profile.endswith(SUFFIX) else user_profile_path(profile)
        refuse_package_path(target)
        only_kinds = {"whole_networks": False, "pool_networks": 0} if kinds else {}
        with fraction_progress("calibrating") as on_progress:
            result = run_calibration(target.stem, threads=threads, budget_s=budget_s, seed=seed, kinds=kinds,
                                     on_progress=on_progress, **only_kinds)
        path = save_profile(result, target)
        emit(output_format, {"table": lambda w: R.calibration_table(result, path, width=w),
                             "json": lambda: R.calibration_json(result, path)}, width=width)
