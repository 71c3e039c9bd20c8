"""torchvision.ops: RoI align (plain and position-sensitive) and deformable convolution.

Registered by :func:`flopcount.formulas.register_optional` once the model's code has imported torchvision
(flopcount never imports it itself: a torchvision built for another torch fails at import). Keyed by the
``torch.ops.torchvision`` operators that torchvision's Python functions call, which the walker sees.

* ``roi_align`` / ``ps_roi_align``: every output element averages ``s x s`` bilinear samples
  (``sampling_ratio`` s > 0), 4 multiply-adds each: ``outputs * s^2 * 4``. With ``sampling_ratio <= 0``
  torchvision picks ``ceil(roi size / output size)`` samples per box, from the boxes' values: shapes do not
  give it, so the call is reported as uncounted (never a guess).
* ``deform_conv2d``: the convolution, ``outputs * (c_in / g) * k_h k_w``, plus the bilinear sampling of
  its input columns, ``N c_in k_h k_w H_out W_out`` samples of 4 multiply-adds (5 with a modulation mask).
* Not counted here, on purpose: ``roi_pool`` / ``ps_roi_pool`` (each bin's size comes from the box
  coordinates) and ``nms`` (the IoU pairs it computes depend on which boxes overlap): the walker reports
  them as uncounted, so a total that contains them says it is a lower bound.
"""

from __future__ import annotations

import torch

from flopcount.formulas.conv import conv_flops
from flopcount.formulas.registry import formula
from flopcount.records import Cost

BILINEAR = 4  # multiply-adds of one bilinear sample: a weighted sum of 4 neighbours

_ops = torch.ops.torchvision


def _and_default(name: str) -> tuple:
    packet = getattr(_ops, name)
    return packet, packet.default


@formula(*_and_default("roi_align"))
def roi_align(result, input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned=False):
    if sampling_ratio <= 0:
        return None  # adaptive: samples per bin from each box's size
    samples = sampling_ratio * sampling_ratio
    return Cost(result.numel() * samples * BILINEAR, "resample",
                attrs={"output": (int(pooled_height), int(pooled_width)), "sampling_ratio": int(sampling_ratio)})


@formula(*_and_default("ps_roi_align"))
def ps_roi_align(result, input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio):
    if sampling_ratio <= 0:
        return None
    output = result[0]  # (output, channel mapping)
    return Cost(output.numel() * sampling_ratio * sampling_ratio * BILINEAR, "resample",
                attrs={"output": (int(pooled_height), int(pooled_width)), "sampling_ratio": int(sampling_ratio)})


@formula(*_and_default("deform_conv2d"))
def deform_conv2d(result, input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w,
                  groups, offset_groups, use_mask):
    kernel = tuple(weight.shape[2:])
    conv = conv_flops(result.numel(), weight.shape[1], kernel)
    n, c_in = input.shape[:2]
    columns = n * c_in * kernel[0] * kernel[1] * result.shape[2] * result.shape[3]
    sampling = columns * (BILINEAR + (1 if use_mask else 0))
    return Cost(conv + sampling, "conv", attrs={"kernel": kernel, "stride": (int(stride_h), int(stride_w)),
                                                "groups": int(groups), "offset_groups": int(offset_groups),
                                                "sampling_flops": sampling})
