"""The app as a whole: the installed executable, `python -m`, help texts, usage errors, completion."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flopcount.cli import COMMANDS, app

runner = CliRunner()


def test_installed_executable_runs_and_help_does_not_import_torch():
    exe = shutil.which("flopcount")
    assert exe, "the console script is not installed"
    out = subprocess.run([exe, "analyze", "mobilenet_v2", "--format", "json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["totals"]["paper_flops"] == 300_774_272
    code = "import sys; from flopcount.cli import app; sys.argv = ['flopcount', '--help']\n" \
           "try: app()\nexcept SystemExit: pass\nprint('torch' in sys.modules)"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "FLOPs are multiply-adds" in probe.stdout
    assert probe.stdout.strip().endswith("False")


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "flopcount", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("flopcount ")


def test_usage_errors_from_the_executable_are_one_line():
    exe = shutil.which("flopcount")
    out = subprocess.run([exe, "analyze", "mobilenet_v2", "--flops-per-mac", "3"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "flopcount: error: Invalid value for '--flops-per-mac': Input should be less than or equal to 2 "
        "(see flopcount analyze --help)"]
    out = subprocess.run([exe, "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("flopcount: error: No such command 'frobnicate'")


def test_root_help_lists_every_command_with_its_whole_summary():
    out = runner.invoke(app, ["--help"]).stdout
    for name, _, summary in COMMANDS:
        assert f"{name} " in out and summary in out
    commands = out.split("Commands:")[1]
    assert "..." not in commands
    assert "--install-completion" in out  # shell completion is on


@pytest.mark.parametrize("command", [name for name, _, _ in COMMANDS])
def test_help_has_no_type_metavars(command):
    out = runner.invoke(app, [command, "--help"]).stdout
    for metavar in ("<list[str]>", "<int range>", "<float range>", "<int>", "TEXT", "INTEGER"):
        assert metavar not in out, (command, metavar)


def test_one_option_name_per_concept():
    """--device is a torch device (analyze); a hardware profile is --profile wherever one is taken."""
    def options(command):
        return runner.invoke(app, [command, "--help"]).stdout
    assert "--device TORCH_DEVICE" in options("analyze")
    for command in ("roofline", "bench"):
        assert "--profile NAME|PATH" in options(command) and "--device" not in options(command)
    # --flops-per-mac 2 doubles every op, and its help says so for ops without multiply-adds
    assert "softmax" in options("analyze") and "double too" in " ".join(options("analyze").split())
