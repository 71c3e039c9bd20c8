"""The zoo's recorded reference counts and the gaps to them."""

from __future__ import annotations

from flopcount.zoo.references import deviation


def test_deviation_arithmetic():
    # mobilenet_v2: paper 3.4M params (Sandler et al. Table 4); ours 3,504,872 -> +3.08%
    gap = deviation("mobilenet_v2", 3_504_872, 300_774_272)
    assert gap.params == 0.0 and gap.flops == 0.0
    assert round(gap.paper_params, 4) == round((3_504_872 - 3_400_000) / 3_400_000, 4) == 0.0308
    # one parameter more is a gap to the implementation, and fails the check
    assert not deviation("mobilenet_v2", 3_504_873, 300_774_272).within_tolerance
    assert deviation("not_a_model", 1, 1) is None


def test_hf_references_are_a_separate_section_of_the_one_file():
    from flopcount.zoo import list_models
    from flopcount.zoo.references import hf_references, load_references

    assert "hf" not in load_references() and sorted(load_references()) == sorted(list_models())
    llama = hf_references()["llama-2-7b"]
    # 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 4096 + 2 x 32000 x 4096
    assert llama["params"] == 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 4096 + 2 * 32000 * 4096 == 6_738_415_616
    # 2 x 32 layers x 32 KV heads x 128 x 2048 tokens x 2 bytes
    assert llama["kv_cache_bytes_float16_2048"] == 2 * 32 * 32 * 128 * 2048 * 2 == 1_073_741_824
