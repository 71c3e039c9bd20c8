"""Records -> kernels, the profile file, predict() on a synthetic profile, rendering, the generator.

Times in these tests come from synthetic profiles whose fits the test writes down, never from a
measurement: no test asserts a measured time.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from rich.console import Console
from torch import nn

from flopcount import analyze
from flopcount.devices import last_level_cache_bytes
from flopcount.errors import ConfigError, UsageError
from flopcount.predict import EAGER_CPU, PredictProfile, calibrate, load_profile, predict, save_profile
from flopcount.predict.archgen import CALIBRATION_SEEDS, EVALUATION_SEEDS, FAMILIES, generate
from flopcount.predict.fit import KindFit
from flopcount.predict.kernels import clone_config, kernels_of
from flopcount.predict.kinds import KINDS
from flopcount.predict.measure import build, num_threads, time_configs
from flopcount.predict.predictor import ModelTerms, container_calls, model_features
from flopcount.predict.profile import KindEntry, RuntimeProfile, list_profiles
from flopcount.render.predict import prediction_dict, prediction_table


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.pw = nn.Conv2d(16, 32, 1, bias=False)
        self.bn = nn.BatchNorm2d(32)
        self.act = nn.ReLU(inplace=True)
        self.dw = nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False)
        self.gc = nn.Conv2d(32, 16, 1, groups=4)

    def forward(self, x):
        y = self.gc(self.dw(self.act(self.bn(self.pw(x)))))
        z = torch.cat((x, y), 1)
        n, c, h, w = z.shape
        z = z.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)  # channel shuffle
        return z + z


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1)
        self.block = _Block()
        self.gn = nn.GroupNorm(4, 32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.gn(self.block(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


@pytest.fixture(scope="module")
def report():
    return analyze(_Net().eval(), (1, 3, 56, 56), device="meta")


def test_records_map_to_the_kernels_eager_cpu_runs(report):
    with num_threads(1):
        kernels = kernels_of(report.records)
    # At batch 1 and one thread torch runs on oneDNN only the convs that are strided, dilated or have a
    # window AND are grouped, have a window over 3x3, or read more than 20,480 elements (torch's own
    # _select_conv_backend): the stem (3x3 stride 2, but 3*56*56 = 9,408 elements in), the 1x1 convs and
    # the 1x1 group conv run torch's own kernel; the depthwise 3x3 (grouped, with a window) runs oneDNN.
    assert [k.kind for k in kernels] == [
        "conv", "conv1x1", "batchnorm", "act_relu", "conv_dw_mkldnn", "conv_group", "cat", "view", "view", "copy",
        "view", "binary", "groupnorm", "adaptive_avgpool", "view", "linear"]
    # Stem: 3 -> 16 channels, 3x3 stride 2 on 56x56 (28x28 out), with a bias (nn.Conv2d's default).
    assert kernels[0].config == {"n": 1, "cin": 3, "cout": 16, "h": 56, "w": 56, "kh": 3, "kw": 3, "s": 2, "ph": 1,
                                 "pw": 1, "g": 1, "bias": 1}
    assert kernels[1].config["bias"] == 0 and kernels[5].config["g"] == 4 and kernels[5].config["bias"] == 1
    # The cat joins two 16-channel 28x28 halves: blocks of 16 * 28 * 28 = 12,544 elements; 32*28*28 = 25,088 out.
    assert kernels[6].config == {"numel": 25088, "parts": 2, "inner": 12544}
    # The shuffle's contiguous copies runs of 28 * 28 = 784 elements (the dims the transpose left in place);
    # adjacent runs of the copy lie one group apart in the source: 16 channels x 784 = 12,544 elements.
    assert kernels[9].config == {"numel": 25088, "inner": 784, "jump": 12544}
    assert kernels[2].config == {"n": 1, "c": 32, "hw": 784, "module": 1}
    assert kernels[15].config == {"rows": 1, "cin": 32, "cout": 10, "bias": 1}
    # GroupNorm(4, 32) over 32 x 28 x 28: statistics over 4 groups of 8 channels x 784 pixels
    assert kernels[12].config == {"n": 1, "c": 32, "hw": 784, "g": 4}


class _DepthwiseConv(nn.Conv2d):
    """A subclass of nn.Conv2d, as HF's EfficientNetDepthwiseConv2d: still torch's conv kernel."""

    def __init__(self, channels: int):
        super().__init__(channels, channels, 3, padding="same", groups=channels, bias=False)


class _ThirdPartyStyle(nn.Module):
    def __init__(self):
        super().__init__()
        self.depthwise = _DepthwiseConv(8)
        self.valid = nn.Conv2d(8, 8, 3, padding="valid")
        self.uneven = nn.Conv2d(8, 8, 2, padding="same")  # 'same' with an even window pads unevenly
        self.reflect = nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect")
        self.up = nn.ConvTranspose2d(8, 8, 2, 2)
        self.pool = nn.AvgPool2d(3, 2, ceil_mode=True)

    def forward(self, x):
        x = nn.functional.pad(x, (0, 1, 0, 1))  # TF-style 'same' before a stride-2 conv
        x = self.valid(self.depthwise(x))
        x = self.up(self.reflect(self.uneven(x)))
        return self.pool(nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))


def test_third_party_convs_pads_and_pools_map_by_what_they_are():
    records = analyze(_ThirdPartyStyle().eval(), (1, 8, 9, 9), device="meta").records
    with num_threads(1):
        kernels = kernels_of(records)
    assert [k.kind for k in kernels] == ["pad", "conv_dw_mkldnn", "conv", "fallback", "fallback", "fallback",
                                         "fallback", "avgpool"]
    assert kernels[0].config == {"c": 8, "h": 9, "w": 9, "oh": 10, "ow": 10}  # 9x9 padded right and below
    # 'same' for a 3x3 window is 1 on each side, 'valid' is 0: 10 - 3 + 1 = 8 out
    assert (kernels[1].config["ph"], kernels[1].config["g"], kernels[1].config["bias"]) == (1, 8, 0)
    assert (kernels[2].config["ph"], kernels[2].config["h"], records[2].outputs[0].shape[-1]) == (0, 10, 8)
    # uneven 'same', reflect padding and a transposed conv run other kernels than any timed conv; so does a
    # reflect pad
    assert [r.op for r in records[3:7]] == ["Conv2d", "Conv2d", "ConvTranspose2d", "pad"]
    # ceil_mode is part of the pool's config: 9 -> pad 10 -> 'same' 10 -> 'valid' 8 -> 8 -> 8 -> transposed 16
    # -> pad 18 wide; ceil((18 - 3) / 2) + 1 = 9 windows (floor would give 8)
    assert kernels[7].config == {"n": 1, "c": 8, "h": 18, "w": 18, "k": 3, "s": 2, "p": 0, "module": 1, "ceil": 1}
    assert tuple(build("avgpool", kernels[7].config)().shape) == (1, 8, 9, 9)


class _StandardisedConv(nn.Module):
    """transformers' BiT conv: weights standardised per output channel by F.batch_norm in training mode, on every
    forward; then a zero F.pad (TF 'same' at stride 1) and the function-level ops that run the same kernels."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(16, 8, 3, 3))

    def forward(self, x):
        w = nn.functional.batch_norm(self.weight.reshape(1, 16, -1), None, None, training=True, momentum=0.0)
        x = nn.functional.conv2d(nn.functional.pad(x, (0, 0, 0, 0)), w.reshape_as(self.weight), padding=1)
        x = nn.functional.group_norm(x, 2)
        x = nn.functional.max_pool2d(x, 3, 1, 1)
        return x.clone()


