"""The LLM library on tiny configs built here: hand arithmetic for LLaMA and BERT, decode with a KV cache,
grouped-query attention, sliding windows, a mixture of experts, bytes at a dtype. No hub, no network."""

from __future__ import annotations

import pytest

transformers = pytest.importorskip("transformers")

from flopcount.errors import InputSpecError, UsageError  # noqa: E402
from flopcount.inputs import InputSpec  # noqa: E402
from flopcount.llm import (  # noqa: E402
    HFModel,
    analyze_phase,
    attention_geometry,
    build_model,
    default_inputs,
    dtype_bytes,
    kv_cache_bytes,
    load_config,
    model_kind,
    parse_named_input,
    parse_named_inputs,
)

# hidden 32, 4 heads of 8, 2 KV heads (grouped-query), MLP 48, 2 layers, vocab 64
TINY = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False)
# Linear weights a token multiplies: per layer q 32x32 + k 32x16 + v 32x16 + o 32x32 = 3,072,
# MLP 3 x 32 x 48 = 4,608 -> 7,680; 2 layers 15,360; lm_head 64 x 32 = 2,048 -> 17,408 per token.
TINY_LINEAR_PER_TOKEN = 17_408


def _hf(config, architecture=None) -> HFModel:
    model = build_model(config, architecture)
    return HFModel(model, config, "tiny", type(model).__name__)


@pytest.fixture(scope="module")
def tiny_llama():
    return _hf(transformers.LlamaConfig(**TINY), "LlamaForCausalLM")


def test_llama_prefill_is_weights_times_tokens_plus_attention(tiny_llama):
    result = analyze_phase(tiny_llama, "prefill", seq_len=8)
    by_category = result.report.by_category()
    # 8 tokens x 17,408 = 139,264
    assert by_category["linear"] == 139_264
    # QK^T and AV: 2 x layers x seq^2 x hidden = 2 x 2 x 64 x 32 = 8,192 (GQA: still per query head)
    assert by_category["attention"] == 8_192
    assert result.paper_flops == 139_264 + 8_192
    # embed 2,048 + lm_head 2,048 + 2 x (3,072 + 4,608 + 2 x 32 norms) + 32 final norm = 19,616
    assert result.params == 19_616
    # the prompt writes its K and V: 2 x 2 layers x 2 kv heads x 8 head_dim x 8 tokens x 2 bytes = 1,024
    assert result.cache_written_bytes == result.kv_cache_bytes == 1_024


def test_llama_decode_reads_the_cache_and_attends_to_context_plus_one(tiny_llama):
    result = analyze_phase(tiny_llama, "decode", context=8, dtype="float16")
    assert (result.tokens, result.context) == (1, 8)
    assert result.report.by_category()["linear"] == TINY_LINEAR_PER_TOKEN
    # one query against 8 cached + 1 new keys: 2 x 2 layers x 9 x 32 = 1,152
    assert result.attention_flops == 1_152
    # cache of 8 tokens: 2 x 2 x 2 x 8 x 8 x 2 bytes = 1,024 read; the new token's 128 bytes written
    assert (result.kv_cache_bytes, result.cache_read_bytes, result.cache_written_bytes) == (1_024, 1_024, 128)
    # weights read: all but 63 unused embedding rows: 19,616 - 63 x 32 = 17,600 params x 2 bytes
    assert result.params_read == 17_600
    assert result.weights_read_bytes == 35_200
    assert result.traffic_bytes == 35_200 + 1_024 + 128
    assert result.weights_bytes == 2 * 19_616


def test_grouped_query_attention_shrinks_the_cache_not_the_attention_products():
    mha = _hf(transformers.LlamaConfig(**{**TINY, "num_key_value_heads": 4}), "LlamaForCausalLM")
    gqa = _hf(transformers.LlamaConfig(**{**TINY, "num_key_value_heads": 1}), "LlamaForCausalLM")
    a, b = (analyze_phase(m, "decode", context=8) for m in (mha, gqa))
    assert a.attention_flops == b.attention_flops == 1_152
    # 4 KV heads hold 4x the cache of 1: 2 x 2 x 4 x 8 x 8 x 2 = 2,048 vs 512 bytes
    assert (a.kv_cache_bytes, b.kv_cache_bytes) == (2_048, 512)
    # k and v projections: 2 layers x 2 x 32 x (32 - 8) = 3,072 fewer multiply-adds per token with 1 KV head
    assert a.report.by_category()["linear"] - b.report.by_category()["linear"] == 3_072


def test_sliding_window_counts_every_key_given_and_the_windowed_figure_beside():
    mistral = _hf(transformers.MistralConfig(**TINY, sliding_window=4), "MistralForCausalLM")
    result = analyze_phase(mistral, "decode", context=8)
    assert result.geometry.sliding_window == 4
    assert result.attention_flops == 1_152  # 9 keys, as the kernel is given them
    assert result.attention_flops_windowed == 1_152 * 4 // 9  # 2 x 2 x 4 keys x 32 = 512
    assert result.attention_flops_windowed == 512
    # a windowed cache keeps 4 of the 8 tokens: 2 x 2 x 2 x 8 x 4 x 2 = 512 bytes
    assert (result.kv_cache_bytes, result.kv_cache_bytes_windowed) == (1_024, 512)


