"""Prefill and decode of a language model: per-token FLOPs, bytes moved, KV cache, and a device's bound.

* prefill: the forward of a prompt of ``seq_len`` tokens; it writes ``seq_len`` tokens into the cache.
* decode: one new token against a KV cache of ``context`` tokens: attention sees ``context + 1`` keys.

FLOPs come from the engine (one watched forward on meta, every op counted; attention as the kernel
computes it, i.e. over every key it is given). Bytes are what the pass must move at the chosen dtype:
the weights it reads (for a mixture of experts only the top-k experts of each token; for an embedding
table one row per token) plus the KV cache it reads and writes. Decoding reads every weight once per
token for a few FLOPs each: its bound is memory bandwidth, not compute (the seed's MAC lesson).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from flopcount.errors import ForwardError, UsageError
from flopcount.inputs import InputSpec, make_tensor
from flopcount.llm.hf import HFModel, experts_of
from flopcount.llm.inputs import ENCODER_DECODER, SPEECH, default_inputs, model_kind
from flopcount.records import FROM_STATE
from flopcount.report import Report

DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "int8": 8, "int4": 4}
PHASES = ("prefill", "decode")


def dtype_bytes(elements: int, dtype: str) -> int:
    """Bytes of ``elements`` values stored at ``dtype`` (int4 packs two per byte)."""
    if dtype not in DTYPE_BITS:
        raise UsageError(f"unknown dtype '{dtype}': use one of {', '.join(DTYPE_BITS)}")
    return math.ceil(elements * DTYPE_BITS[dtype] / 8)


@dataclass(frozen=True)
class AttentionGeometry:
    """The decoder's self-attention shape: what one cached token costs."""

    layers: int
    heads: int
    kv_heads: int  # < heads: grouped-query attention (1: multi-query)
    head_dim: int
    sliding_window: int | None = None

    def kv_elements(self, tokens: int, batch: int = 1) -> int:
        """2 (K and V) x layers x kv_heads x head_dim x tokens."""
        return 2 * self.layers * self.kv_heads * self.head_dim * tokens * batch

    def cached_tokens(self, tokens: int) -> int:
        return min(tokens, self.sliding_window) if self.sliding_window else tokens


def attention_geometry(config) -> AttentionGeometry:
    """Decoder self-attention geometry from a transformers config's own fields."""
    def first(*names):
        return next((getattr(config, n) for n in names if getattr(config, n, None)), None)

    layers = first("num_decoder_layers", "decoder_layers", "num_hidden_layers")
    heads = first("decoder_attention_heads", "num_attention_heads")
    if not layers or not heads:
        raise UsageError(f"config of type {type(config).__name__} names no layer or head count")
    kv_heads = first("num_key_value_heads") or heads
    head_dim = first("head_dim", "d_kv") or config.hidden_size // heads
    window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
    return AttentionGeometry(int(layers), int(heads), int(kv_heads), int(head_dim), int(window) if window else None)


def kv_cache_bytes(geometry: AttentionGeometry, tokens: int, dtype: str = "float16", batch: int = 1) -> int:
    """Bytes of a KV cache holding ``tokens`` tokens: 2 x layers x kv_heads x head_dim x tokens x dtype bytes."""
    return dtype_bytes(geometry.kv_elements(tokens, batch), dtype)