def test_statistics_norms_zero_pads_and_clones_map_to_their_kernels():
    records = analyze(_StandardisedConv().eval(), (1, 8, 12, 12), device="meta").records
    with num_threads(1):
        kernels = [k for k in kernels_of(records) if k.kind != "view"]
    assert [k.kind for k in kernels] == ["batchnorm_stats", "copy", "conv", "groupnorm", "maxpool", "copy"]
    # the weights as one image of 16 channels x 8*3*3 = 72 values each: a reduction over 72 per channel
    assert kernels[0].config == {"n": 1, "c": 16, "hw": 72}
    # a zero pad and a clone copy all 8*12*12 = 1,152 (and 16*12*12 = 2,304) elements as one block
    assert kernels[1].config == {"numel": 1152, "inner": 1152, "jump": 1152}
    assert kernels[3].config == {"n": 1, "c": 16, "hw": 144, "g": 2}
    assert kernels[5].config == {"numel": 2304, "inner": 2304, "jump": 2304}
    # what calibration times for these configs is the kernel itself: a clone, a batch-statistics norm, a GroupNorm
    x = build("copy", kernels[1].config)()
    assert x.shape == (1152,) and x.is_contiguous()
    y = build("batchnorm_stats", kernels[0].config)()
    assert y.shape == (1, 16, 72) and torch.allclose(y.mean(dim=2), torch.zeros(1, 16), atol=1e-5)
    z = build("groupnorm", kernels[3].config)()
    assert z.shape == (1, 16, 144, 1) and torch.allclose(z.reshape(2, -1).std(dim=1, unbiased=False), torch.ones(2), atol=1e-3)


def test_pool_terms_count_reads_and_outputs():
    spec = KINDS["maxpool"]
    # 8 channels of 10x10, 3x3 windows at stride 1 with padding 1: 10x10 outputs per channel, every window
    # inside the padded 12 columns (reads of the padding count, as the FLOPs formula counts them), so
    # 10 x 3 = 30 reads per row of outputs and 30 x 30 per channel.
    c = {"n": 1, "c": 8, "h": 10, "w": 10, "k": 3, "s": 1, "p": 1, "module": 1}
    assert spec.terms(c) == [1.0, 8 * 100, 8 * 30 * 30, 8 * 100]
    # at stride 2 without padding: (10 - 3) // 2 + 1 = 4 outputs a row, each reading 3 columns
    assert spec.terms({**c, "s": 2, "p": 0}) == [1.0, 800, 8 * 12 * 12, 8 * 16]


def test_layout_copies_are_transposes_of_runs():
    from flopcount.predict.kernels import layout_copy
    from flopcount.records import TensorSpec

    def spec(t):
        return TensorSpec.of(tuple(t.shape), "float32", 4, None if t.is_contiguous() else tuple(t.stride()))

    tokens = torch.empty(1, 3136, 256)
    # transformers' PVT: tokens viewed as a 256-channel 56x56 image. Made contiguous, each element is a run of
    # its own, and the next one in NCHW order is a whole token (256 elements) further on in the source.
    assert layout_copy(spec(tokens.transpose(1, 2).view(1, 256, 56, 56))) == {"numel": 802816, "inner": 1, "jump": 256}
    # heads split off 197 tokens of 6 x 64: (1, 197, 6, 64) -> (1, 6, 197, 64) copies runs of 64, 6 x 64 apart
    heads = torch.empty(1, 197, 6, 64).permute(0, 2, 1, 3)
    assert layout_copy(spec(heads)) == {"numel": 75648, "inner": 64, "jump": 384}
    assert layout_copy(spec(tokens)) == {"numel": 802816, "inner": 802816, "jump": 802816}  # contiguous: a clone
    # what calibration builds for such a config is that transpose: (3136, 256, 1) swapped in its first two dims
    assert build("copy", {"numel": 3136 * 256, "inner": 1, "jump": 256})().shape == (256, 3136, 1)


