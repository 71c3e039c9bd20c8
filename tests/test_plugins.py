"""Formula plug-ins through the `flopcount.formulas` entry point group.

The plug-in packages are real distributions found by importlib.metadata: a ``*.dist-info`` directory
with an ``entry_points.txt`` beside the package on a sys.path entry (what pip writes on install), so
discovery, import and registration are exercised for real; one test installs a package with pip into a
venv and analyses in a subprocess there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
from torch import nn

from flopcount.analysis import analyze
from flopcount.plugins import GROUP, PluginWarning, load_plugins, reload_plugins

REPO = Path(__file__).resolve().parent.parent

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
    assert message == ("flopcount: formula plug-in 'fc_plugin_broken' (fc_plugin_broken.formulas) was not loaded: "
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


def test_pip_installed_plugin_in_a_venv(tmp_path):
    """A real `pip install` of a plug-in package into a venv, and an analysis in a fresh process there."""
    if os.environ.get("FLOPCOUNT_SKIP_VENV_TEST"):
        pytest.skip("FLOPCOUNT_SKIP_VENV_TEST is set")
    source = tmp_path / "src"
    (source / "fc_venv_plugin").mkdir(parents=True)
    (source / "fc_venv_plugin" / "__init__.py").write_text("")
    (source / "fc_venv_plugin" / "layers.py").write_text(LAYER_SOURCE)
    (source / "fc_venv_plugin" / "formulas.py").write_text(PLUGIN_SOURCE.format(package="fc_venv_plugin"))
    (source / "pyproject.toml").write_text(textwrap.dedent(f'''
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "fc-venv-plugin"
        version = "1.0"

        [project.entry-points."{GROUP}"]
        fc_venv_plugin = "fc_venv_plugin.formulas"

        [tool.setuptools]
        packages = ["fc_venv_plugin"]
    '''))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # the outer interpreter's pip installs into the venv's site-packages (a venv without its own pip is
    # created in a fraction of the time)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--target", site, str(source)], capture_output=True, text=True, env=env)
    assert install.returncode == 0, install.stderr
    script = ("from fc_venv_plugin.layers import ScaledProjection\n"
              "import flopcount, sys\n"
              "r = flopcount.analyze(ScaledProjection(), (1, 16))\n"
              "print(r.totals.flops, 'fc_venv_plugin.formulas' in sys.modules)\n")
    run = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1000", "True"]  # the plug-in's 1000, not the matmul's 16*32 = 512
