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
