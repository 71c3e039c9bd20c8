"""Pooling and resampling.

Windowed pooling: one op (compare or add) per window element per output element, counting the window
where it lies on the padded input (``window_reads``: ceil_mode's last window and a window wider than its
input are cut at the edge, as torch's kernel cuts them; HF's EfficientNet pools 7x7 with a 2560 window,
whose full area would be 16.8 GFLOPs for 125,440 reads). Adaptive pooling:
every input element is visited once (fvcore's convention). Upsampling: per output element, the input
points it blends: 1 nearest, 2 linear, 4 bilinear, 8 trilinear, 16 bicubic (fvcore uses 1 and 4 too).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas._util import empty_meta, ntuple, prod
from flopcount.formulas.registry import formula
from flopcount.records import Cost

POINTS_PER_OUTPUT = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 4, "trilinear": 8, "bicubic": 16, "area": 1}


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window must start inside the input (torch's rule)
    return out


def window_reads(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int) -> int:
    """Window positions inside the padded input (``size + 2 * padding``), summed over ``out`` windows."""
    extent = size + 2 * padding
    reach = (kernel - 1) * dilation
    full = min(out, max(0, (extent - 1 - reach) // stride + 1))
    partial = sum(min(kernel, max(0, (extent - 1 - o * stride) // dilation + 1)) for o in range(full, out))
    return full * kernel + partial


def window_flops(input_shape, output_shape, kernel, stride, padding, dilation=None) -> int:
    """One op per window read, over every spatial dim (the leading batch and channel dims multiply)."""
    n = len(kernel)
    dilation = dilation or (1,) * n
    reads = prod(window_reads(input_shape[-n + i], kernel[i], stride[i], padding[i], dilation[i], output_shape[-n + i])
                 for i in range(n))
    return prod(output_shape[:-n]) * reads


def _window_attrs(kernel, stride, padding, ceil_mode=False, dilation=None) -> dict:
    attrs = {"kernel": tuple(kernel), "stride": tuple(stride), "padding": tuple(padding)}
    if ceil_mode:
        attrs["ceil_mode"] = True
    if dilation and any(d != 1 for d in dilation):
        attrs["dilation"] = tuple(dilation)
    return attrs


_SPATIAL_DIMS = {nn.MaxPool1d: 1, nn.AvgPool1d: 1, nn.MaxPool2d: 2, nn.AvgPool2d: 2, nn.MaxPool3d: 3, nn.AvgPool3d: 3}


@formula(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def window_pool_module(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    n = next(dims for cls, dims in _SPATIAL_DIMS.items() if isinstance(module, cls))
    return _window_cost(output, inputs[0], module.kernel_size, module.stride, module.padding,
                        getattr(module, "dilation", 1), module.ceil_mode, n)


@formula(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
         nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
def adaptive_pool_module(module: nn.Module, inputs: tuple, output) -> Cost:
    return Cost(inputs[0].numel(), "pool")


def _window_pool_meta(n: int):
    def rule(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
             *args, **kwargs):
        if return_indices or input.dim() != n + 2 or args or kwargs or not input.is_floating_point():
            return None
        k = ntuple(kernel_size, n)
        s = ntuple(stride if stride not in (None, []) else kernel_size, n)
        p, d = ntuple(padding, n), ntuple(dilation, n)
        if any(p[i] > (d[i] * (k[i] - 1) + 1) // 2 for i in range(n)):
            return None  # padding over half the window: torch raises
        spatial = [pool_output_size(input.shape[2 + i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(n)]
        if min(spatial) < 1:
            return None  # window larger than the input: torch raises
        return empty_meta((*input.shape[:2], *spatial), input)

    return rule


def _avg_pool_meta(n: int):
    window_rule = _window_pool_meta(n)

    def rule(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
        return window_rule(input, kernel_size, stride, padding, 1, ceil_mode)

    return rule


def _window_cost(result, input, kernel_size, stride, padding, dilation, ceil_mode, n: int | None = None) -> Cost:
    n = n or input.dim() - 2  # a module knows its spatial dims; an unbatched input has one dim fewer
    output = result[0] if isinstance(result, tuple) else result
    k, p = ntuple(kernel_size, n), ntuple(padding, n)
    s = ntuple(stride if stride not in (None, []) else kernel_size, n)
    d = ntuple(dilation, n)
    return Cost(window_flops(input.shape, output.shape, k, s, p, d), "pool",
                attrs=_window_attrs(k, s, p, bool(ceil_mode), d))


def _max_pool_cost(result, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *args,
                   **kwargs) -> Cost:
    return _window_cost(result, input, kernel_size, stride, padding, dilation, ceil_mode)


def _avg_pool_cost(result, input, kernel_size, stride=None, padding=0, ceil_mode=False, *args, **kwargs) -> Cost:
    return _window_cost(result, input, kernel_size, stride, padding, 1, ceil_mode)


for _n, _max, _avg in ((1, F.max_pool1d, F.avg_pool1d), (2, F.max_pool2d, F.avg_pool2d), (3, F.max_pool3d, F.avg_pool3d)):
    formula(_max, meta_rule=_window_pool_meta(_n))(_max_pool_cost)
    formula(_avg, meta_rule=_avg_pool_meta(_n))(_avg_pool_cost)


def _adaptive_meta(n: int):
    def rule(input, output_size, *args, **kwargs):
        if args or kwargs.get("return_indices") or input.dim() not in (n + 1, n + 2) or not input.is_floating_point():
            return None  # a rank this pool does not take, integer input: torch's kernel raises
        size = ntuple(output_size, n)
        spatial = [input.shape[input.dim() - n + i] if s is None else s for i, s in enumerate(size)]
        return empty_meta((*input.shape[: input.dim() - n], *spatial), input)

    return rule


def adaptive_pool_function(result, input, output_size, *args, **kwargs) -> Cost:
    return Cost(input.numel(), "pool")


for _n, _avg, _max in ((1, F.adaptive_avg_pool1d, F.adaptive_max_pool1d), (2, F.adaptive_avg_pool2d, F.adaptive_max_pool2d),
                       (3, F.adaptive_avg_pool3d, F.adaptive_max_pool3d)):
    formula(_avg, _max, meta_rule=_adaptive_meta(_n))(adaptive_pool_function)


def resample_flops(output_numel: int, mode: str) -> int:
    return output_numel * POINTS_PER_OUTPUT.get(mode, 1)


@formula(nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
def upsample_module(module: nn.Upsample, inputs: tuple, output: torch.Tensor) -> Cost:
    return Cost(resample_flops(output.numel(), module.mode), "resample", attrs={"mode": module.mode})


@formula(F.interpolate)
def interpolate_function(result, input, size=None, scale_factor=None, mode="nearest", *args, **kwargs) -> Cost:
    return Cost(resample_flops(result.numel(), mode), "resample", attrs={"mode": mode})


@formula(F.grid_sample)
def grid_sample_function(result, input, grid, mode="bilinear", *args, **kwargs) -> Cost:
    return Cost(resample_flops(result.numel(), mode), "resample", attrs={"mode": mode})
