import pytest

from flopcount.units import ByteUnitError, human, human_bytes, parse_bytes, parse_count


@pytest.mark.parametrize("text, value", [
    ("300M", 300_000_000), ("3.5M", 3_500_000), ("2G", 2_000_000_000), ("20k", 20_000), ("1500", 1500), (1500, 1500),
    (" 1.5 T ".strip(), 1_500_000_000_000), ("1e3", 1000), (2.5e6, 2_500_000),
])
def test_parse_count(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["-3M", "inf", "nan", "3 bananas", "", "M", True, "7B", "12Mi"])
def test_parse_count_rejects(text):
    with pytest.raises(ValueError):
        parse_count(text)


def test_human():
    assert human(300_774_272) == "300.77M"
    assert human(864) == "864"
    assert human(4_089_184_256) == "4.09G"
    assert human_bytes(173_065_024) == "165.05 MiB"  # 173,065,024 / 2**20


@pytest.mark.parametrize("text, hint", [("3 MB", '"3M"'), ("2GB", '"2G"'), ("1.5GiB", '"1.5G"'), ("512kb", '"512K"')])
def test_parse_count_refuses_byte_units(text, hint):
    # a FLOPs or MAC limit is a count; "3 MB" (3,000,000 bytes = 750,000 fp32 elements) is not 3M of anything
    with pytest.raises(ByteUnitError, match=f"is a byte size; counts take K, M, G, T without B .e.g. {hint}"):
        parse_count(text)


@pytest.mark.parametrize("text, value", [
    ("12MiB", 12_582_912),         # 12 * 2**20 = 12 * 1,048,576
    ("1.5GB", 1_500_000_000),      # 1.5 * 10**9
    ("512KB", 512_000),            # 512 * 10**3
    ("1024", 1024), (1024, 1024), ("1024B", 1024),
    ("1.5 kib", 1536),             # 1.5 * 1024
    ("2TiB", 2_199_023_255_552),   # 2 * 2**40 = 2 * 1,099,511,627,776
    ("24GiB", 25_769_803_776),     # 24 * 2**30 = 24 * 1,073,741,824
])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


def test_parse_bytes_refuses_a_prefix_without_b_and_nonsense():
    with pytest.raises(ValueError, match=r"write the B: 12MB is 12 x 10\^6, 12MiB is 12 x 2\^20"):
        parse_bytes("12M")
    for bad in ("-1KB", "inf", "3 bananas", "", True, "12 MiBs"):
        with pytest.raises(ValueError, match="not a byte size"):
            parse_bytes(bad)
