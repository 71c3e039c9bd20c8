"""`compare`: flopcount against fvcore and torch's FlopCounterMode, per module path.

The two references are independent counters (a jit trace with op handles; a dispatch mode with aten
formulas, 2 per multiply-add), so agreeing with both on every conv and linear layer of every zoo model is
a real check. The small models below carry hand-derived numbers, with the arithmetic beside them.
"""

from __future__ import annotations

import logging
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from flopcount.compare import compare, own_counts
from flopcount.conventions import (
    FAMILIES,
    FCM,
    FLOPCOUNT,
    FVCORE,
    Status,
    base_op_name,
    family_of_category,
    family_of_op,
)
from flopcount.errors import UsageError
from flopcount.formulas import REGISTRY, FormulaRegistry
from flopcount.records import CATEGORIES, Cost
from flopcount.zoo import get_model, get_spec, list_models



@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Many tiny CPU forwards: thread hand-offs cost more than the arithmetic, and on a busy two-core
    # machine the oversubscribed intra-op threads made this file several times slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def rows_by_key(result):
    return {(r.path, r.family): r for r in result.rows}


# -- every zoo model --------------------------------------------------------------------------------------
def _cpu_model(name: str) -> nn.Module:
    # Built on meta and given uninitialised CPU storage (zeroed, so runs are deterministic): FLOPs depend
    # on shapes only, and a random init of vgg16's and alexnet's 100M+ weights would cost seconds.
    with torch.device("meta"):
        model = get_model(name)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for t in (*model.parameters(), *model.buffers()):
            if t.is_floating_point():
                t.zero_()
    return model


def _small_input(name: str) -> tuple[int, ...]:
    # Per-layer FLOPs are a function of each layer's own shapes, so per-layer agreement at one input size
    # is the same check at any other; 64x64 keeps the sweep (three counters x the whole zoo) fast. Every
    # zoo model accepts 64x64 except xception, whose entry flow needs at least 71x71.
    return (1, 3, 71, 71) if name == "xception" else (1, 3, 64, 64)


# ViT's attention and the projections inside nn.MultiheadAttention are counted by flopcount only:
# it has its own test below, where the references fall short by exactly those products.
CNN_MODELS = [name for name in list_models() if get_spec(name).family != "vit"]


@pytest.mark.parametrize("name", CNN_MODELS)
def test_zoo_conv_and_linear_match_both_references_per_layer(name):
    model = _cpu_model(name)
    result = compare(model, _small_input(name), name=name)

    assert all(s.available for s in result.references.values()), result.references
    strict = {r.path: r for r in result.rows if r.strict}
    # every Conv*/Linear module of the model is a row of its own, and all three counts are equal
    layers = {path for path, m in model.named_modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))}
    assert layers <= set(strict), sorted(layers - set(strict))
    for path, row in strict.items():
        assert row.ours > 0, path
        assert row.references[FVCORE] == row.ours, (path, row.family, row.ours, row.references)
        assert row.references[FCM] == row.ours, (path, row.family, row.ours, row.references)
        assert row.status == "match"
    assert result.ok and not result.mismatches
    # the per-layer rows add up to the totals, and the paper totals agree three ways
    assert sum(r.ours for r in strict.values()) == result.report.totals.paper_flops
    assert result.totals["paper"][FVCORE] == result.totals["paper"][FCM] == result.report.totals.paper_flops
    assert sum(r.ours for r in result.rows) == result.report.totals.flops
    # and every other difference has a reason from the convention map
    assert not result.unexplained, [(r.name, r.reason) for r in result.unexplained]
    assert all(r.reasons for r in result.rows if r.status == "explained")


# -- functional ops: what a hook-only count misses ----------------------------------------------------------
class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = self.conv(x)
        y = y + y  # outside any leaf module
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)  # likewise
        return self.fc(y)


