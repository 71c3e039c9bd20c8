"""The walker: ops outside modules, reuse and sharing, the model left untouched, meta == CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from flopcount import analyze
from flopcount.errors import ForwardError, UsageError
from helpers import analyze_meta


class Functional(nn.Module):
    """Ops that a hook-only counter never sees: residual add, cat, channel shuffle, functional pool."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1, bias=False)

    def forward(self, x):
        y = self.conv(x) + x  # add: 4*8*8 = 256 elements
        z = torch.cat([x, y], dim=1)  # 1x8x8x8
        b, c, h, w = z.shape
        z = z.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous().view(b, c, h, w)  # channel shuffle
        z = F.relu(z)
        z = F.adaptive_avg_pool2d(z, 1)
        return torch.flatten(z, 1) @ torch.ones(8, 3)


def test_functional_ops_are_counted_and_attributed():
    report = analyze_meta(Functional(), (1, 4, 8, 8))
    ops = [(r.name, r.flops, r.mac) for r in report.records]
    n = 4 * 8 * 8  # 256
    assert ops == [
        ("conv", 4 * 4 * 64, n + 16 + n),  # 1x1 conv: 1024 FLOPs; reads x and 16 weights, writes y
        ("(root):add", n, 3 * n),  # reads two tensors, writes one
        ("(root):cat", 0, 4 * n),  # copies 512 elements in and out
        ("(root):view", 0, 0),  # views move nothing
        ("(root):transpose", 0, 0),
        ("(root):contiguous", 0, 4 * n),  # the shuffle's only real copy: 512 read, 512 written
        ("(root):view", 0, 0),
        ("(root):relu", 2 * n, 4 * n),
        ("(root):adaptive_avg_pool2d", 2 * n, 2 * n + 8),
        ("(root):flatten", 0, 0),
        ("(root):matmul", 8 * 3, 8 + 24 + 3),  # 1x8 @ 8x3: 3 outputs of 8 multiply-adds
    ]
    assert report.totals.paper_flops == 1024 + 24  # conv + matmul
    assert report.complete


def test_dataflow_links_each_op_to_its_producers():
    report = analyze_meta(Functional(), (1, 4, 8, 8))
    conv, add, cat = report.records[:3]
    assert conv.input_from == (-1,)  # the model input
    assert add.input_from == (conv.index, -1)
    assert cat.input_from == (-1, add.index)


def test_contiguous_on_contiguous_tensor_is_free():
    class M(nn.Module):
        def forward(self, x):
            return x.contiguous()

    [record] = analyze_meta(M(), (2, 3)).records
    assert record.mac == 0


def test_reused_module_counts_every_call_and_shared_params_once():
    class Reuse(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)
            self.act = nn.ReLU()

        def forward(self, x):
            for _ in range(5):
                x = self.act(self.fc(x))
            return x

    report = analyze_meta(Reuse(), (2, 8))
    fc = [r for r in report.records if r.op == "Linear"]
    assert len(fc) == 5 and [r.call for r in fc] == [0, 1, 2, 3, 4]
    assert sum(r.flops for r in fc) == 5 * 2 * 8 * 8
    assert [r.params for r in fc] == [72, 0, 0, 0, 0]  # 8*8 + 8, on the first call only
    assert report.totals.params == 72
    assert len([r for r in report.records if r.op == "ReLU"]) == 5


def test_linear_shared_by_three_parents_counts_params_once():
    shared = nn.Linear(4, 4, bias=False)
    model = nn.Sequential(nn.Sequential(shared), nn.Sequential(shared), nn.Sequential(shared))
    report = analyze_meta(model, (1, 4))
    assert report.totals.params == 16
    assert report.totals.flops == 3 * 16
    assert sum(r.params for r in report.records) == 16


def test_containers_do_not_double_count():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.ReLU()), nn.Flatten())
    report = analyze_meta(model, (1, 3, 5, 5))
    assert [r.op for r in report.records] == ["Conv2d", "ReLU", "Flatten"]
    assert report.totals.flops == 9 * 3 * 8 * 9 + 8 * 9


def test_root_module_that_is_a_leaf():
    report = analyze_meta(nn.Conv2d(3, 8, 3, bias=False), (1, 3, 5, 5))
    assert report.totals.flops == 9 * 3 * 8 * 3 * 3 == 1944


