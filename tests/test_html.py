"""The HTML report: its data (pure Python) and the page a real browser renders from it.

The browser tests run headless Chromium (``--dump-dom``) on the written file and read the DOM its
script built: the totals shown equal the JSON report's, the treemap holds a block per module with the
module's FLOPs, there is one pair of bars per layer with a cost and one roofline point per layer with
FLOPs and memory traffic.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from torch import nn
from typer.testing import CliRunner

from flopcount import analyze
from flopcount.cli import app
from flopcount.errors import UsageError
from flopcount.loading import load_model
from flopcount.predict import load_profile, predict
from flopcount.render.browser import INSTALL_HINT, dump_dom, find_chromium
from flopcount.render.html import SCHEMA_VERSION, html_payload, render_html
from flopcount.roofline import load_device, roofline

REPO = Path(__file__).resolve().parent.parent



def require_chromium() -> None:
    """Skip without Chromium on a developer's machine; fail in CI (CI=true), whose set-up installs it."""
    if find_chromium() is None:
        message = f"headless Chromium is not installed (install it: {INSTALL_HINT})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; .ci/run installs it", pytrace=False)
        pytest.skip(message)


def zoo_report(name: str):
    loaded = load_model(name)
    return analyze(loaded.model, loaded.default_inputs, device=loaded.device, name=name, memory=True)


@pytest.fixture(scope="module")
def mobilenet_v2():
    return zoo_report("mobilenet_v2")


@pytest.fixture(scope="module")
def vit_b_16():
    return zoo_report("vit_b_16")


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="flopcount-data">(.*?)</script>', page, re.S)
    assert match, "no embedded data"
    return json.loads(match.group(1))


# ----------------------------------------------------------------------------------------------------
# The data and the file, without a browser


def test_tree_sums_to_the_totals(mobilenet_v2):
    payload = html_payload(mobilenet_v2)
    tree, totals = payload["tree"], mobilenet_v2.totals
    assert payload["schema_version"] == SCHEMA_VERSION
    assert tree["values"]["flops"] == totals.flops == 320_515_392
    assert tree["values"]["mac"] == totals.mac == 43_266_256
    assert tree["values"]["params"] == totals.params == 3_504_872

    def leaves(node):
        return [node] if "children" not in node else [leaf for c in node["children"] for leaf in leaves(c)]

    assert sum(leaf["values"]["flops"] for leaf in leaves(tree)) == totals.flops
    first_conv = next(n for n in leaves(tree) if n["key"] == "features.0.0")
    # 3x3 conv, 3 -> 32 channels on a 112 x 112 output: 3*3*3*32*112*112 = 10,838,016 multiply-adds,
    # params 3*3*3*32 = 864 (no bias)
    assert (first_conv["values"]["flops"], first_conv["values"]["params"]) == (10_838_016, 864)
    assert first_conv["category"] == "conv" and first_conv["type"] == "Conv2d"


def test_roofline_and_predicted_latency_use_the_default_profile(mobilenet_v2):
    payload = html_payload(mobilenet_v2)
    expected = roofline(mobilenet_v2, load_device("cpu_measured"))
    assert payload["roofline"]["device"]["name"] == "cpu_measured"
    assert len(payload["roofline"]["points"]) == len(expected.points)
    assert payload["roofline"]["total_time_s"] == pytest.approx(expected.total_time)
    assert payload["tree"]["values"]["latency_ms"] == pytest.approx(expected.total_time * 1e3)
    assert [m["key"] for m in payload["metrics"]] == ["flops", "mac", "params", "activation_bytes", "latency_ms",
                                                      "predicted_ms"]
    assert [m["label"] for m in payload["metrics"]][-2:] == ["roofline time", "predicted latency"]
    without = html_payload(mobilenet_v2, device=None, latency_profile=None)
    assert without["roofline"] is None and "latency_ms" not in without["tree"]["values"]
    assert [m["key"] for m in without["metrics"]] == ["flops", "mac", "params", "activation_bytes"]


def subtree_sum(report, node_key: str, per_record) -> float:
    """The sum of ``per_record[i]`` over the records under a tree node (a module path or ``path:op``)."""
    if ":" in node_key:
        path, op = node_key.split(":", 1)
        return sum(per_record[r.index] for r in report.records if r.source == "op" and r.path == path and r.op == op)
    return sum(per_record[r.index] for r in report.records
               if not node_key or r.path == node_key or r.path.startswith(node_key + "."))


