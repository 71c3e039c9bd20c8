"""Load ``hf:NAME``, ``torchvision:NAME`` and ``timm:NAME`` for ``flopcount.loading.load_model``."""

from __future__ import annotations

from typing import Any

from flopcount.errors import UsageError
from flopcount.llm.registries import PREFIXES, build_registered


def is_prefixed(name: str) -> bool:
    return name.startswith(PREFIXES)


def load_prefixed(name: str, kwargs: dict[str, Any] | None = None, device: str | None = None):
    """A LoadedModel on meta. Its positional default input is the model kind's only default input
    (input_ids of 128 tokens, pixel_values); kinds with several inputs leave it to named inputs."""
    from flopcount.loading import LoadedModel

    if device not in (None, "meta"):
        raise UsageError(f"{name} is built from its config without weights: it can only be analysed on meta")
    prefix, _, rest = name.partition(":")
    if not rest:
        raise UsageError(f"'{name}' names no model after '{prefix}:'")
    if prefix == "hf":
        from flopcount.llm.hf import load_hf
        from flopcount.llm.inputs import default_inputs

        if kwargs:
            raise UsageError("hf: models take their settings from config.json, not --kwargs")
        hf = load_hf(rest)
        defaults = list(default_inputs(hf.config).values())
        return LoadedModel(hf.model, name, defaults if len(defaults) == 1 else None, "meta",
                           named_defaults=lambda seq_len: default_inputs(hf.config, seq_len), meta_only=True)
    return LoadedModel(build_registered(prefix, rest, kwargs), name, None, "meta")