@dataclass(frozen=True)
class PhaseResult:
    model: str
    phase: str  # "prefill" or "decode"
    tokens: int  # new tokens this pass processes (the prompt for prefill, 1 for decode)
    context: int  # tokens already in the KV cache before the pass (0 for prefill)
    batch: int
    dtype: str  # of weights and cache
    geometry: AttentionGeometry | None  # None: a model that keeps no KV cache (encoder-only, vision)
    params: int
    params_read: int  # parameters the pass reads: modules it calls, top-k experts, one embedding row a token
    flops: int  # multiply-adds of the pass, every op
    paper_flops: int
    attention_flops: int  # as the kernel computes it: every key it is given
    attention_flops_windowed: int  # with the sliding window applied (= attention_flops without one)
    weights_bytes: int  # every parameter at dtype: the memory the weights take
    weights_read_bytes: int
    cache_read_bytes: int  # decode: the cache of ``context`` tokens (cross-attention cache included)
    cache_written_bytes: int  # the new tokens' K and V
    kv_cache_bytes: int  # the cache the phase is about: prefill writes seq_len tokens, decode reads context
    kv_cache_bytes_windowed: int  # the same cache as a sliding-window kernel keeps it
    report: Report = field(repr=False, compare=False)
    experts: tuple[int, int] | None = None  # mixture of experts: (used per token, per layer)

    @property
    def per_token_flops(self) -> int:
        return self.flops // (self.tokens * self.batch)

    @property
    def traffic_bytes(self) -> int:
        """Bytes the pass must move: weights read + cache read + cache written."""
        return self.weights_read_bytes + self.cache_read_bytes + self.cache_written_bytes

    @property
    def memory_bytes(self) -> int:
        """Weights + the KV cache after the pass (read + written): what must fit on the device."""
        return self.weights_bytes + self.cache_read_bytes + self.cache_written_bytes


def analyze_phase(hf: HFModel, phase: str = "prefill", *, seq_len: int = 128, context: int = 0,
                  dtype: str = "float16", batch: int = 1, inputs: dict[str, InputSpec] | None = None) -> PhaseResult:
    """Prefill (``seq_len`` prompt tokens) or decode (1 token against ``context`` cached ones) of ``hf``.

    ``inputs`` replaces the default inputs of the model's kind (prefill only). For an encoder-decoder,
    ``seq_len`` is also the source length that decode's cross-attention reads.
    """
    from flopcount.analysis import analyze
    from flopcount.loading import meta_only_error

    if phase not in PHASES:
        raise UsageError(f"unknown phase '{phase}': use prefill or decode")
    dtype_bytes(0, dtype)  # validates the dtype name
    config, model = hf.config, hf.model
    caches = bool(getattr(model, "can_generate", lambda: False)())
    geometry = attention_geometry(config) if caches else None
    if phase == "decode":
        if inputs:
            raise UsageError("named inputs apply to prefill; decode builds its own token and KV cache")
        if geometry is None:
            raise UsageError(f"{hf.name} keeps no KV cache ({hf.architecture} does not generate): decode does not apply")
        if context < 0:
            raise UsageError("context must be >= 0")
        call, tokens, source = _decode_inputs(hf, geometry, context, batch, seq_len)
    else:
        specs = inputs or default_inputs(config, seq_len, batch)
        batch = next(iter(specs.values())).shape[0]  # named inputs carry their own batch
        call = {name: make_tensor(spec, "meta") for name, spec in specs.items()}
        tokens = _new_tokens(specs)
        context, source = 0, 0
    try:
        report = analyze(model, inputs=call, device="meta", name=hf.name)
    except ForwardError as error:
        raise meta_only_error(hf.name, error) from error.__cause__

    attention = report.by_category().get("attention", 0)
    windowed = attention
    if geometry is not None and geometry.sliding_window:
        keys = context + tokens
        windowed = attention * min(keys, geometry.sliding_window) // keys
    params_read = _params_read(hf, report, tokens * batch)
    cross = 2 * geometry.layers * geometry.heads * geometry.head_dim * source * batch if geometry and source else 0
    cached = context if phase == "decode" else tokens
    return PhaseResult(
        model=hf.name, phase=phase, tokens=tokens, context=context, batch=batch, dtype=dtype, geometry=geometry,
        params=report.totals.params, params_read=params_read,
        flops=report.totals.flops, paper_flops=report.totals.paper_flops,
        attention_flops=attention, attention_flops_windowed=windowed,
        weights_bytes=dtype_bytes(report.totals.params, dtype),
        weights_read_bytes=dtype_bytes(params_read, dtype),
        cache_read_bytes=dtype_bytes(geometry.kv_elements(context, batch) + cross, dtype) if geometry else 0,
        cache_written_bytes=kv_cache_bytes(geometry, tokens, dtype, batch) if geometry else 0,
        kv_cache_bytes=dtype_bytes(geometry.kv_elements(cached, batch) + cross, dtype) if geometry else 0,
        kv_cache_bytes_windowed=(dtype_bytes(geometry.kv_elements(geometry.cached_tokens(cached), batch) + cross, dtype)
                                 if geometry else 0),
        report=report,
        experts=experts_of(config),
    )