def all_nodes(node):
    yield node
    for child in node.get("children", []):
        yield from all_nodes(child)


def test_memory_and_predicted_latency_per_module_are_the_librarys(mobilenet_v2):
    payload = html_payload(mobilenet_v2)
    raised = mobilenet_v2.memory.raised_by()
    prediction = predict(mobilenet_v2, load_profile("cpu_measured"))
    predicted = {op.index: op.ms for op in prediction.ops}
    nodes = list(all_nodes(payload["tree"]))
    assert len(nodes) > 100
    for node in nodes:
        assert node["values"]["activation_bytes"] == subtree_sum(mobilenet_v2, node["key"], raised), node["key"]
        if node["key"]:  # the root adds the Python of the container forwards (0 in cpu_measured)
            assert node["values"]["predicted_ms"] == pytest.approx(subtree_sum(mobilenet_v2, node["key"], predicted))
    assert payload["tree"]["values"]["predicted_ms"] == pytest.approx(prediction.total_ms)
    assert payload["prediction"]["total_ms"] == pytest.approx(prediction.total_ms)
    # the first conv writes 1x32x112x112 float32 while only the input (not an activation) is live:
    # 32*112*112*4 = 1,605,632 bytes
    [first_conv] = [n for n in nodes if n["key"] == "features.0.0"]
    assert first_conv["values"]["activation_bytes"] == 1_605_632
    memory = payload["memory"]
    assert memory["peak_memory_bytes"] == mobilenet_v2.memory.peak_memory_bytes
    assert memory["peak_name"] == mobilenet_v2.records[mobilenet_v2.memory.peak_record].name


def test_memory_of_a_conv_then_relu_by_hand():
    report = analyze(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()), (1, 3, 8, 8), memory=True)
    payload = html_payload(report, device=None, latency_profile=None)
    values = {c["key"]: c["values"]["activation_bytes"] for c in payload["tree"]["children"]}
    # each writes 1x8x8x8 float32 = 8*8*8*4 = 2,048 bytes; ReLU's output is allocated while the conv's is
    # still held: the peak, 4,096, is during the ReLU (record 1); + weights (3*3*3*8 + 8) * 4 = 896 bytes
    assert values == {"0": 2048, "1": 2048} and payload["tree"]["values"]["activation_bytes"] == 4096
    assert payload["memory"]["peak_activation_bytes"] == 4096
    assert (payload["memory"]["peak_record"], payload["memory"]["peak_op"]) == (1, "ReLU")
    assert payload["memory"]["peak_memory_bytes"] == 4096 + 896
    assert payload["prediction"] is None and "roofline time" in payload["latency_note"]


def test_a_latency_profile_that_does_not_load_falls_back_to_the_roofline_time(mobilenet_v2, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    payload = html_payload(mobilenet_v2, latency_profile=broken)
    assert payload["prediction"] is None and "predicted_ms" not in payload["tree"]["values"]
    assert payload["latency_note"].startswith("no latency profile loaded (") and "roofline time" in payload["latency_note"]
    assert payload["tree"]["values"]["latency_ms"] > 0


def test_the_page_can_open_on_another_metric(mobilenet_v2):
    assert html_payload(mobilenet_v2, metric="activation_bytes")["default_metric"] == "activation_bytes"
    without_memory = analyze(nn.Linear(2, 2), (1, 2))
    with pytest.raises(UsageError, match="no tree metric 'activation_bytes'"):
        html_payload(without_memory, metric="activation_bytes")


def test_an_op_called_by_a_module_forward_is_a_leaf_of_that_module():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) + x  # the add runs in Block's own forward

    report = analyze(nn.Sequential(Block()), (2, 4))
    tree = html_payload(report, device=None)["tree"]
    [block] = tree["children"]
    assert block["key"] == "0" and block["type"] == "Block"
    keys = {c["key"]: c["values"] for c in block["children"]}
    assert keys["0.fc"]["flops"] == 2 * 4 * 4  # batch 2, 4 -> 4: 32
    assert keys["0:add"]["flops"] == 2 * 4  # one add per element: 8
    assert keys["0:add"]["mac"] == 3 * 2 * 4  # two inputs read, one output written: 24


