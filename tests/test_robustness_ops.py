"""Ops that used to make a report wrong or falsely partial: grad-mode bookkeeping, casts, selections,
index ops, one-argument where, grouped matmuls, views in inference mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from flopcount import analyze
from flopcount.zoo import get_spec


@pytest.mark.parametrize("name, mac, device", [
    ("shufflenet_v2_x0_5", 8_904_192, "meta"),  # the figure outside inference_mode (not 11,481,984)
    ("shufflenet_v2_x0_5", None, "cpu"),
    ("shufflenet_v1_g3_w0.25", None, "meta"),
    ("mobilenet_v2_w0.35", None, "meta"),
])
def test_views_cost_the_same_in_every_grad_mode(name, mac, device):
    spec = get_spec(name)
    model = spec.build().eval()
    size = (1, 3, 32, 32) if device == "cpu" else spec.input_size  # keep the CPU run quick
    totals = {}
    for mode in (torch.enable_grad, torch.no_grad, torch.inference_mode):
        with mode():
            totals[mode.__name__] = analyze(model, size, device=device).totals
    assert len(set(totals.values())) == 1, totals
    if mac is not None:
        assert totals["no_grad"].mac == mac


def test_channel_shuffle_in_inference_mode_costs_one_read_and_one_write():
    class Shuffle(nn.Module):
        def forward(self, x):
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    with torch.inference_mode():
        report = analyze(Shuffle(), (1, 8, 4, 4), device="cpu")
    # views free; contiguous reads and writes 8*4*4 = 128 elements: 256
    assert report.totals.mac == 256


class _BookkeepingBlock(nn.Module):
    """What LLaMA-family and torchvision forwards call besides arithmetic."""

    @torch.no_grad()
    def forward(self, x):
        torch._assert(x.dim() == 2, "expects 2-D input")
        scores = x.softmax(-1)  # 3 * 4*8 = 96
        top_values, top_index = scores.topk(2, dim=-1)  # 32 elements x ceil(log2 2)=1 -> 32
        order = torch.sort(scores, dim=-1).indices  # 32 x ceil(log2 8)=3 -> 96
        buckets = torch.histc(scores, bins=4)  # 32
        flags = (scores > 0).all()  # gt 32, all 32
        halves = top_index // 2  # 8
        return top_values.sum() + halves.int().float().sum() + order.long().sum() + buckets.sum() + flags.int()


def test_bookkeeping_is_free_and_selections_are_counted():
    report = analyze(_BookkeepingBlock(), (4, 8), device="meta")
    assert report.complete, report.uncounted
    assert report.uncounted == {}
    ops = {r.op for r in report.records}
    assert not ops & {"_assert", "_set_grad_enabled", "set_grad_enabled"}
    by_op = {r.op: r.flops for r in report.records}
    assert by_op["softmax"] == 96 and by_op["topk"] == 32 and by_op["sort"] == 96 and by_op["histc"] == 32
    assert by_op["__floordiv__"] == 8 and by_op["all"] == 32


def _top1_moe_routing(x, router, experts):
    """CPU MoE routing as transformers writes it: torch.where(mask) per expert, index_add back."""
    logits = router(x)
    choice = logits.argmax(-1)
    out = torch.zeros_like(x)
    for e, expert in enumerate(experts):
        (rows,) = torch.where(choice == e)
        out.index_add_(0, rows, expert(x[rows]))
    return out


def test_one_argument_where_and_index_add_count_on_cpu():
    class Moe(nn.Module):
        def __init__(self):
            super().__init__()
            self.router = nn.Linear(6, 3, bias=False)
            self.experts = nn.ModuleList(nn.Linear(6, 6, bias=False) for _ in range(3))

        def forward(self, x):
            return _top1_moe_routing(x, self.router, self.experts)

    torch.manual_seed(0)
    report = analyze(Moe(), inputs=torch.randn(10, 6), device="cpu")
    assert report.complete, report.uncounted
    # router 10*6*3 = 180; every token goes through exactly one expert: 10*6*6 = 360 however routed
    assert report.totals.paper_flops == 180 + 360
    wheres = [r for r in report.records if r.op == "where"]
    assert len(wheres) == 3 and all(r.flops == 10 for r in wheres)  # one scan of the 10-element mask each


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])  # float32: transformers' MoE on CPU
@pytest.mark.parametrize("offsets", [(3, 7, 10), (10, 10, 10), (0, 1, 10)])
def test_grouped_mm_costs_rows_times_k_times_n_whatever_the_routing(device, dtype, offsets):
    class Experts(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(3, 8, 16, dtype=dtype))

        def forward(self, tokens, offs):
            return torch._grouped_mm(tokens, self.weight, offs=offs)

    model = Experts()
    inputs = (torch.randn(10, 8, dtype=dtype), torch.tensor(offsets, dtype=torch.int32))
    report = analyze(model, inputs=inputs, device=device)
    [record] = report.records
    # 10 rows x K 8 x N 16 = 1,280, in the paper total
    assert (record.flops, record.category, report.totals.paper_flops) == (1_280, "matmul", 1_280)


def test_casts_are_copies_unless_they_return_their_input():
    class Casts(nn.Module):
        def forward(self, x):
            return x.float(), x.int(), x.to(torch.float32), x.type(torch.int64)

    records = {r.op + str(i): r for i, r in enumerate(analyze(Casts(), (2, 5), device="meta").records)}
    macs = [r.mac for r in records.values()]
    # float() and to(float32) of a float32 tensor return it: 0; int() and type(int64) copy 10 -> 10: 20
    assert macs == [0, 20, 0, 20]
    bytes_ = [r.mac_bytes for r in records.values()]
    # int(): read 10*4 + write 10*4 = 80; type(int64): read 10*4 + write 10*8 = 120
    assert bytes_ == [0, 80, 0, 120]