def analyze_phases(hf: HFModel, phases: Sequence[str], *, seq_len: int = 128, context: int | None = None,
                   dtype: str = "float16", inputs: dict[str, InputSpec] | None = None,
                   devices: Sequence[Any] = ()) -> list[tuple[PhaseResult, list[DeviceEstimate]]]:
    """Each phase of ``hf`` with its bound on every device profile. ``inputs`` are the prefill's (their
    token count and batch replace ``seq_len`` and 1); decode's ``context`` defaults to that prompt length,
    the cache a prefill of it leaves."""
    batch = 1
    if inputs:
        seq_len, batch = _new_tokens(inputs), next(iter(inputs.values())).shape[0]
    results = []
    for phase in phases:
        if phase == "decode":
            result = analyze_phase(hf, "decode", seq_len=seq_len, context=seq_len if context is None else context,
                                   dtype=dtype, batch=batch)
        else:
            result = analyze_phase(hf, phase, seq_len=seq_len, dtype=dtype, batch=batch, inputs=inputs)
        results.append((result, [estimate_on_device(result, device) for device in devices]))
    return results


def _new_tokens(specs: dict[str, InputSpec]) -> int:
    """Tokens the pass produces: the decoder's ids if any, else the ids, else 1 (an image, a clip)."""
    for name in ("decoder_input_ids", "input_ids"):
        if name in specs and len(specs[name].shape) >= 2:
            return specs[name].shape[1]
    return 1


def _decode_inputs(hf: HFModel, geometry: AttentionGeometry, context: int, batch: int, source_len: int):
    """One new token, a cache of ``context`` tokens of meta tensors, and (encoder-decoder) the encoder's
    output and its cross-attention cache, so that decode runs the decoder alone."""
    import torch
    from transformers import DynamicCache, EncoderDecoderCache

    config, model = hf.config, hf.model
    kind = model_kind(config)
    # The cache and encoder output hold activations: the model's own dtype (torch refuses mixed q/k/v dtypes).
    act_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)

    def filled(tokens: int, heads: int) -> Any:
        cache = DynamicCache()  # no config: every layer keeps every token, as a full-attention kernel reads it
        for layer in range(geometry.layers):
            k = torch.empty(batch, heads, tokens, geometry.head_dim, dtype=act_dtype, device="meta")
            cache.update(k, torch.empty_like(k), layer)
        return cache

    token = torch.empty(batch, 1, dtype=torch.long, device="meta")
    cache_name = "past_key_values" if "past_key_values" in inspect.signature(model.forward).parameters else "cache"
    if kind not in (ENCODER_DECODER, SPEECH):
        return {"input_ids": token, cache_name: filled(context, geometry.kv_heads), "use_cache": True}, 1, 0
    if kind == SPEECH:
        source_len = config.max_source_positions
    cross = filled(source_len, geometry.heads)
    cache = EncoderDecoderCache(filled(context, geometry.kv_heads), cross)
    # A plain tuple: analyze() copies mappings into dicts, and the model indexes encoder_outputs[0].
    encoder_out = (torch.empty(batch, source_len, config.hidden_size, dtype=act_dtype, device="meta"),)
    call = {"decoder_input_ids": token, "encoder_outputs": encoder_out, cache_name: cache, "use_cache": True}
    return call, 1, source_len


