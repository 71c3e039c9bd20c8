"""Speed of `flopcount analyze hf:llama-2-7b --input-size 1x2048:int64 -f json`, in stages, cold.

Each run is a fresh interpreter (imports are cold, as for a user): the time of `import torch`, of
`import transformers` (the lazy top-level namespace), of the model's own modeling code (what building a
LLaMA imports: modeling_utils, masking_utils, ...), of building llama-2-7b from its bundled config on
meta, and of the analysis of a 1x2048 prompt. Then four wall times, interleaved run by run: `python -c
"import torch"`; `python -c "import torch, transformers; transformers.LlamaForCausalLM"` (what any use of
the model costs); the same with the cyclic collector paused during the imports and the imports frozen after
(the CLI's policy for its first model load: flopcount.cli.runtime.first_load_uncollected); and the CLI as a
user types it. Their differences split the CLI's time beyond `import torch` (the target: under 3 s) into
transformers' import share and flopcount's own share. Medians of --runs.

--python measures another interpreter, e.g. a fresh virtual environment made as the README's set-up makes
it (its installed flopcount runs unless PYTHONPATH points elsewhere). PYTHONDONTWRITEBYTECODE is dropped
for the children, and one untimed run comes first, so that flopcount's modules are byte-compiled once, as
an installed package's are.

    python benchmarks/llm_speed.py [--runs 5] [--python /tmp/fresh/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
report = loaded.analyze("1x2048:int64", memory=True); t5 = time.perf_counter()
assert report.totals.params == 6_738_415_616, report.totals.params
assert report.totals.paper_flops == 14_630_806_093_824, report.totals.paper_flops
print(f"{t1-t0} {t2-t1} {t3-t2} {t4-t3} {t5-t4}")
"""
TORCH_ONLY = "import torch"
TRANSFORMERS = "import torch, transformers; transformers.LlamaForCausalLM"
FROZEN = f"import gc; gc.disable(); {TRANSFORMERS}; gc.freeze()"
CLI = ["-m", "flopcount", "analyze", "hf:llama-2-7b", "--input-size", "1x2048:int64", "-f", "json"]
NAMES = ("import torch", "import transformers", "modeling code (LlamaForCausalLM)", "build on meta",
         "analyze (live memory too, as the CLI)")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(python: str, args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system) seconds of ``python args``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([python, *args], check=True, capture_output=True, text=True, env=ENV).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure (default: this one)")
    args = parser.parse_args()

    _run(args.python, CLI)  # untimed: byte-compiles flopcount's modules and warms the file cache
    stages = [[float(x) for x in _run(args.python, ["-c", STAGES])[2].split()] for _ in range(args.runs)]
    commands = {"torch": ["-c", TORCH_ONLY], "transformers": ["-c", TRANSFORMERS], "frozen": ["-c", FROZEN], "cli": CLI}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            wall, cpu, out = _run(args.python, command)
            walls[name].append(wall)
            cpus[name].append(cpu)
    totals = json.loads(out)["totals"]
    median = statistics.median

    def beyond(a: str, b: str) -> tuple[float, float]:  # medians of the per-run differences: wall, cpu
        return (median(x - y for x, y in zip(walls[a], walls[b])), median(x - y for x, y in zip(cpus[a], cpus[b])))

    print(f"{args.python}: medians of {args.runs} fresh interpreters")
    print(f"{'stage (in one process)':<52} {'seconds':>8}")
    for i, name in enumerate(NAMES):
        print(f"{name:<52} {median(run[i] for run in stages):>8.2f}")
    print(f"{'in-process total beyond import torch':<52} {median(sum(run[1:]) for run in stages):>8.2f}")
    print(f"{'process (wall and CPU seconds)':<52} {'wall':>8} {'cpu':>8}")
    rows = [('1 python -c "import torch"', (median(walls["torch"]), median(cpus["torch"]))),
            ("2 + transformers.LlamaForCausalLM", (median(walls["transformers"]), median(cpus["transformers"]))),
            ("3 2 with the CLI's collector policy", (median(walls["frozen"]), median(cpus["frozen"]))),
            ("4 CLI (python -m flopcount analyze ...)", (median(walls["cli"]), median(cpus["cli"]))),
            ("transformers' import share, plain (2 - 1)", beyond("transformers", "torch")),
            ("transformers' import share, CLI's policy (3 - 1)", beyond("frozen", "torch")),
            ("flopcount's share (4 - 3)", beyond("cli", "frozen")),
            ("CLI beyond the plain imports (4 - 2)", beyond("cli", "transformers")),
            ("CLI beyond import torch (4 - 1, target < 3 s)", beyond("cli", "torch"))]
    for label, (wall, cpu) in rows:
        print(f"{label:<52} {wall:>8.2f} {cpu:>8.2f}")
    print(f"params {totals['params']:,} (6,738,415,616 expected), "
          f"paper FLOPs {totals['paper_flops']:,} (14,630,806,093,824 expected)")


if __name__ == "__main__":
    main()