class _TokensAndImages(nn.Module):
    """Token-major tensors viewed as images and back, as PVT, SegFormer and Swin do."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.bn = nn.BatchNorm2d(16)
        self.act = nn.GELU()

    def forward(self, x):  # x: (1, 64, 16), 64 tokens of 16 channels
        image = x.transpose(1, 2).view(1, 16, 8, 8)  # a channels-last view of the tokens
        y = self.dw(image)  # copies it to NCHW first (its output is NCHW)
        z = self.bn(image)  # runs on the channels-last layout: no copy
        t = self.norm(y.flatten(2).transpose(1, 2))  # copies the token-major view of an NCHW image
        # GELU strides through a transposed view at about its contiguous speed (no copy); an add of two layouts
        # reads one against the other's order, which costs a copy of it
        return self.act(t.transpose(1, 2)) + self.norm(x).transpose(1, 2) + y.flatten(2)


def test_kernels_that_need_contiguous_input_copy_a_strided_one():
    records = analyze(_TokensAndImages().eval(), (1, 64, 16), device="meta").records
    with num_threads(1):
        all_kernels = [k for k in kernels_of(records) if k.kind != "view"]
    kernels = {records[k.record].name: k for k in all_kernels}  # the norm's second call stands for both here
    # 8x8 pixels of 16 channels: the conv's copy is a transpose of (64, 16) runs of 1, 16 apart
    assert kernels["dw"].kind == "conv_dw_mkldnn" and kernels["dw"].copies == ({"numel": 1024, "inner": 1, "jump": 16},)
    assert kernels["bn"].copies == ()
    # the first LayerNorm call reads (1, 16, 64) NCHW memory as (1, 64, 16): runs of 1, 64 apart; the second
    # reads contiguous tokens
    norms = [k for k in all_kernels if k.kind == "layernorm"]
    assert [k.copies for k in norms] == [({"numel": 1024, "inner": 1, "jump": 64},), ()]
    assert kernels["act"].copies == ()
    adds = [k for k in all_kernels if k.kind == "binary"]
    # GELU's output keeps the transposed layout, as does the second norm's transpose: same layouts, no copy;
    # then that (16, 64)-shaped transposed sum + the NCHW conv output flattened: the transposed one is copied
    assert [k.copies for k in adds] == [(), ({"numel": 1024, "inner": 1, "jump": 16},)]

    profile = _synthetic_profile()  # every kind 10 us a call: a LayerNorm with its copy, 20 us
    prediction = predict(analyze(_TokensAndImages().eval(), (1, 64, 16), device="meta"), profile)
    first_norm = next(o for o in prediction.ops if o.kind == "layernorm")
    assert first_norm.kernel_seconds == pytest.approx(20e-6) and first_norm.predictor == "fit:layernorm + input copy"


class _Reductions(nn.Module):
    """ConvNeXt V2's GRN (a norm over h x w of NHWC), a channels-first LayerNorm written out, an SE mean."""

    def forward(self, x):  # x: (1, 8, 6, 6)
        nhwc = x.permute(0, 2, 3, 1).contiguous()
        grn = torch.linalg.vector_norm(nhwc, ord=2, dim=(1, 2), keepdim=True)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        return grn, (x - u) / torch.sqrt(s + 1e-6), x.mean((2, 3)), torch.exp(x).amax(-1), x.sum((1, 3))


def test_reductions_map_by_the_dims_they_fold_in_memory():
    records = analyze(_Reductions().eval(), (1, 8, 6, 6), device="meta").records
    with num_threads(1):
        kernels = [(records[k.record].op, k) for k in kernels_of(records) if k.kind not in ("view", "copy", "binary")]
    assert [(op, k.kind) for op, k in kernels] == [
        ("linalg_vector_norm", "reduce"), ("mean", "reduce"), ("pow", "unary"), ("mean", "reduce"), ("sqrt", "unary"),
        ("mean", "adaptive_avgpool"), ("exp", "unary"), ("amax", "reduce"), ("sum", "fallback")]
    # NHWC (1, 6, 6, 8) normed over h x w: 36 pixels folded for each of 8 channels, which lie innermost
    assert kernels[0][1].config == {"outer": 1, "reduced": 36, "inner": 8, "op": 1}
    # NCHW averaged over channels: 8 folded, the 36 pixels of each plane innermost
    assert kernels[1][1].config == {"outer": 1, "reduced": 8, "inner": 36, "op": 0}
    assert kernels[2][1].config == {"numel": 288, "op": 0} and kernels[6][1].config == {"numel": 288, "op": 1}
    # amax over the last dim: 8 x 6 rows of 6; a sum over c and w of NCHW folds dims that are not one block
    assert kernels[7][1].config == {"outer": 48, "reduced": 6, "inner": 1, "op": 3}
    assert kernels[8][1].config["op"] == "sum"
    for kind, config in (("reduce", kernels[0][1].config), ("reduce", {**kernels[1][1].config, "op": 2}),
                         ("unary", kernels[6][1].config)):
        with torch.no_grad():
            assert build(kind, config)() is not None


def test_einsum_of_two_operands_is_the_batched_matmul_torch_runs():
    class CvtAttention(nn.Module):  # transformers' CvT: scores and context by einsum
        def forward(self, q, k):
            scores = torch.einsum("bhlk,bhtk->bhlt", q, k)
            return torch.einsum("bhlt,bhtv->bhlv", scores, k), torch.einsum("ij,ij->i", q[0, 0], q[0, 0])

    records = analyze(CvtAttention(), [(2, 3, 5, 4), (2, 3, 7, 4)], device="meta").records
    kernels = [k for k in kernels_of(records) if k.kind != "view"]
    # b, h shared and kept: 2 x 3 = 6 products of (5 x 4) @ (4 x 7); then (5 x 7) @ (7 x 4)
    assert [k.kind for k in kernels] == ["matmul"] * 3
    assert kernels[0].config == {"b": 6, "m": 5, "k": 4, "n": 7} and kernels[1].config == {"b": 6, "m": 5, "k": 7, "n": 4}
    # row-wise dot products: 5 rows, each (1 x 4) @ (4 x 1)
    assert kernels[2].config == {"b": 5, "m": 1, "k": 4, "n": 1}


