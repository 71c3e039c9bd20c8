"""Backward FLOPs (multiply-adds) of one recorded forward call, split into input and weight gradients.

Pure functions of the record's shapes, its forward FLOPs and which of its tensors need a gradient,
one rule per category, registered with ``@backward_rule`` (a category registered twice is refused).

* conv, linear, matmul: each gradient is one product as large as the forward's. For a convolution
  the input gradient is a transposed convolution and the weight gradient a correlation of the input
  with the output gradient, both k_h k_w c_in c_out H W N / g multiply-adds: per group, like the
  forward. (torch 2.13's FlopCounterMode counts a grouped conv's weight gradient as a dense conv: for a
  depthwise conv with 32 channels, forward + backward reads 1 + 1 + 32 = 34x the forward, not 3x.) A tensor that needs
  no gradient costs nothing: a frozen weight skips its weight gradient, the first layer (whose input
  is the data) its input gradient.
* attention: dV and dP cost L S d_v each, dQ and dK L S d each: twice the forward when all are needed.
  nn.MultiheadAttention adds its projections' gradients (one product per projection and gradient).
* every other category (norms, activations, pooling, element-wise, copies): the input gradient is
  counted as the forward's count (one per element, the same convention as the forward), no weight
  gradient; bias and norm-affine gradients are sums, not multiply-adds, like bias adds forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flopcount.errors import DuplicateRegistrationError
from flopcount.records import FROM_STATE, LayerRecord


@dataclass(frozen=True)
class GradNeeds:
    """Which tensors of one call need a gradient: each tensor input (in the record's input order) and
    the module's own parameters (module records only)."""

    inputs: tuple[bool, ...]
    weights: bool = False

    def input(self, position: int) -> bool:
        return position < len(self.inputs) and self.inputs[position]


@dataclass(frozen=True)
class BackwardCost:
    input_grad: int
    weight_grad: int

    @property
    def total(self) -> int:
        return self.input_grad + self.weight_grad


BackwardRule = Callable[[LayerRecord, GradNeeds], BackwardCost]
BACKWARD_RULES: dict[str, BackwardRule] = {}


def backward_rule(*categories: str):
    def decorate(fn: BackwardRule) -> BackwardRule:
        for category in categories:
            if category in BACKWARD_RULES:
                raise DuplicateRegistrationError(f"a backward rule for {category!r} is already registered")
            BACKWARD_RULES[category] = fn
        return fn

    return decorate


def backward_cost(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    return BACKWARD_RULES.get(record.category, _elementwise)(record, needs)


def _operand_grads(record: LayerRecord, needs: GradNeeds, positions) -> BackwardCost:
    """One forward-sized product per operand that needs a gradient; a model parameter's is a weight gradient."""
    input_grad = weight_grad = 0
    for position in positions:
        if not needs.input(position):
            continue
        is_weight = position < len(record.input_from) and record.input_from[position] == FROM_STATE
        if is_weight:
            weight_grad += record.flops
        else:
            input_grad += record.flops
    return BackwardCost(input_grad, weight_grad)


@backward_rule("conv", "linear")
def weighted_layer(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    if record.source == "module":
        return BackwardCost(record.flops if needs.input(0) else 0, record.flops if needs.weights else 0)
    return _operand_grads(record, needs, (0, 1))  # conv2d(input, weight, bias...), linear(input, weight, bias)


_BIAS_FIRST = {"addmm", "baddbmm"}  # addmm(bias, mat1, mat2): the bias's gradient is a sum


@backward_rule("matmul")
def matrix_product(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    if record.op == "einsum":
        positions = range(len(needs.inputs))
    elif record.op in _BIAS_FIRST:
        positions = (1, 2)
    else:
        positions = (0, 1)
    return _operand_grads(record, needs, positions)


@backward_rule("attention")
def attention(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    if record.source == "module":
        return _multihead_attention(record, needs)
    q, k, v = record.inputs[:3]
    batch_query_key = record.flops // (q.shape[-1] + v.shape[-1])  # B L S
    grads = 0
    if needs.input(2):
        grads += batch_query_key * v.shape[-1]  # dV = P^T dO
    if needs.input(0) or needs.input(1):
        grads += batch_query_key * v.shape[-1]  # dP = dO V^T
    grads += batch_query_key * q.shape[-1] * (int(needs.input(0)) + int(needs.input(1)))  # dQ = dS K, dK = dS^T Q
    return BackwardCost(grads, 0)


def _multihead_attention(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    # Forward = projections of q, k, v (each numel x E) + attention core + output projection (numel x E).
    embed = record.outputs[0].shape[-1]
    projections = [spec.numel * embed for spec in record.inputs[:3]]
    projections += [projections[0]] * (3 - len(projections))  # query given alone: self-attention
    out_projection = record.outputs[0].numel * embed
    core = record.flops - sum(projections) - out_projection
    flags = [*needs.inputs[:3], *[needs.input(0)] * (3 - len(needs.inputs[:3]))]
    anything = needs.weights or any(flags)
    input_grad = (out_projection + 2 * core) if anything else 0  # dO through out_proj, then the core
    input_grad += sum(p for p, flag in zip(projections, flags) if flag)
    weight_grad = sum(projections) + out_projection if needs.weights else 0
    return BackwardCost(input_grad, weight_grad)


@backward_rule("embedding", "uncounted")
def no_products(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    # An embedding's weight gradient scatters rows (no multiply-adds); an uncounted op stays uncounted.
    return BackwardCost(0, 0)


def _elementwise(record: LayerRecord, needs: GradNeeds) -> BackwardCost:
    return BackwardCost(record.flops if any(needs.inputs) or needs.weights else 0, 0)
