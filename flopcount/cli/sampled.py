"""`flopcount analyze --samples N` / `--inputs-dir DIR`: a data-dependent model over several inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from flopcount.cli.emit import emit

SamplesOption = Annotated[Optional[int], typer.Option(
    "--samples", min=1, metavar="N",
    help="Analyse on N seeded random inputs (on cpu unless --device; weights initialised from seed 0) and show "
         "mean / min / max per layer, for models whose cost depends on the data (detection heads, routed experts).")]
InputsDirOption = Annotated[Optional[Path], typer.Option(
    "--inputs-dir", metavar="DIR",
    help="Like --samples, over the inputs saved in DIR (*.pt: a tensor, a tuple or a dict of tensors each).")]


def analyze_sampled(name: str, input_size, kwargs, device, samples: int | None, inputs_dir: Path | None,
                    output_format, output: Path | None, width: int | None) -> None:
    from flopcount.cli.runtime import load, user_code
    from flopcount.errors import UsageError
    from flopcount.render import sampling as R
    from flopcount.sampling import analyze_samples

    if samples is not None and inputs_dir is not None:
        raise UsageError("give --samples N (random inputs) or --inputs-dir DIR (saved inputs), not both")
    if inputs_dir is not None and input_size:
        raise UsageError("--inputs-dir takes the shapes of the saved inputs: drop --input-size")
    import torch

    torch.manual_seed(0)  # the weights decide the routing too: the same command gives the same numbers
    loaded, specs = load(name, input_size, kwargs, device or "cpu", with_inputs=inputs_dir is None)
    with user_code(f"running the forward of {name}"):
        result = analyze_samples(loaded.model, specs, samples=samples or 0,
                                 inputs_dir=inputs_dir, device=device or "cpu", name=name)
    emit(output_format, {
        "table": lambda w: R.renderables(result, w),
        "json": lambda: R.to_json(result),
        "markdown": lambda: R.to_markdown(result),
    }, width=width, output=output)