def test_attention_is_timed_in_the_layout_models_call_it():
    class Heads(nn.Module):  # transformers' sdpa attention: (batch, heads, tokens, dim); causal or masked
        def forward(self, q, k, mask):
            fused = nn.functional.scaled_dot_product_attention
            return (fused(q, k, k), fused(q, k, k, is_causal=True), fused(q, k, k, mask),
                    fused(q[0], k[0], k[0], attn_mask=mask[0]))

    records = analyze(Heads(), [(2, 3, 5, 4), (2, 3, 5, 4), (1, 1, 5, 5)], device="meta").records
    calls = [k.config for k in kernels_of(records) if k.kind == "sdpa"]
    # 2 x 3 = 6 heads of 5 queries over 5 keys of dim 4; the last call drops the batch: 3 heads, 3-D (math path)
    assert calls == [{"b": 6, "l": 5, "s": 5, "d": 4, "rank": 4, "causal": 0, "masked": 0},
                     {"b": 6, "l": 5, "s": 5, "d": 4, "rank": 4, "causal": 1, "masked": 0},
                     {"b": 6, "l": 5, "s": 5, "d": 4, "rank": 4, "causal": 0, "masked": 1},
                     {"b": 3, "l": 5, "s": 5, "d": 4, "rank": 3, "causal": 0, "masked": 1}]
    with torch.no_grad():
        assert build("sdpa", calls[2])().shape == (1, 6, 5, 4)  # timed as called: heads in a batch of one
        assert build("sdpa", calls[3])().shape == (3, 5, 4)
    # a profile's samples from before the flags were timed 3-D, unmasked and not causal
    old = {"b": 6, "l": 5, "s": 5, "d": 4}
    assert KINDS["sdpa"].features(old)[4:] == [0.0, 0.0, 0.0] and KINDS["sdpa"].features(calls[1])[4:] == [1.0, 1.0, 0.0]


def test_multihead_attention_is_timed_by_its_queries_and_keys():
    class PoolingHead(nn.Module):  # SigLIP's head: one learned query over the tokens; a sequence-first encoder
        def __init__(self):
            super().__init__()
            self.pool = nn.MultiheadAttention(16, 2, batch_first=True)
            self.encoder = nn.MultiheadAttention(16, 2)  # (tokens, batch, embed): batch_first=False

        def forward(self, tokens, probe, seq_first):
            return self.pool(probe, tokens, tokens)[0], self.encoder(seq_first, seq_first, seq_first)[0]

    # 3 images of 49 tokens, one query each; 4 sequences of 3 tokens laid out (3, 4, 16)
    records = analyze(PoolingHead(), [(3, 49, 16), (3, 1, 16), (3, 4, 16)], device="meta").records
    calls = [k.config for k in kernels_of(records) if k.kind == "mha"]
    # The query's shape alone read (3, 1, 16) as one query in each of 3 images and (3, 4, 16) as a batch of 3
    # (the shorter dim): the 49 keys' projections went uncounted, and the encoder's batch and length swapped.
    assert calls == [{"b": 3, "l": 1, "s": 49, "e": 16, "heads": 2}, {"b": 4, "l": 3, "s": 3, "e": 16, "heads": 2}]
    # projections (2 l + 2 s) e^2 in units of self-attention's 4 l e^2: 3 x (1 + 49) / 2 x 256 = 19,200; scores
    # b l s e = 3 x 1 x 49 x 16 = 2,352, b l s heads = 294. Self-attention (and configs stored before s was)
    # keeps its terms: 4 x 3 x 256 = 3,072, 4 x 3 x 3 x 16 = 576, 4 x 3 x 3 x 2 = 72.
    assert KINDS["mha"].terms(calls[0]) == [1.0, 19_200, 2_352, 294]
    assert KINDS["mha"].terms(calls[1]) == KINDS["mha"].terms({"b": 4, "l": 3, "e": 16, "heads": 2}) == [1.0, 3_072, 576, 72]
    with torch.no_grad():
        assert build("mha", calls[0])()[0].shape == (3, 1, 16)  # timed as called: one query over 49 keys


def test_a_cat_onto_a_legacy_empty_tensor_is_a_copy_of_the_rest():
    class Cache(nn.Module):  # transformers' DynamicCache starts as torch.tensor([]): a prefill cats onto it
        def forward(self, keys, more):
            empty = keys.new_empty(0)
            return torch.cat([empty, keys], dim=-2), torch.cat([empty, keys, more], dim=-2)

    records = analyze(Cache(), [(1, 2, 8, 4), (1, 2, 3, 4)], device="meta").records
    kernels = [k for k in kernels_of(records) if k.kind != "view"]
    # 1 x 2 x 8 x 4 = 64 elements copied whole; the other is a cat of two parts, (8 + 3) x 4 = 44 elements each
    # of 2 heads (88 in all), its inner block of one part (11 // 2) x 4 = 20 elements
    assert [(k.kind, k.config) for k in kernels] == [("copy", clone_config(64)),
                                                     ("cat", {"numel": 88, "parts": 2, "inner": 20})]


def test_a_broadcast_operand_is_no_layout_copy():
    class AddPositions(nn.Module):
        def __init__(self):
            super().__init__()
            self.positions = nn.Parameter(torch.zeros(1, 1, 16))

        def forward(self, x):  # (2, 64, 16): the positions expanded over batch and tokens (stride 0), not copied
            return x + self.positions.expand(2, 64, 16)

    records = analyze(AddPositions(), (2, 64, 16), device="meta").records
    add = next(k for k in kernels_of(records) if k.kind == "binary")
    assert records[add.record].inputs[1].strides == (0, 0, 1) and add.copies == ()


