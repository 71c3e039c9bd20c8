"""Memory and training-step budgets (issue #13): byte units on memory limits, counts on max_train_flops,
each refused where it does not belong with file:line, and evaluation with the arithmetic written out."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from flopcount.budget import Measurement, evaluate, measure, parse_budget
from flopcount.errors import ConfigError

PATH = Path("budgets.toml")


def budget(spec: dict):
    return parse_budget({"models": {"net": spec}}, PATH).models[0]


@pytest.mark.parametrize(("key", "text", "expected"), [
    ("max_peak_memory", "12MiB", 12_582_912),       # 12 * 2**20
    ("max_peak_memory", "1.5GB", 1_500_000_000),    # 1.5 * 10**9
    ("max_train_memory", "512KB", 512_000),         # 512 * 10**3
    ("max_train_memory", 4096, 4096),               # a plain integer is bytes
    ("max_train_flops", "2.5G", 2_500_000_000),     # a count: 2.5 * 10**9 multiply-adds
])
def test_memory_limits_take_bytes_and_train_flops_a_count(key, text, expected):
    metric = key.removeprefix("max_")
    assert budget({key: text}).limits == {metric: expected}


def test_a_count_unit_on_a_memory_limit_is_an_error_at_its_line():
    text = '[models.net]\nmax_flops = "300M"\nmax_peak_memory = "12M"\n'
    with pytest.raises(ConfigError) as info:
        parse_budget({"models": {"net": {"max_flops": "300M", "max_peak_memory": "12M"}}}, PATH, text)
    assert str(info.value).startswith("budgets.toml:3: models.net.max_peak_memory: not a byte size: '12M' "
                                      "(write the B: 12MB is 12 x 10^6, 12MiB is 12 x 2^20)")


def test_a_byte_unit_on_train_flops_is_an_error_at_its_line():
    text = '[models.net]\nmax_train_flops = "3GB"\n'
    with pytest.raises(ConfigError) as info:
        parse_budget({"models": {"net": {"max_train_flops": "3GB"}}}, PATH, text)
    assert str(info.value).startswith("budgets.toml:2: models.net.max_train_flops: not a count: '3GB' is a byte size")


def test_memory_limit_passes_at_the_limit_and_fails_one_byte_above_in_bytes():
    # peak 10 MiB = 10,485,760 B
    measured = Measurement({"params": 1, "flops": 1, "mac": 1, "peak_memory": 10_485_760}, {})
    (at,) = evaluate(budget({"max_peak_memory": "10MiB"}), measured)
    (over,) = evaluate(budget({"max_peak_memory": 10_485_759}), measured)
    assert (at.status, at.unit, over.status) == ("pass", "bytes", "fail")
    # 8 MiB limit: 10 / 8 - 1 = 25.0% over
    (fail,) = evaluate(budget({"max_peak_memory": "8MiB"}), measured)
    assert fail.detail == "10.00 MiB is 25.0% over the budget 8.00 MiB"


def test_measure_reads_the_peak_and_the_training_step():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    measured = measure(model, (1, 3, 8, 8), step=("peak_memory", "train_flops", "train_memory"))
    # peak: conv output and ReLU output, 8*8*8*4 = 2,048 B each, live together: 4,096 B
    # + params (3*3*3*8 + 8) * 4 = 896 B -> 4,992 B
    assert measured.totals["peak_memory"] == 4_992
    # paper FLOPs: forward conv 3*3*3*8*64 = 13,824; backward: its weight gradient 13,824 (the input needs
    # no gradient) -> 27,648
    assert measured.totals["train_flops"] == 27_648
    assert measured.totals["train_memory"] > measured.totals["peak_memory"]  # + gradients and AdamW state
