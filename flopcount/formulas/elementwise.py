"""Element-wise arithmetic and reductions: one FLOP per output element (per input element for a
reduction). Residual adds and SE-block multiplies cost ~0 FLOPs but read two tensors and write one:
guideline G4's cost shows up in their MAC.
"""

from __future__ import annotations

import torch

from flopcount.formulas._util import broadcast_shape, empty_like_meta, torch_and_tensor
from flopcount.formulas.registry import formula
from flopcount.records import Cost

_BINARY = ("add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "pow", "remainder", "fmod", "rsub")



_OUT_OF_PLACE = torch_and_tensor(*_BINARY, *(f"__{n}__" for n in ("add", "sub", "mul", "truediv", "pow", "mod")),
                         *(f"__r{n}__" for n in ("add", "sub", "mul", "truediv", "pow", "mod")))
_IN_PLACE = torch_and_tensor(*(f"{n}_" for n in _BINARY), *(f"__i{n}__" for n in ("add", "sub", "mul", "truediv")))


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


def _inplace_meta(input, *args, **kwargs):
    return input


@formula(*_OUT_OF_PLACE, meta_rule=_binary_meta)
def binary_function(result, input, other, *args, **kwargs) -> Cost:
    return Cost(result.numel(), "elementwise")


@formula(*_IN_PLACE, meta_rule=_inplace_meta)
def inplace_binary_function(result, input, other, *args, **kwargs) -> Cost:
    return Cost(result.numel(), "elementwise")


@formula(*torch_and_tensor("addcmul", "addcdiv", "lerp", "where", "neg", "abs", "sqrt", "rsqrt", "log", "reciprocal",
                   "square", "erf", "sin", "cos", "__neg__", "masked_fill", "masked_fill_", "eq", "ne", "gt", "ge", "lt",
                   "le", "__eq__", "__ne__", "__gt__", "__ge__", "__lt__", "__le__", "logical_and", "logical_or",
                   "logical_not", "__and__", "__or__", "__invert__", "sign", "floor", "ceil", "round", "trunc",
                           "clamp_min", "clamp_max", "clamp_min_", "clamp_max_", "tril", "triu"))
def other_elementwise_function(result, *args, **kwargs) -> Cost:
    return Cost(result.numel(), "elementwise")


@formula(*torch_and_tensor("mean", "sum", "amax", "amin", "var", "std", "norm", "logsumexp", "max", "min", "prod", "argmax",
                   "argmin", "cumsum"))
def reduction_function(result, input, *args, **kwargs) -> Cost:
    # Each input element enters the reduction once. `max`/`min` without a dim fold too.
    return Cost(input.numel(), "reduction")