def test_custom_leaf_without_formula_is_counted_from_its_ops():
    class Swish(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    report = analyze_meta(nn.Sequential(Swish()), (1, 10))
    assert [(r.name, r.flops) for r in report.records] == [("0:sigmoid", 10), ("0:mul", 10)]
    assert report.counted_from_ops == {"0": "Swish"}


def test_op_without_formula_is_reported_uncounted():
    class Spectrum(nn.Module):
        def forward(self, x):
            return torch.fft.rfft(x)

    report = analyze_meta(Spectrum(), (3, 5))
    assert report.uncounted == {"fft_rfft": 1}
    assert not report.complete
    [record] = report.records
    assert record.counted is False and record.flops == 0
    # Its traffic is still known: reads 3*5 = 15 float32, writes 3*(5//2+1) = 9 complex64 -> 24 elements,
    # 15*4 + 9*8 = 132 bytes.
    assert (record.mac, record.mac_bytes) == (24, 132)


def test_model_unchanged_and_hooks_removed_after_failing_forward():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(4)
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.bn(x)).view(7, 7)  # fails after the BN has run

    model = Broken().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ForwardError, match="forward of Broken failed on input 8x4"):
        analyze(model, (8, 4))
    from torch.nn.modules import module as module_globals

    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    assert not module_globals._global_forward_hooks and not module_globals._global_forward_pre_hooks
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running stats, num_batches_tracked
    assert model.training and model.bn.training
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_bn_running_stats_unchanged_after_cpu_analysis_in_training_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    analyze(model, (2, 3, 8, 8), device="cpu")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert "total_ops" not in str(list(model.state_dict()))


def test_meta_and_cpu_give_identical_records():
    torch.manual_seed(0)
    model = Functional()
    cpu = analyze(model, (1, 4, 8, 8), device="cpu")
    meta = analyze(model, (1, 4, 8, 8))  # meta is the default
    assert [r.to_dict() for r in cpu.records] == [r.to_dict() for r in meta.records]
    assert cpu.totals == meta.totals
    assert cpu.device == "cpu" and meta.device == "meta"


def test_inputs_as_tuple_dict_and_int64_tokens():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(100, 8)
            self.fc = nn.Linear(8, 2)

        def forward(self, tokens, scale):
            return self.fc(self.emb(tokens)) * scale

    tokens = torch.randint(0, 100, (2, 5))
    scale = torch.ones(1)
    a = analyze(TwoInputs(), inputs=(tokens, scale))
    b = analyze(TwoInputs(), inputs={"tokens": tokens, "scale": scale}, device="meta")
    c = analyze(TwoInputs(), ["2x5:int64", (1,)], device="meta")
    assert a.totals == b.totals == c.totals
    assert a.totals.paper_flops == 2 * 5 * 8 * 2


def test_bad_arguments():
    with pytest.raises(UsageError):
        analyze("not a module", (1, 3))
    with pytest.raises(UsageError):
        analyze(nn.Linear(2, 2))
    with pytest.raises(UsageError):
        analyze(nn.Linear(2, 2), (0, 2))


def test_mobilenet_v2_same_numbers_on_meta_and_cpu():
    from flopcount.zoo import get_model

    model = get_model("mobilenet_v2").eval()
    cpu = analyze(model, (1, 3, 224, 224))
    meta = analyze(model, (1, 3, 224, 224), device="meta")
    assert cpu.totals == meta.totals
    assert (cpu.totals.params, cpu.totals.paper_flops) == (3_504_872, 300_774_272)


def test_transformer_encoder_layer_in_eval_is_counted_not_fused_away():
    # In eval under no_grad torch may take a fused fast path that hides the matmuls; we count its modules.
    layer = nn.TransformerEncoderLayer(64, 4, 256, batch_first=True).eval()
    report = analyze(layer, (2, 10, 64))
    n, L, E, F_ = 2, 10, 64, 256
    attention = 3 * n * L * E * E + 2 * n * L * L * E + n * L * E * E  # projections, QK^T and AV, out proj
    feed_forward = 2 * n * L * E * F_
    assert report.totals.paper_flops == attention + feed_forward == 1_008_640
    assert report.complete


def test_input_from_tells_model_inputs_from_parameters():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(4))

        def forward(self, x):
            return x * self.gamma  # a parameter read by a function, not by a module

    from flopcount.records import FROM_INPUT, FROM_STATE

    for device in ("cpu", "meta"):  # on meta the parameters are stand-ins: still known as state
        [mul] = analyze(Scale(), (2, 4), device=device).records
        assert mul.input_from == (FROM_INPUT, FROM_STATE)


def test_walker_clock_times_every_record():
    from itertools import count

    from flopcount.walker import Walker

    ticks = count()
    model = Functional()
    walker = Walker(model, clock=lambda: float(next(ticks)))
    walker.attach()
    try:
        with torch.no_grad(), walker:
            model(torch.zeros(1, 4, 8, 8))
    finally:
        walker.detach()
    assert sorted(walker.times) == list(range(len(walker.records)))
    # a fake clock that ticks once per reading: each op is read twice around its call (1 tick apart);
    # the conv module's span also covers the clock reads of the hooks inside it.
    assert all(t >= 1 for t in walker.times.values())


def test_functions_called_with_out_keyword():
    # torch passes `out=` through to formulas; it must not collide with the formula's own arguments.
    class WithOut(nn.Module):
        def forward(self, x):
            buffer = torch.empty_like(x)
            torch.add(x, x, out=buffer)
            return F.normalize(buffer, dim=1)  # F.normalize forwards out=None itself

    for device in ("cpu", "meta"):
        report = analyze(WithOut(), (2, 3), device=device)
        assert [(r.op, r.flops) for r in report.records] == [("add", 6), ("normalize", 2 * 6)]


