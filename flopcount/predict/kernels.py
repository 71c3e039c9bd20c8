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
from flopcount.records import LayerRecord

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


def _inner_run(source_shape: Sequence[int], viewed_shape: Sequence[int]) -> int:
    """Elements per contiguous run of a copy: the trailing dims a transpose left in place."""
    run = 1
    for a, b in zip(reversed(source_shape), reversed(viewed_shape)):
        if a != b:
            break
        run *= a
    return run


def kernel_of(r: LayerRecord, records: Sequence[LayerRecord] = ()) -> Kernel:
    """The kernel eager PyTorch runs for one record (``records``: the whole report, for producers)."""
    try:
        config = _config_of(r, records)
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError):
        config = None  # a record shaped unlike anything calibrated: the fallback, named as such per op
    if config is None:
        return Kernel(r.index, FALLBACK, {"op": r.op, "flops": r.flops, "mac": r.mac, "calls": 1})
    kind, config = config
    return Kernel(r.index, kind, config)


def _float32(r: LayerRecord) -> bool:
    return all(t.dtype == "float32" for t in r.outputs) and bool(r.outputs)


def _config_of(r: LayerRecord, records: Sequence[LayerRecord]) -> tuple[str, dict] | None:
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
        return _ACTIVATION_OF[op], {"numel": out.numel, "module": module, "inplace": int(bool(r.attrs.get("inplace")))}
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
    if op == "mean" and len(r.inputs[0].shape) == 4 and len(out.shape) in (2, 4):
        n, c, h, w = r.inputs[0].shape
        if out.numel == n * c:  # global average over the spatial dims: the same kernel family
            return "adaptive_avgpool", {"n": n, "c": c, "h": h, "w": w, "oh": 1, "ow": 1, "module": 0}
        return None
    if op in _CONCAT and len(r.inputs) >= 2:
        dim = _concat_dim(r.inputs, out)
        if dim is None:
            return None
        inner = math.prod(out.shape[dim + 1:]) * (out.shape[dim] // len(r.inputs))
        return "cat", {"numel": out.numel, "parts": len(r.inputs), "inner": max(inner, 1)}
    if op in _COPIES and r.category == "movement" and r.inputs:
        source = r.inputs[0].shape
        producer = records[r.input_from[0]] if r.input_from and 0 <= r.input_from[0] < len(records) else None
        if producer is not None and producer.op in ("transpose", "permute", "t", "swapaxes", "movedim") and producer.inputs:
            inner = _inner_run(producer.inputs[0].shape, producer.outputs[0].shape)
        elif op == "clone":
            inner = out.numel  # a clone of anything but a transpose: taken as a copy of contiguous memory
        else:
            inner = source[-1] if source else 1
        return "copy", {"numel": out.numel, "inner": max(inner, 1)}
    if op == "pad" and r.attrs.get("mode", "constant") == "constant" and len(out.shape) >= 2 and r.inputs:
        h, w = r.inputs[0].shape[-2:]
        oh, ow = out.shape[-2:]
        if len(r.inputs[0].shape) != len(out.shape) or out.shape[:-2] != r.inputs[0].shape[:-2] or oh < h or ow < w:
            return None  # padding of leading dims, or cropping (negative pads): no timed config is like it
        if (oh, ow) == (h, w):
            # Zero padding (TF "same" at stride 1, as transformers' MobileNet V2 and EfficientNet pad every
            # conv): torch returns a clone, a plain memory copy; the pad fit, timed on real padding, put a
            # 1344x7x7 one at 31 us against 4 us measured.
            return "copy", {"numel": out.numel, "inner": out.numel}
        return "pad", {"c": out.numel // max(oh * ow, 1), "h": h, "w": w, "oh": oh, "ow": ow}
    if op == "MultiheadAttention" and len(r.inputs[0].shape) == 3:
        a, b, e = r.inputs[0].shape
        batch, length = (a, b) if a <= b else (b, a)  # batch_first is not recorded: the batch is the shorter dim
        return "mha", {"b": batch, "l": length, "e": e, "heads": int(r.attrs.get("heads", 1))}
    if op == "scaled_dot_product_attention" and len(r.inputs) >= 3:
        q, k = r.inputs[0].shape, r.inputs[1].shape
        return "sdpa", {"b": math.prod(q[:-2]), "l": q[-2], "s": k[-2], "d": q[-1]}
    return None


def kernels_of(records: Sequence[LayerRecord]) -> list[Kernel]:
    """One kernel per record, in record order."""
    return [kernel_of(r, records) for r in records]


def terms_of(kernel: Kernel) -> list[float]:
    return KINDS[kernel.kind].terms(kernel.config)


def features_of(kernel: Kernel) -> list[float]:
    return KINDS[kernel.kind].features(kernel.config)
