"""`flopcount analyze hf:NAME --phase prefill|decode`: the phase summary in place of the per-layer table."""

from __future__ import annotations

from typing import Any


def run_phases(name: str, phases: list, input_size: list[str] | None, named: list[str] | None, seq_len: int | None,
               context: int | None, dtype: Any, profiles: list[str] | None, device: str | None, kwargs: str | None,
               output_format: Any, width: int | None) -> None:
    from flopcount.cli.emit import emit
    from flopcount.cli.runtime import first_load_uncollected, refuse_unused, user_code
    from flopcount.devices import load_device
    from flopcount.errors import UsageError
    from flopcount.llm import analyze_phases, load_hf
    from flopcount.loading import SEQ_LEN_WITH_SHAPES, given_inputs
    from flopcount.render import llm as R

    if not name.startswith("hf:"):
        raise UsageError(f"--phase needs an hf: model (a transformers config), not '{name}'")
    refuse_unused("does not apply to hf: models (built from their config, on meta)", kwargs=kwargs,
                  device=device if device != "meta" else None)
    phases = list(dict.fromkeys(getattr(p, "value", p) for p in phases))
    if context is not None and "decode" not in phases:
        raise UsageError("--context applies to --phase decode")
    if (input_size or named) and seq_len is not None:
        raise UsageError(SEQ_LEN_WITH_SHAPES)
    devices = [load_device(profile) for profile in profiles or []]
    with user_code(f"building {name}"), first_load_uncollected():
        hf = load_hf(name[len("hf:"):])
    inputs = given_inputs(hf.model, input_size, named, keywords=True)
    with user_code(f"running the forward of {name}"):
        results = analyze_phases(hf, phases, seq_len=seq_len or 128, context=context, inputs=inputs, devices=devices,
                                 dtype=getattr(dtype, "value", None) or "float16")
    emit(output_format, {
        "table": lambda w: R.renderables(results, width=w),
        "json": lambda: R.to_json(results),
        "markdown": lambda: R.to_markdown(results),
    }, width=width)
