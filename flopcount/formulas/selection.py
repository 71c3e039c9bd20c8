"""Sorting and selection: comparisons, counted one per element and level like the element-wise
compares (``gt``, ``eq``), in category "reduction".

A sort of n elements along a dim takes n ceil(log2 n) comparisons per row (a merge sort's bound); a
top-k keeps a heap of k: ceil(log2 k) comparisons per element, at least one. Histograms and bin counts
look at each input element once.
"""

from __future__ import annotations

import math

import torch

from flopcount.formulas._util import torch_and_tensor
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def _levels(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _dim_size(input: torch.Tensor, dim: int) -> int:
    return input.shape[dim] if input.dim() else 1


@formula(*torch_and_tensor("sort", "argsort", "msort"))
def sort_function(result, input, dim=-1, *args, **kwargs) -> Cost:
    dim = kwargs.get("dim", dim if isinstance(dim, int) else -1)
    return Cost(input.numel() * _levels(_dim_size(input, dim)), "reduction")


@formula(*torch_and_tensor("topk", "kthvalue"))
def topk_function(result, input, k, *args, **kwargs) -> Cost:
    return Cost(input.numel() * _levels(int(k)), "reduction")


@formula(*torch_and_tensor("median", "nanmedian", "mode", "histc", "bincount", "histogram", "bucketize"))
def scan_function(result, input, *args, **kwargs) -> Cost:
    return Cost(input.numel(), "reduction")
