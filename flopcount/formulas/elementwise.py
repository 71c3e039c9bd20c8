"""Element-wise arithmetic and reductions: one FLOP per output element (per input element for a
reduction). Residual adds and SE-block multiplies cost ~0 FLOPs but read two tensors and write one:
guideline G4's cost shows up in their MAC.
"""

from __future__ import annotations

import torch

from flopcount.formulas._util import broadcast_shape, empty_like_meta, per_element, torch_and_tensor
from flopcount.formulas.registry import formula
from flopcount.records import Cost

_BINARY = ("add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "pow", "remainder", "fmod", "rsub",
           "floor_divide", "bitwise_and", "bitwise_or", "bitwise_xor", "logical_xor", "atan2", "hypot", "fmax", "fmin")
_DUNDERS = ("add", "sub", "mul", "truediv", "floordiv", "pow", "mod", "and", "or", "xor", "lshift", "rshift")

_OUT_OF_PLACE = torch_and_tensor(*_BINARY, *(f"__{n}__" for n in _DUNDERS), *(f"__r{n}__" for n in _DUNDERS))
_IN_PLACE = torch_and_tensor(*(f"{n}_" for n in _BINARY),
                             *(f"__i{n}__" for n in ("add", "sub", "mul", "truediv", "floordiv", "and", "or", "xor")))


def _binary_meta(input, other, *args, **kwargs):
    if kwargs.get("out") is not None:
        return None
    if isinstance(other, torch.Tensor):
        shape = broadcast_shape(input.shape, other.shape)
        dtype = input.dtype if input.dtype == other.dtype else torch.result_type(input, other)
    elif isinstance(input, torch.Tensor):
        shape, dtype = input.shape, torch.result_type(input, other)
    else:
        return None
    if dtype == input.dtype and shape == input.shape:
        return empty_like_meta(input)
    return torch.empty(shape, dtype=dtype, device="meta")


def _inplace_meta(input, other=None, *args, **kwargs):
    # Only the plain case: `other` of the same dtype and a shape that broadcasts to `input`'s own (or a
    # float scalar into a float tensor). Anything else torch refuses or casts: its kernel decides.
    if isinstance(other, torch.Tensor):
        if other.dtype != input.dtype or broadcast_shape(input.shape, other.shape) != tuple(input.shape):
            return None
    elif not input.is_floating_point():
        return None
    return input


binary_function = formula(*_OUT_OF_PLACE, meta_rule=_binary_meta)(per_element("elementwise"))
inplace_binary_function = formula(*_IN_PLACE, meta_rule=_inplace_meta)(per_element("elementwise"))

_UNARY = (
    "addcmul", "addcdiv", "lerp", "neg", "abs", "sqrt", "rsqrt", "log", "log2", "log10", "log1p", "expm1", "exp2",
    "reciprocal", "square", "erf", "erfc", "erfinv", "sin", "cos", "tan", "atan", "asin", "acos", "sinh", "cosh",
    "__neg__", "__abs__", "masked_fill", "masked_fill_", "eq", "ne", "gt", "ge", "lt", "le", "__eq__", "__ne__",
    "__gt__", "__ge__", "__lt__", "__le__", "logical_and", "logical_or", "logical_not", "__invert__", "bitwise_not",
    "sign", "floor", "ceil", "round", "trunc", "frac", "clamp_min", "clamp_max", "clamp_min_", "clamp_max_", "clip",
    "tril", "triu", "isnan", "isinf", "isfinite", "isneginf", "isposinf", "nan_to_num", "isin", "isclose", "outer",
    "polar", "neg_", "abs_", "sqrt_", "rsqrt_", "log_", "reciprocal_", "floor_", "ceil_", "round_", "tril_", "triu_",
)
other_elementwise_function = formula(*torch_and_tensor(*_UNARY))(per_element("elementwise"))


@formula(*torch_and_tensor("where"))
def where_function(result, condition, input=None, other=None, *args, **kwargs) -> Cost:
    # torch.where(cond) with one argument is nonzero(cond, as_tuple=True): a scan of the condition.
    if input is None and other is None:
        return Cost(condition.numel(), "reduction")
    return Cost(result.numel(), "elementwise")


@formula(*torch_and_tensor("aminmax", "var_mean", "std_mean", "logsumexp", "max", "min", "prod", "argmax", "argmin",
                           "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "any", "all", "count_nonzero", "diff"))
def reduction_function(result, input, *args, **kwargs) -> Cost:
    # Each input element enters the reduction once. `max`/`min` without a dim fold too.
    return Cost(input.numel(), "reduction")


def _reduced_dims(input: torch.Tensor, dim) -> tuple[int, ...]:
    """The dims a reduction folds, normalised (every dim for None or ())."""
    rank = max(input.dim(), 1)
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(input.dim()))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % rank for d in dims))


def _reduction(input: torch.Tensor, dim) -> Cost:
    # ``dims`` tells the latency predictor which kernel runs: folding the innermost dims or outer ones.
    try:
        attrs = {"dims": _reduced_dims(input, dim)}
    except TypeError:  # a dim given by name (named tensors)
        attrs = {}
    return Cost(input.numel(), "reduction", attrs=attrs)


@formula(*torch_and_tensor("sum", "mean", "nansum", "nanmean"))
def sum_function(result, input, dim=None, *args, **kwargs) -> Cost:
    return _reduction(input, kwargs.get("dim", dim))


@formula(*torch_and_tensor("amax", "amin"))
def extreme_function(result, input, dim=(), *args, **kwargs) -> Cost:
    return _reduction(input, kwargs.get("dim", dim))


@formula(*torch_and_tensor("var", "std"))
def spread_function(result, input, dim=None, *args, **kwargs) -> Cost:
    return _reduction(input, kwargs.get("dim", None if isinstance(dim, bool) else dim))  # var(x, unbiased)


@formula(*torch_and_tensor("norm"), torch.linalg.vector_norm)
def norm_function(result, input, p_or_ord=2, dim=None, *args, **kwargs) -> Cost:
    return _reduction(input, kwargs.get("dim", dim))
