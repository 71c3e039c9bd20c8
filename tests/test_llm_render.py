"""Device bounds of a phase, and its renderers (table, markdown, JSON dict)."""

from __future__ import annotations

import pytest
from rich.console import Console

transformers = pytest.importorskip("transformers")

from flopcount.llm import HFModel, analyze_phase, build_model, estimate_on_device  # noqa: E402
from flopcount.render.llm import phase_dict, phase_markdown, phase_table  # noqa: E402
from flopcount.roofline import DeviceProfile  # noqa: E402

TINY = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, tie_word_embeddings=False)
# A device of 1 MFLOP/s (2 per multiply-add) and 1 MB/s: times are easy to do by hand.
SLOW = DeviceProfile(name="slow", peak_flops=1e6, bandwidth=1e6, source="test")


@pytest.fixture(scope="module")
def decode():
    config = transformers.LlamaConfig(**TINY)
    model = build_model(config, "LlamaForCausalLM")
    return analyze_phase(HFModel(model, config, "tiny", "LlamaForCausalLM"), "decode", context=8, dtype="float16")


def test_decode_bound_and_fit(decode):
    estimate = estimate_on_device(decode, SLOW, memory_bytes=40_000)
    # compute: 2 x flops / 1e6; memory: traffic bytes (35,200 weights + 1,024 + 128 cache) / 1e6
    assert estimate.compute_seconds == pytest.approx(2 * decode.flops / 1e6)
    assert estimate.memory_seconds == pytest.approx(36_352 / 1e6)
    # flops ~ 18.6K multiply-adds -> 0.037 s of compute vs 0.036 s of memory on this balanced device
    assert estimate.seconds == max(estimate.compute_seconds, estimate.memory_seconds)
    assert estimate.tokens_per_second(1) == pytest.approx(1 / estimate.seconds)
    # memory: weights 2 x 19,616 = 39,232 + cache 1,024 + 128 = 40,384 bytes > 40,000
    assert estimate.memory_needed == 40_384 and estimate.fits is False
    assert estimate_on_device(decode, SLOW, memory_bytes=40_384).fits is True
    assert estimate_on_device(decode, SLOW).fits is None  # the profile states no memory
    # a device with 100x the compute is memory bound on decode
    fast = DeviceProfile(name="fast", peak_flops=1e8, bandwidth=1e6, source="test")
    assert estimate_on_device(decode, fast).bound == "memory"


def test_renderers(decode):
    estimate = estimate_on_device(decode, SLOW, memory_bytes=40_384)
    data = phase_dict(decode, [estimate])
    assert data["phase"] == "decode" and data["context"] == 8 and data["dtype"] == "float16"
    assert data["kv_cache_bytes"] == 1_024 and data["traffic_bytes"] == 36_352
    assert data["attention"] == {"layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 8, "sliding_window": None}
    assert data["devices"][0]["fits"] is True and data["devices"][0]["bound"] in ("compute", "memory")
    console = Console(width=160, record=True)
    console.print(phase_table([(decode, [estimate])]))
    text = console.export_text()
    assert "decode @8" in text and "slow bound" in text and "tok/s" in text
    markdown = phase_markdown([(decode, [estimate])])
    assert markdown.splitlines()[0].startswith("| model | phase |") and "| tiny | decode @8 |" in markdown
