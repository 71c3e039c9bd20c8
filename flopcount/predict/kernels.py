"""Map analysis records to the kernels eager PyTorch on CPU executes, each with a kind and a config.

Eager mode fuses nothing: every recorded call (a leaf module such as Conv2d, BatchNorm in eval or
ReLU, or a function-level op such as ``add``, ``cat`` or a shuffle's ``contiguous``) is one Python-level
call that dispatches one aten kernel (MultiheadAttention's eval fast path is one fused kernel too). So a
kernel here is one record, and its *config* is exactly what is needed to rebuild and time that call:
calibration samples configs of the same shape, so a config from a record and a sampled config live in
one space and share one feature function.

Kinds split where the CPU kernel (and so its efficiency) differs: dense, 1x1, depthwise and grouped
convs; linear and batched matmul; per activation function; views (dispatch overhead only); copies.
Records no kind covers map to ``fallback`` (per-call overhead plus a roofline on calibrated rates), and
the prediction says so per op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from flopcount.records import LayerRecord

FALLBACK = "fallback"
VIEW = "view"

# Activation records (module class names and function names) -> the activation kind they run.
ACTIVATIONS = {
    "relu": ("ReLU", "relu", "relu_"),
    "relu6": ("ReLU6", "relu6", "hardtanh", "hardtanh_", "Hardtanh"),
    "hardswish": ("Hardswish", "hardswish"),
    "hardsigmoid": ("Hardsigmoid", "hardsigmoid"),
    "sigmoid": ("Sigmoid", "sigmoid", "sigmoid_"),
    "silu": ("SiLU", "silu"),
    "gelu": ("GELU", "gelu"),
    "tanh": ("Tanh", "tanh", "tanh_"),
}
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


@dataclass(frozen=True)
class KindSpec:
    """How a kind is described to a predictor.

    ``terms`` are physical quantities the time grows linearly with (a constant 1 for the per-call
    overhead, FLOPs, elements read and written): the base of the fit, which extrapolates sensibly.
    ``features`` (logs of shape quantities) let the fit bend the base where efficiency changes with
    shape: thin layers, few channels per group, small spatial sizes.
    """

    name: str
    description: str
    terms: Callable[[dict], list[float]]
    features: Callable[[dict], list[float]]
    term_names: tuple[str, ...]
    feature_names: tuple[str, ...]


def _lg(x: float) -> float:
    return math.log2(max(float(x), 1.0))


# -- convolutions --------------------------------------------------------------------------------

def conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_shapes(c: dict) -> tuple[int, int, int, int, int]:
    """(flops, elements in, elements out, weight elements, output pixels) of a conv config."""
    oh = conv_out(c["h"], c["kh"], c["s"], c["ph"], c.get("d", 1))
    ow = conv_out(c["w"], c["kw"], c["s"], c["pw"], c.get("d", 1))
    cin_g = c["cin"] // c["g"]
    weights = c["cout"] * cin_g * c["kh"] * c["kw"] + (c["cout"] if c.get("bias") else 0)
    flops = c["n"] * c["cout"] * oh * ow * cin_g * c["kh"] * c["kw"]
    return flops, c["n"] * c["cin"] * c["h"] * c["w"], c["n"] * c["cout"] * oh * ow, weights, oh * ow


def _conv_terms(c: dict) -> list[float]:
    flops, xin, xout, weights, _ = conv_shapes(c)
    return [1.0, flops, xin, xout, weights]


def _alignment(channels: int) -> float:
    """Largest of 16, 8, 4 dividing ``channels`` (0 if none): CPU conv kernels block channels by 8 or 16
    and run measurably slower on the remainder."""
    return next((float(b) for b in (16, 8, 4) if channels % b == 0), 0.0)


def _conv_features(c: dict) -> list[float]:
    flops, xin, xout, weights, pixels = conv_shapes(c)
    return [_lg(c["cin"]), _lg(c["cout"]), _lg(c["cin"] // c["g"]), _lg(c["cout"] // c["g"]), _lg(pixels),
            _lg(c["kh"] * c["kw"]), float(c["s"]), _lg(flops), _lg(xin + xout + weights), _lg(c["n"]),
            _alignment(c["cin"]), _alignment(c["cout"]), _lg(c["h"] * c["w"])]


_CONV_TERMS = ("call", "flops", "elements_in", "elements_out", "weights")
_CONV_FEATURES = ("log_cin", "log_cout", "log_cin_per_group", "log_cout_per_group", "log_out_pixels", "log_kernel",
                  "stride", "log_flops", "log_elements", "log_batch", "cin_alignment", "cout_alignment",
                  "log_in_pixels")


# -- others ----------------------------------------------------------------------------------------

def _linear_terms(c: dict) -> list[float]:
    rows, cin, cout = c["rows"], c["cin"], c["cout"]
    return [1.0, rows * cin * cout, rows * cin, rows * cout, cin * cout]


def _linear_features(c: dict) -> list[float]:
    return [_lg(c["rows"]), _lg(c["cin"]), _lg(c["cout"]), _lg(c["rows"] * c["cin"] * c["cout"]),
            _alignment(c["cin"]), _alignment(c["cout"])]


def _matmul_terms(c: dict) -> list[float]:
    b, m, k, n = c["b"], c["m"], c["k"], c["n"]
    return [1.0, b * m * k * n, b * (m * k + k * n), b * m * n]


def _matmul_features(c: dict) -> list[float]:
    return [_lg(c["b"]), _lg(c["m"]), _lg(c["k"]), _lg(c["n"]), _lg(c["b"] * c["m"] * c["k"] * c["n"])]


def _numel_terms(c: dict) -> list[float]:
    return [1.0, c["numel"]]


def _numel_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), float(c.get("module", 0))]


def _bn_terms(c: dict) -> list[float]:
    return [1.0, c["n"] * c["c"] * c["hw"], c["c"]]


def _bn_features(c: dict) -> list[float]:
    return [_lg(c["c"]), _lg(c["hw"]), _lg(c["n"] * c["c"] * c["hw"])]


def _rows_terms(c: dict) -> list[float]:
    return [1.0, c["rows"] * c["d"], c["rows"]]


def _rows_features(c: dict) -> list[float]:
    return [_lg(c["rows"]), _lg(c["d"])]


def _binary_terms(c: dict) -> list[float]:
    return [1.0, c["numel"], c["other"]]


def _binary_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), _lg(c["other"]), float(c.get("inplace", 0))]


def _pool_shapes(c: dict) -> tuple[int, int, int]:
    oh, ow = conv_out(c["h"], c["k"], c["s"], c["p"]), conv_out(c["w"], c["k"], c["s"], c["p"])
    return c["n"] * c["c"] * c["h"] * c["w"], c["n"] * c["c"] * oh * ow, c["k"] * c["k"]


def _pool_terms(c: dict) -> list[float]:
    xin, xout, window = _pool_shapes(c)
    return [1.0, xin, xout * window]


def _pool_features(c: dict) -> list[float]:
    xin, xout, window = _pool_shapes(c)
    return [_lg(c["c"]), _lg(c["h"] * c["w"]), _lg(window), float(c["s"]), _lg(xin)]


def _adaptive_terms(c: dict) -> list[float]:
    return [1.0, c["n"] * c["c"] * c["h"] * c["w"], c["n"] * c["c"] * c["oh"] * c["ow"]]


def _adaptive_features(c: dict) -> list[float]:
    return [_lg(c["c"]), _lg(c["h"] * c["w"]), _lg(c["oh"] * c["ow"]), float(c.get("module", 0))]


def _cat_terms(c: dict) -> list[float]:
    return [1.0, c["numel"], c["parts"], c["numel"] / max(c["inner"], 1)]


def _cat_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), float(c["parts"]), _lg(c["inner"])]


def _copy_terms(c: dict) -> list[float]:
    return [1.0, c["numel"], c["numel"] / max(c["inner"], 1)]


def _copy_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), _lg(c["inner"])]


def _mha_terms(c: dict) -> list[float]:
    b, length, e = c["b"], c["l"], c["e"]
    return [1.0, b * length * e * e, b * length * length * e, b * length * length * c["heads"]]


def _mha_features(c: dict) -> list[float]:
    return [_lg(c["b"]), _lg(c["l"]), _lg(c["e"]), _lg(c["heads"])]


def _sdpa_terms(c: dict) -> list[float]:
    return [1.0, c["b"] * c["l"] * c["s"] * c["d"], c["b"] * c["l"] * c["s"]]


def _sdpa_features(c: dict) -> list[float]:
    return [_lg(c["b"]), _lg(c["l"]), _lg(c["s"]), _lg(c["d"])]


def _view_terms(c: dict) -> list[float]:
    return [1.0]


def _view_features(c: dict) -> list[float]:
    return [float(c.get("module", 0))]


def _spec(name, description, terms, features, term_names, feature_names) -> KindSpec:
    return KindSpec(name, description, terms, features, tuple(term_names), tuple(feature_names))


KINDS: dict[str, KindSpec] = {}


def _add(spec: KindSpec) -> None:
    KINDS[spec.name] = spec


for _name, _text in (("conv", "dense conv, kernel > 1x1"), ("conv1x1", "pointwise (1x1) conv, one group"),
                     ("conv_dw", "depthwise conv (groups = input channels)"),
                     ("conv_group", "grouped conv (1 < groups < input channels)")):
    _add(_spec(_name, _text, _conv_terms, _conv_features, _CONV_TERMS, _CONV_FEATURES))
_add(_spec("linear", "fully connected (nn.Linear / F.linear), rows x c_in -> c_out", _linear_terms, _linear_features,
           ("call", "flops", "elements_in", "elements_out", "weights"),
           ("log_rows", "log_cin", "log_cout", "log_flops", "cin_alignment", "cout_alignment")))
_add(_spec("matmul", "batched matrix product b x (m x k) @ (k x n)", _matmul_terms, _matmul_features,
           ("call", "flops", "elements_in", "elements_out"), ("log_b", "log_m", "log_k", "log_n", "log_flops")))
_add(_spec("batchnorm", "BatchNorm in eval (running statistics)", _bn_terms, _bn_features,
           ("call", "elements", "channels"), ("log_channels", "log_spatial", "log_elements")))
_add(_spec("layernorm", "LayerNorm over the last dim", _rows_terms, _rows_features, ("call", "elements", "rows"),
           ("log_rows", "log_dim")))
_add(_spec("softmax", "softmax over the last dim", _rows_terms, _rows_features, ("call", "elements", "rows"),
           ("log_rows", "log_dim")))
for _act in ACTIVATIONS:
    _add(_spec(f"act_{_act}", f"{_act} activation, element-wise", _numel_terms, _numel_features,
               ("call", "elements"), ("log_elements", "module_call")))
_add(_spec("binary", "element-wise add/sub/mul/div of two tensors (second may broadcast)", _binary_terms,
           _binary_features, ("call", "elements_out", "elements_other"), ("log_elements", "log_other", "in_place")))
_add(_spec("maxpool", "2-D max pooling with a window", _pool_terms, _pool_features, ("call", "elements_in", "window_reads"),
           ("log_channels", "log_pixels", "log_window", "stride", "log_elements")))
_add(_spec("avgpool", "2-D average pooling with a window", _pool_terms, _pool_features,
           ("call", "elements_in", "window_reads"), ("log_channels", "log_pixels", "log_window", "stride", "log_elements")))
_add(_spec("adaptive_avgpool", "2-D adaptive average pooling (global pooling included)", _adaptive_terms,
           _adaptive_features, ("call", "elements_in", "elements_out"),
           ("log_channels", "log_pixels_in", "log_pixels_out", "module_call")))
_add(_spec("cat", "concatenation (copies every input)", _cat_terms, _cat_features,
           ("call", "elements", "parts", "blocks"), ("log_elements", "parts", "log_inner_block")))
_add(_spec("copy", "copy of a strided view (contiguous after a transpose: a channel shuffle)", _copy_terms,
           _copy_features, ("call", "elements", "blocks"), ("log_elements", "log_inner_block")))
_add(_spec("mha", "nn.MultiheadAttention in eval (fused fast path), b x l x e", _mha_terms, _mha_features,
           ("call", "projection_flops", "score_flops", "score_elements"), ("log_b", "log_l", "log_e", "log_heads")))
_add(_spec("sdpa", "F.scaled_dot_product_attention, b x l x s x d", _sdpa_terms, _sdpa_features,
           ("call", "flops", "scores"), ("log_b", "log_l", "log_s", "log_d")))
_add(_spec(VIEW, "a view or an eval-mode identity (Dropout, Flatten): dispatch overhead only", _view_terms,
           _view_features, ("call",), ("module_call",)))


# -- records -> kernels ----------------------------------------------------------------------------

def _conv_config(r: LayerRecord) -> dict | None:
    if len(r.inputs) < 1 or len(r.inputs[0].shape) != 4 or not r.outputs or len(r.outputs[0].shape) != 4:
        return None
    kernel, stride = r.attrs.get("kernel"), r.attrs.get("stride")
    padding, dilation, groups = r.attrs.get("padding"), r.attrs.get("dilation", (1, 1)), r.attrs.get("groups", 1)
    if kernel is None or stride is None or isinstance(padding, str) or padding is None:
        return None
    if len(set(stride)) != 1 or len(set(dilation)) != 1:
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


def conv_kind(config: dict) -> str:
    if config["g"] == 1:
        return "conv1x1" if config["kh"] == config["kw"] == 1 else "conv"
    if config["g"] == config["cin"]:
        return "conv_dw"
    return "conv_group"


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
    if op in ("Conv2d", "conv2d"):
        config = _conv_config(r)
        return (conv_kind(config), config) if config else None
    if op in ("Linear", "linear"):
        cin = r.inputs[0].shape[-1]
        return "linear", {"rows": r.inputs[0].numel // max(cin, 1), "cin": cin, "cout": out.shape[-1],
                          "bias": int(r.mac - r.inputs[0].numel - out.numel - cin * out.shape[-1] > 0)}
    if op in _MATMUL and len(r.inputs) >= 2 and len(r.inputs[0].shape) >= 2 and len(r.inputs[1].shape) >= 2:
        m, k = r.inputs[0].shape[-2:]
        n = r.inputs[1].shape[-1]
        return "matmul", {"b": max(out.numel // max(m * n, 1), 1), "m": m, "k": k, "n": n}
    if op in ("BatchNorm2d", "BatchNorm1d", "batch_norm") and len(out.shape) >= 2 and r.flops <= 2 * out.numel:
        n, c = out.shape[0], out.shape[1]
        return "batchnorm", {"n": n, "c": c, "hw": out.numel // max(n * c, 1), "module": module}
    if op in ("LayerNorm", "layer_norm"):
        d = out.shape[-1]
        return "layernorm", {"rows": out.numel // max(d, 1), "d": d, "module": module}
    if op in ("Softmax", "softmax", "_softmax"):
        d = out.shape[-1]
        return "softmax", {"rows": out.numel // max(d, 1), "d": d, "module": module}
    if op in _ACTIVATION_OF:
        return _ACTIVATION_OF[op], {"numel": out.numel, "module": module}
    if op in _BINARY and len(r.inputs) >= 1:
        return "binary", _binary_config(r)
    if op in ("MaxPool2d", "max_pool2d", "AvgPool2d", "avg_pool2d") and len(out.shape) == 4:
        kernel, stride, padding = r.attrs.get("kernel"), r.attrs.get("stride"), r.attrs.get("padding", (0, 0))
        n, c, h, w = r.inputs[0].shape
        if not kernel or len(set(kernel)) != 1 or not stride or len(set(stride)) != 1:
            return None
        kind = "maxpool" if "ax" in op else "avgpool"
        return kind, {"n": n, "c": c, "h": h, "w": w, "k": kernel[0], "s": stride[0], "p": padding[0], "module": module}
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
        else:
            inner = source[-1] if source else 1
        return "copy", {"numel": out.numel, "inner": max(inner, 1)}
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
