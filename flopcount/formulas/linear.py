"""Fully connected layers and matrix products.

Linear: c_in x c_out multiply-adds for every row, and every leading dim is a row (a 1x197x768 input
is 197 rows; torchinfo 1.8 counted it once). Matrix products: each output element is a dot product
of length K, so FLOPs = output elements x K, whatever the broadcasting.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.formulas._util import empty_meta, plain_float, prod
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
    if input.dim() == 0 or weight.dim() != 2 or input.shape[-1] != weight.shape[1] or not plain_float(input, weight, bias):
        return None  # wrong in_features or dtypes: torch's kernel raises (or promotes) as it would
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), ()):
        return None
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


def _grouped_mm_meta(mat_a, mat_b, offs=None, bias=None, out_dtype=None):
    # torch's meta kernel copies CUDA's bf16-only check, while the CPU kernel takes float32 (transformers'
    # MoE experts on CPU): the rule answers for the two shapes MoE layers use, in any one float dtype.
    if bias is not None or out_dtype is not None or not plain_float(mat_a, mat_b):
        return None
    if mat_a.dim() == 2 and mat_b.dim() == 3 and offs is not None:
        if mat_a.shape[1] == mat_b.shape[1] and offs.shape == (mat_b.shape[0],):
            return empty_meta((mat_a.shape[0], mat_b.shape[2]), mat_a)
    elif mat_a.dim() == 3 and mat_b.dim() == 3 and offs is None:
        if mat_a.shape[0] == mat_b.shape[0] and mat_a.shape[2] == mat_b.shape[1]:
            return empty_meta((mat_a.shape[0], mat_a.shape[1], mat_b.shape[2]), mat_a)
    return None


@formula(torch._grouped_mm, meta_rule=_grouped_mm_meta)
def grouped_mm_function(result, mat_a, mat_b, offs=None, *args, **kwargs) -> Cost:
    # Mixture-of-experts expert path: rows of mat_a (T x K) go to the group that offs assigns them, each
    # multiplied by its group's K x N weight: T x K x N multiply-adds whatever the routing (every row is
    # in exactly one group). 2-D x 2-D splits K into groups instead: M x N x K_total in all. Otherwise a
    # batched product: output elements x K.
    if mat_a.dim() == 2 and mat_b.dim() == 2:
        return Cost(mat_a.shape[0] * mat_b.shape[1] * mat_a.shape[1], "matmul")
    return Cost(result.numel() * mat_a.shape[-1], "matmul")


@formula(torch.addmm, torch.Tensor.addmm, torch.baddbmm, torch.Tensor.baddbmm)
def addmm_function(result, input, mat1, mat2, *, beta=1, alpha=1) -> Cost:
    # The add of `input` is a bias add: not counted, as for Linear.
    return Cost(result.numel() * mat1.shape[-1], "matmul")


_BROADCAST_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # stand for the dims an einsum '...' covers


def _expand_ellipsis(term: str, ndim: int) -> str | None:
    """``term`` with '...' replaced by the last letters of _BROADCAST_LETTERS, one per dim it covers
    (right-aligned, as broadcasting aligns dims); None when the term has more letters than dims."""
    if "..." not in term:
        return term
    covered = ndim - (len(term) - 3)
    if covered < 0:
        return None
    return term.replace("...", _BROADCAST_LETTERS[len(_BROADCAST_LETTERS) - covered:])


def einsum_terms(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str, dict[str, int]] | None:
    """(input terms, output term, size of each letter) of an einsum, '...' spelled out as capital letters;
    None when the equation does not fit the shapes. Without '->' the output is the letters used once plus
    the '...' dims (numpy's rule)."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = [_expand_ellipsis(term, len(shape)) for term, shape in zip(inputs.split(","), shapes)]
    if len(terms) != len(shapes) or any(t is None or len(t) != len(s) for t, s in zip(terms, shapes)):
        return None
    letters = "".join(terms)
    broadcast = "".join(sorted({c for c in letters if c.isupper()}))
    if arrow:
        output = output.replace("...", broadcast)
    else:
        output = broadcast + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c.islower()))
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for letter, size in zip(term, shape):
            sizes[letter] = max(size, sizes.get(letter, 1))  # a broadcast dim of size 1 takes the other
    return terms, output, sizes  # type: ignore[return-value]


def einsum_flops(equation: str, shapes: list[tuple[int, ...]]) -> int | None:
    """Multiply-adds of an einsum contracted left to right, two operands at a time (torch's order
    without opt_einsum): each pairwise product costs the product of the sizes of all its indices."""
    parsed = einsum_terms(equation, shapes)
    if parsed is None:
        return None
    terms, output, sizes = parsed
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
    return None if flops is None else Cost(flops, "matmul", attrs={"equation": equation.replace(" ", "")})
