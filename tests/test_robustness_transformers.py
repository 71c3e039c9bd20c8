"""Hugging Face transformer configs (tiny sizes; skipped without transformers): meta and cpu agree, every
op is counted (no false lower bound from a `@torch.no_grad()` forward), and MoE experts are counted."""

from __future__ import annotations

import pytest
import torch

from flopcount import analyze

transformers = pytest.importorskip("transformers")

_SIZES = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2)

# Per layer, 8 tokens, hidden 64, 4 heads of 16, 2 KV heads (32 wide):
#   q 8*64*64 = 32,768; k, v 8*64*32 = 16,384 each; o 32,768; attention 8*8*16*4*2 = 8,192
#   dense MLP (gate, up, down) 3*8*64*128 = 196,608 -> 303,104 per layer, 606,208 for 2.
#   Mixtral, top-2 of 4 experts: every token through 2 experts: 2 * 196,608 = 393,216 in _grouped_mm, router
#   8*64*4 = 2,048 -> 32,768 + 2*16,384 + 32,768 + 8,192 + 393,216 + 2,048 = 501,760 per layer, 1,003,520 for 2.
_CASES = {
    "llama": (lambda: transformers.LlamaConfig(**_SIZES), 606_208),
    "mixtral": (lambda: transformers.MixtralConfig(**_SIZES, num_local_experts=4, num_experts_per_tok=2), 1_003_520),
}


@pytest.mark.parametrize("name", list(_CASES))
def test_transformer_configs_are_complete_and_equal_on_meta_and_cpu(name):
    make_config, paper_flops = _CASES[name]
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(make_config()).eval()
    tokens = {"input_ids": torch.zeros(1, 8, dtype=torch.long)}
    meta, cpu = analyze(model, inputs=tokens), analyze(model, inputs=tokens, device="cpu")
    assert meta.device == "meta" and cpu.device == "cpu"
    assert meta.complete and cpu.complete, (meta.uncounted, cpu.uncounted)
    assert meta.totals.paper_flops == cpu.totals.paper_flops == paper_flops