def test_mixture_of_experts_counts_top_k_of_n_whatever_the_routing():
    config = transformers.MixtralConfig(**TINY, num_local_experts=4, num_experts_per_tok=2)
    result = analyze_phase(_hf(config, "MixtralForCausalLM"), "decode", context=8)
    # experts: 2 of 4, each gate+up 32 x 96 and down 48 x 32: 2 x 4,608 = 9,216 per layer, 18,432 for 2 layers
    assert result.report.by_category()["matmul"] == 18_432
    # linear: attention 3,072 + router 32 x 4 = 128 per layer -> 6,400; lm_head 2,048 -> 8,448
    assert result.report.by_category()["linear"] == 8_448
    experts = 2 * 4 * 4_608  # 2 layers x 4 experts x 4,608 weights
    assert result.params == 19_616 - 2 * 4_608 + experts + 2 * 128
    # one token reads 2 of 4 experts and one of 64 embedding rows
    assert result.params_read == result.params - experts // 2 - 63 * 32


def test_bert_hand_arithmetic():
    config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, max_position_embeddings=64)
    result = analyze_phase(_hf(config, "BertModel"), "prefill", seq_len=8)
    by_category = result.report.by_category()
    # per token and layer: q, k, v, o 4 x 32 x 32 = 4,096 + FFN 2 x 32 x 64 = 4,096 -> 8,192; 2 layers x 8
    # tokens = 131,072; the pooler's 32 x 32 on the first token adds 1,024
    assert by_category["linear"] == 131_072 + 1_024
    assert by_category["attention"] == 2 * 2 * 8 * 8 * 32  # 8,192
    assert result.geometry is None and result.kv_cache_bytes == 0
    with pytest.raises(UsageError, match="keeps no KV cache"):
        analyze_phase(_hf(config, "BertModel"), "decode", context=8)


def test_kv_cache_formula_for_llama_2_7b_from_its_bundled_config():
    geometry = attention_geometry(load_config("llama-2-7b"))
    assert (geometry.layers, geometry.kv_heads, geometry.head_dim) == (32, 32, 128)
    # 2 x 32 x 32 x 128 x 2048 x 2 bytes = 1,073,741,824
    assert kv_cache_bytes(geometry, 2048, "float16") == 1_073_741_824
    assert kv_cache_bytes(geometry, 2048, "int4") == 1_073_741_824 // 4
    # llama-3-8b: 8 KV heads -> a quarter of the cache: 268,435,456
    assert kv_cache_bytes(attention_geometry(load_config("llama-3-8b")), 2048, "bfloat16") == 268_435_456


def test_dtype_bytes():
    assert [dtype_bytes(3, d) for d in ("float32", "float16", "bfloat16", "int8", "int4")] == [12, 6, 6, 3, 2]
    with pytest.raises(UsageError, match="unknown dtype 'fp8'"):
        dtype_bytes(1, "fp8")


def test_named_inputs():
    assert parse_named_input("input_ids=1x2048:int64") == ("input_ids", InputSpec((1, 2048), "int64"))
    assert parse_named_inputs(["a=1x3", "b=2"]) == {"a": InputSpec((1, 3)), "b": InputSpec((2,))}
    for bad in ("1x2048", "=1x2", "my-ids=1x2", "ids=1xq"):
        with pytest.raises(InputSpecError):
            parse_named_input(bad)
    with pytest.raises(InputSpecError, match="given twice"):
        parse_named_inputs(["a=1", "a=2"])


def test_default_inputs_per_model_kind():
    llama = transformers.LlamaConfig(**TINY)
    assert model_kind(llama) == "text"
    assert default_inputs(llama, 16) == {"input_ids": InputSpec((1, 16), "int64")}
    t5 = load_config("t5-small")
    assert model_kind(t5) == "encoder-decoder"
    assert set(default_inputs(t5, 16)) == {"input_ids", "decoder_input_ids"}
    vit = load_config("vit-base-patch16-224")
    assert default_inputs(vit) == {"pixel_values": InputSpec((1, 3, 224, 224))}
    whisper = load_config("whisper-tiny")
    # 80 mel bins x 3,000 frames (30 s): two convolutions, the second of stride 2, give 1,500 positions
    assert default_inputs(whisper, 16) == {"input_features": InputSpec((1, 80, 3000)),
                                           "decoder_input_ids": InputSpec((1, 16), "int64")}


def test_unknown_phase_and_negative_context(tiny_llama):
    with pytest.raises(UsageError, match="unknown phase"):
        analyze_phase(tiny_llama, "train")
    with pytest.raises(UsageError, match="context"):
        analyze_phase(tiny_llama, "decode", context=-1)


def test_named_inputs_replace_the_defaults(tiny_llama):
    result = analyze_phase(tiny_llama, "prefill", inputs={"input_ids": InputSpec((1, 4), "int64")})
    assert result.tokens == 4
    assert result.report.by_category()["linear"] == 4 * TINY_LINEAR_PER_TOKEN  # 69,632
    assert result.report.by_category()["attention"] == 2 * 2 * 4 * 4 * 32  # 2,048


def test_the_core_and_the_llm_package_import_without_transformers():
    import subprocess
    import sys

    code = ("import sys, flopcount, flopcount.loading, flopcount.llm, flopcount.blocks, flopcount.render.llm; "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_named_inputs_carry_their_batch_and_are_refused_for_decode(tiny_llama):
    result = analyze_phase(tiny_llama, "prefill", inputs={"input_ids": InputSpec((2, 4), "int64")})
    assert (result.batch, result.tokens) == (2, 4)
    assert result.per_token_flops == result.flops // 8
    # K and V x 2 layers x 2 kv heads x 8 head_dim x 4 tokens x 2 bytes, for each of 2 sequences = 1,024
    assert result.cache_written_bytes == 2 * 2 * 2 * 8 * 4 * 2 * 2
    with pytest.raises(UsageError, match="named inputs apply to prefill"):
        analyze_phase(tiny_llama, "decode", context=4, inputs={"input_ids": InputSpec((1, 1), "int64")})
