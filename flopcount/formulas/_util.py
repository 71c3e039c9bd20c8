"""Small shape helpers shared by the formula families."""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

from flopcount.records import Cost


def prod(values: Iterable[int]) -> int:
    return math.prod(int(v) for v in values)


def ntuple(value: Any, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value) if len(value) == n else tuple(value) * (n // max(len(value), 1))
    return (value,) * n


def plain_float(*tensors: Any) -> bool:
    """True when every tensor (None skipped) has one and the same floating dtype: the only case a fast
    shape rule handles; mixed or integer dtypes go to torch's kernels, which refuse them or promote."""
    dtypes = {t.dtype for t in tensors if t is not None}
    return len(dtypes) == 1 and next(iter(dtypes)).is_floating_point


def empty_meta(shape: Iterable[int], like: torch.Tensor) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=like.dtype, device="meta")


def first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def empty_like_meta(t: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like`` for the fast path: same shape, dtype and strides, without its slow stride
    inference when the input is contiguous (the common case)."""
    if t.is_contiguous():
        return torch.empty(t.shape, dtype=t.dtype, device="meta")
    return torch.empty_like(t)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes. Not ``torch.broadcast_shapes``: its first call imports sympy
    (0.3 s), which would dominate a command-line run."""
    result = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + tuple(a)), reversed((1,) * (len(a) - len(b)) + tuple(b))):
        if x != y and 1 not in (x, y):
            raise RuntimeError(f"shapes {tuple(a)} and {tuple(b)} do not broadcast")
        result.append(y if x == 1 else x)
    return tuple(reversed(result))


def torch_and_tensor(*names: str) -> list:
    """``torch.<name>`` and ``torch.Tensor.<name>`` for each name that exists: the two spellings of an op."""
    found = []
    for owner in (torch, torch.Tensor):
        for name in names:
            fn = getattr(owner, name, None)
            if fn is not None and fn not in found:
                found.append(fn)
    return found


def per_element(category: str, flops_per_element: int = 1):
    """A function formula ``(result, *args, **kwargs) -> Cost`` charging ``flops_per_element`` per
    output element: the shape of every element-wise op, activation and softmax."""

    def cost(result, *args, **kwargs) -> Cost:
        output = first_tensor(result)
        return Cost(flops_per_element * output.numel(), category)

    return cost


def per_output_element(category: str, flops_per_element: int = 1):
    """The module-formula form of :func:`per_element`: ``(module, inputs, output) -> Cost``."""
    function_cost = per_element(category, flops_per_element)

    def cost(module, inputs: tuple, output) -> Cost:
        return function_cost(output)

    return cost
