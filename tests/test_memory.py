"""Inference liveness (issue #13), by hand on small graphs.

Every activation below is 2 rows x 16 float32 = 2*16*4 = 128 bytes (called A), so each expected
number is a small multiple of A, worked out from eager semantics: a tensor lives until the last
Python name or module holding it lets go; views and in-place ops allocate nothing.
"""

import pytest
import torch
from torch import nn

import flopcount
from flopcount.zoo import get_model

A = 2 * 16 * 4  # bytes of one 2x16 float32 activation


def profile(model, fast=True):
    return flopcount.analyze(model, (2, 16), device="meta", memory=True, fast=fast).memory


class Chain(nn.Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(16, 16), nn.ReLU(inplace=inplace), nn.Linear(16, 16)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        return self.fc2(x)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.fc1, self.act, self.fc2 = nn.Linear(16, 16), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16)

    def forward(self, x):
        x = self.stem(x)
        h = self.fc1(x)
        h = self.act(h)
        h = self.fc2(h)
        return x + h


class Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.left, self.right = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 16)

    def forward(self, x):
        x = self.stem(x)
        a = self.left(x)
        b = self.right(x)
        return torch.cat([a, b], 1)


class Views(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(16, 16)

    def forward(self, x):
        x = self.stem(x)
        x = x.view(2, 4, 4)
        x = x.transpose(1, 2)
        x = x.contiguous()
        return x.flatten(1)


@pytest.mark.parametrize("fast", [True, False])
def test_chain(fast):
    mem = profile(Chain(), fast)
    # fc1 out A; relu allocates A while fc1's out is still held (2A), then x is rebound and fc1's out
    # dies (A); fc2 allocates A (2A), relu's out dies: A left, the output.
    assert mem.live_after == (A, A, A)
    assert mem.peak_during == (A, 2 * A, 2 * A)
    assert mem.peak_activation_bytes == 2 * A == 256
    assert mem.peak_record == 1  # first reached during the ReLU


@pytest.mark.parametrize("fast", [True, False])
def test_inplace_relu_allocates_nothing(fast):
    mem = profile(Chain(inplace=True), fast)
    # relu_ writes into fc1's output: nothing allocated, still A during and after it.
    assert mem.peak_during[1] == A and mem.live_after[1] == A
    assert mem.peak_activation_bytes == 2 * A  # now reached during fc2 (its out + fc1's, relu'd in place)
    assert mem.peak_record == 2


@pytest.mark.parametrize("fast", [True, False])
def test_residual_block(fast):
    mem = profile(Residual(), fast)
    # stem x: A. fc1 h: 2A. relu: 3A while fc1's out is held, then 2A. fc2: 3A, then 2A.
    # add: 3A (x, h, sum); after the forward x and h die: A, the output.
    assert mem.live_after == (A, 2 * A, 2 * A, 2 * A, A)
    assert mem.peak_during == (A, 2 * A, 3 * A, 3 * A, 3 * A)
    assert mem.peak_activation_bytes == 3 * A
    assert mem.peak_record == 2


@pytest.mark.parametrize("fast", [True, False])
def test_concat_block(fast):
    mem = profile(Concat(), fast)
    # x A, a A, b A all held by names when cat writes 2A: 5A; then x, a, b die: 2A, the output.
    assert mem.peak_during == (A, 2 * A, 3 * A, 5 * A)
    assert mem.live_after[-1] == 2 * A
    assert mem.peak_activation_bytes == 5 * A == 640
    assert mem.peak_record == 3


@pytest.mark.parametrize("fast", [True, False])
def test_view_chain(fast):
    mem = profile(Views(), fast)
    records = flopcount.analyze(Views(), (2, 16), device="meta").records
    assert [r.op for r in records] == ["Linear", "view", "transpose", "contiguous", "flatten"]
    # view and transpose share the stem's storage; contiguous copies (2A), then the transposed view,
    # the last holder of the stem's storage, is rebound and it dies; flatten is a view again.
    assert mem.peak_during == (A, A, A, 2 * A, A)
    assert mem.live_after == (A, A, A, A, A)
    assert mem.peak_activation_bytes == 2 * A


def test_parameter_and_buffer_bytes_and_what_if():
    model = nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16))
    mem = flopcount.analyze(model.eval(), (2, 16), device="meta", memory=True).memory
    # Linear 16*16 + 16 = 272 weights, BN affine 2*16 = 32: 304 floats = 1216 bytes.
    assert mem.param_bytes == 304 * 4 == 1216
    # BN running mean and var 2*16 floats (128 bytes) + num_batches_tracked int64 (8 bytes).
    assert mem.buffer_bytes == 136
    assert mem.input_bytes == A
    assert mem.weights_what_if() == {"float32": 1216, "float16": 608, "bfloat16": 608, "int8": 304, "int4": 152}
    assert mem.peak_memory_bytes == mem.peak_activation_bytes + 1216 + 136


