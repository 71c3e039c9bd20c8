"""Element-wise activations: one FLOP per output element; softmax three (exp, sum, divide).

Their FLOPs are small next to a conv's, but their MAC (read + write every element) is not: that is
ShuffleNet V2's guideline G4, and why they are counted rather than ignored.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas._util import empty_like_meta
from flopcount.formulas.registry import formula
from flopcount.records import Cost

SOFTMAX_FLOPS_PER_ELEMENT = 3


def _unary_meta(input, *args, **kwargs):
    inplace = kwargs.get("inplace", False) or any(a is True for a in args)
    return input if inplace else empty_like_meta(input)


def _inplace_meta(input, *args, **kwargs):
    return input


def _softmax_meta(input, dim=None, _stacklevel=3, dtype=None):
    return empty_like_meta(input) if dtype is None else None


@formula(nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.Sigmoid,
         nn.Tanh, nn.Hardtanh, nn.ELU, nn.Mish, nn.Softplus, nn.CELU, nn.SELU)
def activation_module(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    return Cost(output.numel(), "activation")


@formula(nn.Softmax, nn.LogSoftmax)
def softmax_module(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    return Cost(SOFTMAX_FLOPS_PER_ELEMENT * output.numel(), "activation")


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
def activation_function(result, input, *args, **kwargs) -> Cost:
    return Cost(result.numel(), "activation")


@formula(*_IN_PLACE, meta_rule=_inplace_meta)
def inplace_activation_function(result, input, *args, **kwargs) -> Cost:
    return Cost(result.numel(), "activation")


@formula(F.softmax, F.log_softmax, torch.softmax, torch.Tensor.softmax, torch.log_softmax, torch.Tensor.log_softmax,
         meta_rule=_softmax_meta)
def softmax_function(result, input, *args, **kwargs) -> Cost:
    return Cost(SOFTMAX_FLOPS_PER_ELEMENT * result.numel(), "activation")
