"""transformers is the optional extra flopcount[hf]: the core and the CLI never import it on their own."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
import flopcount, flopcount.analysis, flopcount.cli
from typer.testing import CliRunner
result = CliRunner().invoke(flopcount.cli.app, ["analyze", "squeezenet1_1", "-f", "json"])
assert result.exit_code == 0, result.output
print(json.dumps({"params": json.loads(result.stdout)["totals"]["params"],
                  "loaded": sorted(m for m in ("transformers", "huggingface_hub", "timm", "torchvision")
                                   if m in sys.modules)}))
"""


def test_analyzing_a_zoo_model_imports_no_optional_library():
    out = subprocess.run([sys.executable, "-c", CODE], check=True, capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    assert data["params"] == 1_235_496  # squeezenet1_1 (torchvision), as the zoo's reference
    assert data["loaded"] == []