def test_tied_weights_count_once():
    model = nn.Sequential(nn.Linear(16, 16, bias=False), nn.Linear(16, 16, bias=False))
    model[1].weight = model[0].weight
    mem = flopcount.analyze(model, (2, 16), device="meta", memory=True).memory
    assert mem.param_bytes == 16 * 16 * 4  # one 16x16 matrix = 1024 bytes


def test_mobilenet_v2_peak_matches_memtracker():
    # torch's MemTracker on the real model (CPU, fp32, no_grad, 1x3x224x224): peak 24,592,960 bytes =
    # activations 10,436,608 + parameters 14,019,488 + buffers 136,864 (issue #13 / DESIGN.md 7).
    # The peak is in features.2's expansion: its 16x112x112 input (802,816 bytes) and the 96x112x112
    # outputs of its 1x1 conv and of the BN after it (2 x 4,816,896): 802,816 + 9,633,792 = 10,436,608.
    report = flopcount.analyze(get_model("mobilenet_v2").eval(), (1, 3, 224, 224), device="meta", memory=True)
    mem = report.memory
    assert mem.peak_activation_bytes == 10_436_608
    assert mem.param_bytes == 14_019_488 and mem.buffer_bytes == 136_864
    assert mem.peak_memory_bytes == 24_592_960
    assert report.records[mem.peak_record].path == "features.2.conv.0.1"
    data = report.to_dict()
    assert data["peak_memory_bytes"] == 24_592_960 and data["peak_activation_bytes"] == 10_436_608



class _FusedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(32, 96)

    def forward(self, x):  # transformers' sdpa attention: q, k, v are views of one projection
        q, k, v = self.qkv(x).view(2, 49, 3, 4, 8).permute(2, 0, 3, 1, 4)
        return nn.functional.scaled_dot_product_attention(q, k, v)


def test_attention_peak_is_cpus_fused_kernel_not_metas_math_fallback():
    # On meta torch takes the math fallback, which holds the 2 x 4 heads x 49 x 49 scores and their softmax
    # (2 x 76,832 bytes); CPU runs the fused kernel, which holds only its output and log-sum-exp. At the
    # attention: the projection's (2, 49, 96) output under q, k, v (37,632 bytes), the (2, 4, 49, 8) output
    # (12,544) and the (2, 4, 49) log-sum-exp (1,568): 51,744. The math fallback read 153,664 - 1,568 more.
    report = flopcount.analyze(_FusedAttention().eval(), (2, 49, 32), device="meta", memory=True)
    assert report.memory.peak_activation_bytes == 37_632 + 12_544 + 1_568 == 51_744
    assert report.records[report.memory.peak_record].op == "scaled_dot_product_attention"
    assert report.memory.param_bytes == (32 * 96 + 96) * 4 == 12_672


def test_meta_shortcuts_equal_real_cpu_kernels_op_by_op():
    # The tracker answers convolutions, max pooling, cat and broadcasting element-wise ops on meta without
    # torch's meta kernels; on cpu the real kernels run. The live bytes after and during every record must
    # be the same: strided, dilated, grouped and 1-d-kernel convs, ceil-mode pooling, a broadcast multiply.
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
            self.c = nn.Conv2d(8, 6, (3, 1), stride=(2, 1), padding=(0, 1))
            self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        def forward(self, x):
            y = self.a(x)
            y = torch.cat([self.b(y), y], 1)[:, :8]
            y = self.pool(self.c(y))
            return y * y.mean((2, 3), keepdim=True)

    model = Net().eval()
    meta = flopcount.analyze(model, (2, 3, 23, 19), device="meta", memory=True).memory
    cpu = flopcount.analyze(model, (2, 3, 23, 19), device="cpu", memory=True).memory
    assert meta.live_after == cpu.live_after and meta.peak_during == cpu.peak_during
    # conv a: 2 x 8 x 12 x 10 floats = 7,680 B live after the first record
    assert meta.live_after[0] == 2 * 8 * 12 * 10 * 4