def _params_read(hf: HFModel, report: Report, tokens: int) -> int:
    """Parameters the pass reads: those of every module it called (a tied weight once), an embedding
    table only for the rows it looked up (unless a called head reads it whole), and of a layer's experts
    only the top-k of n that each token uses, whatever the routing."""
    from torch import nn

    called = {r.path for r in report.records}
    prefixes = {".".join(p.split(".")[:i]) for p in called for i in range(p.count(".") + 2)}
    modules = dict(hf.model.named_modules(remove_duplicate=False))  # shared modules under every name
    whole: dict[int, int] = {}
    tables: dict[int, tuple[int, int]] = {}  # id(weight) -> (rows looked up, row size)
    for path in prefixes:
        module = modules.get(path)
        if module is None or isinstance(module, nn.Embedding):
            continue
        whole.update((id(p), p.numel()) for p in module._parameters.values() if p is not None)
    for record in report.records:
        module = modules.get(record.path)
        if isinstance(module, nn.Embedding) and record.source == "module" and record.inputs:
            rows, _ = tables.get(id(module.weight), (0, 0))
            tables[id(module.weight)] = (min(module.num_embeddings, rows + record.inputs[0].numel),
                                         module.embedding_dim)
        elif module is not None and not isinstance(module, nn.Embedding):  # a weight used without a call
            for spec, source in zip(record.inputs, record.input_from):
                if source == FROM_STATE:
                    match = next((p for p in module.parameters() if tuple(p.shape) == spec.shape
                                  and id(p) not in whole and id(p) not in tables), None)
                    if match is not None:
                        whole[id(match)] = match.numel()
    for path in prefixes:  # an embedding without a module formula, counted from its ops: a row a token
        module = modules.get(path)
        if isinstance(module, nn.Embedding) and id(module.weight) not in tables:
            tables[id(module.weight)] = (min(module.num_embeddings, tokens), module.embedding_dim)
    read = sum(whole.values()) + sum(rows * size for key, (rows, size) in tables.items() if key not in whole)
    experts = experts_of(hf.config)
    if experts:
        used, total = experts
        active = min(total, used * tokens)
        for path in prefixes:
            if path.rsplit(".", 1)[-1] == "experts" and path in modules:
                read -= sum(p.numel() for p in modules[path].parameters()) * (total - active) // total
    return read


@dataclass(frozen=True)
class DeviceEstimate:
    """A phase on a device's roofline: the time of the pass if it ran at the device's peak or bandwidth."""

    device: str
    compute_seconds: float  # 2 x FLOPs / peak FLOP/s
    memory_seconds: float  # traffic bytes / bandwidth
    bound: str  # "compute" or "memory"
    memory_needed: int  # weights + KV cache, bytes
    memory_available: int | None  # the profile's memory; None when it states none
    fits: bool | None
    profile_dtype: str | None = None  # the dtype the profile's peak is for (float32 for the bundled ones)

    @property
    def seconds(self) -> float:
        return max(self.compute_seconds, self.memory_seconds)

    def tokens_per_second(self, tokens: int) -> float:
        return tokens / self.seconds if self.seconds else math.inf


def estimate_on_device(result: PhaseResult, device, memory_bytes: int | None = None) -> DeviceEstimate:
    """Roofline bound of ``result`` on a ``flopcount.roofline.DeviceProfile``; fits when weights + cache
    are within ``memory_bytes`` (default: the profile's ``memory_bytes``)."""
    from flopcount.roofline import FLOPS_PER_FMA

    compute = FLOPS_PER_FMA * result.flops / device.peak_flops
    memory = result.traffic_bytes / device.bandwidth
    available = memory_bytes if memory_bytes is not None else getattr(device, "memory_bytes", None)
    return DeviceEstimate(
        device=device.name, compute_seconds=compute, memory_seconds=memory,
        bound="compute" if compute >= memory else "memory",
        memory_needed=result.memory_bytes, memory_available=available,
        fits=None if available is None else result.memory_bytes <= available,
        profile_dtype=getattr(device, "dtype", None),
    )