@pytest.mark.parametrize("kind", ["batchnorm_stats", "groupnorm"])
def test_statistics_norm_samples_are_configs_torch_accepts(kind):
    import random

    from flopcount.predict import sampling

    # torch refuses statistics over a single value per channel ("Expected more than 1 value per channel when
    # training"): a first calibration run died on one such draw. Every draw and every neighbour must avoid it.
    rng = random.Random(3)
    for _ in range(300):
        config = sampling.sample(kind, rng)
        for c in (config, sampling.neighbour(kind, config, rng)):
            per_group = c["c"] // c["g"] if kind == "groupnorm" else 1
            assert c["n"] * c["hw"] * per_group >= 2
            assert kind != "groupnorm" or c["c"] % c["g"] == 0
    with torch.no_grad():  # the smallest such config runs
        build(kind, {"n": 1, "c": 4, "hw": 2, "g": 4} if kind == "groupnorm" else {"n": 1, "c": 4, "hw": 2})()


class _Gpt2Conv1D(nn.Module):
    """transformers' GPT-2 projection: bias + x @ w with w stored (c_in, c_out), called through torch.addmm."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(64, 192))
        self.bias = nn.Parameter(torch.zeros(192))

    def forward(self, x):
        return torch.addmm(self.bias, x.view(-1, 64), self.weight).view(2, 8, 192)


class _Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.ReLU(inplace=True), nn.SiLU()  # transformers builds nn.SiLU() out of place

    def forward(self, x):
        x = self.b(self.a(x))
        x = torch.nn.functional.relu(x)
        x = torch.nn.functional.hardswish(x, True)
        return x.relu_()


def test_activations_map_to_kernels_in_place_or_not_as_they_ran():
    kernels = kernels_of(analyze(_Activations(), (1, 8, 4, 4), device="meta").records)
    # 1 x 8 x 4 x 4 = 128 elements each
    assert [(k.kind, k.config) for k in kernels] == [
        ("act_relu", {"numel": 128, "module": 1, "inplace": 1}),
        ("act_silu", {"numel": 128, "module": 1, "inplace": 0}),
        ("act_relu", {"numel": 128, "module": 0, "inplace": 0}),
        ("act_hardswish", {"numel": 128, "module": 0, "inplace": 1}),
        ("act_relu", {"numel": 128, "module": 0, "inplace": 1}),
    ]


class _Gelus(nn.Module):
    def __init__(self):
        super().__init__()
        self.exact, self.tanh = nn.GELU(), nn.GELU(approximate="tanh")  # SigLIP's gelu_pytorch_tanh

    def forward(self, x):
        x = self.tanh(self.exact(x))
        x = torch.nn.functional.gelu(x, approximate="tanh")  # GPT-2's gelu_new as transformers calls it
        return torch.nn.functional.gelu(x, approximate="none")


def test_gelus_tanh_form_is_its_own_kernel():
    # On CPU (torch 2.13, 1 thread) F.gelu(x, approximate="tanh") took 367 us on 302,592 elements against 67
    # us for the exact form: one act_gelu fit for both put SigLIP's 12 GELUs at 1.2 ms against 4.4 ms.
    records = analyze(_Gelus(), (1, 8, 4, 4), device="meta").records
    kernels = kernels_of(records)
    assert [(k.kind, k.config["module"]) for k in kernels] == [("act_gelu", 1), ("act_gelu_tanh", 1),
                                                               ("act_gelu_tanh", 0), ("act_gelu", 0)]
    assert [r.flops for r in records] == [128] * 4  # one FLOP an element either way
    assert [r.attrs.get("approximate") for r in records] == [None, "tanh", "tanh", None]
    with torch.no_grad():
        for kernel in kernels:  # timed as called: the module or the function, in its form
            assert build(kernel.kind, kernel.config)().shape == (128,)


@pytest.mark.parametrize("kind", ["act_silu", "act_hardswish", "act_tanh", "act_sigmoid", "act_hardsigmoid"])
@pytest.mark.parametrize("module", [0, 1])
def test_in_place_activations_are_timed_on_normal_floats(kind, module):
    # Calibration calls a kernel up to 200 times per batch on the same input: in place, SiLU and Hardswish
    # would take [-1, 1) to denormals (below 2**-126) within ~130 calls and to zeros after.
    fn = build(kind, {"numel": 1000, "module": module, "inplace": 1})
    with torch.no_grad():
        for _ in range(400):
            out = fn()
    assert out.abs().min() > 2.0**-126


def test_addmm_is_a_fully_connected_layer():
    records = analyze(_Gpt2Conv1D(), (2, 8, 64), device="meta").records
    kernels = kernels_of(records)
    assert [r.op for r in records] == ["view", "addmm", "view"]
    # 2 x 8 = 16 rows of 64 -> 192, with a bias
    assert (kernels[1].kind, kernels[1].config) == ("linear", {"rows": 16, "cin": 64, "cout": 192, "bias": 1})


def test_containers_are_the_root_and_every_module_around_a_record(report):
    # The root's forward and block's forward run Python around records; stem, gn, pool, fc are leaves.
    assert container_calls(report.records) == 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_builds_a_runnable_kernel_of_its_config(kind):
    import random

    from flopcount.predict import sampling

    with num_threads(1):
        # torch's own kernel runs a depthwise conv only without a window (1x1): rare, never sampled
        config = sampling.sample(kind if sampling.realizable(kind) else kind + "_mkldnn", random.Random(0))
    config = {**config, **{k: min(v, 64) for k, v in config.items() if k in ("cin", "cout", "c", "e", "l", "d")}}
    if kind.startswith("conv"):
        config["cin"] = config["cout"] = config["g"] = 16 if kind.startswith("conv_dw") else config["cin"]
        if kind.startswith("conv_group"):
            config.update(cin=16, cout=16, g=4)
        config.update(h=min(config["h"], 16), w=min(config["h"], 16), ph=config["kh"] // 2, pw=config["kw"] // 2)
    if kind in ("mha",):
        config.update(e=16, heads=2)
    with torch.no_grad():
        out = build(kind, config)()
    assert out is not None


def _synthetic_profile() -> PredictProfile:
    """Every kind's fit is a constant 10 us per call except conv1x1: 10 us + 1 ns per multiply-add."""
    kinds = {}
    for name, spec in KINDS.items():
        coef = [10e-6] + [0.0] * (len(spec.term_names) - 1)
        if name == "conv1x1":
            coef[1] = 1e-9
        kinds[name] = KindEntry([], KindFit(coef), {})
    runtime = RuntimeProfile(EAGER_CPU, {"cpu": "synthetic", "threads": 1, "torch": "x", "date": "today"},
                             {"op_call_s": 1e-6, "module_call_s": 2e-6, "container_call_s": 3e-6}, kinds,
                             fallback_rates={"flops": 1e9, "bytes": 1e9},
                             model_terms={"scale": 1.0, "per_weight_byte": 0.0, "per_output_byte": 0.0,
                                          "per_container": 5e-6})
    return PredictProfile("synthetic", {EAGER_CPU: runtime})


