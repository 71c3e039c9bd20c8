"""Formula plug-ins through the `flopcount.formulas` entry point group.

The plug-in packages are real distributions found by importlib.metadata: a ``*.dist-info`` directory
with an ``entry_points.txt`` beside the package on a sys.path entry (what pip writes on install), so
discovery, import and registration are exercised for real, through the library and through the CLI.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from torch import nn
from typer.testing import CliRunner

from flopcount.analysis import analyze
from flopcount.cli import app
from flopcount.plugins import GROUP, PluginWarning, forget_plugins, load_plugins, reload_plugins

# The model a plug-in knows: y = x @ W with W of 16 x 32, written as a custom module with its own
# forward. Without the plug-in its matmul is counted from ops; the plug-in's formula says 1,000 FLOPs per
# call so that the test can tell which one counted it.
LAYER_SOURCE = textwrap.dedent('''
    import torch
    from torch import nn

    class ScaledProjection(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(16, 32))

        def forward(self, x):
            return x @ self.weight
''')

PLUGIN_SOURCE = textwrap.dedent('''
    from flopcount import Cost, formula
    from {package}.layers import ScaledProjection

    @formula(ScaledProjection)
    def scaled_projection(module, inputs, output):
        return Cost(flops=1000, category="linear")
''')


def write_distribution(root: Path, package: str, plugin_body: str | None = None) -> None:
    """Package ``package`` with a plug-in module, and the .dist-info that declares its entry point."""
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "layers.py").write_text(LAYER_SOURCE)
    (root / package / "formulas.py").write_text(plugin_body or PLUGIN_SOURCE.format(package=package))
    info = root / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{package} = {package}.formulas\n")


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    monkeypatch.undo()
    reload_plugins()  # forget the tmp plug-ins for the next tests (sys.path is restored by monkeypatch)


def test_a_plugin_formula_applies_without_importing_the_plugin(plugin_path):
    write_distribution(plugin_path, "fc_plugin_ok")
    import importlib

    layers = importlib.import_module("fc_plugin_ok.layers")  # the user imports their model, not the plug-in
    assert "fc_plugin_ok.formulas" not in sys.modules
    reload_plugins()  # the process already looked for plug-ins in an earlier test; look again
    report = analyze(layers.ScaledProjection(), (1, 16))
    [record] = report.records
    assert record.source == "module" and record.op == "ScaledProjection"
    assert record.flops == 1000  # the plug-in's number, not the matmul's 16*32 = 512
    assert load_plugins()["fc_plugin_ok"] == "ok"


def test_a_broken_plugin_warns_in_one_line_naming_the_entry_point(plugin_path):
    write_distribution(plugin_path, "fc_plugin_broken", plugin_body="raise RuntimeError('needs libfoo 2.0\\nmore')\n")
    with pytest.warns(PluginWarning) as caught:
        outcome = reload_plugins()
    [warning] = [w for w in caught if "fc_plugin_broken" in str(w.message)]
    message = str(warning.message)
    assert "\n" not in message
    assert message == ("formula plug-in 'fc_plugin_broken' (fc_plugin_broken.formulas) was not loaded: "
                       "RuntimeError: needs libfoo 2.0")
    assert outcome["fc_plugin_broken"] == "RuntimeError: needs libfoo 2.0"
    # the analysis still runs
    assert analyze(nn.Linear(4, 2), (1, 4)).totals.flops == 8  # 4*2 = 8


def test_plugins_are_imported_once(plugin_path):
    write_distribution(plugin_path, "fc_plugin_once", plugin_body="import builtins\n"
                       "builtins.fc_plugin_once_imports = getattr(builtins, 'fc_plugin_once_imports', 0) + 1\n")
    import builtins

    reload_plugins()
    analyze(nn.ReLU(), (1, 4))
    analyze(nn.ReLU(), (1, 4))
    load_plugins()
    assert builtins.fc_plugin_once_imports == 1
    del builtins.fc_plugin_once_imports


def test_the_cli_uses_a_plugin_and_prints_a_broken_one_as_one_warning_line(plugin_path):
    """`flopcount analyze` of a model file that uses the plug-in's layer: the plug-in's formula counts it,
    and a second, broken plug-in costs one `flopcount: warning:` line on stderr, not a traceback."""
    write_distribution(plugin_path, "fc_plugin_cli")
    write_distribution(plugin_path, "fc_plugin_cli_broken", plugin_body="import fc_no_such_dependency\n")
    model_file = plugin_path / "model_with_plugin_layer.py"
    model_file.write_text("from fc_plugin_cli.layers import ScaledProjection\n\n"
                          "def build():\n    return ScaledProjection()\n")
    forget_plugins()  # the earlier tests' outcome; the command's first walk looks again
    result = CliRunner().invoke(app, ["analyze", f"{model_file}:build", "-i", "1x16", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["flops"] == 1000  # the plug-in's 1000, not the matmul's 16*32 = 512
    assert result.stderr.splitlines() == [
        "flopcount: warning: formula plug-in 'fc_plugin_cli_broken' (fc_plugin_cli_broken.formulas) was not loaded: "
        "ModuleNotFoundError: No module named 'fc_no_such_dependency'"]
