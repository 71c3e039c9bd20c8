"""The pre-commit hook and the GitHub Action: their YAML parses, and what they run works here.

The action's steps run through bash exactly as written, with ``flopcount`` on PATH being this checkout's
``python -m flopcount`` and the action's inputs substituted the way GitHub does (into the steps' ``env``);
the hook's entry runs in-process. Both against a one-model project in a temporary directory.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flopcount.cli import app

REPO = Path(__file__).resolve().parent.parent


TINY_MODEL = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
"""


@pytest.fixture
def project(tmp_path):
    """A small project: a model file and a budget it breaks (params 3*3*3*8 + 8 = 224 > 200)."""
    (tmp_path / "tiny_net.py").write_text(TINY_MODEL)
    (tmp_path / "budgets.toml").write_text('[models.tiny]\nmodel = "tiny_net.py:build"\ninput_size = "1x3x8x8"\n'
                                           'max_params = 200\nmax_flops = "20K"\n')
    return tmp_path


@pytest.fixture
def flopcount_on_path(tmp_path):
    """An environment whose `flopcount` is this checkout's (not whatever is installed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "flopcount"
    shim.write_text(f"#!/usr/bin/env bash\nexec {shlex.quote(sys.executable)} -m flopcount \"$@\"\n")
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}


def test_pre_commit_hook_file():
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "flopcount-check"
    assert hook["entry"] == "flopcount check"
    assert hook["language"] == "system" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for changed in ("configs/budgets.toml", "configs/budgets.baseline.json", "src/model.py", "pyproject.toml"):
        assert files.search(changed), changed
    for unrelated in ("README.md", "docs/report.png", "configs/devices/h100.toml"):
        assert not files.search(unrelated), unrelated


def test_pre_commit_hook_entry_runs(project, monkeypatch):
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    program, *arguments = shlex.split(hook["entry"])
    assert program == "flopcount"
    monkeypatch.chdir(project)  # with no argument, `flopcount check` finds ./configs/budgets.toml: give ours
    # pre-commit runs `entry` followed by the hook's args (a user's args: the budget file); in-process here,
    # the action's test below runs `flopcount` through bash
    done = CliRunner().invoke(app, [*arguments, "budgets.toml"])
    assert done.exit_code == 1  # over budget: the commit is refused
    assert "1 models, 2 checks: 1 failed (tiny)" in done.stdout


def substitute(text: str, inputs: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        return inputs[match.group(1)]

    return re.sub(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}", value, text)


def test_action_file():
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"budget-file", "args", "install", "working-directory"}
    steps = action["runs"]["steps"]
    assert all(step["shell"] == "bash" for step in steps)
    assert steps[-1]["if"] == "always()"  # the job summary is written when the check fails too
    # inputs reach the scripts through env only, never pasted into the script text
    assert not any("${{" in step["run"] for step in steps)


def test_action_runs_on_a_project(project, flopcount_on_path):
    """The action's steps, through bash as GitHub runs them, on a project whose model is over its params
    budget: the check fails, annotates the budget file, and writes the job summary. ``--only ti*`` must
    reach flopcount unexpanded although ``tiny_net.py`` matches it as a glob."""
    inputs = {"budget-file": "budgets.toml", "args": "--only ti*", "install": "", "working-directory": str(project)}
    summary = project / "summary.md"
    results = []
    for step in yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]:
        env = {**flopcount_on_path, "GITHUB_STEP_SUMMARY": str(summary),
               **{k: substitute(str(v), inputs) for k, v in step.get("env", {}).items()}}
        cwd = Path(substitute(step.get("working-directory", "."), inputs))
        results.append(subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True,
                                      text=True))
    install, check, job_summary = results
    assert install.returncode == 0 and install.stdout == ""  # install = "": nothing to install
    assert check.returncode == 1, check.stderr
    # 224 params against 200: 12.0% over (%25 is GitHub's escape of %)
    assert re.search(r"^::error file=budgets.toml,line=\d+,title=flopcount budget%3A tiny params::.*12\.0%25 over",
                     check.stdout, re.M), check.stdout
    assert job_summary.returncode == 0
    assert summary.read_text().startswith("### ❌ flopcount budgets (`budgets.toml`): 1 models, 2 checks: "
                                          "1 failed (tiny)")
