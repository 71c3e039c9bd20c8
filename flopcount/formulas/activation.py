"""Element-wise activations: one FLOP per output element; softmax three (exp, sum, divide).

Their FLOPs are small next to a conv's, but their MAC (read + write every element) is not: that is
ShuffleNet V2's guideline G4, and why they are counted rather than ignored.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas._util import empty_like_meta, empty_meta, per_element, per_output_element
from flopcount.formulas.registry import formula
from flopcount.records import Cost

SOFTMAX_FLOPS_PER_ELEMENT = 3


def _unary_meta(input, *args, **kwargs):
    if not input.is_floating_point():
        return None
    inplace = kwargs.get("inplace", False) or any(a is True for a in args)
    return input if inplace else empty_like_meta(input)


def _inplace_meta(input, *args, **kwargs):
    return input if input.is_floating_point() else None


def _softmax_meta(input, dim=None, _stacklevel=3, dtype=None):
    rank = max(input.dim(), 1)
    if dtype is not None or dim is None or not -rank <= dim < rank or not input.is_floating_point():
        return None  # a dim out of range, an integer input: torch's kernel raises
    return empty_meta(input.shape, input)  # contiguous whatever the input's layout


_per_element_activation = per_element("activation")


# Activations record whether they ran in place: an in-place one allocates no output, and the latency
# predictor times the two forms apart (transformers builds nn.SiLU() and nn.ReLU() out of place).
@formula(nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.Sigmoid, nn.Tanh,
         nn.Hardtanh, nn.ELU, nn.Mish, nn.Softplus, nn.CELU, nn.SELU)
def activation_module(module: nn.Module, inputs: tuple, output) -> Cost:
    return replace(_per_element_activation(output), attrs={"inplace": bool(getattr(module, "inplace", False)),
                                                           **_approximation(getattr(module, "approximate", None))})


def _approximation(approximate) -> dict:
    # GELU's tanh approximation (GPT-2's gelu_new, SigLIP's gelu_pytorch_tanh) is one FLOP an element as the
    # exact one is, but runs 4.5-5.5x slower on CPU (torch 2.13): the latency predictor times it apart
    return {"approximate": approximate} if approximate not in (None, "none") else {}


softmax_module = formula(nn.Softmax, nn.LogSoftmax)(per_output_element("activation", SOFTMAX_FLOPS_PER_ELEMENT))


_OUT_OF_PLACE = (
    F.relu, torch.relu, torch.Tensor.relu, F.relu6, F.hardtanh, F.leaky_relu, F.hardswish, F.hardsigmoid, F.silu,
    F.gelu, F.mish, F.elu, F.selu, F.celu, F.softplus, torch.prelu, torch.sigmoid, torch.Tensor.sigmoid, torch.tanh,
    torch.Tensor.tanh, torch.clamp, torch.Tensor.clamp, torch.exp, torch.Tensor.exp,
)
_IN_PLACE = (
    F.relu_, torch.relu_, torch.Tensor.relu_, F.hardtanh_, F.leaky_relu_, torch.sigmoid_, torch.Tensor.sigmoid_,
    torch.tanh_, torch.Tensor.tanh_, torch.Tensor.clamp_, torch.Tensor.exp_,
)


@formula(*_OUT_OF_PLACE, meta_rule=_unary_meta)
def activation_function(result, *args, **kwargs) -> Cost:
    inplace = bool(kwargs.get("inplace", False) or any(a is True for a in args[1:]))  # F.relu(x, inplace=True)
    return replace(_per_element_activation(result), attrs={"inplace": inplace,
                                                           **_approximation(kwargs.get("approximate"))})


@formula(*_IN_PLACE, meta_rule=_inplace_meta)
def inplace_activation_function(result, *args, **kwargs) -> Cost:
    return replace(_per_element_activation(result), attrs={"inplace": True})


softmax_function = formula(F.softmax, F.log_softmax, torch.softmax, torch.Tensor.softmax, torch.log_softmax,
                           torch.Tensor.log_softmax, meta_rule=_softmax_meta)(
    per_element("activation", SOFTMAX_FLOPS_PER_ELEMENT))
