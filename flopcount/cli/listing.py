"""`flopcount list`: every bundled model with its counts and its distance from the published ones."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit, standard
from flopcount.cli.options import DebugOption, FormatOption, OutputFormat, WidthOption
from flopcount.cli.runtime import progress, run_command


def list_models(
    pattern: Annotated[str, typer.Argument(metavar="[PATTERN]",
                                           help="Shell-style wildcard on model names, e.g. 'mobilenet_v2*'.")] = "*",
    family: Annotated[Optional[str], typer.Option("--family", metavar="FAMILY",
                                                  help="Only this family (wildcards allowed).")] = None,
    output_format: FormatOption = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Bundled models: input size, params, paper FLOPs, MAC, and deviation from their reference counts.

    'vs impl' compares with the exact counts of the implementation each model follows (torchvision, timm,
    pytorchcv); 'vs paper' with the paper's own rounded figures (see flopcount/data/references.toml for why
    some differ).
    """
    with run_command(debug):
        import torch

        from flopcount.analysis import analyze
        from flopcount.errors import UsageError
        from flopcount.render import listing as R
        from flopcount.zoo import get_spec, list_models as names_matching
        from flopcount.zoo.references import deviation

        names = names_matching(pattern, family)
        if not names:
            raise UsageError(f"no bundled model matches '{pattern}'" + (f" in family '{family}'" if family else "")
                             + " (see `flopcount list`)")
        rows = []
        with progress(len(names), "analysing") as step:
            for name in names:
                spec = get_spec(name)
                with torch.device("meta"):
                    model = spec.build().eval()
                totals = analyze(model, spec.input_size, name=name).totals
                rows.append(R.row(name, spec, totals, deviation(name, totals.params, totals.paper_flops)))
                step(name)
        emit(output_format, standard(R, rows), width=width)
