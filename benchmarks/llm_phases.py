"""LLM phases: time of `hf:llama-2-7b` analysis beyond `import torch`, and the README's prefill/decode table.

Timing (a fresh subprocess, so imports are cold): import transformers, import its modeling code, build
llama-2-7b from its bundled config on meta, and `flopcount.analyze` of a 1x2048 prompt.
Table: prefill of 2048 tokens and decode at context 2048, float16 weights and cache, for three models on
the h100 and phone profiles. Memory sizes come from a profile's `memory_bytes` when it has one, else from
MEMORY below (H100 SXM5: 80 GB HBM3; a Snapdragon 855 phone: 8 GB LPDDR4X).

    python benchmarks/llm_phases.py [--models llama-2-7b,mistral-7b,mixtral-8x7b]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

TIMING = r"""
import time
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
import transformers; t2 = time.perf_counter()
from transformers import LlamaForCausalLM; t3 = time.perf_counter()
from flopcount.llm import load_hf; hf = load_hf("llama-2-7b"); t4 = time.perf_counter()
from flopcount.analysis import analyze
report = analyze(hf.model, input_size="1x2048:int64", device="meta"); t5 = time.perf_counter()
assert report.totals.paper_flops == 14_630_806_093_824, report.totals.paper_flops
print(f"{t1-t0:.2f} {t2-t1:.2f} {t3-t2:.2f} {t4-t3:.2f} {t5-t4:.2f}")
"""

MEMORY = {"h100": 80 * 10**9, "phone": 8 * 2**30}


def timing(repeats: int) -> None:
    print("seconds, cold subprocess: import torch | import transformers | its modeling code | build on meta | analyze")
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", TIMING], capture_output=True, text=True, check=True).stdout.split()
        torch_s, tf, modeling, build, analyze_s = map(float, out)
        print(f"  {torch_s:5.2f} | {tf:5.2f} | {modeling:5.2f} | {build:5.2f} | {analyze_s:5.2f}   "
              f"beyond torch: {tf + modeling + build + analyze_s:.2f} s (flopcount's own part {build + analyze_s:.2f} s)")


def table(models: list[str], devices: list[str], seq_len: int, context: int, dtype: str) -> None:
    from flopcount.llm import analyze_phase, estimate_on_device, load_hf
    from flopcount.render.llm import phase_markdown
    from flopcount.roofline import load_device

    profiles = [load_device(d) for d in devices]
    results = []
    for name in models:
        hf = load_hf(name)
        for phase in ("prefill", "decode"):
            result = analyze_phase(hf, phase, seq_len=seq_len, context=context, dtype=dtype)
            estimates = [estimate_on_device(result, p, getattr(p, "memory_bytes", None) or MEMORY.get(p.name))
                         for p in profiles]
            results.append((result, estimates))
    print(phase_markdown(results))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="llama-2-7b,mistral-7b,mixtral-8x7b")
    parser.add_argument("--devices", default="h100,phone")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    timing(args.repeats)
    print()
    table(args.models.split(","), args.devices.split(","), args.seq_len, args.context, args.dtype)


if __name__ == "__main__":
    main()