def hook_only_flops(model: nn.Module, x: torch.Tensor) -> int:
    """What a hook-based counter (ptflops-style) sees: leaf modules only, with flopcount's own formulas."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += REGISTRY.for_module(module).cost(module, inputs, output).flops

    handles = [m.register_forward_hook(hook) for m in model.modules() if REGISTRY.for_module(m) is not None]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def test_functional_ops_are_counted_where_a_hook_only_count_falls_short():
    model, x = Functional().eval(), torch.zeros(1, 3, 8, 8)
    conv = 8 * 8 * 8 * 3 * 3 * 3  # output elements x c_in x k x k = 512 x 27 = 13,824
    add = 8 * 8 * 8  # one per output element: 512
    pool = 8 * 8 * 8  # adaptive average pool: one per input element: 512
    fc = 8 * 10  # c_in x c_out: 80

    result = compare(model, x)
    rows = rows_by_key(result)
    assert rows[("conv", "conv")].ours == rows[("conv", "conv")].references[FVCORE] == conv
    assert rows[("conv", "conv")].references[FCM] == conv
    assert rows[("fc", "linear")].ours == rows[("fc", "linear")].references[FCM] == fc

    add_row, pool_row = rows[("", "elementwise")], rows[("", "pool")]
    assert (add_row.ours, add_row.references) == (add, {FVCORE: 0, FCM: 0})
    assert (pool_row.ours, pool_row.references) == (pool, {FVCORE: pool, FCM: 0})
    assert "a hook-only count would miss add" in add_row.reasons
    assert "a hook-only count would miss adaptive_avg_pool2d" in pool_row.reasons
    assert "fvcore has no handle for aten::add" in add_row.reasons
    # only those two rows are out of a hook's sight
    missed = {r.path + ":" + r.family for r in result.rows if any("hook-only" in s for s in r.reasons)}
    assert missed == {":elementwise", ":pool"}

    assert result.report.totals.flops == conv + add + pool + fc == 14_928
    assert hook_only_flops(model, x) == conv + fc == 13_904  # short by the add and the pool: 1,024
    assert result.ok


# -- each known convention difference has its reason --------------------------------------------------------
class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.act6 = nn.ReLU6()
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(self.pool(self.act(self.act6(self.bn(self.conv(x))))).flatten(1))


def test_reason_column_for_each_known_convention_difference():
    result = compare(Mixed(), (1, 3, 6, 6))
    rows = rows_by_key(result)
    # conv 3x3 valid on 6x6 -> 1x4x4x4: 64 outputs x 27 = 1,728; the other layers see 64 elements
    assert rows[("conv", "conv")].ours == rows[("conv", "conv")].references[FCM] == 64 * 27

    bn = rows[("bn", "norm")]  # eval BatchNorm with affine: 2 per element, as fvcore counts it
    assert (bn.ours, bn.references) == (128, {FVCORE: 128, FCM: 0})
    assert bn.reasons == ["FlopCounterMode has no formula for norms", "fvcore counts batch_norm; paper total does not"]
    assert bn.status == "explained"

    act6 = rows[("act6", "activation")]
    assert (act6.ours, act6.references) == (64, {FVCORE: 0, FCM: 0})
    assert act6.reasons == ["fvcore has no handle for aten::hardtanh", "FlopCounterMode has no formula for activations"]

    relu = rows[("act", "activation")]  # fvcore lists relu among the ops it treats as free
    assert relu.reasons == ["fvcore treats ReLU as free", "FlopCounterMode has no formula for activations"]

    pool = rows[("pool", "pool")]  # 2x2 windows over 4x4 -> 16 outputs x 4 = 64
    assert (pool.ours, pool.references) == (64, {FVCORE: 0, FCM: 0})
    assert pool.reasons == ["fvcore has no handle for aten::max_pool2d", "FlopCounterMode has no formula for pooling"]

    fc = rows[("fc", "linear")]  # 16 x 5
    assert (fc.ours, fc.references, fc.reasons) == (80, {FVCORE: 80, FCM: 80}, [])

    # the totals per convention: paper 1,728 + 80 everywhere; fvcore adds only the BatchNorm
    assert result.totals["paper"] == {FLOPCOUNT: 1808, FVCORE: 1808, FCM: 1808}
    assert result.totals["all"] == {FLOPCOUNT: 1808 + 128 + 64 + 64 + 64, FVCORE: 1808 + 128, FCM: 1808}
    assert result.ok and not result.unexplained


def test_reasons_come_from_the_convention_map():
    result = compare(Mixed(), (1, 3, 6, 6))
    bn = rows_by_key(result)[("bn", "norm")]
    assert f"FlopCounterMode {FAMILIES['norm'].rules[FCM].how}" in bn.reasons


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def test_fused_attention_is_an_explained_difference_not_a_failure():
    result = compare(Attention(), (1, 5, 16))
    row = rows_by_key(result)[("attn", "attention")]
    # L = S = 5, E = 16: q/k/v projections 3 x 5 x 16 x 16 = 3,840; scores and weighted sum
    # 5 x 5 x (16 + 16) = 800; output projection 5 x 16 x 16 = 1,280
    assert row.ours == 3840 + 800 + 1280
    # eval + no_grad takes the fused kernel: neither reference has a formula for it
    assert row.references == {FVCORE: 0, FCM: 0}
    assert row.reasons == [
        "fvcore has no handle for aten::_native_multi_head_attention",
        f"FlopCounterMode {FAMILIES['attention'].rules[FCM].how}",
    ]
    assert row.status == "explained" and result.ok


# -- disagreements, tolerance, unavailable references --------------------------------------------------------
def registry_with(overrides: dict) -> FormulaRegistry:
    """REGISTRY with some targets' formulas replaced (None: removed)."""
    custom = FormulaRegistry()
    for target in REGISTRY.targets():
        if target not in overrides:
            found = REGISTRY.for_function(target)
            custom.register(target, meta_rule=found.meta_rule)(found.cost)
    for target, fn in overrides.items():
        if fn is not None:
            custom.register(target)(fn)
    return custom


