"""Shape rules that answer aten ops on ``meta`` without torch's meta kernels (Python decompositions,
~1.5 ms each for convolution, its backward, pooling and batch norm): each rule computes the result's
shape, strides and dtype for the plain valid case and returns None for anything else, so that torch's
own kernel runs and raises its own error. ``meta_shortcuts.answer_on_meta`` looks them up per op.
"""

from __future__ import annotations

from typing import Any

import torch
from torch._prims_common import suggest_memory_format  # imported by torch itself: no start-up cost

META = torch.device("meta")  # a device object: torch parses a "meta" string on every call


def fresh_like(t: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like`` on meta without its Python reference implementation (~0.2 ms a call)."""
    if t.is_contiguous():
        return torch.empty(t.shape, dtype=t.dtype, device=META)
    return torch.empty_like(t)


def _accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _batch_norm_meta(input, weight, bias, running_mean, running_var, training, momentum, eps):
    # torch's own meta kernel for this is a Python decomposition (~5 ms); tests compare with it.
    stats = (input.shape[1],) if training else (0,)
    dtype = _accumulate_dtype(input.dtype)
    return (fresh_like(input), torch.empty(stats, dtype=dtype, device=META),
            torch.empty(stats, dtype=dtype, device=META))


def _batch_norm_backward_meta(grad_out, input, weight, running_mean, running_var, save_mean, save_invstd, train,
                              eps, output_mask):
    channels = (input.shape[1],)
    dtype = weight.dtype if weight is not None else input.dtype
    return (fresh_like(input) if output_mask[0] else None,
            torch.empty(channels, dtype=dtype, device=META) if output_mask[1] else None,
            torch.empty(channels, dtype=dtype, device=META) if output_mask[2] else None)


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
        return fresh_like(input)
    if memory_format == torch.contiguous_format:
        return torch.empty(input.shape, dtype=input.dtype, device=META)
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
    return torch.empty(shape, dtype=tensors[0].dtype, device=META)


def _addmm_meta(bias, mat1, mat2):
    if mat1.dim() != 2 or mat2.dim() != 2 or not (bias.dtype == mat1.dtype == mat2.dtype):
        return None
    return torch.empty((mat1.shape[0], mat2.shape[1]), dtype=mat1.dtype, device=META)


def _layer_norm_meta(input, normalized_shape):
    """(output, mean, rstd): statistics per normalised row, in float32 for half inputs (as on meta)."""
    if not input.is_floating_point():
        return None
    rows = (*input.shape[:input.dim() - len(normalized_shape)], *([1] * len(normalized_shape)))
    stats = _accumulate_dtype(input.dtype)
    return (fresh_like(input), torch.empty(rows, dtype=stats, device=META),
            torch.empty(rows, dtype=stats, device=META))


def _mm_meta(mat1, mat2):
    """A matrix product (n, m) @ (m, p) -> (n, p), contiguous whatever the operands' strides (as torch's
    kernel makes it): the backward of every Linear runs two."""
    if mat1.dim() != 2 or mat2.dim() != 2 or mat1.dtype != mat2.dtype or mat1.shape[1] != mat2.shape[0]:
        return None
    return torch.empty((mat1.shape[0], mat2.shape[1]), dtype=mat1.dtype, device=META)


def _adaptive_avg_pool2d_meta(input, output_size):
    """Adaptive average pooling of an NCHW tensor: (N, C, *output_size). torch's meta kernel keeps a
    channels-last input channels-last; that case, and any other, is left to it."""
    if input.dim() != 4 or not input.is_contiguous() or _channels_last_like(input) or len(output_size) != 2:
        return None
    return torch.empty((*input.shape[:2], *output_size), dtype=input.dtype, device=META)


def _adaptive_avg_pool2d_backward_meta(grad_output, input):
    """The gradient of adaptive average pooling: shaped like its NCHW input (channels-last: torch decides)."""
    if input.dim() != 4 or grad_output.dim() != 4 or grad_output.dtype != input.dtype or 0 in grad_output.shape[1:] \
            or _channels_last_like(input):
        return None
    return torch.empty(input.shape, dtype=input.dtype, device=META)


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
    rank = len(in_shape) - 2
    # A conv with padding="valid" or "same" reaches aten with one value for every spatial dim (padding [0]):
    # zip() over it read one dim and made a 4-D conv's output 3-D. One value stands for all, as torch expands it.
    stride, padding, dilation = ([*v] * rank if len(v) == 1 else [*v] for v in (stride, padding, dilation))
    if not len(stride) == len(padding) == len(dilation) == rank:
        return None
    spatial = [_window(n, k, s, p, d) for n, k, s, p, d in zip(in_shape[2:], w_shape[2:], stride, padding, dilation)]
    for n in spatial:
        if n < 1:
            return None
    return torch.empty((in_shape[0], w_shape[0], *spatial), dtype=input.dtype, device=META)


def _convolution_backward_meta(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
                               output_padding, groups, output_mask):
    if not _contiguous_meta(grad_output, input, weight):
        return None
    return (fresh_like(input) if output_mask[0] else None, fresh_like(weight) if output_mask[1] else None,
            torch.empty(bias_sizes, dtype=grad_output.dtype, device=META) if output_mask[2] else None)


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
    return (torch.empty(shape, dtype=input.dtype, device=META), torch.empty(shape, dtype=torch.int64, device=META))


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
    return torch.empty(shape, dtype=input.dtype, device=META)


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
        fresh_like(input) if _contiguous_meta(grad_output, input) else None),
    _aten.cat.default: lambda tensors, dim=0: _cat_meta(tensors, dim),
    _aten.addmm.default: lambda bias, mat1, mat2, beta=1, alpha=1: _addmm_meta(bias, mat1, mat2),
    _aten.native_layer_norm.default: lambda input, shape, weight, bias, eps: _layer_norm_meta(input, shape),
    _aten.native_layer_norm_backward.default: lambda grad_out, input, shape, mean, rstd, weight, bias, mask: (
        fresh_like(input) if mask[0] else None, fresh_like(weight) if mask[1] and weight is not None else None,
        fresh_like(bias) if mask[2] and bias is not None else None),
    _aten._safe_softmax.default: lambda input, dim, dtype=None: fresh_like(input) if dtype is None else None,
    _aten.sum.dim_IntList: _reduction_meta,
    _aten.sum.default: lambda input, dtype=None: _reduction_meta(input, dtype=dtype),  # a loss: x.sum()
    # x.contiguous() of a transposed view (a channel shuffle): row-major; a plain clone is element-wise
    _aten.clone.default: lambda input, memory_format=None: (
        _shaped_like(input, memory_format) if memory_format == torch.contiguous_format else None),
    _aten.mm.default: _mm_meta,
    _aten._adaptive_avg_pool2d.default: _adaptive_avg_pool2d_meta,
    _aten._adaptive_avg_pool2d_backward.default: _adaptive_avg_pool2d_backward_meta,
}