def test_predict_sums_kernel_fits_fallback_and_containers(report):
    profile = _synthetic_profile()
    del profile.runtime().kinds["groupnorm"]  # as in a profile calibrated before the kind existed
    prediction = predict(report, profile)
    assert len(prediction.ops) == len(report.records) == 16
    pw = prediction.ops[1]
    # block.pw: 1x1 conv 16 -> 32 on 28x28: 16*32*784 = 401,408 multiply-adds -> 10 us + 401.408 us.
    assert pw.predictor == "fit:conv1x1" and pw.seconds == pytest.approx(10e-6 + 401_408e-9)
    gn = prediction.ops[12]
    # GroupNorm falls back: module call 2 us + max(2 * 125,440 FLOP / 1e9, 50,240 * 4 bytes / 1e9) = 2 + 250.88 us.
    assert gn.kind == "groupnorm" and gn.predictor == "fallback: overhead + roofline (kind not calibrated)"
    assert gn.seconds == pytest.approx(2e-6 + 2 * 125_440 / 1e9)
    # 14 other records at 10 us, the two above, 2 containers at 5 us.
    expected = 14 * 10e-6 + (10e-6 + 401_408e-9) + (2e-6 + 250_880e-9) + 2 * 5e-6
    assert prediction.total_seconds == pytest.approx(expected)
    assert prediction.total_ms == pytest.approx(expected * 1e3)


def test_host_speed_scales_every_op_and_the_containers(report):
    # The synthetic profile above predicts 14 * 10 us + (10 + 401.408) us + (2 + 250.88) us + 2 * 5 us
    # (see the test before); a host running 0.9x its calibrated kernel times takes 0.9x of each part.
    profile = _synthetic_profile()
    del profile.runtime().kinds["groupnorm"]
    calibrated = predict(report, profile)
    now = predict(report, profile, host_speed=0.9)
    assert now.host_speed == 0.9 and calibrated.host_speed == 1.0
    expected = 0.9 * (14 * 10e-6 + (10e-6 + 401_408e-9) + (2e-6 + 250_880e-9) + 2 * 5e-6)
    assert now.total_seconds == pytest.approx(expected)
    assert now.container_seconds == pytest.approx(0.9 * 2 * 5e-6)
    assert now.ops[1].seconds == pytest.approx(0.9 * (10e-6 + 401_408e-9))
    assert now.ops[1].kernel_seconds == calibrated.ops[1].kernel_seconds  # the fit's own time is not scaled
    assert prediction_dict(now)["host_speed"] == 0.9
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="host_speed"):
            predict(report, profile, host_speed=bad)


def test_host_speed_by_kind_scales_the_kinds_it_names_and_the_rest_by_the_median(report):
    # As above: 14 * 10 us + (10 + 401.408) us + (2 + 250.88) us + 2 * 5 us. The probe read the 1x1 conv at
    # 1.2 and the depthwise conv at 0.8, everything at 0.9. Kinds: conv1x1 (ops[1]: 411.408 us) and
    # conv_dw_mkldnn (ops[4], one of the fourteen at 10 us) take their own; the 13 other 10 us ops, the
    # fallback GroupNorm and the containers take 0.9: 1.2 * 411.408 + 0.8 * 10 + 0.9 * (13 * 10 + 252.88 + 10)
    # = 493.6896 + 8 + 353.592 = 855.2816 us.
    profile = _synthetic_profile()
    del profile.runtime().kinds["groupnorm"]
    now = predict(report, profile, host_speed=0.9, host_speed_by_kind={"conv1x1": 1.2, "conv_dw_mkldnn": 0.8})
    assert now.ops[1].seconds == pytest.approx(1.2 * (10e-6 + 401_408e-9))
    assert now.ops[4].kind == "conv_dw_mkldnn" and now.ops[4].seconds == pytest.approx(8e-6)
    assert now.total_seconds == pytest.approx(855.2816e-6)
    assert now.host_speed_by_kind == {"conv1x1": 1.2, "conv_dw_mkldnn": 0.8}
    assert prediction_dict(now)["host_speed_by_kind"] == {"conv1x1": 1.2, "conv_dw_mkldnn": 0.8}
    with pytest.raises(ValueError, match="host_speed of conv1x1 must be a positive number"):
        predict(report, profile, host_speed_by_kind={"conv1x1": 0.0})
    # A prediction made as calibrated, taken to those readings afterwards (predict_eval's stored runs): the
    # same 855.2816 us; and back from them to the calibrated machine: 14 * 10 + 411.408 + 252.88 + 10 = 814.288 us.
    calibrated = predict(report, profile)
    assert calibrated.seconds_at(0.9, {"conv1x1": 1.2, "conv_dw_mkldnn": 0.8}) == pytest.approx(855.2816e-6)
    assert now.seconds_at(1.0, {}) == pytest.approx(calibrated.total_seconds) == pytest.approx(814.288e-6)


