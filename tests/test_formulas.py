"""Each formula against numbers worked out by hand; the arithmetic is in the test."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from flopcount.errors import DuplicateRegistrationError
from flopcount.formulas import FormulaRegistry
from flopcount.records import Cost
from helpers import analyze_meta, only_record


# --- convolutions ----------------------------------------------------------------------------------
def test_standard_conv2d():
    # 3x3, 16 -> 32, stride 1, pad 1 on 1x16x28x28: out 1x32x28x28
    r = only_record(analyze_meta(nn.Conv2d(16, 32, 3, padding=1, bias=True), (1, 16, 28, 28)))
    assert r.outputs[0].shape == (1, 32, 28, 28)
    assert r.flops == 3 * 3 * 16 * 32 * 28 * 28  # k_h k_w c_in c_out H W = 3,612,672
    assert r.params == 3 * 3 * 16 * 32 + 32  # weights + bias
    # MAC: input 16*28*28 + weights 4608 + bias 32 + output 32*28*28
    assert r.mac == 16 * 28 * 28 + 4608 + 32 + 32 * 28 * 28
    assert r.mac_bytes == 4 * r.mac


def test_group_conv2d_divides_by_groups():
    r = only_record(analyze_meta(nn.Conv2d(16, 32, 3, padding=1, groups=4, bias=False), (2, 16, 14, 14)))
    # k_h k_w c_in c_out H W N / g = 9 * 16 * 32 * 14 * 14 * 2 / 4
    assert r.flops == 9 * 16 * 32 * 14 * 14 * 2 // 4 == 451_584
    assert r.params == 9 * 16 * 32 // 4
    assert r.attrs["groups"] == 4


def test_depthwise_conv2d():
    r = only_record(analyze_meta(nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False), (1, 32, 112, 112)))
    # depthwise: k_h k_w c_out H W with H = W = 56
    assert r.outputs[0].shape == (1, 32, 56, 56)
    assert r.flops == 3 * 3 * 32 * 56 * 56 == 903_168
    assert r.params == 3 * 3 * 32


def test_conv_with_dilation_and_stride():
    # out = floor((20 + 2*2 - 2*(3-1) - 1) / 2) + 1 = floor(19/2) + 1 = 10
    r = only_record(analyze_meta(nn.Conv2d(4, 8, 3, stride=2, padding=2, dilation=2, bias=False), (1, 4, 20, 20)))
    assert r.outputs[0].shape == (1, 8, 10, 10)
    assert r.flops == 9 * 4 * 8 * 10 * 10


def test_conv1d_and_conv3d():
    r1 = only_record(analyze_meta(nn.Conv1d(8, 16, 5, bias=False), (2, 8, 100)))
    assert r1.flops == 5 * 8 * 16 * 96 * 2  # L_out = 100 - 5 + 1 = 96, batch 2
    r3 = only_record(analyze_meta(nn.Conv3d(3, 6, (2, 3, 3), bias=False), (1, 3, 4, 10, 10)))
    assert r3.flops == 2 * 3 * 3 * 3 * 6 * (3 * 8 * 8)  # out 3x8x8


def test_conv_transpose_counts_input_size_not_output():
    # stride 2 doubles the spatial size: 1x16x8x8 -> 1x8x16x16. FLOPs = k k c_in c_out H_in W_in / g.
    r = only_record(analyze_meta(nn.ConvTranspose2d(16, 8, 2, stride=2, bias=False), (1, 16, 8, 8)))
    assert r.outputs[0].shape == (1, 8, 16, 16)
    assert r.flops == 2 * 2 * 16 * 8 * 8 * 8 == 32_768  # not x4 as with the output size
    r1 = only_record(analyze_meta(nn.ConvTranspose1d(4, 6, 3, stride=2, groups=2, bias=False), (1, 4, 10)))
    assert r1.flops == 3 * 4 * 6 * 10 // 2


def test_mac_of_1x1_conv_matches_seed_formula():
    # Seed G1: MAC = hw(c1 + c2) + c1 c2 for batch 1, no bias.
    h = w = 14
    c1, c2 = 64, 128
    r = only_record(analyze_meta(nn.Conv2d(c1, c2, 1, bias=False), (1, c1, h, w)))
    assert r.mac == h * w * (c1 + c2) + c1 * c2 == 45_824
    # G2 with groups: hw(c1 + c2) + c1 c2 / g
    rg = only_record(analyze_meta(nn.Conv2d(c1, c2, 1, groups=4, bias=False), (1, c1, h, w)))
    assert rg.mac == h * w * (c1 + c2) + c1 * c2 // 4


# --- fully connected --------------------------------------------------------------------------------
def test_linear_counts_every_leading_dim():
    r = only_record(analyze_meta(nn.Linear(768, 3072), (1, 197, 768)))
    assert r.flops == 197 * 768 * 3072  # 197 rows, not 1
    assert r.params == 768 * 3072 + 3072


def test_bilinear():
    r = only_record(analyze_meta(nn.Bilinear(5, 7, 3), (4, 5), (4, 7)))
    # per row and output: A_k x2 (5*7) then dot with x1 (5): 4 rows * 3 outputs * (35 + 5)
    assert r.flops == 4 * 3 * (5 * 7 + 5) == 480
    assert r.params == 3 * 5 * 7 + 3


# --- norms, activations, pooling --------------------------------------------------------------------
def test_batch_norm_eval_and_train():
    bn = nn.BatchNorm2d(8).eval()
    r = only_record(analyze_meta(bn, (2, 8, 4, 4)))
    n = 2 * 8 * 4 * 4
    assert r.flops == 2 * n  # normalise + affine, 1 multiply-add each
    # MAC: read x, weight, bias, running mean, running var; write y
    assert r.mac == n + 4 * 8 + n
    r_train = only_record(analyze_meta(nn.BatchNorm2d(8).train(), (2, 8, 4, 4)))
    assert r_train.flops == 5 * n  # statistics (4) + affine (1)


def test_layer_group_instance_norm():
    assert only_record(analyze_meta(nn.LayerNorm(16), (2, 10, 16))).flops == 5 * 2 * 10 * 16
    assert only_record(analyze_meta(nn.GroupNorm(2, 8, affine=False), (1, 8, 3, 3))).flops == 4 * 72
    assert only_record(analyze_meta(nn.InstanceNorm2d(8), (1, 8, 3, 3))).flops == 4 * 72


@pytest.mark.parametrize("module", [nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(), nn.PReLU(), nn.Hardswish(), nn.Hardsigmoid(),
                                    nn.SiLU(), nn.GELU(), nn.Sigmoid(), nn.Tanh()])
def test_activations_one_flop_per_element(module):
    r = only_record(analyze_meta(module, (2, 3, 5, 5)))
    n = 2 * 3 * 5 * 5
    assert r.flops == n and r.category == "activation"
    assert r.mac == 2 * n + sum(p.numel() for p in module.parameters())  # read x (+ PReLU slope), write y


def test_softmax_three_per_element():
    assert only_record(analyze_meta(nn.Softmax(dim=-1), (4, 10))).flops == 3 * 40


def test_pooling():
    r = only_record(analyze_meta(nn.MaxPool2d(3, 2, ceil_mode=True), (1, 64, 111, 111)))
    # ceil((111 - 3) / 2) + 1 = 55; 9 comparisons per output
    assert r.outputs[0].shape == (1, 64, 55, 55)
    assert r.flops == 9 * 64 * 55 * 55
    r = only_record(analyze_meta(nn.AvgPool2d(2), (1, 4, 8, 8)))
    assert r.flops == 4 * 4 * 4 * 4
    r = only_record(analyze_meta(nn.AdaptiveAvgPool2d(1), (1, 1280, 7, 7)))
    assert r.flops == 1280 * 7 * 7  # each input element summed once


def test_pool_window_is_cut_at_the_padded_edge():
    # HF EfficientNet's head: AvgPool2d(2560, ceil_mode=True) over 2560x7x7 gives 1x1 from the 7x7 input alone
    r = only_record(analyze_meta(nn.AvgPool2d(2560, ceil_mode=True), (1, 2560, 7, 7)))
    assert r.outputs[0].shape == (1, 2560, 1, 1)
    assert r.flops == 2560 * 7 * 7  # 125,440 reads, not 2560 * 2560 * 2560 = 16.8 G
    assert r.attrs["ceil_mode"] is True
    # ceil_mode's last window hangs over the edge: 3-wide, stride 2 over 8 -> ceil((8 - 3) / 2) + 1 = 4 windows
    # starting at 0, 2, 4, 6; the last reads 6 and 7 only: 3 + 3 + 3 + 2 = 11 reads per dim
    r = only_record(analyze_meta(nn.MaxPool2d(3, 2, ceil_mode=True), (1, 4, 8, 8)))
    assert r.outputs[0].shape == (1, 4, 4, 4)
    assert r.flops == 4 * 11 * 11
    # padding stays part of the window (the convention): 3x3, stride 2, pad 1 over 112 -> 56, 9 per output
    assert only_record(analyze_meta(nn.MaxPool2d(3, 2, 1), (1, 64, 112, 112))).flops == 9 * 64 * 56 * 56

    class Functional(nn.Module):
        def forward(self, x):
            return F.avg_pool2d(x, 2560, ceil_mode=True)

    r = only_record(analyze_meta(Functional(), (1, 8, 7, 7)))
    assert r.flops == 8 * 7 * 7 and r.attrs["kernel"] == (2560, 2560)


def test_upsample():
    r = only_record(analyze_meta(nn.Upsample(scale_factor=2, mode="bilinear"), (1, 3, 8, 8)))
    assert r.flops == 4 * 3 * 16 * 16  # 4 points blended per output element
    assert only_record(analyze_meta(nn.Upsample(scale_factor=2), (1, 3, 8, 8))).flops == 3 * 16 * 16


def test_embedding_reads_only_gathered_rows():
    r = only_record(analyze_meta(nn.Embedding(50_000, 64), "2x10:int64"))
    assert r.flops == 0
    # read 20 indices + 20 rows of 64, write 20 x 64: the 50,000 x 64 table is not read whole
    assert r.mac == 20 + 20 * 64 + 20 * 64
    # int64 indices are 8 bytes each, float32 rows 4: 20*8 + 1280*4 + 1280*4 = 160 + 5,120 + 5,120
    assert r.mac_bytes == 10_400
    assert r.params == 50_000 * 64


def test_multihead_attention():
    mha = nn.MultiheadAttention(embed_dim=32, num_heads=4, batch_first=True)
    r = only_record(analyze_meta(mha, (2, 10, 32), (2, 10, 32), (2, 10, 32)))
    n, L, S, E = 2, 10, 10, 32
    projections = n * (L * E * E + S * E * E + S * E * E)
    attention = n * L * S * E * 2  # Q K^T and attn V
    out_proj = n * L * E * E
    assert r.flops == projections + attention + out_proj == 94_720
    assert r.category == "attention" and r.is_paper
    assert (r.attrs["batch"], r.attrs["query_len"], r.attrs["key_len"]) == (2, 10, 10)


def test_multihead_attention_of_one_query_over_a_sequence_first_memory():
    # batch_first=False: query (L=1, N=3, E=32), keys and values (S=7, N=3, E=32)
    mha = nn.MultiheadAttention(embed_dim=32, num_heads=4)
    r = only_record(analyze_meta(mha, (1, 3, 32), (7, 3, 32), (7, 3, 32)))
    n, L, S, E = 3, 1, 7, 32
    # q and out projections over 1 query, k and v over 7 keys: 3 x (1 + 7 + 7 + 1) x 1,024 = 49,152;
    # scores and weighted values 3 x 1 x 7 x 32 x 2 = 1,344
    assert r.flops == n * (L + S + S + L) * E * E + n * L * S * E * 2 == 50_496
    assert (r.attrs["batch"], r.attrs["query_len"], r.attrs["key_len"]) == (3, 1, 7)


def test_scaled_dot_product_attention_function():
    class Attn(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    report = analyze_meta(Attn(), (2, 4, 16, 8), (2, 4, 20, 8), (2, 4, 20, 8))
    r = only_record(report)
    assert r.op == "scaled_dot_product_attention" and r.path == ""
    assert r.flops == 2 * 4 * 16 * 20 * (8 + 8)  # batch*heads * L * S * (d_qk + d_v)


@pytest.mark.parametrize("module", [nn.Identity(), nn.Dropout(0.5).eval(), nn.Flatten()])
def test_free_modules_cost_nothing(module):
    r = only_record(analyze_meta(module, (2, 3, 4, 4)))
    assert (r.flops, r.mac) == (0, 0)


# --- registry ----------------------------------------------------------------------------------------
def test_registry_refuses_duplicates_and_accepts_new_formulas():
    registry = FormulaRegistry()

    @registry.register(nn.Conv2d)
    def mine(module, inputs, output):
        return Cost(7, "conv")

    with pytest.raises(DuplicateRegistrationError):
        registry.register(nn.Conv2d)(mine)
    assert registry.for_module(nn.Conv2d(1, 1, 1)).cost is mine


def test_subclass_that_overrides_forward_gets_no_formula():
    from flopcount.formulas import REGISTRY

    class Plain(nn.Conv2d):
        pass

    class Custom(nn.Conv2d):
        def forward(self, x):
            return super().forward(x) * 2

    assert REGISTRY.for_module(Plain(1, 1, 1)) is not None
    assert REGISTRY.for_module(Custom(1, 1, 1)) is None
    report = analyze_meta(Custom(2, 2, 1, bias=False), (1, 2, 3, 3))
    # counted from its ops: the conv2d (2*2*9 = 36) and the multiply (2*9 = 18)
    assert [(r.op, r.flops) for r in report.records] == [("conv2d", 36), ("mul", 18)]


# --- recurrent ----------------------------------------------------------------------------------------
def test_lstm_counts_every_time_step():
    r = only_record(analyze_meta(nn.LSTM(16, 32, num_layers=2), (5, 3, 16)))
    # 5 steps x 3 sequences = 15 tokens; layer 0: 4 gates x (16*32 + 32*32) = 6,144;
    # layer 1: 4 x (32*32 + 32*32) = 8,192. (FlopCounterMode reports 0: CPU runs a fused oneDNN kernel.)
    assert r.flops == 15 * (6_144 + 8_192) == 215_040
    assert r.params == sum(p.numel() for p in nn.LSTM(16, 32, num_layers=2).parameters())


@pytest.mark.parametrize("layer, shape", [
    (nn.GRU(16, 32, bidirectional=True, batch_first=True), (3, 5, 16)),
    (nn.RNN(8, 12, num_layers=2), (7, 2, 8)),
    (nn.LSTM(16, 32, num_layers=2, proj_size=8), (5, 3, 16)),
])
def test_recurrent_layers_match_flop_counter_mode(layer, shape):
    from torch.utils.flop_counter import FlopCounterMode

    ours = only_record(analyze_meta(layer, shape)).flops
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(torch.randn(shape))
    assert 2 * ours == counter.get_total_flops()


def test_broadcast_shape_rule_matches_torch():
    from flopcount.formulas._util import broadcast_shape

    for a, b in [((3, 1, 5), (4, 5)), ((1,), (2, 3)), ((), (2,)), ((8, 1, 6, 1), (7, 1, 5))]:
        assert broadcast_shape(a, b) == tuple(torch.broadcast_shapes(a, b))
    with pytest.raises(RuntimeError, match="do not broadcast"):
        broadcast_shape((2, 3), (4, 3))


# --- einsum, assignment ---------------------------------------------------------------------------------
def test_einsum_attention_scores():
    class Scores(nn.Module):
        def forward(self, q, k):
            return torch.einsum("bhld,bhsd->bhls", q, k)

    r = only_record(analyze_meta(Scores(), (2, 4, 10, 8), (2, 4, 12, 8)))
    assert r.flops == 2 * 4 * 10 * 12 * 8  # b h l s d: each of the 960 scores is a dot product of 8
    assert r.category == "matmul"


def test_einsum_chain_is_contracted_left_to_right():
    class Chain(nn.Module):
        def forward(self, a, b, c):
            return torch.einsum("ij,jk,kl->il", a, b, c)

    # (3x4 @ 4x5) = 3*4*5 = 60, then (3x5 @ 5x6) = 90
    assert only_record(analyze_meta(Chain(), (3, 4), (4, 5), (5, 6))).flops == 60 + 90


@pytest.mark.parametrize("equation, shapes, flops", [
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)], 2 * 3 * 4 * 5),  # batched matmul: 120
    ("...ij,jk", [(7, 2, 3, 4), (4, 5)], 7 * 2 * 3 * 4 * 5),  # implicit output, broadcast weight: 840
    ("bhqd,bhkd", [(1, 2, 3, 8), (1, 2, 5, 8)], 1 * 2 * 3 * 5 * 8),  # implicit output keeps q, k: 240
    ("ij,j->i", [(6, 1), (9,)], 6 * 9),  # a size-1 dim broadcast against 9: 54
])
def test_einsum_ellipsis_implicit_output_and_broadcasting(equation, shapes, flops):
    class Einsum(nn.Module):
        def forward(self, *operands):
            return torch.einsum(equation, *operands)

    report = analyze_meta(Einsum(), *shapes)
    assert report.complete and report.totals.paper_flops == flops


def test_setitem_moves_the_assigned_elements():
    class Assign(nn.Module):
        def forward(self, x, y):
            x = x.clone()
            x[:, 0] = y
            return x

    report = analyze_meta(Assign(), (4, 3), (4,))
    setitem = report.records[-1]
    assert setitem.op == "__setitem__" and setitem.mac == 4 + 4


def test_layered_registry_overrides_without_touching_the_defaults():
    from flopcount.formulas import REGISTRY

    registry = REGISTRY.layered()

    @registry.register(nn.ReLU)
    def free_relu(module, inputs, output):
        return Cost(0, "activation")

    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.ReLU())
    assert only_record_named(analyze_meta(model, (1, 1, 3, 3), registry=registry), "1").flops == 0
    assert only_record_named(analyze_meta(model, (1, 1, 3, 3)), "1").flops == 2 * 9  # defaults unchanged
    assert registry.for_module(nn.Conv2d(1, 1, 1)) is REGISTRY.for_module(nn.Conv2d(1, 1, 1))


def only_record_named(report, name):
    [record] = [r for r in report.records if r.name == name]
    return record