def test_the_page_is_self_contained_and_offline(mobilenet_v2):
    page = render_html(mobilenet_v2)
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page  # the CSP forbids every request, should anything try
    for needle in ("<link", "src=", "@import", "url(", "fetch(", "XMLHttpRequest"):
        assert needle not in page, needle
    # the only URL is the SVG namespace, an identifier that is never fetched
    assert set(re.findall(r"https?://[^\s\"'`)]+", page)) == {"http://www.w3.org/2000/svg"}
    assert embedded(page)["totals"]["flops"] == 320_515_392


def test_text_from_the_model_cannot_close_the_data_script():
    report = analyze(nn.Linear(2, 2), (1, 2), name="evil</script><script>alert(1)</script>")
    page = render_html(report, device=None)
    assert "<script>alert(1)" not in page
    assert embedded(page)["model"] == "evil</script><script>alert(1)</script>"
    assert "<title>flopcount: evil&lt;/script&gt;" in page


def test_no_baseline_no_before_after(mobilenet_v2):
    assert html_payload(mobilenet_v2, device=None)["diff"] is None  # the page then keeps that section hidden


# ----------------------------------------------------------------------------------------------------
# In a real browser


class Dom(HTMLParser):
    """Every element of a serialized DOM with its attributes, text and enclosing element ids."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "source", "wbr", "embed"}

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "",
                   "within": {e["attrs"]["id"] for e in self._open if "id" in e["attrs"]}}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._open.pop()

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag=None, within=None, **attrs):
        return [e for e in self.elements
                if (tag is None or e["tag"] == tag) and (within is None or within in e["within"])
                and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def classed(self, tag, name, within=None):
        return [e for e in self.find(tag, within) if name in e["attrs"].get("class", "").split()]

    def by_id(self, element_id):
        [found] = self.find(id=element_id)
        return found


def rendered(tmp_path, report, **options) -> Dom:
    page = tmp_path / f"{report.model}.html"
    page.write_text(render_html(report, **options), encoding="utf-8")
    return loaded_dom(page)


def loaded_dom(page: Path) -> Dom:
    dom = Dom(dump_dom(page))
    assert dom.find("body")[0]["attrs"].get("data-rendered") == "true", "the page's script did not finish"
    return dom


def check_totals_and_charts(dom: Dom, report) -> None:
    data = report.to_dict()
    names = {"params": "params", "paper_flops": "paper FLOPs", "flops": "all-ops FLOPs", "mac": "MAC (elements)"}
    for metric, name in names.items():
        total = data["totals"][metric]
        [card] = dom.find("div", data_metric=metric)
        [value] = [e for e in dom.classed("div", "value") if e["attrs"].get("data-value") == str(total)]
        assert value["text"] == f"{total:,}", metric
        assert card["text"].startswith(name + f"{total:,}"), card["text"]
    assert dom.by_id("status")["attrs"]["data-complete"] == "true"
    assert dom.by_id("status")["text"].startswith("complete")

    nodes = dom.classed("g", "node", within="tree")
    root = nodes[0]
    assert root["attrs"]["data-path"] == "(root)"
    assert int(root["attrs"]["data-value"]) == data["totals"]["flops"]
    assert dom.find("svg", within="tree")[0]["attrs"]["aria-label"] == "module treemap"

    costly = [r for r in data["records"] if r["flops"] > 0 or r["mac"] > 0]
    flops_bars = dom.classed("rect", "bar-flops", within="layers")
    mac_bars = dom.classed("rect", "bar-mac", within="layers")
    assert len(flops_bars) == len(mac_bars) == len(costly)
    # the tallest FLOPs bar is the record with the most FLOPs, the tallest MAC bar the one with most MAC
    tallest = max(flops_bars, key=lambda e: float(e["attrs"]["height"]))
    assert int(tallest["attrs"]["data-index"]) == max(costly, key=lambda r: r["flops"])["index"]
    tallest = max(mac_bars, key=lambda e: float(e["attrs"]["height"]))
    assert int(tallest["attrs"]["data-index"]) == max(costly, key=lambda r: r["mac"])["index"]

    peak = report.memory.peak_memory_bytes
    [peak_value] = [e for e in dom.classed("div", "value", within="totals") if e["attrs"].get("data-value") == str(peak)]
    [peak_card] = dom.find("div", data_metric="peak_memory")
    assert report.records[report.memory.peak_record].name in peak_card["text"]
    predicted = predict(report, load_profile("cpu_measured")).total_ms
    [predicted_card] = dom.find("div", data_metric="predicted_latency")
    assert f"{predicted:.3f} ms" in predicted_card["text"]
    assert dom.by_id("metric-note")["attrs"]["data-metric"] == "flops"

    points = roofline(report, load_device("cpu_measured")).points
    circles = dom.classed("circle", "point", within="roofline")
    assert len(circles) == len([p for p in points if p.flop > 0 and p.bytes > 0])


BASELINE_W05 = str(REPO / "configs" / "budgets.baseline.json#mobilenet_v2_w0.5")


@pytest.fixture(scope="module")
def mobilenet_v2_dom(tmp_path_factory, mobilenet_v2):
    """One browser run: mobilenet_v2 (B) with a before/after view against the baseline entry of its
    0.5-width variant (A) in configs/budgets.baseline.json."""
    require_chromium()
    page = tmp_path_factory.mktemp("html") / "mobilenet_v2.html"
    result = CliRunner().invoke(app, ["analyze", "mobilenet_v2", "-f", "html", "-o", str(page),
                                      "--baseline", BASELINE_W05])
    assert result.exit_code == 0, result.output
    return loaded_dom(page)


def test_mobilenet_v2_renders_in_chromium(mobilenet_v2_dom, mobilenet_v2):
    dom = mobilenet_v2_dom
    check_totals_and_charts(dom, mobilenet_v2)
    [first_conv] = dom.find("g", within="tree", data_path="features.0.0")
    assert first_conv["attrs"]["data-value"] == "10838016"  # 3*3*3*32*112*112


def test_vit_b_16_renders_in_chromium(tmp_path, vit_b_16):
    require_chromium()
    dom = rendered(tmp_path, vit_b_16)
    check_totals_and_charts(dom, vit_b_16)
    [patchify] = dom.find("g", within="tree", data_path="conv_proj")
    # 16x16 patches, 3 -> 768 channels, 14 x 14 outputs: 16*16*3*768*14*14 = 115,605,504
    assert patchify["attrs"]["data-value"] == "115605504"


def params_cells(dom: Dom, row: dict) -> list[dict]:
    start = dom.elements.index(row)
    return [e for e in dom.elements[start + 1:start + 6] if e["tag"] == "td"]


def test_before_after_against_a_budget_baseline_in_chromium(mobilenet_v2_dom):
    dom = mobilenet_v2_dom
    assert dom.by_id("diff-section")["attrs"].get("hidden") is None
    [params] = dom.find("tr", within="diff-totals", data_metric="params")
    # params of the baseline entry (the w0.5 budget comment: 1,968,680) and of mobilenet_v2 (3,504,872)
    assert [e["attrs"].get("data-value") for e in params_cells(dom, params)][1:3] == ["1968680", "3504872"]
    # 3,504,872 / 1,968,680 = 1.7803
    assert "1.78 (1.78x more)" in params["text"]
    # a baseline keeps paper FLOPs per module, not all-ops FLOPs: the per-module view offers what both have
    assert [b["attrs"]["data-key"] for b in dom.find("button", within="diff-buttons")] == ["params", "paper_flops", "mac"]
    assert dom.classed("rect", "delta-up", within="diff-chart")


def test_memory_page_opens_on_memory_in_chromium(tmp_path, mobilenet_v2):
    require_chromium()
    page = tmp_path / "mem.html"
    result = CliRunner().invoke(app, ["memory", "mobilenet_v2", "-f", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    dom = loaded_dom(page)
    assert dom.by_id("metric-note")["attrs"]["data-metric"] == "activation_bytes"
    [pressed] = dom.find("button", within="metric-buttons", aria_pressed="true")
    assert pressed["text"] == "memory"
    nodes = dom.classed("g", "node", within="tree")
    assert nodes[0]["attrs"]["data-path"] == "(root)"
    assert int(nodes[0]["attrs"]["data-value"]) == sum(mobilenet_v2.memory.raised_by())
    [first_conv] = dom.find("g", within="tree", data_path="features.0.0")
    assert first_conv["attrs"]["data-value"] == "1605632"  # 32*112*112 float32 outputs: 32*112*112*4 bytes
