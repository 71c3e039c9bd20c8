"""LLM workflow: name a Hugging Face model, get params, prefill and decode cost with a KV cache, memory at a
dtype, and a device's bound. transformers is the optional extra ``flopcount[hf]``, imported lazily.

The names below load on first use, so that ``flopcount analyze hf:NAME`` (through ``flopcount.llm.loading``)
does not import the phase analysis it does not run.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    **dict.fromkeys(("HFModel", "build_model", "bundled_configs", "config_file", "load_config", "load_hf"),
                    "flopcount.llm.hf"),
    **dict.fromkeys(("default_inputs", "model_kind", "parse_named_input", "parse_named_inputs"),
                    "flopcount.llm.inputs"),
    **dict.fromkeys(("DTYPE_BITS", "AttentionGeometry", "DeviceEstimate", "PhaseResult", "analyze_phase",
                     "analyze_phases", "attention_geometry", "dtype_bytes", "estimate_on_device", "kv_cache_bytes"),
                    "flopcount.llm.phases"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flopcount.llm' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
