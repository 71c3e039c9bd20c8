"""Scaled dot-product attention on meta as CPU runs it.

torch chooses an attention kernel by device type: on meta it takes the math fallback, which materialises
the L x S attention matrix (and saves it for backward), while CPU and GPU run a fused kernel that keeps
only the output and its log-sum-exp. Memory and training analysis on meta run inside
``fused_attention_as_on_cpu`` so that their peaks are CPU's, not the fallback's.
"""

from __future__ import annotations

import contextlib
import warnings

import torch
from torch.nn.attention import SDPBackend


@contextlib.contextmanager
def fused_attention_as_on_cpu():
    """Scaled dot-product attention on meta takes torch's math fallback (its kernel is chosen by device
    type), which materialises the L x S attention matrix and saves it for backward; on CPU (and GPU)
    torch runs a fused kernel that saves only the output and its log-sum-exp. For the analysis only,
    meta tensors get the kernel CPU would pick (asked with a probe of sequence length 1: same dtype,
    heads, head size and gradients): a kernel registered for AutogradMeta, removed on exit."""
    library = torch.library.Library("aten", "IMPL")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overriding a previously registered kernel"
            library.impl("scaled_dot_product_attention", _attention_as_on_cpu, "AutogradMeta")
        yield
    finally:
        library._destroy()


def _attention_as_on_cpu(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                         enable_gqa=False):
    def probe(t: torch.Tensor) -> torch.Tensor:
        return torch.empty((*t.shape[:-2], 1, t.shape[-1]), dtype=t.dtype).requires_grad_(t.requires_grad)

    if query.dim() == 4 and not enable_gqa:
        # the probe mask needs the mask's gradients too: Swin adds its learned position bias to the mask, and
        # torch takes the math path for a mask that needs a gradient (the flash kernel has none for it)
        mask = None if attn_mask is None else torch.zeros((*attn_mask.shape[:-2], 1, 1), dtype=attn_mask.dtype
                                                          ).requires_grad_(attn_mask.requires_grad)
        choice = torch.ops.aten._fused_sdp_choice(probe(query), probe(key), probe(value), mask, dropout_p,
                                                  is_causal, scale=scale)
        if choice == SDPBackend.FLASH_ATTENTION.value:
            return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)[0]
    return torch.ops.aten._scaled_dot_product_attention_math(
        query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)[0]
