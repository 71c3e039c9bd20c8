"""Normalisation layers.

Counted per element, as fvcore does, so the two agree: in inference BatchNorm is one multiply-add to
normalise plus one for the affine transform (folded into the conv in deployment, which is why the
paper total leaves norms out). Where statistics are computed (BatchNorm in training, LayerNorm,
GroupNorm, InstanceNorm): 4 per element (mean, variance, normalise) plus 1 for the affine transform.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas._util import empty_like_meta, empty_meta, plain_float
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def norm_flops(numel: int, affine: bool, computes_statistics: bool) -> int:
    return numel * ((4 if computes_statistics else 1) + (1 if affine else 0))


def _channels_match(input: torch.Tensor, *per_channel: torch.Tensor | None) -> bool:
    return input.dim() >= 2 and all(t is None or tuple(t.shape) == (input.shape[1],) for t in per_channel)


def _batch_norm_meta(input, running_mean, running_var, weight=None, bias=None, *args, **kwargs):
    if not plain_float(input, weight, bias) or not _channels_match(input, running_mean, running_var, weight, bias):
        return None  # channels that do not match the statistics, integer input: torch's kernel raises
    return empty_like_meta(input)


def _layer_norm_meta(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list, torch.Size)) else (normalized_shape,)
    if (not plain_float(input, weight, bias) or tuple(input.shape[input.dim() - len(shape):]) != shape
            or any(t is not None and tuple(t.shape) != shape for t in (weight, bias))):
        return None
    # LayerNorm, GroupNorm and InstanceNorm write a contiguous output whatever the input's layout (they copy
    # a transposed input first); BatchNorm keeps a channels-last one, as empty_like does.
    return empty_meta(input.shape, input)


def _group_norm_meta(input, num_groups, weight=None, bias=None, eps=1e-5):
    if not plain_float(input, weight, bias) or not _channels_match(input, weight, bias) or input.shape[1] % num_groups:
        return None
    return empty_meta(input.shape, input)


def _instance_norm_meta(input, running_mean=None, running_var=None, weight=None, bias=None, *args, **kwargs):
    if (not plain_float(input, weight, bias) or input.dim() < 3
            or not _channels_match(input, running_mean, running_var, weight, bias)):
        return None
    return empty_meta(input.shape, input)


def _batch_norm_cost(numel: int, affine: bool, uses_batch_stats: bool) -> Cost:
    # ``batch_statistics`` tells the latency predictor which kernel runs: eval's per-channel affine
    # transform, or a reduction over the input first (training, or no running statistics).
    return Cost(norm_flops(numel, affine, uses_batch_stats), "norm", attrs={"batch_statistics": uses_batch_stats})


@formula(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
def batch_norm_module(module: nn.BatchNorm2d, inputs: tuple, output: torch.Tensor) -> Cost:
    return _batch_norm_cost(output.numel(), module.affine, module.training or module.running_mean is None)


@formula(nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
def statistics_norm_module(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    affine = getattr(module, "elementwise_affine", None)
    affine = getattr(module, "affine", False) if affine is None else affine
    attrs = {"groups": module.num_groups} if isinstance(module, nn.GroupNorm) else {}
    return Cost(norm_flops(output.numel(), bool(affine), True), "norm", attrs=attrs)


@formula(F.batch_norm, meta_rule=_batch_norm_meta)
def batch_norm_function(result, input, running_mean, running_var, weight=None, bias=None, training=False,
                        momentum=0.1, eps=1e-5) -> Cost:
    return _batch_norm_cost(result.numel(), weight is not None, training or running_mean is None)


@formula(F.layer_norm, meta_rule=_layer_norm_meta)
def layer_norm_function(result, input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Cost:
    return Cost(norm_flops(result.numel(), weight is not None, True), "norm")


@formula(F.group_norm, meta_rule=_group_norm_meta)
def group_norm_function(result, input, num_groups, weight=None, bias=None, eps=1e-5) -> Cost:
    return Cost(norm_flops(result.numel(), weight is not None, True), "norm", attrs={"groups": int(num_groups)})


@formula(F.instance_norm, meta_rule=_instance_norm_meta)
def instance_norm_function(result, input, running_mean=None, running_var=None, weight=None, bias=None,
                           use_input_stats=True, momentum=0.1, eps=1e-5) -> Cost:
    return Cost(norm_flops(result.numel(), weight is not None, use_input_stats), "norm")


@formula(F.normalize)
def normalize_function(result, input, p=2.0, dim=1, eps=1e-12, out=None) -> Cost:
    # The norm (one multiply-add per element) and the division (one per element).
    return Cost(2 * result.numel(), "norm")
