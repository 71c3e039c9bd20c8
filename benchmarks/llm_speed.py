"""Speed of `flopcount analyze hf:llama-2-7b --input-size 1x2048:int64 -f json`, in stages, cold.

Each run is a fresh interpreter (imports are cold, as for a user): the time of `import torch`, of
`import transformers` (the lazy top-level namespace), of the model's own modeling code (what building a
LLaMA imports: modeling_utils, masking_utils, ...), of building llama-2-7b from its bundled config on
meta, and of the analysis of a 1x2048 prompt. Then the CLI's wall time, the same command as a user
types it, minus `import torch`: the target is under 3 s beyond `import torch`. Medians of --runs.

    python benchmarks/llm_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STAGES = r"""
import time
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
import transformers; t2 = time.perf_counter()
from transformers import LlamaForCausalLM; t3 = time.perf_counter()
from flopcount.loading import load_model; loaded = load_model("hf:llama-2-7b"); t4 = time.perf_counter()
report = loaded.analyze("1x2048:int64"); t5 = time.perf_counter()
assert report.totals.params == 6_738_415_616, report.totals.params
assert report.totals.paper_flops == 14_630_806_093_824, report.totals.paper_flops
print(f"{t1-t0} {t2-t1} {t3-t2} {t4-t3} {t5-t4}")
"""
TORCH_ONLY = "import time; t0 = time.perf_counter(); import torch; print(time.perf_counter() - t0)"
CLI = [sys.executable, "-m", "flopcount", "analyze", "hf:llama-2-7b", "--input-size", "1x2048:int64", "-f", "json"]
NAMES = ("import torch", "import transformers", "modeling code (LlamaForCausalLM)", "build on meta", "analyze")


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          env=os.environ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    stages = [[float(x) for x in _python(STAGES).split()] for _ in range(args.runs)]
    torch_alone, cli_wall = [], []
    for _ in range(args.runs):
        torch_alone.append(float(_python(TORCH_ONLY)))
        start = time.perf_counter()
        out = subprocess.run(CLI, check=True, capture_output=True, text=True).stdout
        cli_wall.append(time.perf_counter() - start)
    document = json.loads(out)
    totals = document["totals"]

    print(f"{'stage (fresh interpreter, median of ' + str(args.runs) + ')':<44} {'seconds':>8}")
    for i, name in enumerate(NAMES):
        print(f"{name:<44} {statistics.median(run[i] for run in stages):>8.2f}")
    beyond = [sum(run[1:]) for run in stages]
    print(f"{'in-process total beyond import torch':<44} {statistics.median(beyond):>8.2f}")
    print(f"{'import torch alone (python -c)':<44} {statistics.median(torch_alone):>8.2f}")
    print(f"{'CLI wall total (python -m flopcount ...)':<44} {statistics.median(cli_wall):>8.2f}")
    over = statistics.median(w - t for w, t in zip(cli_wall, torch_alone))
    print(f"{'CLI wall beyond import torch (target < 3 s)':<44} {over:>8.2f}")
    print(f"params {totals['params']:,} (6,738,415,616 expected), "
          f"paper FLOPs {totals['paper_flops']:,} (14,630,806,093,824 expected)")


if __name__ == "__main__":
    main()