def conv_with_bias_adds(module, inputs, output):
    # a formula that disagrees on purpose: also counts the bias add, one per output element
    return Cost(output.numel() * (module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1] + 1), "conv")


def test_a_disagreeing_formula_fails_unless_within_tolerance():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    registry = registry_with({nn.Conv2d: conv_with_bias_adds})
    references = 8 * 8 * 8 * 27  # 13,824
    ours = 8 * 8 * 8 * 28  # 14,336: 512 more, a relative difference of 1/27 = 0.037

    exact = compare(model, (1, 3, 8, 8), registry=registry)
    (row,) = exact.rows
    assert (row.ours, row.references) == (ours, {FVCORE: references, FCM: references})
    assert row.status == "mismatch" and exact.mismatches == [row] and not exact.ok
    assert row.reasons[0].startswith("unexplained: fvcore counts conv differently")

    assert not compare(model, (1, 3, 8, 8), registry=registry, tolerance=0.03).ok  # 0.037 > 0.03
    assert compare(model, (1, 3, 8, 8), registry=registry, tolerance=0.04).ok  # 512 <= 0.04 x 13,824 = 553


class Product(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(8, 5))

    def forward(self, x):
        return torch.matmul(x, self.w)


def test_an_op_flopcount_cannot_count_is_a_mismatch_with_its_reason():
    registry = registry_with({torch.matmul: None})
    result = compare(Product(), (2, 8), registry=registry)
    row = rows_by_key(result)[("", "matmul")]
    # (2 x 8) @ (8 x 5): 2 x 5 outputs x 8 = 80 multiply-adds for both references
    assert (row.ours, row.references) == (0, {FVCORE: 80, FCM: 80})
    assert row.reasons == ["flopcount has no formula for matmul"]
    assert row.status == "mismatch" and not result.ok


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        steps = 0
        y = self.fc(x)
        while float(y.abs().sum()) > 1e3 and steps < 3:  # data-dependent loop
            y, steps = y / 2, steps + 1
        return y, steps  # a Python int output: torch.jit.trace gives up


