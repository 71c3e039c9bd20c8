"""Map analysis records to the kernels eager PyTorch on CPU executes, each with a kind and a config.

Eager mode fuses nothing: every recorded call (a leaf module such as Conv2d, BatchNorm in eval or
ReLU, or a function-level op such as ``add``, ``cat`` or a shuffle's ``contiguous``) is one Python-level
call that dispatches one aten kernel (MultiheadAttention's eval fast path is one fused kernel too). So a
kernel here is one record, and its *config* is exactly what is needed to rebuild and time that call:
calibration samples configs of the same shape, so a config from a record and a sampled config live in
one space and share one feature function.

The kinds themselves (and how each is described to a predictor) are in :mod:`flopcount.predict.kinds`.
Records no kind covers map to ``fallback`` (per-call overhead plus a roofline on calibrated rates), and
the prediction says so per op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from flopcount.predict.kinds import ACTIVATIONS, FALLBACK, KINDS, VIEW, conv_kind, conv_shapes
from flopcount.records import LayerRecord, TensorSpec

_ACTIVATION_OF = {name: f"act_{kind}" for kind, names in ACTIVATIONS.items() for name in names}

_BINARY = {
    "add", "sub", "mul", "div", "true_divide", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
    "__truediv__", "__rtruediv__", "add_", "sub_", "mul_", "div_", "__iadd__", "__isub__", "__imul__", "__itruediv__",
}
_CONCAT = {"cat", "concat", "concatenate"}
_COPIES = {"contiguous", "clone", "reshape", "flatten", "view_as", "reshape_as", "to", "type_as"}
_MATMUL = {"matmul", "__matmul__", "mm", "bmm"}


@dataclass(frozen=True)
class Kernel:
    """One executed kernel: the record it comes from, its kind, and the config that rebuilds it."""

    record: int  # index of the analysis record
    kind: str
    config: dict[str, Any] = field(hash=False)
    # copy kind configs of the inputs the kernel makes contiguous before it runs (see implicit_copies)
    copies: tuple[dict[str, Any], ...] = field(default=(), hash=False)


# -- records -> kernels ----------------------------------------------------------------------------

_PLAIN_CONV_ATTRS = {"kernel", "stride", "padding", "dilation", "groups"}


def _is_conv2d(r: LayerRecord) -> bool:
    """A plain 2-D convolution: ``nn.Conv2d`` or any subclass of it (HF's EfficientNetDepthwiseConv2d),
    ``F.conv2d``; not a transposed, deformable or non-zero-padded one, whose kernels differ."""
    return (r.category == "conv" and set(r.attrs) == _PLAIN_CONV_ATTRS and len(r.attrs["kernel"]) == 2
            and (r.source == "module" or r.op == "conv2d"))


def _explicit_padding(padding, kernel, dilation) -> tuple[int, int] | None:
    """'valid' and 'same' as numbers; None where 'same' pads unevenly (torch then pads a copy first)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return None if any(t % 2 for t in total) else (total[0] // 2, total[1] // 2)
    return tuple(padding)


def _conv_config(r: LayerRecord) -> dict | None:
    if len(r.inputs) < 1 or len(r.inputs[0].shape) != 4 or not r.outputs or len(r.outputs[0].shape) != 4:
        return None
    kernel, stride, dilation, groups = r.attrs["kernel"], r.attrs["stride"], r.attrs["dilation"], r.attrs["groups"]
    padding = _explicit_padding(r.attrs["padding"], kernel, dilation)
    if padding is None or len(set(stride)) != 1 or len(set(dilation)) != 1:
        return None
    n, cin, h, w = r.inputs[0].shape
    cout = r.outputs[0].shape[1]
    config = {"n": n, "cin": cin, "cout": cout, "h": h, "w": w, "kh": kernel[0], "kw": kernel[1], "s": stride[0],
              "ph": padding[0], "pw": padding[1], "g": groups, "bias": 0}
    if dilation[0] != 1:
        config["d"] = dilation[0]
    _, xin, xout, weights, _ = conv_shapes(config)
    if r.source == "module":
        config["bias"] = int(r.mac - xin - xout - weights == cout)
    else:
        config["bias"] = int(len(r.inputs) > 2)
    return config


def _binary_config(r: LayerRecord) -> dict | None:
    if not r.outputs or r.outputs[0].dtype != "float32":
        return None
    numel = r.outputs[0].numel
    other = r.inputs[1].numel if len(r.inputs) > 1 else 1
    inplace = int(r.op.endswith("_") and not r.op.endswith("__") or r.op.startswith("__i"))
    return {"numel": numel, "other": min(other, numel), "inplace": inplace}


def _concat_dim(inputs: Sequence, output) -> int | None:
    for dim, size in enumerate(output.shape):
        if all(len(t.shape) == len(output.shape) for t in inputs) and sum(t.shape[dim] for t in inputs) == size:
            if all(t.shape[:dim] == output.shape[:dim] and t.shape[dim + 1:] == output.shape[dim + 1:] for t in inputs):
                return dim
    return None


def clone_config(numel: int) -> dict:
    """A copy of contiguous memory: one block."""
    return {"numel": numel, "inner": numel, "jump": numel}


def layout_copy(spec: TensorSpec) -> dict:
    """The copy that makes ``spec`` contiguous, as a copy kind config: ``inner`` elements per run that stays
    contiguous, and ``jump``, the distance in the source between runs adjacent in the copy (a transpose of
    (numel / jump) x (jump / inner) blocks of ``inner``). A channel shuffle's (2, c/2, hw) -> (c/2, 2, hw)
    is inner hw, jump c/2 x hw; channels-last to NCHW (hw, c) -> (c, hw) is inner 1, jump c."""
    if spec.strides is None:
        return clone_config(spec.numel)
    dims = [(size, stride) for size, stride in zip(spec.shape, spec.strides) if size != 1]
    inner = 1
    for size, stride in reversed(dims):
        if stride != inner:
            return {"numel": spec.numel, "inner": inner, "jump": max(stride, inner)}
        inner *= size
    return clone_config(spec.numel)


# Kinds whose kernel makes a non-contiguous input contiguous before it runs (measured: LayerNorm and
# softmax over a transposed (1, 3136, 64) take one copy longer, 154 vs 97 us, the copy 55 us). A conv does
# it too unless it runs channels-last, which its output then shows (transformers' PVT and SegFormer feed
# their depthwise convs token-major views: 2 ms of copies a forward that no record showed).
_COPIES_INPUT = ("layernorm", "softmax", "groupnorm", "batchnorm_stats")


def kernel_of(r: LayerRecord) -> Kernel:
    """The kernel eager PyTorch runs for one record."""
    try:
        config = _config_of(r)
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError):
        config = None  # a record shaped unlike anything calibrated: the fallback, named as such per op
    if config is None:
        return Kernel(r.index, FALLBACK, {"op": r.op, "flops": r.flops, "mac": r.mac, "calls": 1})
    kind, config = config
    return Kernel(r.index, kind, config, implicit_copies(r, kind))


def implicit_copies(r: LayerRecord, kind: str) -> tuple[dict, ...]:
    """The copies a kernel of ``kind`` makes of the record's non-contiguous first input; for a binary op of
    two equal shapes in different layouts (ConvNeXt's residual: NCHW input + a permuted NHWC branch), what
    reading one operand against the other's order costs, which is a copy of it (0.9-1.1x, 38k-300k elements)."""
    if kind == "binary" and len(r.inputs) == 2 and r.inputs[0].shape == r.inputs[1].shape:
        a, b = r.inputs
        expanded = any(0 in (t.strides or ()) for t in r.inputs)  # a broadcast operand is read in place
        if a.strides != b.strides and not expanded:
            return (layout_copy(b if not b.contiguous else a),)
        return ()
    if not r.inputs or r.inputs[0].contiguous:
        return ()
    copies_input = kind in _COPIES_INPUT or (kind.startswith("conv") and bool(r.outputs) and r.outputs[0].contiguous)
    return (layout_copy(r.inputs[0]),) if copies_input else ()


def _float32(r: LayerRecord) -> bool:
    return all(t.dtype == "float32" for t in r.outputs) and bool(r.outputs)


def _config_of(r: LayerRecord) -> tuple[str, dict] | None:
    module = int(r.source == "module")
    if not r.counted:
        return None
    if r.category == "movement" and r.mac == 0:
        return VIEW, {"op": r.op, "module": module}
    if not _float32(r):
        return None  # calibrated on fp32: other dtypes fall back, visibly
    op = r.op
    out = r.outputs[0]
    if _is_conv2d(r):
        config = _conv_config(r)
        return (conv_kind(config), config) if config else None
    if op in ("Linear", "linear"):
        cin = r.inputs[0].shape[-1]
        return "linear", {"rows": r.inputs[0].numel // max(cin, 1), "cin": cin, "cout": out.shape[-1],
                          "bias": int(r.mac - r.inputs[0].numel - out.numel - cin * out.shape[-1] > 0)}
    if op == "addmm" and len(r.inputs) == 3 and len(r.inputs[1].shape) == 2 and len(r.inputs[2].shape) == 2:
        # bias + x @ w: a fully connected layer with its weight stored (c_in, c_out), as transformers' GPT-2
        # Conv1D calls it; the same gemm as nn.Linear's up to the weight's transposition
        rows, cin = r.inputs[1].shape
        return "linear", {"rows": rows, "cin": cin, "cout": r.inputs[2].shape[1], "bias": int(r.inputs[0].numel > 1)}
    if op in _MATMUL and len(r.inputs) >= 2 and len(r.inputs[0].shape) >= 2 and len(r.inputs[1].shape) >= 2:
        m, k = r.inputs[0].shape[-2:]
        n = r.inputs[1].shape[-1]
        return "matmul", {"b": max(out.numel // max(m * n, 1), 1), "m": m, "k": k, "n": n}
    if op == "einsum" and len(r.inputs) == 2 and "equation" in r.attrs:
        config = _einsum_matmul(r.attrs["equation"], [t.shape for t in r.inputs])
        return ("matmul", config) if config else None
    if op in ("BatchNorm2d", "BatchNorm1d", "batch_norm") and len(out.shape) >= 2:
        n, c = out.shape[0], out.shape[1]
        if r.attrs.get("batch_statistics"):
            return "batchnorm_stats", {"n": n, "c": c, "hw": out.numel // max(n * c, 1)}
        return "batchnorm", {"n": n, "c": c, "hw": out.numel // max(n * c, 1), "module": module}
    if op in ("GroupNorm", "group_norm") and len(out.shape) >= 2 and r.attrs.get("groups"):
        n, c = out.shape[0], out.shape[1]
        return "groupnorm", {"n": n, "c": c, "hw": out.numel // max(n * c, 1), "g": int(r.attrs["groups"])}
    if op in ("LayerNorm", "layer_norm"):
        d = out.shape[-1]
        return "layernorm", {"rows": out.numel // max(d, 1), "d": d, "module": module}
    if op in ("Softmax", "softmax", "_softmax"):
        d = out.shape[-1]
        return "softmax", {"rows": out.numel // max(d, 1), "d": d, "module": module}
    if op in _ACTIVATION_OF:
        kind = _ACTIVATION_OF[op] + ("_tanh" if r.attrs.get("approximate") == "tanh" else "")
        return kind, {"numel": out.numel, "module": module, "inplace": int(bool(r.attrs.get("inplace")))}
    if op in _BINARY and len(r.inputs) >= 1:
        return "binary", _binary_config(r)
    if op in ("MaxPool2d", "max_pool2d", "AvgPool2d", "avg_pool2d") and len(out.shape) == 4:
        kernel, stride, padding = r.attrs.get("kernel"), r.attrs.get("stride"), r.attrs.get("padding", (0, 0))
        n, c, h, w = r.inputs[0].shape
        if not kernel or len(set(kernel)) != 1 or not stride or len(set(stride)) != 1 or "dilation" in r.attrs:
            return None
        kind = "maxpool" if "ax" in op else "avgpool"
        config = {"n": n, "c": c, "h": h, "w": w, "k": kernel[0], "s": stride[0], "p": padding[0], "module": module}
        if r.attrs.get("ceil_mode"):
            config["ceil"] = 1
        return kind, config
    if op in ("AdaptiveAvgPool2d", "adaptive_avg_pool2d") and len(out.shape) == 4:
        n, c, h, w = r.inputs[0].shape
        return "adaptive_avgpool", {"n": n, "c": c, "h": h, "w": w, "oh": out.shape[2], "ow": out.shape[3],
                                    "module": module}
    if op == "mean" and r.attrs.get("dims") == (2, 3) and len(r.inputs[0].shape) == 4 and r.inputs[0].contiguous:
        n, c, h, w = r.inputs[0].shape  # global average over the spatial dims of NCHW: the same kernel family
        return "adaptive_avgpool", {"n": n, "c": c, "h": h, "w": w, "oh": 1, "ow": 1, "module": 0}
    if op in REDUCTIONS and "dims" in r.attrs and r.inputs and r.category == "reduction":
        return ("reduce", config) if (config := _reduce_config(r.inputs[0], r.attrs["dims"], op)) else None
    if op in UNARY and len(r.inputs) == 1:  # pow with a scalar exponent; a tensor exponent is binary
        return "unary", {"numel": out.numel, "op": UNARY[op]}
    if op in _CONCAT and len(r.inputs) >= 2:
        # torch skips legacy empty 1-D tensors: transformers' KV cache starts as one, so a prefill's cat of it
        # and the new keys is a copy of the keys
        parts = [t for t in r.inputs if t.shape != (0,)]
        if len(parts) == 1:
            return "copy", clone_config(out.numel)
        dim = _concat_dim(parts, out)
        if dim is None:
            return None
        inner = math.prod(out.shape[dim + 1:]) * (out.shape[dim] // len(parts))
        return "cat", {"numel": out.numel, "parts": len(parts), "inner": max(inner, 1)}
    if op in _COPIES and r.category == "movement" and r.inputs:
        return "copy", layout_copy(r.inputs[0])
    if op == "pad" and r.attrs.get("mode", "constant") == "constant" and len(out.shape) >= 2 and r.inputs:
        h, w = r.inputs[0].shape[-2:]
        oh, ow = out.shape[-2:]
        if len(r.inputs[0].shape) != len(out.shape) or out.shape[:-2] != r.inputs[0].shape[:-2] or oh < h or ow < w:
            return None  # padding of leading dims, or cropping (negative pads): no timed config is like it
        if (oh, ow) == (h, w):
            # Zero padding (TF "same" at stride 1, as transformers' MobileNet V2 and EfficientNet pad every
            # conv): torch returns a clone, a plain memory copy; the pad fit, timed on real padding, put a
            # 1344x7x7 one at 31 us against 4 us measured.
            return "copy", clone_config(out.numel)
        return "pad", {"c": out.numel // max(oh * ow, 1), "h": h, "w": w, "oh": oh, "ow": ow}
    if op == "MultiheadAttention" and len(r.inputs[0].shape) == 3 and "query_len" in r.attrs:
        return "mha", {"b": int(r.attrs["batch"]), "l": int(r.attrs["query_len"]), "s": int(r.attrs["key_len"]),
                       "e": r.inputs[0].shape[-1], "heads": int(r.attrs.get("heads", 1))}
    if op == "scaled_dot_product_attention" and len(r.inputs) >= 3:
        q, k = r.inputs[0].shape, r.inputs[1].shape
        # torch's CPU flash kernel takes 4-D (batch, heads, length, dim) inputs only, as models pass them; 3-D
        # ones take the math path, which writes out the scores: 1.4-2.6x slower (torch 2.13, 1 thread)
        return "sdpa", {"b": math.prod(q[:-2]), "l": q[-2], "s": k[-2], "d": q[-1], "rank": 4 if len(q) == 4 else 3,
                        "causal": int(bool(r.attrs.get("causal"))), "masked": int(bool(r.attrs.get("masked")))}
    return None


# Reductions by what their kernel does per element: accumulate, square and accumulate, two passes (mean,
# then squared deviations), compare.
REDUCTIONS = {"sum": 0, "mean": 0, "nansum": 0, "nanmean": 0, "norm": 1, "linalg_vector_norm": 1, "var": 2, "std": 2,
              "amax": 3, "amin": 3}
# Element-wise functions of one tensor, by cost class: a few vector instructions, or a transcendental.
UNARY = {"abs": 0, "neg": 0, "__neg__": 0, "__abs__": 0, "sqrt": 0, "rsqrt": 0, "reciprocal": 0, "square": 0,
         "clamp": 0, "clip": 0, "clamp_min": 0, "clamp_max": 0, "pow": 0, "__pow__": 0, "exp": 1, "log": 1, "erf": 1}


def _einsum_matmul(equation: str, shapes: Sequence[tuple[int, ...]]) -> dict | None:
    """An einsum of two operands as the batched matmul torch runs it by: letters in both and the output are
    the batch, in one and the output its rows or columns, in both but not the output the contraction."""
    from flopcount.formulas.linear import einsum_terms

    parsed = einsum_terms(equation, list(shapes))
    if parsed is None:
        return None
    (a, b), output, sizes = parsed
    if any(c not in output and c not in (b if c in a else a) for c in a + b):
        return None  # a letter summed out of one operand alone: not a plain product
    def size(letters):
        return math.prod(sizes[c] for c in set(letters))
    return {"b": size(c for c in a if c in b and c in output), "m": size(c for c in a if c not in b),
            "k": size(c for c in a if c in b and c not in output), "n": size(c for c in b if c not in a)}


def _reduce_config(spec: TensorSpec, dims: Sequence[int], op: str) -> dict | None:
    """(outer, reduced, inner) of a reduction over ``dims`` of ``spec`` as laid out in memory, when the folded
    dims are one block of it (over channels of NCHW, over h x w of NHWC, over the last dim); else None."""
    order = range(len(spec.shape))
    if spec.strides is not None:  # memory order: the largest stride first
        order = sorted(order, key=lambda d: -spec.strides[d])
    sizes = [(spec.shape[d], d in dims) for d in order if spec.shape[d] != 1]
    flags = [folded for _, folded in sizes]
    if True not in flags:
        return None
    first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
    if not all(flags[first:last + 1]):
        return None
    outer = math.prod(size for size, _ in sizes[:first])
    return {"outer": outer, "reduced": math.prod(size for size, _ in sizes[first:last + 1]),
            "inner": math.prod(size for size, _ in sizes[last + 1:]), "op": REDUCTIONS[op]}


def kernels_of(records: Sequence[LayerRecord]) -> list[Kernel]:
    """One kernel per record, in record order."""
    return [kernel_of(r) for r in records]


def terms_of(kernel: Kernel) -> list[float]:
    return KINDS[kernel.kind].terms(kernel.config)


def features_of(kernel: Kernel) -> list[float]:
    return KINDS[kernel.kind].features(kernel.config)
