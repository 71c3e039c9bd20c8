"""Data movement: views, reshapes, concatenation, copies. Zero FLOPs, and MAC only where data moves.

A view (``view``, ``transpose``, ``flatten`` of a contiguous tensor, a basic slice) moves nothing and
costs 0; ``contiguous`` after a transpose, ``cat`` and ``clone`` read and write every element. Whether
an output aliases its input is read off the storages the two share, so ``reshape`` is charged exactly
when it copies. A channel shuffle (view, transpose, contiguous, view) thus costs one read and one write.
Storage identity, not ``_base``: inference-mode tensors have no ``_base``, and ``detach`` shares storage
without one, yet neither copies (the same numbers inside and outside ``no_grad`` and ``inference_mode``).
Casts (``.int()``, ``.to(dtype)``) are copies unless they return their input; index ops (gather,
scatter, index_add, one_hot, nonzero) move what they read and write.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas._util import first_tensor, torch_and_tensor
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def _storage_id(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata  # the StorageImpl: shared by a tensor and all its views, on any device


def aliases(output, source: torch.Tensor | None) -> bool:
    """True when every output tensor is ``source`` itself or a view of its storage."""
    if source is None:
        return False
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    storage = _storage_id(source)
    return all(isinstance(o, torch.Tensor) and (o is source or _storage_id(o) == storage) for o in outputs)


def movement_cost(result, source: torch.Tensor | None) -> Cost:
    if aliases(result, source):
        return Cost(0, "movement", reads=0, writes=0)
    return Cost(0, "movement")



_VIEWS_OR_COPIES = torch_and_tensor(
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "transpose", "permute", "t", "squeeze",
    "unsqueeze", "expand", "expand_as", "narrow", "select", "chunk", "split", "unbind", "contiguous", "movedim",
    "swapaxes", "__getitem__", "unfold", "as_strided", "detach", "tensor_split", "type_as", "to", "float", "half",
    "double", "bfloat16", "cpu", "int", "long", "short", "bool", "byte", "char", "type", "cuda", "view_as_real",
    "view_as_complex", "moveaxis", "hsplit", "vsplit", "split_with_sizes", "diagonal", "real", "imag", "ravel",
    "atleast_1d", "atleast_2d", "atleast_3d",
)


@formula(*_VIEWS_OR_COPIES)
def view_or_copy_function(result, input, *args, **kwargs) -> Cost:
    return movement_cost(result, first_tensor(input))


@formula(*torch_and_tensor("cat", "concat", "concatenate", "stack", "hstack", "vstack", "clone", "repeat", "roll", "flip",
                   "tile", "gather", "index_select", "masked_select", "fill_", "zero_", "repeat_interleave",
                   "take_along_dim", "take", "scatter", "scatter_", "index_copy", "index_copy_", "index_fill",
                   "index_fill_", "index_put", "index_put_", "masked_scatter", "masked_scatter_", "diag", "diag_embed", "block_diag",
                   "dstack", "column_stack", "rot90", "fliplr", "flipud", "nonzero", "argwhere", "unique",
                   "unique_consecutive"),
         F.one_hot, torch.Tensor.copy_)
def copy_function(result, *args, **kwargs) -> Cost:
    return Cost(0, "movement")


@formula(F.pad)
def pad_function(result, input, pad, mode="constant", value=None) -> Cost:
    # 'reflect', 'replicate' and 'circular' read the input in other orders than a constant fill does
    return Cost(0, "movement", attrs={"mode": mode})


@formula(nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
         nn.AlphaDropout, nn.ChannelShuffle)
def free_module(module: nn.Module, inputs: tuple, output) -> Cost:
    # Identity and eval-mode dropout hand back their input; Flatten returns a view when it can.
    return movement_cost(output, first_tensor(inputs))


@formula(F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout)
def dropout_function(result, input, *args, **kwargs) -> Cost:
    return movement_cost(result, input)


@formula(*torch_and_tensor("scatter_add", "scatter_add_", "index_add", "index_add_", "scatter_reduce",
                           "scatter_reduce_", "index_reduce", "index_reduce_"))
def accumulate_function(result, input, dim, index, src=None, *args, **kwargs) -> Cost:
    # One add per source element accumulated into the output.
    source = src if isinstance(src, torch.Tensor) else first_tensor(args) or index
    return Cost(source.numel(), "elementwise")


@formula(torch.Tensor.__setitem__)
def setitem_function(result, input, index, value) -> Cost:
    # x[index] = value writes the selected region: read the value, write as many elements.
    n = value.numel() if isinstance(value, torch.Tensor) else 1
    return Cost(0, "movement", reads=n, writes=n)
