"""The pre-commit hook and the GitHub Action: their YAML parses, and what they run works here.

The commands run through bash exactly as written in the files, with ``flopcount`` on PATH being this
checkout's ``python -m flopcount`` and the action's inputs substituted the way GitHub does (into the
steps' ``env``), against configs/budgets.toml.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


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


def test_pre_commit_hook_entry_runs_on_this_repository(flopcount_on_path):
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    # pre-commit runs `entry` followed by the hook's args (here a user's args: one model, to stay fast)
    command = f"{hook['entry']} configs/budgets.toml --only mobilenet_v2"
    done = subprocess.run(["bash", "-c", command], cwd=REPO, env=flopcount_on_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 models, 8 checks: all passed" in done.stdout


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


def test_action_runs_on_this_repository(tmp_path, flopcount_on_path):
    """The action's steps against configs/budgets.toml, with a baseline in which mobilenet_v2's
    classifier.1 was 100,000 params smaller: the check fails, annotates the budget line, writes the summary."""
    baseline = json.loads((REPO / "configs" / "budgets.baseline.json").read_text())
    entry = baseline["models"]["mobilenet_v2"]
    entry["layers"]["classifier.1"]["params"] -= 100_000  # 1,281,000 -> 1,181,000
    entry["totals"]["params"] -= 100_000  # 3,504,872 -> 3,404,872: today is +2.9% (> the allowed 0.5%)
    shrunk = tmp_path / "shrunk.json"
    shrunk.write_text(json.dumps(baseline))
    inputs = {"budget-file": "configs/budgets.toml", "args": f"--only mobilenet_v2 --baseline {shrunk}",
              "install": "", "working-directory": "."}
    summary = tmp_path / "summary.md"
    results = []
    for step in yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]:
        env = {**flopcount_on_path, "GITHUB_STEP_SUMMARY": str(summary),
               **{k: substitute(str(v), inputs) for k, v in step.get("env", {}).items()}}
        cwd = REPO / substitute(step.get("working-directory", "."), inputs)
        results.append(subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True,
                                      text=True))
    install, check, job_summary = results
    assert install.returncode == 0 and install.stdout == ""  # install = "": nothing to install
    assert check.returncode == 1, check.stderr
    # 3,504,872 / 3,404,872 - 1 = +2.9%
    assert re.search(r"^::error file=configs/budgets.toml,line=\d+,title=flopcount budget%3A mobilenet_v2 params vs "
                     r"baseline::.*\+2\.9%25 vs baseline", check.stdout, re.M), check.stdout
    assert job_summary.returncode == 0
    assert summary.read_text().startswith("### ❌ flopcount budgets (`configs/budgets.toml`): 1 models, 8 checks: "
                                          "1 failed (mobilenet_v2)")
