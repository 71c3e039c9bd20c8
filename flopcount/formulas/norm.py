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

from flopcount.formulas._util import empty_like_meta
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def norm_flops(numel: int, affine: bool, computes_statistics: bool) -> int:
    return numel * ((4 if computes_statistics else 1) + (1 if affine else 0))


def _same_as_input(input, *args, **kwargs):
    return empty_like_meta(input)


@formula(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
def batch_norm_module(module: nn.BatchNorm2d, inputs: tuple, output: torch.Tensor) -> Cost:
    uses_batch_stats = module.training or module.running_mean is None
    return Cost(norm_flops(output.numel(), module.affine, uses_batch_stats), "norm")


@formula(nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
def statistics_norm_module(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    affine = getattr(module, "elementwise_affine", None)
    affine = getattr(module, "affine", False) if affine is None else affine
    return Cost(norm_flops(output.numel(), bool(affine), True), "norm")


@formula(F.batch_norm, meta_rule=_same_as_input)
def batch_norm_function(result, input, running_mean, running_var, weight=None, bias=None, training=False,
                        momentum=0.1, eps=1e-5) -> Cost:
    uses_batch_stats = training or running_mean is None
    return Cost(norm_flops(result.numel(), weight is not None, uses_batch_stats), "norm")


@formula(F.layer_norm, meta_rule=_same_as_input)
def layer_norm_function(result, input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Cost:
    return Cost(norm_flops(result.numel(), weight is not None, True), "norm")


@formula(F.group_norm, meta_rule=_same_as_input)
def group_norm_function(result, input, num_groups, weight=None, bias=None, eps=1e-5) -> Cost:
    return Cost(norm_flops(result.numel(), weight is not None, True), "norm")


@formula(F.instance_norm, meta_rule=_same_as_input)
def instance_norm_function(result, input, running_mean=None, running_var=None, weight=None, bias=None,
                           use_input_stats=True, momentum=0.1, eps=1e-5) -> Cost:
    return Cost(norm_flops(result.numel(), weight is not None, use_input_stats), "norm")


@formula(F.normalize)
def normalize_function(result, input, p=2.0, dim=1, eps=1e-12, out=None) -> Cost:
    # The norm (one multiply-add per element) and the division (one per element).
    return Cost(2 * result.numel(), "norm")
