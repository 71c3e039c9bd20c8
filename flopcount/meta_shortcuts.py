"""Shape arithmetic that answers aten ops on ``meta`` for the live-memory tracker.

Torch's meta kernels for convolution, its backward, pooling, batch norm and the pointwise ops run
Python decompositions (~1.5 ms each); the tracker only needs each result's shape, strides and dtype.
Every rule here handles the plain valid case and returns None for anything else, so torch's own kernel
runs and raises its own error; repeats of any other op are answered from a memo of its first result.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch._prims_common import suggest_memory_format  # imported by torch itself: no start-up cost

from flopcount.walker import tensors_in

_META = torch.device("meta")  # a device object: torch parses a "meta" string on every call


_BOOLEAN_RESULT = frozenset({
    "eq", "ne", "lt", "gt", "le", "ge", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit",
    "logical_and", "logical_or", "logical_not", "logical_xor", "isreal",
})


_SCALAR_KWARGS = frozenset({"alpha", "value", "rounding_mode"})


@functools.lru_cache(maxsize=None)
def _pointwise_kind(func) -> str | None:
    """"in-place" or "out-of-place" for an element-wise op with one result, else None (static facts of
    the op's schema, looked up once: reading ``_schema`` builds Python objects on each access)."""
    if torch.Tag.pointwise not in func.tags:
        return None
    schema = func._schema
    if len(schema.returns) != 1 or not schema.arguments:
        return None
    alias = schema.returns[0].alias_info
    if alias is not None:
        return "in-place" if alias.is_write and schema.arguments[0].alias_info is not None else None
    return None if schema.name.removeprefix("aten::") in _BOOLEAN_RESULT else "out-of-place"


def pointwise_on_meta(func, args: tuple, kwargs: dict | None) -> Any:
    """The result of an element-wise aten op on meta, without its meta kernel (many run as slow Python
    decompositions: ~0.3 ms each, thousands per training step). In-place: the op returns its first
    argument, allocating nothing. Out-of-place, when every tensor is a meta tensor of one floating
    dtype and one of them has the broadcast shape: a fresh tensor like it (same strides, as
    TensorIterator keeps them). Anything else (promotion, every operand broadcast, boolean results)
    returns None: torch's kernel decides."""
    kind = _pointwise_kind(func)
    return None if kind is None else _pointwise_result(kind, args, kwargs)


def _pointwise_result(kind: str, args: tuple, kwargs: dict | None) -> Any:
    if not args or kwargs and not _SCALAR_KWARGS.issuperset(kwargs):
        return None  # clone(memory_format=...), _to_copy(dtype=...): layout or dtype change, torch decides
    first = args[0]
    if not isinstance(first, torch.Tensor):
        return None
    # Plain loops, no generators: this runs for thousands of ops per training step.
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if kwargs:
        tensors += [a for a in kwargs.values() if isinstance(a, torch.Tensor)]
    dtype = first.dtype
    for t in tensors:
        if not t.is_meta or t.dtype != dtype:
            return None
    if not first.is_floating_point():
        return None
    if kind == "in-place":
        return first
    shape = first.shape
    for t in tensors:
        if t.shape != shape:
            break
    else:  # one shape (an activation's backward, x + y in a residual): like the first
        return _fresh_like(first)
    # Like the first operand that has the result's shape (a scale (N, C, 1, 1) times x: like x): one
    # whose shape every other operand broadcasts to (torch.broadcast_shapes is a slow Python reference).
    for full in tensors:
        shape = full.shape
        if all(t.dim() <= len(shape) and all(a == b or a == 1 for a, b in zip(reversed(t.shape), reversed(shape)))
               for t in tensors):
            return _fresh_like(full)
    return None


def _fresh_like(t: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like`` on meta without its Python reference implementation (~0.2 ms a call)."""
    if t.is_contiguous():
        return torch.empty(t.shape, dtype=t.dtype, device=_META)
    return torch.empty_like(t)


def all_meta(args: Any) -> bool:
    """Every tensor in the arguments of an aten op (nested in lists, tuples, dicts) is on meta: plain
    loops, it runs per op. An aten list is typed: one that starts with a number (a convolution's stride)
    holds no tensor."""
    for item in args.values() if isinstance(args, dict) else args:
        if isinstance(item, torch.Tensor):
            if not item.is_meta:
                return False
        elif isinstance(item, (tuple, list)):
            if item and type(item[0]) in _NUMBERS:
                continue
            for sub in item:
                if isinstance(sub, torch.Tensor):
                    if not sub.is_meta:
                        return False
                elif isinstance(sub, (tuple, list, dict)) and not all_meta(sub):
                    return False
        elif isinstance(item, dict) and not all_meta(item):
            return False
    return True


_NUMBERS = frozenset((int, float, bool))


def _accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _batch_norm_meta(input, weight, bias, running_mean, running_var, training, momentum, eps):
    # torch's own meta kernel for this is a Python decomposition (~5 ms); tests compare with it.
    stats = (input.shape[1],) if training else (0,)
    dtype = _accumulate_dtype(input.dtype)
    return (_fresh_like(input), torch.empty(stats, dtype=dtype, device=_META),
            torch.empty(stats, dtype=dtype, device=_META))


def _batch_norm_backward_meta(grad_out, input, weight, running_mean, running_var, save_mean, save_invstd, train,
                              eps, output_mask):
    channels = (input.shape[1],)
    dtype = weight.dtype if weight is not None else input.dtype
    return (_fresh_like(input) if output_mask[0] else None,
            torch.empty(channels, dtype=dtype, device=_META) if output_mask[1] else None,
            torch.empty(channels, dtype=dtype, device=_META) if output_mask[2] else None)


def _like_first(input, *args, **kwargs):
    """Backward of an activation (grad_output, input, ...) and ``zeros_like``/``ones_like``: a tensor like
    the first argument (row-major if asked); with any dtype, device or layout argument, torch's kernel decides."""
    if any(kwargs.get(k) is not None for k in ("dtype", "layout", "device")):
        return None
    return _shaped_like(input, kwargs.get("memory_format"))


def _shaped_like(input, memory_format) -> Any:
    """A fresh tensor like ``input`` in ``memory_format``: None or preserve keeps its layout, contiguous
    makes it row-major; any other format is left to torch."""
    if memory_format is None or memory_format == torch.preserve_format:
        return _fresh_like(input)
    if memory_format == torch.contiguous_format:
        return torch.empty(input.shape, dtype=input.dtype, device=_META)
    return None


def _in_place(self, *args, **kwargs):
    return self


# The rules below stand for torch meta kernels that are Python references wrapped in
# ``_disable_dynamo``: the first call of any of them imports torch._dynamo (1-3 s per process).
def _cat_meta(tensors, dim: int):
    """``cat`` of contiguous meta tensors of one dtype (others: torch decides the layout)."""
    if not tensors or any(t.dtype != tensors[0].dtype or t.dim() != tensors[0].dim() or not t.is_contiguous()
                          for t in tensors):
        return None
    dim %= tensors[0].dim()
    shape = list(tensors[0].shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return torch.empty(shape, dtype=tensors[0].dtype, device=_META)


def _addmm_meta(bias, mat1, mat2):
    if mat1.dim() != 2 or mat2.dim() != 2 or not (bias.dtype == mat1.dtype == mat2.dtype):
        return None
    return torch.empty((mat1.shape[0], mat2.shape[1]), dtype=mat1.dtype, device=_META)


def _layer_norm_meta(input, normalized_shape):
    """(output, mean, rstd): statistics per normalised row, in float32 for half inputs (as on meta)."""
    if not input.is_floating_point():
        return None
    rows = (*input.shape[:input.dim() - len(normalized_shape)], *([1] * len(normalized_shape)))
    stats = _accumulate_dtype(input.dtype)
    return (_fresh_like(input), torch.empty(rows, dtype=stats, device=_META),
            torch.empty(rows, dtype=stats, device=_META))


def _mm_meta(mat1, mat2):
    """A matrix product (n, m) @ (m, p) -> (n, p), contiguous whatever the operands' strides (as torch's
    kernel makes it): the backward of every Linear runs two."""
    if mat1.dim() != 2 or mat2.dim() != 2 or mat1.dtype != mat2.dtype or mat1.shape[1] != mat2.shape[0]:
        return None
    return torch.empty((mat1.shape[0], mat2.shape[1]), dtype=mat1.dtype, device=_META)


def _adaptive_avg_pool2d_meta(input, output_size):
    """Adaptive average pooling of an NCHW tensor: (N, C, *output_size). torch's meta kernel keeps a
    channels-last input channels-last; that case, and any other, is left to it."""
    if input.dim() != 4 or not input.is_contiguous() or _channels_last_like(input) or len(output_size) != 2:
        return None
    return torch.empty((*input.shape[:2], *output_size), dtype=input.dtype, device=_META)


def _adaptive_avg_pool2d_backward_meta(grad_output, input):
    """The gradient of adaptive average pooling: shaped like its NCHW input (channels-last: torch decides)."""
    if input.dim() != 4 or grad_output.dim() != 4 or grad_output.dtype != input.dtype or 0 in grad_output.shape[1:] \
            or _channels_last_like(input):
        return None
    return torch.empty(input.shape, dtype=input.dtype, device=_META)


def _channels_last_like(t: torch.Tensor) -> bool:
    """The test torch's meta kernels use to keep a tensor channels-last (sizes of 1 make some strides
    both); a Python reference, called only by the rules above, once per pooling."""
    return suggest_memory_format(t) != torch.contiguous_format


def _window(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling window along one dimension (torch's formula)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _contiguous_meta(*tensors) -> bool:
    for t in tensors:
        if t is not None and not (t.is_meta and t.is_contiguous()):
            return False
    return True


def _convolution_meta(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """A non-transposed convolution of contiguous meta tensors (torch's meta kernel is Python)."""
    if transposed or not _contiguous_meta(input, weight, bias):
        return None
    in_shape, w_shape = input.shape, weight.shape
    if len(in_shape) != len(w_shape) or len(in_shape) < 3:
        return None
    if in_shape[1] != w_shape[1] * groups or w_shape[0] % groups or input.dtype != weight.dtype \
            or (bias is not None and tuple(bias.shape) != (w_shape[0],)):
        return None  # a mistake in the model: torch's kernel raises its own error
    spatial = [_window(n, k, s, p, d) for n, k, s, p, d in zip(in_shape[2:], w_shape[2:], stride, padding, dilation)]
    for n in spatial:
        if n < 1:
            return None
    return torch.empty((in_shape[0], w_shape[0], *spatial), dtype=input.dtype, device=_META)


def _convolution_backward_meta(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
                               output_padding, groups, output_mask):
    if not _contiguous_meta(grad_output, input, weight):
        return None
    return (_fresh_like(input) if output_mask[0] else None, _fresh_like(weight) if output_mask[1] else None,
            torch.empty(bias_sizes, dtype=grad_output.dtype, device=_META) if output_mask[2] else None)


def _max_pool2d_meta(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """(output, int64 indices) of 2-d max pooling of a contiguous meta tensor."""
    if not _contiguous_meta(input) or input.dim() not in (3, 4):
        return None
    kernel = _pair(kernel_size, None)
    stride = _pair(stride, kernel)
    padding, dilation = _pair(padding, (0, 0)), _pair(dilation, (1, 1))
    if kernel is None or not len(kernel) == len(stride) == len(padding) == len(dilation) == 2:
        return None  # torch's kernel raises its own error
    spatial = []
    for n, k, s, p, d in zip(input.shape[-2:], kernel, stride, padding, dilation):
        if not 0 <= p <= k // 2 or s < 1 or d < 1:
            return None  # torch's kernel raises its own error
        out = _window(n, k, s, p, d, ceil_mode)
        if out < 1:
            return None
        spatial.append(out)
    shape = (*input.shape[:-2], *spatial)
    return (torch.empty(shape, dtype=input.dtype, device=_META), torch.empty(shape, dtype=torch.int64, device=_META))


def _pair(value, default):
    """A pooling argument as two values: one int, or a list of one or two; an empty list is ``default``."""
    if isinstance(value, (list, tuple)) and value:
        return tuple(value) * 2 if len(value) == 1 else tuple(value)
    return (value, value) if isinstance(value, int) else default


def _reduction_meta(input, dim=None, keepdim=False, *, dtype=None):
    """``mean``/``sum`` over dimensions of a floating tensor. torch's meta path for them is a Python
    reference wrapped in ``_disable_dynamo``, whose first call imports torch._dynamo (1-3 s)."""
    if not input.is_floating_point() or (dtype is not None and dtype != input.dtype):
        return None
    dims = range(input.dim()) if dim is None or (isinstance(dim, (list, tuple)) and not dim) else (
        dim if isinstance(dim, (list, tuple)) else [dim])
    reduced = {d % max(input.dim(), 1) for d in dims}
    shape = [1 if i in reduced else n for i, n in enumerate(input.shape) if keepdim or i not in reduced]
    return torch.empty(shape, dtype=input.dtype, device=_META)


_aten = torch.ops.aten
META_RULES = {
    _aten.native_batch_norm.default: _batch_norm_meta,
    _aten.native_batch_norm_backward.default: _batch_norm_backward_meta,
    # Element-wise backward ops torch does not tag pointwise: grad_input is shaped like grad_output.
    **{getattr(_aten, name).default: _like_first for name in (
        "hardtanh_backward", "hardswish_backward", "hardsigmoid_backward", "leaky_relu_backward", "mish_backward",
        "softplus_backward", "zeros_like", "ones_like", "empty_like")},
    # In-place activations torch does not tag pointwise: they return their argument.
    **{getattr(_aten, name).default: _in_place for name in ("hardswish_", "mish_", "gelu_", "zero_")},
    _aten.fill_.Scalar: _in_place,
    _aten.mean.dim: _reduction_meta,
    _aten.convolution.default: _convolution_meta,
    _aten.convolution_backward.default: _convolution_backward_meta,
    _aten.max_pool2d_with_indices.default: _max_pool2d_meta,
    _aten.max_pool2d_with_indices_backward.default: lambda grad_output, input, *args: (
        _fresh_like(input) if _contiguous_meta(grad_output, input) else None),
    _aten.cat.default: lambda tensors, dim=0: _cat_meta(tensors, dim),
    _aten.addmm.default: lambda bias, mat1, mat2, beta=1, alpha=1: _addmm_meta(bias, mat1, mat2),
    _aten.native_layer_norm.default: lambda input, shape, weight, bias, eps: _layer_norm_meta(input, shape),
    _aten.native_layer_norm_backward.default: lambda grad_out, input, shape, mean, rstd, weight, bias, mask: (
        _fresh_like(input) if mask[0] else None, _fresh_like(weight) if mask[1] and weight is not None else None,
        _fresh_like(bias) if mask[2] and bias is not None else None),
    _aten._safe_softmax.default: lambda input, dim, dtype=None: _fresh_like(input) if dtype is None else None,
    _aten.sum.dim_IntList: _reduction_meta,
    _aten.sum.default: lambda input, dtype=None: _reduction_meta(input, dtype=dtype),  # a loss: x.sum()
    # x.contiguous() of a transposed view (a channel shuffle): row-major; a plain clone is element-wise
    _aten.clone.default: lambda input, memory_format=None: (
        _shaped_like(input, memory_format) if memory_format == torch.contiguous_format else None),
    _aten.mm.default: _mm_meta,
    _aten._adaptive_avg_pool2d.default: _adaptive_avg_pool2d_meta,
    _aten._adaptive_avg_pool2d_backward.default: _adaptive_avg_pool2d_backward_meta,
}


class MetaMemo:
    """Runs an op's meta kernel once per signature (op, shapes, strides, dtypes, other arguments) and
    answers repeats with fresh empty tensors of the same metadata: a network repeats its blocks, and
    meta kernels like batch norm's forward and backward run Python (~1.5 ms each). Ops whose result
    aliases an argument (views, in-place, out=) are never memoised."""

    def __init__(self) -> None:
        self._results: dict[Any, Any] = {}

    def call(self, func, args: tuple, kwargs: dict) -> Any:
        if _returns_alias(func):  # views, in-place and out= ops: cheap C++ kernels, never memoised
            return func(*args, **kwargs)
        key = self._key(func, args, kwargs)
        if key is not None:
            found = self._results.get(key)
            if found is not None:
                return _rebuild(found)
        out = func(*args, **kwargs)
        if key is not None and not _aliases_argument(out, args, kwargs):
            layout = _layout(out)
            if layout is not None:
                self._results[key] = layout
        return out

    @staticmethod
    def _key(func, args: tuple, kwargs: dict) -> Any:
        parts: list[Any] = [func]
        for value in (*args, *sorted(kwargs.items())):
            part = _signature(value)
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)


@functools.lru_cache(maxsize=None)
def _returns_alias(func) -> bool:
    """True when the op's schema says a result aliases an argument (read once per op)."""
    schema = getattr(func, "_schema", None)
    return schema is not None and any(r.alias_info is not None for r in schema.returns)


def _signature(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.device.type != "meta":
            return None
        return ("T", tuple(value.shape), value.stride(), value.dtype, value.requires_grad)
    if isinstance(value, (list, tuple)):
        parts = [_signature(v) for v in value]
        return None if any(p is None for p in parts) else (type(value).__name__, *parts)
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype, torch.device, torch.layout,
                                           torch.memory_format)):
        return ("V", type(value).__name__, value)
    return None


def _layout(out: Any) -> Any:
    if out is None:
        return ("None",)
    if isinstance(out, torch.Tensor):
        if out.device.type != "meta" or out.storage_offset() != 0:
            return None
        return ("T", tuple(out.shape), out.stride(), out.dtype, out.untyped_storage().nbytes())
    if isinstance(out, (tuple, list)):
        parts = [_layout(o) for o in out]
        return None if any(p is None for p in parts) else (type(out), *parts)
    return None


def _rebuild(layout: Any) -> Any:
    if layout[0] == "None":
        return None
    if layout[0] == "T":
        _, shape, stride, dtype, nbytes = layout
        t = torch.empty_strided(shape, stride, dtype=dtype, device=_META)
        return t if t.untyped_storage().nbytes() == nbytes else None
    return layout[0](_rebuild(part) for part in layout[1:])


def _aliases_argument(out: Any, args: tuple, kwargs: dict) -> bool:
    inputs = {id(t.untyped_storage()) for t in tensors_in((args, kwargs))}
    return any(id(t.untyped_storage()) in inputs for t in tensors_in(out))


def answer_on_meta(func, args: tuple, kwargs: dict, memo: MetaMemo) -> Any:
    """``func(*args, **kwargs)`` with meta tensors: a shape rule of ``META_RULES`` when one applies, else
    the element-wise shortcut, else torch's kernel (memoised by ``memo`` unless the result aliases an
    argument). What the op is (its rule, whether it is element-wise, whether it returns an alias) is
    looked up once per op: a training step dispatches thousands of ops, most of them repeats."""
    plan = _PLANS.get(id(func))  # by id: an OpOverload hashes in Python; each lives as long as torch
    if plan is None or plan[0] is not func:
        # An alias op's kernel is called as OpOverload.__call__ calls it (its _op), one Python frame less;
        # so are the C++ kernels of _CHEAP: cheaper than the memo's key.
        direct = _returns_alias(func) or func in _CHEAP
        kernel = getattr(func, "_op", func) if direct else None
        plan = _PLANS[id(func)] = (func, META_RULES.get(func), _pointwise_kind(func), kernel)
    _, rule, pointwise, direct_kernel = plan
    if rule is not None and all_meta(args):
        out = rule(*args, **kwargs)
        if out is not None:
            return out
    if pointwise is not None:
        out = _pointwise_result(pointwise, args, kwargs)
        if out is not None:
            return out
    if direct_kernel is not None:  # views, in-place and out= ops, factories: cheap C++ kernels, never memoised
        return direct_kernel(*args, **kwargs)
    return memo.call(func, args, kwargs)


_PLANS: dict[int, tuple[Any, Any, str | None, Any]] = {}
# Ops with C++ meta kernels that a step runs often: factories (the empty reserve tensor of every training
# batch norm) and the view a channel shuffle's reshape makes.
_CHEAP = frozenset((_aten.empty.memory_format, _aten.empty_strided.default, _aten._unsafe_view.default))
