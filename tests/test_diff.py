"""flopcount.diff: two models module by module, and its table / JSON / Markdown renderings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from torch import nn

from flopcount import analyze
from flopcount.budget import load_baseline
from flopcount.diff import diff, load_side, side_from_baseline_entry, side_from_report_dict
from flopcount.errors import ConfigError, UsageError
from flopcount.loading import load_model
from flopcount.render.diff import diff_renderable, diff_to_json, diff_to_markdown, factor

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "configs" / "budgets.baseline.json"

# AlexNet (torchvision): convs 3*64*11*11+64 = 23,296; 64*192*5*5+192 = 307,392; 192*384*3*3+384 = 663,936;
# 384*256*3*3+256 = 884,992; 256*256*3*3+256 = 590,080 (features: 2,469,696); linears 9216*4096+4096 =
# 37,752,832; 4096*4096+4096 = 16,781,312; 4096*1000+1000 = 4,097,000 (classifier: 58,631,144).
ALEXNET_PARAMS = 2_469_696 + 58_631_144  # 61,100,840
# SqueezeNet 1.0: conv1 96*3*7*7+96 = 14,208; Fire(in, s, e1, e3) holds in*s+s + s*e1+e1 + 9*s*e3+e3:
# 11,920 + 12,432 + 45,344 + 49,440 + 104,880 + 111,024 + 188,992 + 197,184 = 721,216; final conv
# 512*1000+1000 = 513,000.
SQUEEZENET_PARAMS = 14_208 + 721_216 + 513_000  # 1,248,424


def zoo_report(name: str):
    loaded = load_model(name)
    return analyze(loaded.model, loaded.default_inputs, device=loaded.device, name=name)


@pytest.fixture(scope="module")
def alexnet_vs_squeezenet():
    return diff(zoo_report("alexnet"), zoo_report("squeezenet1_0"))


def test_alexnet_vs_squeezenet_totals(alexnet_vs_squeezenet):
    d = alexnet_vs_squeezenet
    a, b, delta, ratio = d.total("params")
    assert (a, b) == (ALEXNET_PARAMS, SQUEEZENET_PARAMS) == (61_100_840, 1_248_424)
    assert delta == 1_248_424 - 61_100_840 == -59_852_416
    # 61,100,840 / 1,248,424 = 48.94: "AlexNet accuracy with 50x fewer parameters"
    assert round(1 / ratio, 2) == 48.94
    assert factor(ratio) == "0.02043 (48.94x fewer)"
    assert d.metrics == ("params", "flops", "paper_flops", "mac", "mac_bytes")


def test_modules_match_by_path_then_by_structure(alexnet_vs_squeezenet):
    rows = {(r.a_path, r.b_path): r for r in alexnet_vs_squeezenet.rows}
    # same path, same type: conv1, 11x11 -> 7x7
    conv1 = rows[("features.0", "features.0")]
    assert conv1.match == "path" and (conv1.a["params"], conv1.b["params"]) == (23_296, 14_208)
    # AlexNet's second conv (features.3, a Conv2d) vs SqueezeNet's features.3 (a Fire block): not the same
    # module, so paired by structure with the first Conv2d of the first Fire, its squeeze 96*16+16 = 1,552
    second = rows[("features.3", "features.3.squeeze")]
    assert second.match == "structure" and (second.a_type, second.b_type) == ("Conv2d", "Conv2d")
    assert (second.a["params"], second.b["params"]) == (307_392, 1_552)
    assert second.delta("params") == 1_552 - 307_392
    # AlexNet's last two Linears have no counterpart
    assert rows[("classifier.6", None)].match == "only_a" and rows[("classifier.6", None)].a["params"] == 4_097_000
    # every module of both sides is in exactly one row, and the rows sum to the totals
    for side, total in (("a", ALEXNET_PARAMS), ("b", SQUEEZENET_PARAMS)):
        assert sum(getattr(r, side).get("params", 0) for r in alexnet_vs_squeezenet.rows) == total


def test_rolled_up_to_depth_one(alexnet_vs_squeezenet):
    d = diff(alexnet_vs_squeezenet.a, alexnet_vs_squeezenet.b, depth=1)
    rows = {r.name: r for r in d.rows}
    assert (rows["features"].a["params"], rows["features"].b["params"]) == (2_469_696, 14_208 + 721_216)
    assert (rows["classifier"].a["params"], rows["classifier"].b["params"]) == (58_631_144, 513_000)
    assert rows["classifier"].ratio("params") == pytest.approx(513_000 / 58_631_144)


def test_renamed_and_widened_layers_meet_by_structure():
    before = nn.Sequential()
    before.add_module("stem", nn.Conv2d(3, 8, 3))
    before.add_module("act", nn.ReLU())
    after = nn.Sequential()
    after.add_module("entry", nn.Conv2d(3, 16, 3))
    after.add_module("act", nn.ReLU())
    d = diff(analyze(before, (1, 3, 10, 10)), analyze(after, (1, 3, 10, 10)))
    [conv] = [r for r in d.rows if r.a_path == "stem"]
    assert (conv.b_path, conv.match) == ("entry", "structure")
    # 3*8*3*3+8 = 224 params -> 3*16*3*3+16 = 448; FLOPs 3*3*3*8*8*8 = 13,824 -> 3*3*3*16*8*8 = 27,648
    assert (conv.a["params"], conv.b["params"]) == (224, 448)
    assert (conv.a["flops"], conv.b["flops"]) == (13_824, 27_648)
    assert conv.ratio("flops") == 2.0


def test_a_saved_json_report_is_the_same_side_as_the_report():
    class WithToken(nn.Module):  # a parameter held by a container, not by a leaf that runs
        def __init__(self):
            super().__init__()
            self.token = nn.Parameter(nn.init.zeros_(nn.Linear(1, 5).weight.new_empty(1, 5)))
            self.fc = nn.Linear(5, 3)

        def forward(self, x):
            return self.fc(x + self.token)

    report = analyze(WithToken(), (2, 5))
    saved = json.loads(json.dumps(report.to_dict()))
    d = diff(report, saved)
    assert d.counts() == {"path": len(d.rows), "structure": 0, "only_a": 0, "only_b": 0}
    assert all(r.delta(m) == 0 for r in d.rows for m in d.module_metrics)
    root = next(r for r in d.rows if r.a_path == "")
    assert root.b["params"] == 5  # the token
    # a report saved without module_params (older files): the token shows as params outside leaf calls
    del saved["module_params"], saved["module_types"]
    side = side_from_report_dict(saved)
    assert side.modules["(params outside leaf calls)"]["params"] == 5
    assert side.modules["fc"]["params"] == 5 * 3 + 3


def test_against_a_budget_baseline_entry():
    report = zoo_report("mobilenet_v2")
    d = diff(str(BASELINE) + "#mobilenet_v2", report)
    assert d.a.source == f"baseline {BASELINE}#mobilenet_v2"
    # a baseline keeps params, paper FLOPs and MAC per layer, and all-ops FLOPs only in total
    assert d.module_metrics == ("params", "paper_flops", "mac")
    assert d.metrics == ("params", "flops", "paper_flops", "mac")
    assert d.total("params")[:3] == (3_504_872, 3_504_872, 0)
    assert d.counts()["only_a"] == d.counts()["only_b"] == 0  # all-zero layers (Dropout) get no row
    assert all(r.delta(m) == 0 for r in d.rows for m in d.module_metrics)


def test_a_renamed_baseline_layer_is_matched_by_its_counts():
    entry = load_baseline(BASELINE)["mobilenet_v2"]
    entry.layers["head.fc"] = entry.layers.pop("classifier.1")
    d = diff(side_from_baseline_entry("renamed", entry), "{}#mobilenet_v2".format(BASELINE))
    [row] = [r for r in d.rows if r.a_path == "head.fc"]
    assert (row.b_path, row.match) == ("classifier.1", "structure")
    assert row.a["params"] == 1280 * 1000 + 1000  # 1,281,000


def test_loading_errors_are_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"holds 10 models: name one as .*#<id>"):
        load_side(BASELINE)
    with pytest.raises(UsageError, match="no model 'mobilenet_v9' in the baseline; did you mean mobilenet_v2"):
        load_side(f"{BASELINE}#mobilenet_v9")
    with pytest.raises(UsageError, match="no such file"):
        load_side("/nonexistent/report.json")
    with pytest.raises(ConfigError, match=r"budgets.toml:1:1: not valid JSON"):
        load_side(REPO / "configs" / "budgets.toml")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ConfigError, match="neither a flopcount JSON report .* nor a budget baseline"):
        load_side(other)


def test_renderings(alexnet_vs_squeezenet):
    d = alexnet_vs_squeezenet
    markdown = diff_to_markdown(d)
    assert "| params | 61,100,840 | 1,248,424 | -59,852,416 | 0.02043 (48.94x fewer) |" in markdown
    data = json.loads(diff_to_json(d))
    assert data["totals"]["params"] == {"a": 61_100_840, "b": 1_248_424, "delta": -59_852_416,
                                        "ratio": pytest.approx(1_248_424 / 61_100_840)}
    assert data["matches"] == d.counts()
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(diff_renderable(d, width=120, top=5))
    text = console.export_text()
    assert "48.94x fewer" in text and "61,100,840" in text
    assert max(len(line) for line in text.splitlines()) <= 120
