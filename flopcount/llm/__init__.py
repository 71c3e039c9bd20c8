"""LLM workflow: name a Hugging Face model, get params, prefill and decode cost with a KV cache, memory at a
dtype, and a device's bound. transformers is the optional extra ``flopcount[hf]``, imported lazily."""

from flopcount.llm.hf import HFModel, build_model, bundled_configs, config_file, load_config, load_hf
from flopcount.llm.inputs import default_inputs, model_kind, parse_named_input, parse_named_inputs
from flopcount.llm.phases import (
    DTYPE_BITS,
    AttentionGeometry,
    DeviceEstimate,
    PhaseResult,
    analyze_phase,
    analyze_phases,
    attention_geometry,
    dtype_bytes,
    estimate_on_device,
    kv_cache_bytes,
)

__all__ = [
    "DTYPE_BITS", "AttentionGeometry", "DeviceEstimate", "HFModel", "PhaseResult", "analyze_phase", "analyze_phases",
    "attention_geometry", "build_model", "bundled_configs", "config_file", "default_inputs", "dtype_bytes",
    "estimate_on_device", "kv_cache_bytes", "load_config", "load_hf", "model_kind", "parse_named_input",
    "parse_named_inputs",
]
