"""Embedding lookups: no arithmetic; they read the indices and the rows they gather, and write them."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas.registry import formula
from flopcount.records import Cost


def embedding_cost(indices: torch.Tensor, output: torch.Tensor) -> Cost:
    # Only the gathered rows are read, not the whole table: the generic "read every argument" rule
    # would charge a 50k x 768 table on every lookup. Indices are read at their own size (int64: 8 bytes).
    rows = output.numel()
    return Cost(0, "embedding", reads=indices.numel() + rows, writes=rows,
                read_bytes=indices.numel() * indices.element_size() + rows * output.element_size())


@formula(nn.Embedding)
def embedding_module(module: nn.Embedding, inputs: tuple, output: torch.Tensor) -> Cost:
    return embedding_cost(inputs[0], output)


@formula(F.embedding)
def embedding_function(result, input, weight, *args, **kwargs) -> Cost:
    return embedding_cost(input, result)
