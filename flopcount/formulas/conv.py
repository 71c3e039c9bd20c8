"""Convolutions: standard, group, depthwise (any number of spatial dims) and transposed.

Per DESIGN.md (seed section 1.2), with N batch and an output of spatial size H x W:
    standard / group conv: k_h k_w c_in c_out H W N / g  = output elements x (c_in / g) x k_h k_w
    depthwise (g = c_in):  k_h k_w c_out H W N            (the same formula with c_in / g = 1)
    transposed conv:       k_h k_w c_in c_out H_in W_in N / g = input elements x (c_out / g) x k_h k_w
Bias adds are not counted (papers and fvcore agree); bias parameters are.
"""

from __future__ import annotations

import torch
from torch import nn

from flopcount.formulas._util import empty_meta, ntuple, plain_float, prod
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def conv_flops(output_numel: int, in_channels_per_group: int, kernel_size: tuple[int, ...]) -> int:
    return output_numel * in_channels_per_group * prod(kernel_size)


def conv_transpose_flops(input_numel: int, out_channels_per_group: int, kernel_size: tuple[int, ...]) -> int:
    # Each input element is scattered into c_out/g x k outputs: the *input* size counts, not the output
    # size (thop, torchinfo and torchscan use the output and report s^2 times too much).
    return input_numel * out_channels_per_group * prod(kernel_size)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, output_padding: int = 0,
                     transposed: bool = False) -> int:
    if transposed:
        return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _attrs(kernel, stride, padding, dilation, groups, *, transposed=False, padding_mode="zeros") -> dict:
    attrs = {"kernel": tuple(kernel), "stride": tuple(stride),
             "padding": padding if isinstance(padding, str) else tuple(padding), "dilation": tuple(dilation),
             "groups": int(groups)}
    if transposed:  # the same attrs describe a different kernel
        attrs["transposed"] = True
    if padding_mode != "zeros":  # reflect/replicate/circular: torch pads a copy first, then convolves unpadded
        attrs["padding_mode"] = padding_mode
    return attrs


@formula(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def conv_module(module: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> Cost:
    flops = conv_flops(output.numel(), module.in_channels // module.groups, module.kernel_size)
    attrs = _attrs(module.kernel_size, module.stride, module.padding, module.dilation, module.groups,
                   padding_mode=module.padding_mode)
    return Cost(flops, "conv", attrs=attrs)


@formula(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def conv_transpose_module(module: nn.ConvTranspose2d, inputs: tuple, output: torch.Tensor) -> Cost:
    flops = conv_transpose_flops(inputs[0].numel(), module.out_channels // module.groups, module.kernel_size)
    attrs = _attrs(module.kernel_size, module.stride, module.padding, module.dilation, module.groups, transposed=True)
    return Cost(flops, "conv", attrs=attrs)


def _conv_meta(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    n = weight.dim() - 2
    if isinstance(padding, str) or input.dim() != n + 2 or not plain_float(input, weight, bias):
        return None  # 'same' padding, unbatched input, mixed dtypes: torch's kernel decides
    if input.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups:
        return None  # channels that do not match the groups: torch raises
    stride, padding, dilation = ntuple(stride, n), ntuple(padding, n), ntuple(dilation, n)
    spatial = [conv_output_size(input.shape[2 + i], weight.shape[2 + i], stride[i], padding[i], dilation[i]) for i in range(n)]
    if min(spatial) < 1:
        return None  # kernel larger than the padded input
    shape = (input.shape[0], weight.shape[0], *spatial)
    if input.is_contiguous() and weight.is_contiguous():
        return empty_meta(shape, input)
    layout = _backend_memory_format(input, weight, stride, padding, dilation, groups)
    return torch.empty(shape, dtype=input.dtype, device="meta", memory_format=layout)


def _backend_memory_format(input, weight, stride, padding, dilation, groups) -> torch.memory_format:
    """The layout torch's CPU conv writes for these strides (channels-last only where the backend runs it so:
    a token-major view fed to a depthwise conv is copied to NCHW first, a channels-last model stays so),
    asked of torch itself on CPU stand-ins (empty: address space only)."""
    if input.dim() != 4:
        return torch.contiguous_format
    cpu = [torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="cpu") for t in (input, weight)]
    backend = torch._C._select_conv_backend(*cpu, None, list(stride), list(padding), list(dilation), False, [0, 0],
                                            groups, None)
    return torch._C._conv_determine_backend_memory_format(*cpu, backend)


@formula(torch.conv1d, torch.conv2d, torch.conv3d, meta_rule=_conv_meta)
def conv_function(result, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Cost:
    n = weight.dim() - 2
    attrs = _attrs(weight.shape[2:], ntuple(stride, n), padding if isinstance(padding, str) else ntuple(padding, n),
                   ntuple(dilation, n), groups)
    return Cost(conv_flops(result.numel(), weight.shape[1], tuple(weight.shape[2:])), "conv", attrs=attrs)


def _conv_transpose_meta(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    n = weight.dim() - 2
    if input.dim() != n + 2 or not plain_float(input, weight, bias) or input.shape[1] != weight.shape[0]:
        return None
    stride, padding, dilation = ntuple(stride, n), ntuple(padding, n), ntuple(dilation, n)
    output_padding = ntuple(output_padding, n)
    spatial = [
        conv_output_size(input.shape[2 + i], weight.shape[2 + i], stride[i], padding[i], dilation[i], output_padding[i], True)
        for i in range(n)
    ]
    if min(spatial) < 1:
        return None
    return empty_meta((input.shape[0], weight.shape[1] * groups, *spatial), input)


@formula(torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d, meta_rule=_conv_transpose_meta)
def conv_transpose_function(result, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Cost:
    # weight is (c_in, c_out / g, k...)
    n = weight.dim() - 2
    attrs = _attrs(weight.shape[2:], ntuple(stride, n), ntuple(padding, n), ntuple(dilation, n), groups, transposed=True)
    return Cost(conv_transpose_flops(input.numel(), weight.shape[1], tuple(weight.shape[2:])), "conv", attrs=attrs)
