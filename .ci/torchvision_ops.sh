#!/usr/bin/env bash
# torchvision.ops formulas against the real ops. torchvision's wheels do not import beside the project's
# torch 2.13, so this runs in its own virtual environment with the torch/torchvision pair that lies on
# these machines' disk (about 1 minute and 5.5 GB, removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet torch==2.14.1 torchvision==0.29.1
"$work/venv/bin/pip" install --quiet rich typer "tomli>=1.1; python_version < '3.11'" pytest
PYTHONPATH="$PWD" "$work/venv/bin/python" -m pytest -q -p no:flopcount tests/test_torchvision_ops.py