def test_fvcore_failure_is_reported_in_one_line_and_flop_counter_mode_still_compares(caplog):
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        result = compare(Untraceable(), (2, 4))
    status = result.references[FVCORE]
    assert not status.available
    assert status.reason.startswith("RuntimeError: ") and "\n" not in status.reason
    assert result.references[FCM].available
    row = rows_by_key(result)[("fc", "linear")]
    assert (row.ours, row.references) == (2 * 3 * 4, {FVCORE: None, FCM: 24})  # 2 rows x 4 x 3
    assert row.status == "match" and result.ok
    assert result.totals["all"][FVCORE] is None
    assert not caught, [str(w.message) for w in caught]
    assert not [r for r in caplog.records if r.name.startswith("fvcore")]


def test_fvcore_warnings_and_logs_are_silenced(caplog, capsys):
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        compare(Mixed(), (1, 3, 6, 6))  # fvcore meets hardtanh and max_pool2d, which it has no handle for
    assert not caught, [str(w.message) for w in caught]
    assert not [r for r in caplog.records if r.name.startswith("fvcore")]
    assert capsys.readouterr().err == ""


def test_model_mode_is_given_back_and_bad_input_is_refused():
    model = Mixed().train()
    compare(model, (1, 3, 6, 6))
    assert all(m.training for m in model.modules())
    assert float(model.bn.num_batches_tracked) == 0  # eval mode during the run: statistics untouched

    with torch.device("meta"):
        meta_model = Mixed()
    with pytest.raises(UsageError, match="CPU"):
        compare(meta_model, (1, 3, 6, 6))
    with pytest.raises(UsageError, match="tolerance"):
        compare(Mixed(), (1, 3, 6, 6), tolerance=-0.1)


def test_nearest_counted_ancestor_owns_the_rest():
    # FlopCounterMode leaves a module without a count when a grandparent calls its child directly
    cumulative = {"": {"mm": 10}, "a.b": {"mm": 4}, "c": {"mm": 6}, "c.d": {"mm": 6}}
    # the root's own count is 10 - 4 - 6 = 0 and "c" owns nothing but its child: zeros are dropped
    assert own_counts(cumulative) == {"": {}, "a.b": {"mm": 4}, "c": {}, "c.d": {"mm": 6}}


# -- the convention map ----------------------------------------------------------------------------------
def test_convention_map_covers_every_category_and_counter():
    for family in FAMILIES.values():
        assert set(family.rules) == {FLOPCOUNT, FVCORE, FCM}
        assert all(isinstance(r.status, Status) and r.how for r in family.rules.values())
    for category in CATEGORIES:
        assert family_of_category(category, "x") in FAMILIES
    assert {f for f, fam in FAMILIES.items() if fam.strict} == {"conv", "linear", "matmul"}
    assert {f for f, fam in FAMILIES.items() if fam.paper} == {"conv", "linear", "matmul", "attention"}


@pytest.mark.parametrize(("name", "base", "family"), [
    ("aten::hardtanh_", "hardtanh", "activation"),
    ("aten.convolution.default", "convolution", "conv"),
    ("__iadd__", "add", "elementwise"),
    ("__rtruediv__", "div", "elementwise"),
    ("__matmul__", "__matmul__", "matmul"),
    ("aten::adaptive_avg_pool2d", "adaptive_avg_pool2d", "pool"),
    ("aten::_convolution", "_convolution", "conv"),
    ("aten::frobnicate", "frobnicate", "other"),
])
def test_op_names_map_to_families(name, base, family):
    assert base_op_name(name) == base
    assert family_of_op(name) == family


def test_vit_attention_is_the_explained_difference():
    torch.manual_seed(0)
    model = get_model("vit_b_16", image_size=32)  # 5 tokens: small and fast, the same layers
    result = compare(model, (1, 3, 32, 32), name="vit_b_16")
    assert result.ok  # every conv and linear layer the references see agrees exactly
    [attention] = [r for r in result.rows if r.family == "attention"][:1]
    assert attention.status == "explained" and attention.reasons
    # flopcount's paper total exceeds each reference's by what they cannot see of the 12 attention blocks
    tokens, hidden = 5, 768
    per_block = 4 * tokens * hidden**2 + 2 * tokens**2 * hidden  # projections + Q K^T and attn V
    ours = result.totals["paper"][FLOPCOUNT]
    assert ours - result.totals["paper"][FCM] == 12 * per_block
