"""Training step analysis (issue #13): backward FLOPs by hand, saved activations by hand, frozen
layers, activation checkpointing, and the step's peak against torch's MemTracker on real models."""

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

import flopcount
from flopcount.zoo import get_model


def train(model, size, **kwargs):
    return flopcount.analyze(model, size, train=True, **kwargs)


def grads(report):
    return list(zip(report.training.input_grad_flops, report.training.weight_grad_flops))


def test_conv_backward_dense_grouped_depthwise_transposed():
    model = nn.Sequential(
        nn.Conv2d(8, 16, 3, padding=1),  # dense
        nn.Conv2d(16, 16, 3, padding=1, groups=4),  # grouped
        nn.Conv2d(16, 16, 3, padding=1, groups=16),  # depthwise
        nn.ConvTranspose2d(16, 8, 2, stride=2),  # transposed
    )
    report = train(model, (2, 8, 8, 8))
    # Outputs of the first three: 2x16x8x8 = 2048 elements.
    # dense:      2048 * (8/1) * 9 = 147,456; the first layer's input is the data: no input gradient.
    # grouped:    2048 * (16/4) * 9 = 73,728 for each gradient.
    # depthwise:  2048 * (16/16) * 9 = 18,432 for each gradient (per group, not 16x that).
    # transposed: input elements 2048 * (8 out / 1) * 2*2 = 65,536 for each gradient.
    assert grads(report) == [(0, 147_456), (73_728, 73_728), (18_432, 18_432), (65_536, 65_536)]
    # 147,456 + 2*73,728 + 2*18,432 + 2*65,536 = 462,848
    assert report.training.backward_flops == 462_848
    assert report.training.train_flops == report.totals.flops + 462_848


class MatmulNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32)
        self.proj = nn.Parameter(torch.randn(32, 8))

    def forward(self, x):
        h = self.fc(x)
        y = h @ self.proj
        return y @ y.t()


def test_linear_and_matmul_backward():
    report = train(MatmulNet(), (4, 16))
    ops = [r.op for r in report.records]
    assert ops[0] == "Linear" and report.records[-1].category == "matmul"
    rows = dict(zip(range(len(ops)), grads(report)))
    # fc: 4*32*16 = 2048; the data needs no gradient: weight gradient only.
    assert rows[0] == (0, 2048)
    # h @ proj: 4x8 outputs x K=32 = 1024 for h's gradient, and 1024 for the parameter's (a weight).
    assert rows[1] == (1024, 1024)
    # y @ y.t(): 4x4 x K=8 = 128, and both operands need gradients: 2*128 = 256.
    assert rows[len(ops) - 1] == (256, 0)
    assert report.training.backward_paper_flops == 2048 + 2048 + 256 == 4352


def test_frozen_layers_skip_their_weight_gradients():
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
    model[0].requires_grad_(False)
    report = train(model, (4, 16))
    # Nothing before fc2 needs a gradient: fc1 and the ReLU cost nothing backward;
    # fc2: 4*8*32 = 1024 for its weight, no input gradient.
    assert grads(report) == [(0, 0), (0, 0), (0, 1024)]
    assert report.totals.trainable_params == 32 * 8 + 8

    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
    model[2].requires_grad_(False)
    report = train(model, (4, 16))
    # fc1's weight: 4*32*16 = 2048; ReLU's input gradient: 4*32 = 128 (one per element, as forward);
    # frozen fc2 still passes the gradient back: 1024 for its input, none for its weight.
    assert grads(report) == [(0, 2048), (128, 0), (1024, 0)]


def test_saved_activations_by_hand_deduplicated_by_storage():
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 8))
    report = train(model, (4, 16))
    act = 4 * 32 * 4  # one 4x32 float32 activation: 512 bytes
    # fc1 saves the data (an input, not an activation) and its weight (a parameter); GELU saves its
    # input (fc1's output), fc2 its input (GELU's output), ReLU its output; fc3 saves ReLU's output
    # again: the same storage, counted once.
    assert report.training.saved_bytes == (0, act, act, act, 0)
    assert report.training.saved_activation_bytes == 3 * 512 == 1536


class Checkpointed(nn.Module):
    def __init__(self, use_checkpoint):
        super().__init__()
        self.use_checkpoint = use_checkpoint
        self.fc1 = nn.Linear(16, 32)
        self.block = nn.Sequential(nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 32))
        self.fc3 = nn.Linear(32, 8)

    def forward(self, x):
        x = self.fc1(x)
        x = checkpoint(self.block, x, use_reentrant=False) if self.use_checkpoint else self.block(x)
        return self.fc3(x)


