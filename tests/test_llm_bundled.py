"""Every bundled Hugging Face config builds on meta with its reference parameter count and analyses in
both phases (decode where the model generates). References: flopcount/data/hf_references.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")

import flopcount  # noqa: E402
from flopcount.errors import UsageError  # noqa: E402
from flopcount.llm import analyze_phase, bundled_configs, load_hf  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REFERENCES = tomllib.loads((Path(flopcount.__file__).parent / "data" / "hf_references.toml").read_text())


def test_every_bundled_config_has_a_reference():
    assert sorted(REFERENCES) == bundled_configs()
    assert len(bundled_configs()) >= 10


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_bundled_config_params_and_both_phases(name):
    reference = REFERENCES[name]
    hf = load_hf(name)
    assert hf.architecture == reference["architecture"]
    prefill = analyze_phase(hf, "prefill", seq_len=16)
    assert prefill.params == reference["params"]
    assert prefill.paper_flops > 0
    if not hf.model.can_generate():  # encoder-only and vision models keep no KV cache
        with pytest.raises(UsageError, match="keeps no KV cache"):
            analyze_phase(hf, "decode", context=16)
        return
    decode = analyze_phase(hf, "decode", context=16, seq_len=16)
    assert decode.tokens == 1 and decode.kv_cache_bytes > 0
    # decode reads nearly every weight for one token's work: per-token FLOPs << prefill's seq x per-token
    assert decode.flops < prefill.flops
    if "active_params" in reference:  # one embedding row of 32,000 x 4,096 is read, not the table
        assert decode.params_read == reference["active_params"] - (32000 - 1) * 4096


def test_llama_2_7b_prefill_2048_matches_the_paper_arithmetic():
    reference = REFERENCES["llama-2-7b"]
    result = analyze_phase(load_hf("llama-2-7b"), "prefill", seq_len=2048)
    # 2048 x 6,607,077,376 + 2 x 32 x 2048^2 x 4096 = 13,531,294,466,048 + 1,099,511,627,776
    assert result.paper_flops == reference["flops"] == 14_630_806_093_824
    assert result.kv_cache_bytes == reference["kv_cache_bytes_float16_2048"]


def test_llama_2_7b_decode_at_2048_in_float16():
    result = analyze_phase(load_hf("llama-2-7b"), "decode", context=2048, dtype="float16")
    assert result.kv_cache_bytes == 1_073_741_824  # 2 x 32 x 32 x 128 x 2048 x 2
    # per token: the 6,607,077,376 linear weights + attention over 2,049 keys: 2 x 32 x 2049 x 4096
    assert result.report.by_category()["linear"] == 6_607_077_376
    assert result.attention_flops == 2 * 32 * 2049 * 4096
