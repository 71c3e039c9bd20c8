"""ShuffleNet V2 guidelines G1-G4: costs checked against arithmetic written out here."""

from __future__ import annotations


import pytest
import torch
from torch import nn

from flopcount import analyze
from flopcount.guidelines import block_graph, consumers_of, g1_bound, g2_extra, guidelines
from flopcount.zoo import get_model



def meta(model: nn.Module, size):
    return analyze(model, size, device="meta")


# -- G1 ----------------------------------------------------------------------------------------------

def test_g1_unequal_1x1_conv_against_the_seed_bound():
    report = meta(nn.Conv2d(16, 64, 1, bias=False), (1, 16, 28, 28))
    (f,) = guidelines(report).g1
    # A = h w = 784, B = 784 * 16 * 64 = 802,816
    assert (f.c1, f.c2, f.h, f.w, f.flops) == (16, 64, 28, 28, 802_816)
    # MAC = hw (c1 + c2) + c1 c2 = 784 * 80 + 1024 = 63,744, the recorded MAC of a bias-free 1x1 conv
    assert f.mac == 63_744 == report.records[0].mac
    # bound = 2 sqrt(hw B) + B / hw; hw B = 784^2 * 1024 so sqrt = 784 * 32 = 25,088: 50,176 + 1,024
    assert f.bound == pytest.approx(51_200)
    assert f.excess == pytest.approx(63_744 - 51_200)
    assert f.share == pytest.approx(12_544 / 63_744)


def test_g1_bound_is_the_mac_of_the_equal_width_conv_with_the_same_flops():
    # 32 -> 32 on 28x28 has B = 784 * 1024 = 802,816, the same FLOPs as 16 -> 64
    report = meta(nn.Conv2d(32, 32, 1, bias=False), (1, 32, 28, 28))
    assert guidelines(report).g1 == []  # c1 == c2: nothing to report
    assert report.records[0].mac == 784 * 64 + 32 * 32 == 51_200 == g1_bound(784, 802_816)


def test_g1_counts_the_batch_in_hw():
    (f,) = guidelines(meta(nn.Conv2d(16, 64, 1, bias=False), (2, 16, 28, 28))).g1
    # A = N h w = 1,568, B = 1,605,632: MAC = 1568 * 80 + 1024; bound = 2 * 1568 * 32 + 1024
    assert (f.n, f.flops, f.mac) == (2, 1_605_632, 126_464)
    assert f.bound == pytest.approx(101_376)


def test_g1_generalises_to_groups():
    (f,) = guidelines(meta(nn.Conv2d(64, 16, 1, groups=4, bias=False), (1, 64, 28, 28))).g1
    # B = 784 * 64 * 16 / 4 = 200,704; MAC = 784 * 80 + 64 * 16 / 4 = 62,976
    assert (f.groups, f.flops, f.mac) == (4, 200_704, 62_976)
    # bound = 2 sqrt(g A B) + B / A = 2 sqrt(4 * 784 * 200,704) + 256 = 2 * 25,088 + 256
    assert f.bound == pytest.approx(50_432)


def test_g1_ignores_kxk_and_transposed_convs():
    assert guidelines(meta(nn.Conv2d(16, 64, 3, padding=1, bias=False), (1, 16, 28, 28))).g1 == []
    assert guidelines(meta(nn.ConvTranspose2d(16, 64, 1, bias=False), (1, 16, 28, 28))).g1 == []


# -- G2 ----------------------------------------------------------------------------------------------

def test_g2_extra_is_the_difference_to_the_dense_conv_with_the_same_flops():
    grouped = meta(nn.Conv2d(64, 64, 1, groups=4, bias=False), (1, 64, 14, 14))
    dense = meta(nn.Conv2d(64, 16, 1, bias=False), (1, 64, 14, 14))  # c2 / g outputs: same FLOPs
    assert grouped.totals.flops == dense.totals.flops == 196 * 64 * 64 // 4 == 200_704
    (f,) = guidelines(grouped).g2
    # A c2 (1 - 1/g) = 196 * 64 * 3/4 = 9,408; the seed's 1x1 form B (g - 1) / c1 = 200,704 * 3 / 64
    assert f.extra == pytest.approx(9_408) == pytest.approx(200_704 * 3 / 64)
    # and exactly the recorded MAC difference: (196*128 + 1024) - (196*80 + 1024)
    assert grouped.totals.mac - dense.totals.mac == 26_112 - 16_704 == 9_408
    assert f.share == pytest.approx(9_408 / 26_112)


def test_g2_kxk_group_conv_and_depthwise_excluded():
    (f,) = guidelines(meta(nn.Conv2d(64, 64, 3, padding=1, groups=8, bias=False), (1, 64, 14, 14))).g2
    assert (f.groups, f.kernel, f.outputs) == (8, (3, 3), 196 * 64)
    assert f.extra == pytest.approx(196 * 64 * 7 / 8) == g2_extra(12_544, 8)
    depthwise = guidelines(meta(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), (1, 64, 14, 14)))
    assert depthwise.g2 == []
    assert depthwise.depthwise is not None and depthwise.depthwise.calls == 1


