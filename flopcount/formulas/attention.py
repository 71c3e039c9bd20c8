"""Attention: the matrix products of scaled dot-product attention and of nn.MultiheadAttention.

For queries of length L, keys/values of length S, per batch element and head dimension d summed over
heads (= embed dim E): scores Q K^T take L S E multiply-adds, the weighted sum of values L S E_v.
MultiheadAttention adds its input projections (L E^2 + S k_dim E + S v_dim E) and output projection
(L E^2). The softmax between them is not a multiply-add and is left out of this paper-total figure.
Counted from the module's own attributes, so the fused fast path that nn.MultiheadAttention takes in
eval mode (where torch's FlopCounterMode sees no matmul) counts the same.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from flopcount.formulas._util import plain_float, prod
from flopcount.formulas.registry import formula
from flopcount.records import Cost


def sdpa_flops(batch: int, query_len: int, key_len: int, qk_dim: int, value_dim: int) -> int:
    return batch * query_len * key_len * (qk_dim + value_dim)


def multihead_attention_flops(batch: int, query_len: int, key_len: int, embed_dim: int, kdim: int, vdim: int) -> int:
    projections = batch * (query_len * embed_dim * embed_dim + key_len * kdim * embed_dim + key_len * vdim * embed_dim)
    output_projection = batch * query_len * embed_dim * embed_dim
    return projections + sdpa_flops(batch, query_len, key_len, embed_dim, embed_dim) + output_projection


@formula(nn.MultiheadAttention)
def multihead_attention_module(module: nn.MultiheadAttention, inputs: tuple, output) -> Cost:
    query, key = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    if query.dim() == 3:
        batch_dim, seq_dim = (0, 1) if module.batch_first else (1, 0)
        batch, query_len, key_len = query.shape[batch_dim], query.shape[seq_dim], key.shape[seq_dim]
    else:  # unbatched (L, E)
        batch, query_len, key_len = 1, query.shape[0], key.shape[0]
    key_len += int(module.bias_k is not None) + int(module.add_zero_attn)
    flops = multihead_attention_flops(batch, query_len, key_len, module.embed_dim, module.kdim, module.vdim)
    # batch and lengths as batch_first reads them, for the latency predictor: a cross-attention call (a pooling
    # head's one query over 196 tokens) costs its keys' projections, which the query's shape does not show
    return Cost(flops, "attention", attrs={"heads": module.num_heads, "batch": batch, "query_len": query_len,
                                           "key_len": key_len})


def _sdpa_meta(query, key, value, *args, **kwargs):
    if (not plain_float(query, key, value) or not query.dim() == key.dim() == value.dim() >= 2
            or query.shape[:-2] != key.shape[:-2] or key.shape[:-1] != value.shape[:-1]
            or query.shape[-1] != key.shape[-1] or kwargs.get("enable_gqa")):
        return None  # mismatched heads, lengths, dims or dtypes (or grouped queries): torch's kernel decides
    if value.shape[-1] == query.shape[-1]:
        # torch's CPU kernel writes the output in the query's layout: transformers' heads, split off tokens by a
        # permute, come back token-major, and the transpose + reshape after it is a view, not a copy
        return torch.empty_like(query)
    return torch.empty((*query.shape[:-1], value.shape[-1]), dtype=query.dtype, device="meta")


@formula(F.scaled_dot_product_attention, meta_rule=_sdpa_meta)
def sdpa_function(result, query, key, value, *args, **kwargs) -> Cost:
    batch = prod(query.shape[:-2])
    mask = kwargs.get("attn_mask", args[0] if args else None)
    causal = bool(kwargs.get("is_causal", args[2] if len(args) > 2 else False))
    # not in the count (a causal or masked call is counted in full, as fvcore and FlopCounterMode count it), but
    # torch's CPU kernel runs differently with them: the latency predictor times them so (predict/kernels.py)
    return Cost(sdpa_flops(batch, query.shape[-2], key.shape[-2], query.shape[-1], value.shape[-1]), "attention",
                attrs={"masked": mask is not None, "causal": causal})