def test_checkpoint_adds_recompute_and_drops_saved_bytes():
    plain = train(Checkpointed(False), (4, 16)).training
    ckpt = train(Checkpointed(True), (4, 16)).training
    act = 4 * 32 * 4
    # Plain: block.0, GELU, block.2 and fc3 each save their 512-byte input.
    assert plain.saved_activation_bytes == 4 * act
    # Checkpointed: the checkpoint saves the block's input for its recompute, and fc3 its input;
    # nothing inside the block.
    assert ckpt.saved_activation_bytes == 2 * act
    # The block runs again in backward until every tensor its backward needs is back (torch's
    # non-reentrant checkpoint stops early): block.0 (4*32*32 = 4096) and GELU (4*32 = 128) rerun;
    # block.2's own output is not needed, so it does not: 4224, of which 4096 paper.
    assert plain.recompute_flops == 0
    assert ckpt.recompute_flops == 4224 and ckpt.recompute_paper_flops == 4096
    assert ckpt.backward_flops == plain.backward_flops + 4224


def test_mobilenet_v2_train_flops_match_the_hand_count():
    report = train(get_model("mobilenet_v2"), (1, 3, 224, 224))
    # Issue #13: forward conv+linear 300,774,272; backward = an input and a weight gradient per layer,
    # except the first conv's input gradient (3*3*3*32*112*112 = 10,838,016):
    # 3 * 300,774,272 - 10,838,016 = 891,484,800 (FlopCounterMode says 6,139,850,496: its depthwise
    # weight gradients are counted as dense convs).
    assert report.training.forward_paper_flops == 300_774_272
    assert report.training.train_paper_flops == 891_484_800
    data = report.to_dict()
    assert data["train_flops"] == report.training.train_flops
    assert data["backward_flops"] == report.training.backward_flops


@pytest.mark.parametrize("name", ["alexnet", "resnet50", "squeezenet1_1"])
def test_flop_counter_mode_agrees_without_grouped_convs(name):
    from torch.utils.flop_counter import FlopCounterMode

    size = (1, 3, 64, 64)
    report = train(get_model(name), size)
    meta = get_model(name).to("meta").train()
    with FlopCounterMode(display=False) as counter:
        meta(torch.empty(size, device="meta")).sum().backward()
    # FlopCounterMode counts 2 per multiply-add, and only conv / linear / matmul: our paper total.
    assert report.training.train_paper_flops == counter.get_total_flops() // 2


class SmallNet(nn.Module):
    """conv-bn-relu, a residual block, a concat, pooling and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.body = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.BatchNorm2d(16), nn.ReLU())
        self.side = nn.Conv2d(16, 8, 1)
        self.head = nn.Linear(24, 10)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.body(x)
        x = torch.cat([x[:, :16], self.side(x)], 1)
        return self.head(x.mean((2, 3)))


def _memtracker_peak(model, x, optimizer=None):
    from torch.distributed._tools.mem_tracker import MemTracker

    tracker = MemTracker()
    if optimizer is None:
        tracker.track_external(model)
        with torch.no_grad(), tracker:
            model(x)
    else:
        model(x).sum().backward()  # warm-up: the optimizer state exists, as in a training loop
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tracker.track_external(model, optimizer)
        with tracker:
            loss = model(x).sum()
            loss.backward()
            del loss
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]


def test_inference_and_training_peaks_equal_memtracker_on_a_small_net():
    torch.manual_seed(0)
    model = SmallNet()
    x = torch.randn(2, 3, 16, 16)
    inference = flopcount.analyze(model.eval(), (2, 3, 16, 16), device="meta", memory=True).memory
    assert inference.peak_memory_bytes == _memtracker_peak(model, x)
    for optimizer in ("adamw", "sgd", "momentum"):
        model = SmallNet().train()
        opt = {"adamw": torch.optim.AdamW(model.parameters()), "sgd": torch.optim.SGD(model.parameters(), lr=0.1),
               "momentum": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)}[optimizer]
        step = train(model, (2, 3, 16, 16), optimizer=optimizer).training
        assert step.peak_step_bytes == _memtracker_peak(model, x, opt), optimizer


class TinyAttention(nn.Module):
    """A pre-norm transformer block: nn.MultiheadAttention takes torch's fused attention kernel on CPU."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(32)
        self.attention = nn.MultiheadAttention(32, 4, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32))

    def forward(self, x):
        h = self.norm(x)
        x = x + self.attention(h, h, h, need_weights=False)[0]
        return x + self.mlp(x)


