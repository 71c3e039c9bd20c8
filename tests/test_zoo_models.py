"""Every bundled model against its recorded counts (flopcount/data/references.toml).

Exact params and conv + linear multiply-adds of the implementation each model follows, the papers' own
figures within the recorded tolerance, and one real CPU forward per family.
"""

from __future__ import annotations

import pytest
import torch

from flopcount import analyze
from flopcount.zoo import get_model, get_spec, list_models
from flopcount.zoo.references import load_references

REFERENCES = load_references()
MODELS = list_models()


def _relative_gap(value: int, paper: float) -> float:
    return abs(value - paper) / paper


def _other_inputs() -> list[tuple[str, dict]]:
    return [(name, entry) for name, ref in REFERENCES.items() for entry in ref.get("other_inputs", [])]


def test_references_and_registry_agree():
    assert sorted(REFERENCES) == sorted(MODELS), "every model needs an entry, every entry a model"


@pytest.mark.parametrize("name", MODELS)
def test_exact_counts(name):
    spec = get_spec(name)
    ref = REFERENCES[name]
    assert tuple(ref["input_size"]) == spec.input_size
    with torch.device("meta"):
        model = get_model(name)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == ref["params"]

    report = analyze(model, input_size=spec.input_size)
    assert report.totals.params == ref["params"]
    assert report.totals.paper_flops == ref["flops"]


@pytest.mark.parametrize(
    ("name", "entry"), _other_inputs(), ids=[f"{n}-{'x'.join(map(str, e['input_size']))}" for n, e in _other_inputs()]
)
def test_exact_counts_at_other_inputs(name, entry):
    with torch.device("meta"):
        model = get_model(name)
    report = analyze(model, input_size=tuple(entry["input_size"]))
    assert report.totals.paper_flops == entry["flops"]


@pytest.mark.parametrize("name", MODELS)
def test_paper_figures_within_tolerance(name):
    ref = REFERENCES[name]
    checks = [(ref["params"], ref.get("paper_params")), (ref["flops"], ref.get("paper_flops"))]
    checks += [(e["flops"], e.get("paper_flops")) for e in ref.get("other_inputs", [])]
    checks = [(ours, paper) for ours, paper in checks if paper is not None]
    if not checks:
        assert "note" in ref, f"{name} has no paper figure: say why in its note"
        return
    assert "paper_source" in ref and "tolerance" in ref
    for ours, paper in checks:
        assert _relative_gap(ours, paper) <= ref["tolerance"], f"{name}: {ours:,} vs paper {paper:,.0f}"


@pytest.mark.parametrize("name", [n for n in MODELS if "torchvision_gflops" in REFERENCES[n]])
def test_torchvision_published_ops(name):
    # torchvision publishes `_ops` in GFLOPs (multiply-adds) rounded to 3 decimals: within half a unit.
    ref = REFERENCES[name]
    assert ref["flops"] / 1e9 == pytest.approx(ref["torchvision_gflops"], abs=5e-4)


# One real forward per family, at the smallest convenient input: the representative exercising the
# most code (the bypass adds, a grouped shuffle). Xception's unpadded stem needs at least 71x71.
FORWARD_CASES = {
    "squeezenet": ("squeezenet1_0_bypass", 64),
    "xception": ("xception", 71),
    "shufflenet_v1": ("shufflenet_v1_g3", 64),
    "shufflenet_v2": ("shufflenet_v2_x0_5", 64),
    "mobilenet_v1": ("mobilenet_v1_w0.25", 64),
    "mobilenet_v2": ("mobilenet_v2_w0.35", 64),
    "mobilenet_v3": ("mobilenet_v3_small", 64),
    "alexnet": ("alexnet", 64),
    "vgg": ("vgg16", 32),
    "resnet": ("resnet50", 64),
    "vit": ("vit_b_16", 224),  # its position embedding fixes the input size
}


def test_every_family_has_a_forward_case():
    assert {get_spec(n).family for n in MODELS} == set(FORWARD_CASES)


@pytest.mark.parametrize(("name", "size"), FORWARD_CASES.values(), ids=list(FORWARD_CASES))
def test_cpu_forward(name, size):
    torch.manual_seed(0)
    model = get_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, 1000)
    assert torch.isfinite(out).all()
