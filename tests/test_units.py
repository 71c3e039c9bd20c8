import pytest

from flopcount.units import human, human_bytes, parse_count


@pytest.mark.parametrize("text, value", [
    ("300M", 300_000_000), ("3.5M", 3_500_000), ("2G", 2_000_000_000), ("20k", 20_000), ("1500", 1500), (1500, 1500),
    ("2GB", 2_000_000_000), (" 1.5 T ".strip(), 1_500_000_000_000),
])
def test_parse_count(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["-3M", "inf", "nan", "3 bananas", "", "M", True])
def test_parse_count_rejects(text):
    with pytest.raises(ValueError):
        parse_count(text)


def test_human():
    assert human(300_774_272) == "300.77M"
    assert human(864) == "864"
    assert human(4_089_184_256) == "4.09G"
    assert human_bytes(173_065_024) == "165.05 MiB"  # 173,065,024 / 2**20
