"""Every bundled Hugging Face config builds on meta with its reference parameter count and analyses in
both phases (decode where the model generates). References: the [hf] section of flopcount/data/references.toml."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from flopcount.errors import UsageError  # noqa: E402
from flopcount.llm import analyze_phase, bundled_configs, load_hf  # noqa: E402
from flopcount.zoo.references import hf_references  # noqa: E402

REFERENCES = hf_references()


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


def test_encoder_decoder_decode_reads_the_decoder_and_the_tied_head_only():
    t5 = analyze_phase(load_hf("t5-small"), "decode", context=16, seq_len=16)
    # decoder layers 6 x 4,195,840 = 25,175,040 less their cached cross-attention k, v (6 x 2 x 512 x 512),
    # final norm 512, and the 32,128 x 512 shared table the tied lm_head reads whole; of the 32 x 8
    # relative-position bias, the one query's 17 key offsets look up at most 17 rows: 136.
    # 25,175,040 + 512 - 3,145,728 + 16,449,536 + 136 = 38,479,496 (the encoder's 18,881,280 is not read)
    assert t5.params_read == 6 * 4_195_840 + 512 - 6 * 2 * 512 * 512 + 32_128 * 512 + 17 * 8
    # self-attention cache 2 x 6 x 8 x 64 x 16 tokens + cross-attention 2 x 6 x 8 x 64 x 16 source, 2 bytes
    assert t5.kv_cache_bytes == 2 * (2 * 6 * 8 * 64 * 16) * 2
    whisper = analyze_phase(load_hf("whisper-tiny"), "decode", context=16)
    # 51,865 x 384 tied token table 19,916,160 + one of 448 positions 384 + 4 layers x (self-attention
    # 590,976 + cross q, o 2 x 147,840 + fc1 591,360 + fc2 590,208 + 3 norms 2,304) + final norm 768
    assert whisper.params_read == 19_916_160 + 384 + 4 * 2_070_528 + 768
