"""Every command's table at 80 and 120 columns: no line wider than the terminal, no name or number cut or
split across lines; columns that give way are named in a note."""

from __future__ import annotations

import re
import textwrap

import pytest
from typer.testing import CliRunner

from flopcount.cli import app
from flopcount.zoo import list_models

runner = CliRunner()
WIDTHS = (80, 120)
TINY = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("render") / "tiny_render.py"
    path.write_text(TINY)
    return f"{path}:build"


def render(width: int, *args: str) -> str:
    result = runner.invoke(app, [*args, "--width", str(width)])
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width, "\n".join(lines)
    assert "…" not in result.stdout  # rich's mark of a truncated cell
    return result.stdout


def cells(text: str) -> list[str]:
    """The stripped contents of every table cell on every line."""
    return [c.strip() for line in text.splitlines() for c in re.split(r"[│┃]", line)[1:-1]]


@pytest.mark.parametrize("width", WIDTHS)
def test_list_shows_every_name_whole(width):
    out = render(width, "list", "mobilenet*")
    assert set(list_models("mobilenet*")) <= set(cells(out))  # 13 names that once all read 'mobil...'
    assert "+0.00%" in out  # the gap to the implementation stays


@pytest.mark.parametrize("width", WIDTHS)
def test_analyze_keeps_names_and_numbers(width):
    out = render(width, "analyze", "mobilenet_v2", "--top", "5")
    assert {"features.0.0", "features.1.conv.0.0", "10.84M"} <= set(cells(out))  # 3*3*3*32*112*112 = 10,838,016
    assert "300,774,272" in out
    if width == 80:
        assert "Hidden at 80 columns" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_reasons_readable(width):
    out = render(width, "compare", "mobilenet_v2", "-i", "1x3x32x32")
    assert "features.17.conv.1.0" in cells(out)
    # each reason is printed whole on consecutive lines: joined, it reads as the sentence
    joined = " ".join(line.strip(" │") for line in out.splitlines())
    assert "FlopCounterMode has no formula for norms" in re.sub(r"\s+", " ", joined)
    assert "explained" in cells(out) and "match" in cells(out)


@pytest.mark.parametrize("width", WIDTHS)
def test_check_shows_whole_statuses(width, tiny, tmp_path):
    budget = tmp_path / "budgets.toml"
    budget.write_text(textwrap.dedent(f"""
        [models.tiny_model_with_a_long_id]
        model = "{tiny}"
        input_size = "1x3x16x16"
        max_params = 1000
        max_flops = "100K"
    """))
    out = render(width, "check", str(budget))
    # params: 3*3*3*8 + 8 + 8*8 + 8 = 296; FLOPs: (216 + 64) * 256 = 71,680 -> 71.68K
    assert cells(out).count("PASS") == 2 and "71.68K" in cells(out) and "296" in cells(out)
    assert "tiny_model_with_a_long_id" in cells(out)


@pytest.mark.parametrize("width", WIDTHS)
def test_guidelines_never_splits_a_number(width):
    out = render(width, "guidelines", "shufflenet_v1_g8", "--top", "3")
    # stages.0.1.compress_conv1: MAC 784 * 480 + 384 * 96 / 8 = 380,928 in one cell
    assert "380,928" in cells(out) and "stages.0.1.compress_conv1" in cells(out)
    assert "9,335,808" in cells(out)  # the BatchNorm2d G4 row


@pytest.mark.parametrize("width", WIDTHS)
def test_roofline_keeps_layer_names(width):
    out = render(width, "roofline", "mobilenet_v2", "--profile", "h100", "--top", "3", "--sort", "order")
    assert {"features.0.0", "features.0.1", "features.0.2"} <= set(cells(out))


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_keeps_layer_names(width, tiny):
    out = render(width, "bench", tiny, "-i", "1x3x16x16", "--repeats", "2", "--warmup", "0")
    assert {"0", "1", "2"} <= set(cells(out))  # the Sequential's three layers
    assert "71.68K" in cells(out) or "55.30K" in cells(out)  # 3*3*3*8*256 = 55,296 in the first conv


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_keeps_totals_and_module_names(width):
    out = render(width, "diff", "alexnet", "squeezenet1_0", "--top", "4")
    # params 61,100,840 -> 1,248,424: 48.94x fewer (tests/cli/test_cli_diff.py derives both)
    assert {"61,100,840", "1,248,424", "0.02043 (48.94x fewer)"} <= set(cells(out))
    # the four largest params changes: AlexNet's three linears, then its features.8 conv
    assert {"classifier.1", "classifier.4", "classifier.6"} <= set(cells(out))


@pytest.mark.parametrize("width", WIDTHS)
def test_memory_marks_the_peak_row(width, tiny):
    out = render(width, "memory", tiny, "-i", "1x3x16x16")
    # each output 8*16*16*4 = 8,192 B; during the ReLU its input and output live together: 16 KiB, the peak
    peak_rows = [line for line in out.splitlines() if "◀ peak" in line]
    assert len(peak_rows) == 1 and "16.00 KiB" in peak_rows[0] and cells(peak_rows[0])[0] == "1"
    # + params (3*3*3*8 + 8 + 8*8 + 8) * 4 = 1,184 B: 17,568 B = 17.16 KiB
    assert "17.16 KiB" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_predict_keeps_op_names_and_the_total(width):
    from flopcount.loading import load_model
    from flopcount.predict import load_profile, predict

    out = render(width, "predict", "mobilenet_v2", "--profile", "cpu_measured", "--top", "3", "-i", "1x3x32x32")
    loaded = load_model("mobilenet_v2", {}, None)
    prediction = predict(loaded.analyze([[1, 3, 32, 32]]), load_profile("cpu_measured"))
    slowest = sorted(prediction.ops, key=lambda o: -o.seconds)[:3]
    assert {o.name for o in slowest} <= set(cells(out))
    assert f"predicted {prediction.total_ms:.2f} ms" in out


LONG_NAMES = """
from torch import nn

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.projection_of_the_queries_over_all_the_tokens_of_the_image = nn.Linear(8, 8)

    def forward(self, x):
        return self.projection_of_the_queries_over_all_the_tokens_of_the_image(x)

def build():
    return nn.Sequential(Block(), nn.ReLU())
"""


def test_a_name_too_long_for_the_width_folds_and_the_numbers_stay(tmp_path):
    # "0.projection_of_the_queries_over_all_the_tokens_of_the_image" is 61 characters: with the predicted ms
    # column (12 + 3 borders and padding) it cannot fit 60 columns on one line. It used to stay whole while
    # rich squeezed the ms column to nothing; now the name folds and every row keeps its number.
    path = tmp_path / "long_names.py"
    path.write_text(LONG_NAMES)
    out = render(60, "predict", f"{path}:build", "-i", "1x8", "--profile", "cpu_measured")
    name = "0.projection_of_the_queries_over_all_the_tokens_of_the_image"
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    first, second = rows[0], rows[1]
    assert name not in out and first[0] + second[0] == name  # folded onto two lines, whole when joined
    assert re.fullmatch(r"\d+\.\d{3}", first[1]) and second[1] == ""  # its predicted ms, beside it
    assert all(re.fullmatch(r"\d+\.\d{3}", row[1]) for row in rows[2:])  # the ReLU and the module calls
