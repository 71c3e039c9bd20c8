"""analyze_samples: a top-1 routed mixture of experts, whose per-expert cost depends on the input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from flopcount.errors import UsageError
from flopcount.sampling import Spread, analyze_samples

TOKENS, DIM = 8, 4


class TopOneMoE(nn.Module):
    """Each token goes to expert 0 when its first feature is positive, else to expert 1 (the router's
    weights are fixed so that the test can predict the routing from the input's signs)."""

    def __init__(self):
        super().__init__()
        self.router = nn.Linear(DIM, 2, bias=False)
        self.experts = nn.ModuleList(nn.Linear(DIM, DIM, bias=False) for _ in range(2))
        with torch.no_grad():
            self.router.weight.zero_()
            self.router.weight[0, 0], self.router.weight[1, 0] = 1.0, -1.0

    def forward(self, x):
        choice = self.router(x).argmax(-1)
        out = torch.zeros_like(x)
        for i, expert in enumerate(self.experts):
            rows = (choice == i).nonzero().squeeze(-1)
            if rows.numel():
                out[rows] = expert(x[rows])
        return out


def positives(seed: int) -> int:
    """Tokens routed to expert 0 for the input analyze_samples draws with this seed (same generator)."""
    x = torch.randn((TOKENS, DIM), generator=torch.Generator().manual_seed(seed))
    return int((x[:, 0] > 0).sum())


def test_random_inputs_give_mean_min_max_per_expert():
    result = analyze_samples(TopOneMoE(), (TOKENS, DIM), samples=6, seed=3, device="cpu", name="moe")
    counts = [positives(3 + i) for i in range(6)]
    assert len(set(counts)) > 1  # the routing does change between these inputs
    layers = {layer.name: layer for layer in result.layers}
    # expert 0 costs 4*4 = 16 multiply-adds per token routed to it, expert 1 the rest
    assert layers["experts.0"].metrics["flops"] == Spread.of([16 * n for n in counts])
    assert layers["experts.1"].metrics["flops"] == Spread.of([16 * (TOKENS - n) for n in counts])
    assert layers["experts.0"].runs == sum(1 for n in counts if n)
    # the router runs on every token every time: 8 * 4 * 2 = 64, no spread
    assert layers["router"].metrics["flops"] == Spread(64.0, 64, 64)
    # the two experts together always see all 8 tokens: 8 * 16 = 128 linear multiply-adds
    paper = result.totals["paper_flops"]
    assert paper == Spread(64.0 + 128, 64 + 128, 64 + 128)
    assert (result.samples, result.source, result.params) == (6, "random (seed 3)", 2 * 4 + 2 * 16)
    assert result.to_dict()["layers"][0]["name"] == "router"


def test_saved_inputs_in_a_directory(tmp_path):
    signs = [[1, 1, 1, -1, -1, -1, -1, -1], [1] * 8, [-1] * 8]  # 3, 8 and 0 tokens to expert 0
    for i, row in enumerate(signs):
        x = torch.ones(TOKENS, DIM)
        x[:, 0] = torch.tensor(row, dtype=torch.float32)
        torch.save(x, tmp_path / f"input_{i}.pt")
    result = analyze_samples(TopOneMoE(), inputs_dir=tmp_path)
    expert0 = next(layer for layer in result.layers if layer.name == "experts.0")
    # 16 * (3, 8, 0) = (48, 128, 0): mean 176 / 3; it ran for two of the three inputs
    assert expert0.metrics["flops"] == Spread(176 / 3, 0, 128)
    assert expert0.runs == 2 and expert0.calls == Spread(2 / 3, 0, 1)
    assert result.source == str(tmp_path)


def test_refusals():
    with pytest.raises(UsageError, match="sampling needs data, which meta tensors do not have"):
        analyze_samples(TopOneMoE(), (TOKENS, DIM), device="meta")
    with pytest.raises(UsageError, match="no such directory"):
        analyze_samples(TopOneMoE(), inputs_dir="/nonexistent/inputs")
    with pytest.raises(UsageError, match="give exactly one of input_size or inputs_dir"):
        analyze_samples(TopOneMoE())


def test_the_cli_over_saved_inputs(tmp_path):
    import inspect
    import json

    from typer.testing import CliRunner

    from flopcount.cli import app

    model_file = tmp_path / "moe_model.py"
    model_file.write_text("import torch\nfrom torch import nn\n\nTOKENS, DIM = 8, 4\n\n" + inspect.getsource(TopOneMoE)
                          + "\n\ndef build():\n    return TopOneMoE()\n")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i, first in enumerate((1.0, -1.0)):  # all 8 tokens to expert 0, then all to expert 1
        torch.save(torch.full((TOKENS, DIM), first), inputs / f"{i}.pt")
    result = CliRunner().invoke(app, ["analyze", f"{model_file}:build", "--inputs-dir", str(inputs), "-f", "json"])
    assert result.exit_code == 0, result.output
    layers = {layer["name"]: layer for layer in json.loads(result.stdout)["layers"]}
    # 8 tokens * 16 = 128 multiply-adds for one input, 0 for the other: mean 64
    assert layers["experts.0"]["flops"] == {"mean": 64.0, "min": 0, "max": 128}
    assert layers["experts.1"]["runs"] == 1
    both = CliRunner().invoke(app, ["analyze", f"{model_file}:build", "--inputs-dir", str(inputs), "--samples", "2"])
    assert both.exit_code == 2 and "not both" in both.stderr
