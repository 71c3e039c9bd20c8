"""The zoo registry: wildcard listing, duplicate names refused, unknown names with suggestions."""

import pytest

from flopcount.errors import DuplicateRegistrationError, UnknownModelError
from flopcount.zoo import get_spec, list_models, register_family, register_model


def test_wildcards_and_families():
    assert list_models("shufflenet_v1_g?") == [f"shufflenet_v1_g{g}" for g in (1, 2, 3, 4, 8)]
    assert set(list_models(family="mobilenet_v3")) == {
        "mobilenet_v3_large", "mobilenet_v3_large_w0.75", "mobilenet_v3_small", "mobilenet_v3_small_w0.75"}
    assert list_models("no_such_*") == []


def test_duplicate_name_is_refused():
    with pytest.raises(DuplicateRegistrationError, match="mobilenet_v2"):
        register_model("mobilenet_v2", family="mobilenet_v2", builder=get_spec("mobilenet_v2").builder)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownModelError) as caught:
        get_spec("shufflenet_v2_x1")
    assert "shufflenet_v2_x1_0" in caught.value.suggestions


def test_every_family_and_variant_of_the_seed_is_registered():
    names = set(list_models())
    expected = {
        "squeezenet1_0", "squeezenet1_1", "squeezenet1_0_bypass", "xception",
        *(f"shufflenet_v1_g{g}" for g in (1, 2, 3, 4, 8)), "shufflenet_v1_g3_w0.5", "shufflenet_v1_g3_w0.25",
        *(f"shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0")),
        "mobilenet_v1", "mobilenet_v1_w0.75", "mobilenet_v1_w0.5", "mobilenet_v1_w0.25",
        "mobilenet_v2", "mobilenet_v2_w1.4", "mobilenet_v2_w0.75", "mobilenet_v2_w0.5", "mobilenet_v2_w0.35",
        "mobilenet_v3_large", "mobilenet_v3_large_w0.75", "mobilenet_v3_small", "mobilenet_v3_small_w0.75",
        "alexnet", "vgg16", "resnet50",
    }
    assert expected <= names
    assert get_spec("xception").input_size == (1, 3, 299, 299)


def test_a_family_table_registers_its_variants_in_order_with_their_kwargs():
    # shufflenet_v2 is one register_family call over its table of widths
    assert list_models(family="shufflenet_v2") == ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
                                                   "shufflenet_v2_x2_0"]
    spec = get_spec("shufflenet_v2_x1_5")
    assert (spec.family, spec.kwargs, spec.description) == ("shufflenet_v2", {"width": "1.5"}, "ShuffleNet V2 1.5x")
    assert get_spec("mobilenet_v3_small_w0.75").kwargs == {"arch": "small", "width_mult": 0.75}
    assert get_spec("mobilenet_v2").kwargs == {}


def test_a_family_table_with_a_taken_name_is_refused():
    builder = get_spec("squeezenet1_1").builder
    with pytest.raises(DuplicateRegistrationError, match="squeezenet1_1"):
        register_family("squeezenet", builder, [("squeezenet1_1", "again", {"version": "1_1"})])
