"""Scale: time and peak memory of `flopcount.analyze` against model size, all on the meta device.

Each case runs in a fresh subprocess so that its peak RSS is its own. Prints one row per case:
a stack of transformer-style blocks (Linear d->4d, GELU, Linear 4d->d, LayerNorm, residual add)
at 100, 1,000 and 10,000 layers, and a ~10-billion-parameter model.

    python benchmarks/scale.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CASE = r"""
import json, resource, sys, time
import torch
from torch import nn
import flopcount

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.act, self.fc2, self.norm = nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.LayerNorm(d)
    def forward(self, x):
        return self.norm(x + self.fc2(self.act(self.fc1(x))))

blocks, d, tokens = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
with torch.device("meta"):
    model = nn.Sequential(*[Block(d) for _ in range(blocks)])
built = time.perf_counter()
report = flopcount.analyze(model, (1, tokens, d))
done = time.perf_counter()
print(json.dumps({
    "blocks": blocks, "d": d, "records": len(report.records), "modules": 4 * blocks,
    "params": report.totals.params, "flops": report.totals.flops,
    "build_s": built - start, "analyze_s": done - built,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run(blocks: int, d: int, tokens: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CASE, str(blocks), str(d), str(tokens)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    # 4 modules a block; the last case is ~10 billion parameters (75 blocks of 8 d^2 at d = 4096).
    cases = [(25, 256, 128), (250, 256, 128), (2500, 256, 128), (75, 4096, 2048)]
    print(f"{'layers':>8} {'width':>6} {'records':>8} {'params':>16} {'analyze s':>10} {'per layer ms':>13} {'peak RSS MB':>12}")
    for blocks, d, tokens in cases:
        row = run(blocks, d, tokens)
        layers = row["modules"]
        print(f"{layers:>8,} {d:>6} {row['records']:>8,} {row['params']:>16,} {row['analyze_s']:>10.3f} "
              f"{1000 * row['analyze_s'] / layers:>13.3f} {row['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