def test_matmul_pooling_and_loss_rules_give_torch_meta_layouts():
    # The shape rules behind a Linear's backward (mm), global average pooling (forward and backward) and a
    # loss (sum of everything) return what torch's own meta kernels return: shape, strides and dtype.
    from flopcount.meta_rules import META_RULES

    aten, meta = torch.ops.aten, "meta"
    x = torch.empty(2, 64, 6, 6, device=meta)
    cases = [
        (aten.mm.default, (torch.empty(3, 10, device=meta), torch.empty(10, 20, device=meta))),
        (aten.mm.default, (torch.empty(10, 3, device=meta).t(), torch.empty(20, 10, device=meta).t())),
        (aten._adaptive_avg_pool2d.default, (x, [1, 1])),
        (aten._adaptive_avg_pool2d.default, (x, [3, 2])),
        (aten._adaptive_avg_pool2d_backward.default, (torch.empty(2, 64, 1, 1, device=meta), x)),
        (aten.sum.default, (x,)),
    ]
    # x.contiguous() of a transposed view (a channel shuffle) and a dropout's mask: row-major copies
    shuffled = torch.empty(2, 4, 16, 6, 6, device=meta).transpose(1, 2)
    row_major = {"memory_format": torch.contiguous_format}
    cases += [(aten.clone.default, (shuffled,)), (aten.empty_like.default, (shuffled,))]
    for op, args in cases:
        kwargs = row_major if op in (aten.clone.default, aten.empty_like.default) else {}
        ours, torchs = META_RULES[op](*args, **kwargs), op(*args, **kwargs)
        assert (ours.shape, ours.stride(), ours.dtype) == (torchs.shape, torchs.stride(), torchs.dtype), op
    # (3 x 10) @ (10 x 20) = 3 x 20, row-major whatever the operands' strides: strides (20, 1)
    assert META_RULES[aten.mm.default](*cases[1][1]).stride() == (20, 1)
    # 2 x 64 x 6 x 6 pooled to 3 x 2: 2 x 64 x 3 x 2, strides (64*3*2, 3*2, 2, 1) = (384, 6, 2, 1)
    assert META_RULES[aten._adaptive_avg_pool2d.default](x, [3, 2]).stride() == (384, 6, 2, 1)
    # 2 x 16 x 4 x 6 x 6 row-major: strides (16*4*36, 4*36, 36, 6, 1) = (2304, 144, 36, 6, 1)
    assert META_RULES[aten.clone.default](shuffled, **row_major).stride() == (2304, 144, 36, 6, 1)
    # a channels-last input keeps its layout in torch's kernel: the rule leaves that case to it
    assert META_RULES[aten._adaptive_avg_pool2d.default](x.to(memory_format=torch.channels_last), [1, 1]) is None


@pytest.mark.parametrize(("model", "size", "message"), [
    (nn.Conv2d(3, 8, 3), (1, 5, 10, 10), "Invalid channel dimensions"),  # 5 channels into a 3-channel conv
    (nn.Conv2d(3, 8, 3), (1, 3, 2, 2), "Kernel size can't be greater"),  # 3x3 kernel on a 2x2 image
    (nn.MaxPool2d(3, padding=2), (1, 3, 8, 8), "pad should be at most half"),
])
@pytest.mark.parametrize("mode", ["memory", "train"])
def test_shape_shortcuts_never_hide_a_bad_forward(model, size, message, mode):
    from flopcount.errors import ForwardError

    with pytest.raises(ForwardError, match=message):
        flopcount.analyze(model, size, **{mode: True})