def test_weights_count_as_cold_in_a_model_up_to_what_stays_in_cache_alone():
    # Two fully connected layers: 1000 -> 1000 with a bias, (1000 * 1000 + 1000) * 4 = 4,004,000 bytes of
    # weights, and 1000 -> 10, (1000 * 10 + 10) * 4 = 40,040 bytes. With a 1 MiB cache the big layer keeps
    # 1,048,576 of its bytes in cache timed alone (its fit holds the cost of streaming the rest): those
    # come from memory in a model, with all of the small one's.
    model = nn.Sequential(nn.Linear(1000, 1000), nn.Linear(1000, 10))
    records = analyze(model, (1, 1000), device="meta").records
    kernels = kernels_of(records)
    assert model_features(records, kernels)[0] == 4_004_000 + 40_040
    assert model_features(records, kernels, ModelTerms(weight_cache_bytes=2**20))[0] == 2**20 + 40_040
    assert model_features(records, kernels, ModelTerms(weight_cache_bytes=4_004_000))[0] == 4_004_000 + 40_040
    # profiles calibrated before 2026-11-29 12:00 UTC counted a kernel's weights wholly if they fit, else not at all
    threshold = ModelTerms(weight_cache_bytes=2**20, cold_weights="threshold")
    assert model_features(records, kernels, threshold)[0] == 40_040

    profile = _synthetic_profile()
    runtime = profile.runtime()
    runtime.model_terms = {**runtime.model_terms, "per_weight_byte": 1e-9, "weight_cache_bytes": 2**20,
                           "cold_weights": "capped"}
    assert ModelTerms.of(runtime).weight_cache_bytes == 2**20
    prediction = predict(analyze(model, (1, 1000), device="meta"), profile)
    # 2 linear calls at 10 us, 1,048,576 + 40,040 cold bytes at 1 ns, the root container at 5 us
    assert prediction.total_seconds == pytest.approx(2 * 10e-6 + 1_088_616e-9 + 5e-6)
    # a stored profile without the key was fitted with the threshold, and is read so
    del runtime.model_terms["cold_weights"]
    assert ModelTerms.of(runtime).cold_weights == "threshold"
    prediction = predict(analyze(model, (1, 1000), device="meta"), profile)
    assert prediction.total_seconds == pytest.approx(2 * 10e-6 + 40_040e-9 + 5e-6)
    runtime.model_terms["cold_weights"] = "lukewarm"
    with pytest.raises(ConfigError, match="cold_weights 'lukewarm'"):
        predict(analyze(model, (1, 1000), device="meta"), profile)
    del runtime.model_terms["cold_weights"]
    # profiles calibrated before the cache size was stored count every weight, as they were fitted
    del runtime.model_terms["weight_cache_bytes"]
    assert ModelTerms.of(runtime).weight_cache_bytes == math.inf
    assert ModelTerms.of(runtime).to_dict()["weight_cache_bytes"] is None


def test_last_level_cache_is_the_largest_data_cache_in_sysfs(tmp_path):
    sizes = {"index0": ("Data", "48K"), "index1": ("Instruction", "32K"), "index2": ("Unified", "1024K"),
             "index3": ("Unified", "32768K")}
    for index, (kind, size) in sizes.items():
        folder = tmp_path / "cpu0" / "cache" / index
        folder.mkdir(parents=True)
        (folder / "type").write_text(kind + "\n")
        (folder / "size").write_text(size + "\n")
    assert last_level_cache_bytes(root=tmp_path) == 32768 * 1024
    assert last_level_cache_bytes(cpu=1, root=tmp_path) is None  # no such CPU: unknown, not zero


def test_prediction_renders_as_json_and_table(report):
    from flopcount.roofline import DeviceProfile

    profile = _synthetic_profile()
    del profile.runtime().kinds["groupnorm"]  # one op falls back, and the table says so
    prediction = predict(report, profile)
    device = DeviceProfile("toy", peak_flops=1e9, bandwidth=1e9, source="test")
    data = prediction_dict(prediction, device)
    assert data["predicted_ms"] == pytest.approx(sum(o["predicted_ms"] for o in data["ops"]) + data["container_ms"])
    # The roofline column is flopcount.roofline's: block.pw moves (12,544 + 512 + 25,088) * 4 bytes and does
    # 2 * 401,408 FLOP; at 1e9 each, compute wins: 802,816 ns = 0.802816 ms.
    assert data["ops"][1]["roofline_ms"] == pytest.approx(0.802816)
    json.dumps(data)
    console = Console(width=120, record=True)
    console.print(prediction_table(prediction, device))
    text = console.export_text()
    assert "roofline ms" in text and "fit:conv1x1" in text and "fallback" in text