# -- G3 ----------------------------------------------------------------------------------------------

class Inception(nn.Module):
    """Four towers on one input, concatenated: 4 branches."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.b1 = nn.Conv2d(c, 8, 1)
        self.b2 = nn.Sequential(nn.Conv2d(c, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, 4, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class Residual(nn.Module):
    def __init__(self, c: int = 8):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def test_g3_inception_block_has_four_branches_and_its_cat_is_the_join():
    report = meta(Inception(), (1, 16, 8, 8))
    (block,) = guidelines(report, block_depth=0).g3
    assert block.branches == 4
    # the cat reads 8+8+4+4 = 24 channels of 8x8 and writes as many: 2 * 24 * 64
    assert block.join_mac == 2 * 24 * 64 == 3_072
    # kernels: 1 + 3 + 3 + 2 module calls and the cat
    assert block.kernels == 10


def test_g3_blocks_at_depth_one_of_a_stack():
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), Inception(), Residual(24), nn.Conv2d(24, 8, 1))
    g = guidelines(meta(model, (1, 3, 8, 8)))
    assert g.g3_depth == 1  # the depth where most blocks branch
    assert {b.path: b.branches for b in g.g3} == {"0": 1, "1": 4, "2": 2, "3": 1}
    residual = next(b for b in g.g3 if b.path == "2")
    assert residual.join_mac == 3 * 24 * 64  # the add reads two 24x8x8 tensors and writes one


def test_g3_plain_chain_is_one_branch():
    chain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 1))
    (block,) = guidelines(meta(chain, (1, 3, 8, 8)), block_depth=0).g3
    assert (block.branches, block.join_mac, block.kernels) == (1, 0, 4)


def test_g3_shufflenet_v2_units_have_two_branches():
    g = guidelines(meta(get_model("shufflenet_v2_x1_0"), (1, 3, 224, 224)))
    assert g.g3_depth == 2
    units = {b.path: b.branches for b in g.g3 if b.path.startswith("stage")}
    assert len(units) == 4 + 8 + 4 and set(units.values()) == {2}
    # stride-1 unit: the split half goes straight to the cat; its cat of two 58x28x28 halves is the join
    assert next(b for b in g.g3 if b.path == "stage2.1").join_mac == 2 * 116 * 28 * 28
    assert {b.branches for b in g.g3 if not b.path.startswith("stage")} == {1}


def test_block_graph_counts_paths_through_a_diamond_inside_a_residual():
    # x -> a -> (b, c) -> d, plus x -> d: paths a-b-d, a-c-d and the skip = 3
    class Diamond(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)

        def forward(self, x):
            y = self.a(x)
            return self.b(y) + self.c(y) + x

    report = meta(Diamond(), (1, 4, 2, 2))
    assert block_graph(report.records, consumers_of(report.records)).branches == 3
    assert guidelines(report, block_depth=0).g3[0].branches == 3


# -- G4 ----------------------------------------------------------------------------------------------

class ConvReluAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1, bias=False)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x)) + x


def test_g4_share_of_mac_and_time_by_op_type():
    report = meta(ConvReluAdd(), (1, 8, 10, 10))
    # conv: 800 in + 64 weights + 800 out; relu: 800 + 800; add: 800 + 800 + 800
    assert [r.mac for r in report.records] == [1_664, 1_600, 2_400]
    g = guidelines(report, times=[1.0, 2.0, 3.0])
    rows = {r.op: r for r in g.g4}
    assert set(rows) == {"ReLU", "add"}
    assert rows["add"].share_mac == pytest.approx(2_400 / 5_664)
    assert rows["ReLU"].share_mac == pytest.approx(1_600 / 5_664)
    assert g.g4_share == pytest.approx(4_000 / 5_664)
    # FLOPs: conv 100 positions * 64 = 6,400; relu 800; add 800
    assert rows["add"].share_flops == pytest.approx(800 / 8_000)
    assert rows["add"].share_time == pytest.approx(3 / 6)
    assert g.g4_time_share == pytest.approx(5 / 6)


def test_g4_leaves_out_views_and_counts_copies():
    class Shuffle(nn.Module):
        def forward(self, x):
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    g = guidelines(meta(Shuffle(), (1, 4, 3, 3)))
    assert [(r.op, r.mac) for r in g.g4] == [("contiguous", 2 * 36)]


def test_summary_is_ranked_by_share_of_mac():
    g = guidelines(meta(nn.Sequential(ConvReluAdd(), nn.Conv2d(8, 32, 1, bias=False)), (1, 8, 10, 10)))
    shares = [f.share for f in g.summary]
    assert shares == sorted(shares, reverse=True)
    assert {f.guideline for f in g.summary} == {"G1", "G3", "G4"}  # block "0" is a residual: G3


def test_times_must_align_with_records():
    from flopcount.errors import UsageError

    with pytest.raises(UsageError):
        guidelines(meta(ConvReluAdd(), (1, 8, 10, 10)), times=[1.0])
