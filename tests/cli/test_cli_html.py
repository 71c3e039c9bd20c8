"""`-f html`: analyze writes the report page (numbers equal -f json's), with --baseline a before/after view;
check writes a budget page. The page in a real browser is tested in tests/test_html.py."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

runner = CliRunner()
TINY = """
from torch import nn

def build(width=8):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny_html.py"
    path.write_text(TINY)
    return f"{path}:build"


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="flopcount-data">(.*?)</script>', page, re.S)
    assert match, "no embedded data"
    return json.loads(match.group(1))


def test_analyze_html_holds_the_json_reports_numbers(tiny, tmp_path):
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "-f", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the page went to the file
    payload = embedded(page.read_text())
    report = json.loads(runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "-f", "json"]).stdout)
    assert payload["totals"] == report["totals"]
    # conv 3*3*3*8 multiply-adds per output, 8*8 outputs: 216*64 = 13,824; params 216 + 8 = 224
    assert (payload["totals"]["paper_flops"], payload["totals"]["params"]) == (13_824, 224)
    assert payload["diff"] is None


def test_analyze_html_against_a_saved_report_and_another_model(tiny, tmp_path):
    narrow = tmp_path / "narrow.json"
    assert runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "-f", "json", "-o", str(narrow)]).exit_code == 0
    page = tmp_path / "wider.html"
    result = runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "--kwargs", '{"width": 16}', "-f", "html",
                                 "-o", str(page), "--baseline", str(narrow)])
    assert result.exit_code == 0, result.output
    diff = embedded(page.read_text())["diff"]
    # params 3*3*3*8+8 = 224 before, 3*3*3*16+16 = 448 after: twice as many
    assert diff["totals"]["params"] == {"a": 224, "b": 448, "delta": 224, "ratio": 2.0}
    assert diff["a"]["source"] == f"report json {narrow}"
    # a model name: analysed on the same input (here the same model: nothing changes)
    result = runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "-f", "html", "-o", str(page), "--baseline", tiny])
    assert result.exit_code == 0, result.output
    assert embedded(page.read_text())["diff"]["totals"]["flops"]["delta"] == 0


def test_baseline_needs_html(tiny):
    result = runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "--baseline", tiny])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("flopcount: error: --baseline draws a before/after view in -f html; "
                                     "for a table: flopcount diff A B")


def test_check_html_page(tiny, tmp_path):
    budget = tmp_path / "budgets.toml"
    budget.write_text(f'[models.tiny]\nmodel = "{tiny}"\ninput_size = "1x3x8x8"\nmax_params = 200\nmax_flops = "20K"\n')
    page = tmp_path / "budgets.html"
    result = runner.invoke(app, ["check", str(budget), "-f", "html", "-o", str(page)])
    assert result.exit_code == 1  # params 224 > 200
    text = page.read_text()
    assert '<section class="model" data-id="tiny">' in text
    # params 224 of 200: over, a full red bar; FLOPs 13,824 of 20,000: 69.1 % of the budget
    assert re.search(r'<tr data-status="fail"><td>params</td><td>224</td><td>200</td>.*?fill over', text)
    assert 'title="69.1% of the budget"' in text and "30.9%" in text  # headroom (20,000 - 13,824) / 20,000
    assert "<script" not in text and "http" not in text.split("</style>")[1]  # static and offline


def test_memory_html_opens_the_tree_on_memory(tiny, tmp_path):
    page = tmp_path / "mem.html"
    result = runner.invoke(app, ["memory", tiny, "-i", "1x3x8x8", "-f", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    payload = embedded(page.read_text())
    assert payload["default_metric"] == "activation_bytes"
    report = json.loads(runner.invoke(app, ["memory", tiny, "-i", "1x3x8x8", "-f", "json"]).stdout)
    assert payload["memory"]["peak_memory_bytes"] == report["peak_memory_bytes"]
    # conv and ReLU each write 1x8x8x8 float32 = 2,048 bytes; the ReLU's while the conv's is held: peak
    # 4,096 + weights (3*3*3*8 + 8) * 4 = 896 bytes = 4,992
    assert [c["values"]["activation_bytes"] for c in payload["tree"]["children"]] == [2048, 2048]
    assert (payload["memory"]["peak_activation_bytes"], payload["memory"]["peak_memory_bytes"]) == (4096, 4992)


class Tables(HTMLParser):
    """The text of every cell of every table, by table id: {id: [[cell, ...], ...]} (header row first)."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._cell = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(self._cell)
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_compare_html_page(tiny, tmp_path):
    page = tmp_path / "compare.html"
    result = runner.invoke(app, ["compare", tiny, "-i", "1x3x8x8", "-f", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<script" not in text and "http" not in text.split("</style>")[1]  # static and offline
    tables = Tables(text).tables
    assert tables["totals"][0] == ["total", "flopcount", "fvcore", "FCM/2"]
    # conv 3*3*3*8 * 8*8 = 13,824 multiply-adds, counted alike by all three; ReLU 8*8*8 = 512 more in
    # flopcount's all-ops total only: 14,336
    assert tables["totals"][1][1:] == ["13,824", "13,824", "13,824"]
    assert tables["totals"][2][1:] == ["14,336", "13,824", "13,824"]
    relu = next(row for row in tables["rows"] if row[1] == "ReLU")
    assert relu[-2:] == ["explained", "fvcore treats ReLU as free; FlopCounterMode has no formula for activations"]
    assert 'id="verdict"><li class="ok">OK: all 1 conv/linear/matmul rows agree exactly' in text