def test_attention_training_peak_equals_memtracker():
    # On meta, attention would take torch's math fallback (an L x S matrix saved per layer); the step
    # is analysed with the fused kernel CPU runs, so the peak is MemTracker's to the byte.
    torch.manual_seed(0)
    model = TinyAttention()
    step = train(model, (2, 50, 32), optimizer="adamw").training
    assert step.peak_step_bytes == _memtracker_peak(model, torch.randn(2, 50, 32), torch.optim.AdamW(model.parameters()))
    meta = torch.empty(1, 2, 4, 8, device="meta", requires_grad=True)
    assert "UnsafeView" in type(nn.functional.scaled_dot_product_attention(meta, meta, meta).grad_fn).__name__


class BiasedWindowAttention(nn.Module):
    """Swin's window attention: a learned relative-position bias added to the mask, so the mask needs a
    gradient and CPU takes torch's math kernel (the fused one has no gradient for a mask)."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(32, 96)
        self.bias = nn.Parameter(torch.zeros(4, 49, 49))

    def forward(self, x):
        q, k, v = self.qkv(x).view(2, 49, 3, 4, 8).permute(2, 0, 3, 1, 4)
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=self.bias.unsqueeze(0))


def test_attention_with_a_learned_mask_trains_as_on_cpu():
    # The kernel probe asked CPU's choice with a mask that needed no gradient, got the fused kernel, and the
    # step failed ("not differentiable with respect to argument 'attn_mask'"): Swin's training analysis did.
    step = train(BiasedWindowAttention(), (2, 49, 32), optimizer="sgd").training
    # qkv: 2 x 49 tokens x 32 x 96 = 301,056; attention: 2 x 4 heads x 49 x 49 x (8 + 8) = 307,328
    assert step.forward_flops == 301_056 + 307_328 == 608_384
    assert step.peak_phase == "backward" and step.grad_bytes == (32 * 96 + 96 + 4 * 49 * 49) * 4


class HardswishNet(nn.Module):
    """MobileNetV3's pieces: conv-bn-hardswish (in place), squeeze-excitation with hardsigmoid, dropout."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.Hardswish(inplace=True))
        self.squeeze = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 4, 1), nn.ReLU(), nn.Conv2d(4, 16, 1),
                                     nn.Hardsigmoid())
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(16 * 16 * 16, 10))

    def forward(self, x):
        x = self.stem(x)
        return self.head(x * self.squeeze(x))


def test_hardswish_network_peaks_equal_memtracker():
    torch.manual_seed(0)
    size = (2, 3, 16, 16)
    model = HardswishNet()
    inference = flopcount.analyze(model.eval(), size, device="meta", memory=True).memory
    assert inference.peak_memory_bytes == _memtracker_peak(model, torch.randn(size))
    model.train()
    step = train(model, size).training
    assert step.peak_step_bytes == _memtracker_peak(model, torch.randn(size), torch.optim.AdamW(model.parameters()))


def test_optimizer_state_sizes():
    model = nn.Linear(100, 10)  # 1010 parameters = 4040 bytes
    sgd = train(model, (4, 100), optimizer="sgd").training
    momentum = train(model, (4, 100), optimizer="momentum").training
    adamw = train(model, (4, 100), optimizer="adamw").training
    assert sgd.optimizer_state_bytes == 0
    assert momentum.optimizer_state_bytes == 4040  # one buffer per parameter
    assert adamw.optimizer_state_bytes == 2 * 4040 + 2 * 4  # two moments, and a float32 step per tensor
    amp = train(model, (4, 100), optimizer="adamw", amp="bf16").training
    assert amp.param_bytes == 2020  # the model's copy in bfloat16
    assert amp.optimizer_state_bytes == 4040 + 2 * 4040 + 2 * 4  # fp32 master weights + moments + steps


def test_model_left_untouched():
    model = SmallNet().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, (2, 3, 16, 16))
    assert not model.training and all(not m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bad_optimizer_and_amp_are_usage_errors():
    from flopcount.errors import UsageError

    with pytest.raises(UsageError, match="optimizer"):
        train(nn.Linear(2, 2), (1, 2), optimizer="lion")
    with pytest.raises(UsageError, match="amp"):
        train(nn.Linear(2, 2), (1, 2), amp="fp8")
