"""Fully connected layers and matrix products.

Linear: c_in x c_out multiply-adds for every row, and every leading dim is a row (a 1x197x768 input
is 197 rows; torchinfo 1.8 counted it once). Matrix products: each output element is a dot product
of length K, so FLOPs = output elements x K, whatever the broadcasting.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.formulas._util import empty_meta, prod
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def linear_flops(output_numel: int, in_features: int) -> int:
    return output_numel * in_features


def bilinear_flops(rows: int, in1: int, in2: int, out: int) -> int:
    # y_k = x1^T A_k x2: A_k x2 takes in1*in2 multiply-adds, the dot with x1 another in1.
    return rows * out * (in1 * in2 + in1)


@formula(nn.Linear)
def linear_module(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> Cost:
    return Cost(linear_flops(output.numel(), module.in_features), "linear")


def _linear_meta(input, weight, bias=None):
    return empty_meta((*input.shape[:-1], weight.shape[0]), input)


@formula(torch._C._nn.linear, meta_rule=_linear_meta)
def linear_function(result, input, weight, bias=None) -> Cost:
    return Cost(linear_flops(result.numel(), weight.shape[-1]), "linear")


@formula(nn.Bilinear)
def bilinear_module(module: nn.Bilinear, inputs: tuple, output: torch.Tensor) -> Cost:
    rows = output.numel() // module.out_features
    return Cost(bilinear_flops(rows, module.in1_features, module.in2_features, module.out_features), "linear")


def _contraction_length(a: torch.Tensor) -> int:
    return a.shape[-1] if a.dim() >= 1 else 1


@formula(torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.Tensor.mm, torch.bmm, torch.Tensor.bmm)
def matmul_function(result, input, other, *, out=None) -> Cost:
    return Cost(result.numel() * _contraction_length(input), "matmul")


@formula(torch.Tensor.__rmatmul__)
def rmatmul_function(result, input, other) -> Cost:
    # a.__rmatmul__(b) computes b @ a
    return Cost(result.numel() * _contraction_length(other), "matmul")


@formula(torch.addmm, torch.Tensor.addmm, torch.baddbmm, torch.Tensor.baddbmm)
def addmm_function(result, input, mat1, mat2, *, beta=1, alpha=1) -> Cost:
    # The add of `input` is a bias add: not counted, as for Linear.
    return Cost(result.numel() * mat1.shape[-1], "matmul")


def einsum_flops(equation: str, shapes: list[tuple[int, ...]]) -> int | None:
    """Multiply-adds of an einsum contracted left to right, two operands at a time (torch's order
    without opt_einsum): each pairwise product costs the product of the sizes of all its indices."""
    equation = equation.replace(" ", "")
    if "..." in equation or "->" not in equation:
        return None  # ellipsis and implicit output: not worth guessing
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        return None
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        sizes.update(zip(term, shape))
    if len(terms) == 1:
        return 0  # a transpose, trace or sum: no products
    flops, current = 0, terms[0]
    for i, term in enumerate(terms[1:], start=1):
        indices = set(current) | set(term)
        flops += prod(sizes[c] for c in indices)
        needed = set(output).union(*terms[i + 1:])
        current = "".join(c for c in sorted(indices) if c in needed)
    return flops


@formula(torch.einsum)
def einsum_function(result, equation, *operands) -> Cost | None:
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    flops = einsum_flops(equation, [tuple(t.shape) for t in operands])
    return None if flops is None else Cost(flops, "matmul")