def test_profile_round_trips_and_rejects_what_it_cannot_read(tmp_path, report):
    path = save_profile(_synthetic_profile(), tmp_path / "mine.json")
    loaded = load_profile(str(path))
    assert loaded.name == "synthetic" and loaded.runtime().provenance["cpu"] == "synthetic"
    assert predict(report, loaded).total_seconds == pytest.approx(predict(report, _synthetic_profile()).total_seconds)
    with pytest.raises(ConfigError, match="unknown latency profile"):
        load_profile("no-such-profile")
    data = json.loads(path.read_text())
    data["format_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="format 99"):
        load_profile(str(tmp_path / "future.json"))
    with pytest.raises(ConfigError, match="no runtime 'onnxruntime'"):
        loaded.runtime("onnxruntime")


def test_shipped_profile_loads_with_provenance():
    names = list_profiles()
    assert names, "a profile for this machine class ships in flopcount/data/predict"
    for name in names:
        runtime = load_profile(name).runtime()
        assert {"cpu", "threads", "torch", "date"} <= set(runtime.provenance)
        assert runtime.kinds and all(e.fit is not None and e.cv for e in runtime.kinds.values())


def test_generator_is_seeded_and_covers_its_families():
    def params(seed):
        with torch.device("meta"):
            return sum(p.numel() for p in generate(seed).build().parameters())

    assert params(11) == params(11) and generate(11).resolution == generate(11).resolution
    assert {generate(s).family for s in range(len(FAMILIES))} == set(FAMILIES)
    assert not set(CALIBRATION_SEEDS) & set(EVALUATION_SEEDS)
    # Vision transformers are calibration networks only: the evaluation's generated nets are the four
    # CNN styles. Six calibration families cycle with the seed, so seeds 1,000,000..1,000,005 cover them all.
    assert "vit" not in FAMILIES and {generate(s).family for s in range(500)} == set(FAMILIES)
    assert {generate(s).family for s in CALIBRATION_SEEDS[:6]} == set(FAMILIES) | {"vit"}


def test_generated_vision_transformers_run_and_map_to_calibrated_kinds():
    vits = [a for a in map(generate, CALIBRATION_SEEDS[:60]) if a.family == "vit"]
    assert len(vits) == 10
    kinds = set()
    for arch in vits[:4]:
        model = arch.build()
        with torch.no_grad():
            assert model(torch.randn(arch.input_size)).shape == (1, 1000)
        with torch.device("meta"):
            records = analyze(arch.build(), arch.input_size, device="meta").records
        kinds |= {k.kind for k in kernels_of(records)}
    assert {"linear", "layernorm", "act_gelu", "copy", "cat"} <= kinds and "fallback" not in kinds
    assert {"matmul", "softmax"} <= kinds or "sdpa" in kinds  # attention written out, or fused


def test_time_configs_returns_one_sample_per_config_interleaved():
    items = [("act_relu", {"numel": 64, "module": 1}), ("binary", {"numel": 64, "other": 64, "inplace": 0})]
    samples = time_configs(items, rounds=3)
    assert [s.kind for s in samples] == ["act_relu", "binary"] and all(s.rounds == 3 for s in samples)
    assert all(0 < s.min_s <= s.median_s for s in samples)


def test_time_configs_drops_a_config_torch_refuses():
    # one value per channel: torch's batch norm raises in training mode, so that config yields no sample
    items = [("batchnorm_stats", {"n": 1, "c": 4, "hw": 1}), ("act_relu", {"numel": 64, "module": 1})]
    samples = time_configs(items, rounds=2)
    assert [s.kind for s in samples] == ["act_relu"]


def test_calibrate_writes_fits_cv_and_provenance_within_a_tiny_budget(tmp_path):
    steps = []
    profile = calibrate("tiny", budget_s=1.0, kinds=["act_relu", "binary"], whole_networks=False, pool_networks=0,
                        on_progress=lambda fraction, message: steps.append((fraction, message)))
    runtime = profile.runtime()
    assert set(runtime.kinds) == {"act_relu", "binary"} and runtime.threads == 1
    assert runtime.provenance["configs_refused"] == 0  # every sampled config of these kinds runs
    assert all(e.fit is not None and len(e.samples) >= 1 for e in runtime.kinds.values())
    assert {"op_call_s", "module_call_s", "container_call_s"} == set(runtime.overheads)
    assert steps and steps[-1] == (pytest.approx(steps[-1][0]), "done") and all(0 <= f <= 1 for f, _ in steps)
    assert load_profile(str(save_profile(profile, tmp_path / "tiny.json"))).runtime().kinds.keys() == runtime.kinds.keys()
    # act_relu is one of the kinds the host-speed probe re-times: its reading at the end of calibration is
    # stored, for `--host-speed now` to compare the probe with itself (a ratio of two timings, no fixed value)
    assert runtime.provenance["speed_reference"] > 0


def test_user_profiles_are_found_by_name_before_the_shipped_ones(tmp_path, monkeypatch):
    from flopcount.predict.profile import user_dir

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_dir() == tmp_path / "flopcount" / "predict"
    shipped = load_profile("cpu_measured")
    mine = save_profile(PredictProfile("mine", shipped.runtimes), user_dir() / "mine.json")
    assert load_profile("mine").path == mine and "mine" in list_profiles()
    # a user profile of a shipped name shadows it, as user device profiles do
    shadow = save_profile(PredictProfile("cpu_measured", shipped.runtimes), user_dir() / "cpu_measured.json")
    assert load_profile("cpu_measured").path == shadow


def test_the_conv_backend_is_torchs_choice_on_cpu_even_under_a_meta_device_context():
    # 64 -> 64 channels, 3x3 over 56x56 at batch 1 and one thread: 64*56*56 = 200,704 elements in (over
    # torch's 20,480) with a 3x3 window, so torch hands it to oneDNN; asked again under
    # torch.device("meta") (calibration builds its networks there) the answer must not change.
    from flopcount.predict.kinds import conv_kind

    config = {"n": 1, "cin": 64, "cout": 64, "h": 56, "w": 56, "kh": 3, "kw": 3, "s": 1, "ph": 1, "pw": 1, "g": 1,
              "bias": 0}
    small = {**config, "cin": 2, "cout": 2, "h": 8, "w": 8}  # 2*8*8 = 128 elements: torch's own kernel
    with num_threads(1):
        assert conv_kind(config) == "conv_mkldnn" and conv_kind(small) == "conv"
        with torch.device("meta"):
            assert conv_kind({**config, "bias": 1}) == "conv_mkldnn" and conv_kind({**small, "bias": 1}) == "conv"


def test_calibrate_refuses_kinds_that_cannot_run_at_its_thread_count():
    # At 2 threads torch hands every grouped conv to oneDNN (its first test is "more than one thread"), so
    # the torch-kernel grouped kind has no config to time: a one-line usage error, not an endless search.
    with pytest.raises(UsageError, match="none of the kernel kinds"):
        calibrate("x", threads=2, budget_s=1, kinds=["conv_group"], whole_networks=False)