def test_a_failing_formula_is_reported_as_a_formula_bug():
    from flopcount.errors import FormulaError
    from flopcount.formulas import REGISTRY

    registry = REGISTRY.layered()  # the defaults, with one broken formula over them

    @registry.register(nn.ReLU)
    def broken(module, inputs, output):
        raise ZeroDivisionError("oops")

    with pytest.raises(FormulaError, match="the formula for ReLU failed on this call"):
        analyze(nn.Sequential(nn.ReLU()), (1, 2), registry=registry)


class _StridedInputs(nn.Module):
    """Ops with a meta rule (the fast path's shortcut) fed transposed and channels-last views."""

    def __init__(self):
        super().__init__()
        self.ln, self.bn, self.gn = nn.LayerNorm(16), nn.BatchNorm2d(16), nn.GroupNorm(4, 16)
        self.dw, self.pw, self.fc = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 32, 1), nn.Linear(16, 16)

    def forward(self, x):  # (1, 64, 16) tokens
        tokens_t = x.transpose(1, 2)
        image = tokens_t.view(1, 16, 8, 8)  # channels-last strides
        outs = [self.ln(tokens_t.transpose(1, 2)), F.layer_norm(tokens_t, (64,)), F.gelu(tokens_t), torch.softmax(tokens_t, -1),
                self.dw(image), self.pw(image), F.conv2d(image, self.pw.weight), self.bn(image), self.gn(image),
                F.group_norm(image, 4), F.instance_norm(image), torch.softmax(image, 1), image + image, image * 2,
                F.relu(image), F.max_pool2d(image, 2), F.avg_pool2d(image, 2), F.adaptive_avg_pool2d(image, 1),
                self.fc(tokens_t.transpose(1, 2)), F.linear(image.permute(0, 2, 3, 1), self.fc.weight)]
        heads = x.view(1, 64, 2, 8).transpose(1, 2)  # 2 heads split off the tokens: the output keeps that layout
        outs.append(F.scaled_dot_product_attention(heads, heads, heads).transpose(1, 2).reshape(1, 64, 16))
        return outs


def test_fast_path_outputs_have_the_layout_torch_gives():
    # The latency predictor reads layouts from the records (a LayerNorm of a transposed view copies it first),
    # so a meta rule must return the strides torch's kernel returns: LayerNorm, GroupNorm, InstanceNorm and
    # softmax write contiguous outputs whatever their input; BatchNorm, element-wise ops keep channels-last;
    # SDPA writes in its query's layout.
    model = _StridedInputs().eval()
    real = analyze(model, (1, 64, 16), device="cpu").records
    fast = analyze(model, (1, 64, 16), device="meta").records
    assert [r.op for r in real] == [r.op for r in fast]
    def layout(spec):  # a size-1 dim's stride is arbitrary (torch keeps what it was given)
        return spec.strides and tuple(st for size, st in zip(spec.shape, spec.strides) if size != 1)

    for r, f in zip(real, fast):
        assert [layout(o) for o in r.outputs] == [layout(o) for o in f.outputs], r.name
        assert [layout(i) for i in r.inputs] == [layout(i) for i in f.inputs], r.name
    # and the records do carry layouts: the channels-last view, and the BatchNorm output that keeps it
    bn = next(r for r in fast if r.op == "BatchNorm2d")
    assert layout(bn.inputs[0]) == layout(bn.outputs[0]) == (1, 128, 16)  # c, h, w strides of channels-last 16x8x8


def test_fast_path_conv_layout_follows_torchs_backend():
    # A token-major view fed to a depthwise conv (PVT's Mix-FFN) comes out NCHW: torch copies it first. A
    # channels-last model keeps channels-last. The meta rule asks torch which, and must agree with the real run.
    class TokensToConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32)
            self.pw = nn.Conv2d(32, 32, 1)

        def forward(self, x):
            image = x.transpose(1, 2).reshape(1, 32, 7, 7)
            return self.pw(self.dw(image)), F.conv2d(image, self.pw.weight)

    for model, shape, memory_format in ((TokensToConv(), (1, 49, 32), None),
                                        (nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 1)),
                                         (1, 8, 12, 12), torch.channels_last)):
        model = model.eval()
        if memory_format is not None:
            model = model.to(memory_format=memory_format)
            x = torch.randn(shape).to(memory_format=memory_format)
            real = analyze(model, inputs=x, device="cpu").records
            fast = analyze(model, inputs=x.to("meta"), device="meta").records
        else:
            real = analyze(model, shape, device="cpu").records
            fast = analyze(model, shape, device="meta").records
        convs = [(r.outputs[0].contiguous, f.outputs[0].contiguous) for r, f in zip(real, fast) if r.category == "conv"]
        assert convs and all(a == b for a, b in convs), convs
        assert all(a for a, _ in convs) == (memory_format is None)  # NCHW outputs, or channels-last ones
