"""Reproduce ShuffleNet V2's G1 and G2 experiments (the paper's Tables 1 and 2, seed section 5.2) on this CPU.

G1: a network of 10 blocks, each two 1x1 convs c1 -> c2 -> c1 on 56x56, at (nearly) equal FLOPs for
c1:c2 = 1:1, 1:2, 1:6, 1:12. G2: 10 stacked 1x1 group convs c -> c on 56x56, g = 1, 2, 4, 8, with c grown
so that FLOPs stay (nearly) equal. The channel counts are the paper's: its "GPU x1" column, and its
smaller "ARM x1" column. Batch 1, plain convs (no BN/ReLU, as in the paper's benchmark networks).

FLOPs (multiply-adds) and MAC (elements read + written) come from flopcount; time is measured on this
CPU (median of --repeats forwards, eval, no_grad). Prints Markdown tables: ratios, not pass/fail.

    python benchmarks/guidelines.py [--threads 1] [--repeats 30]
"""

from __future__ import annotations

import argparse
import platform

import torch
from torch import nn

from flopcount import analyze
from flopcount.bench import make_inputs
from flopcount.timing import time_model
from flopcount.render.common import markdown_table
from flopcount.devices import cpu_name, load_device
from flopcount.roofline import roofline

DEVICE = load_device("cpu_measured")  # this machine's roofs, for the "roofline ms" column

SIZE = 56
# (label, c1, c2), the paper's Table 1
G1_SETUPS = {
    "GPU x1 channels": [("1:1", 128, 128), ("1:2", 90, 180), ("1:6", 52, 312), ("1:12", 36, 432)],
    "ARM x1 channels": [("1:1", 32, 32), ("1:2", 22, 44), ("1:6", 13, 78), ("1:12", 9, 108)],
}
# (g, c), the paper's Table 2
G2_SETUPS = {
    "GPU x1 channels": [(1, 128), (2, 180), (4, 256), (8, 360)],
    # The paper's g = 8 width (180) is not a multiple of 8; 184 is the nearest that is (FLOPs +3%).
    "ARM x1 channels": [(1, 64), (2, 90), (4, 128), (8, 184)],
}


def g1_network(c1: int, c2: int, blocks: int = 10) -> nn.Sequential:
    layers = []
    for _ in range(blocks):
        layers += [nn.Conv2d(c1, c2, 1, bias=False), nn.Conv2d(c2, c1, 1, bias=False)]
    return nn.Sequential(*layers).eval()


def g2_network(c: int, g: int, layers: int = 10) -> nn.Sequential:
    return nn.Sequential(*[nn.Conv2d(c, c, 1, groups=g, bias=False) for _ in range(layers)]).eval()


def measure(model: nn.Module, channels: int, args) -> tuple[int, int, float, float, float, float]:
    size = (1, channels, SIZE, SIZE)
    report = analyze(model, size, device="meta")
    inputs = make_inputs(size)
    t = time_model(model, inputs, warmup=args.warmup, repeats=args.repeats, threads=args.threads)
    predicted = roofline(report, DEVICE).total_time
    return report.totals.flops, report.totals.mac, t.median, (t.p75 - t.p25), t.min, predicted


def g1_table(setup: str, args) -> str:
    rows, base = [], None
    for label, c1, c2 in G1_SETUPS[setup]:
        flops, mac, median, iqr, fastest, predicted = measure(g1_network(c1, c2), c1, args)
        base = base or (mac, median)
        rows.append([label, f"({c1}, {c2})", f"{flops / 1e6:.1f}", f"{mac / 1e6:.2f}", f"{mac / base[0]:.2f}",
                     f"{predicted * 1e3:.2f}", f"{median * 1e3:.2f}", f"{iqr * 1e3:.2f}", f"{fastest * 1e3:.2f}",
                     f"{1 / median:.0f}", f"{base[1] / median:.2f}"])
    return markdown_table(["c1:c2", "(c1, c2)", "MFLOPs", "MAC (M elem.)", "MAC vs 1:1", "roofline ms", "time ms",
                           "IQR ms",
                           "min ms", "images/s", "speed vs 1:1"], rows, "llrrrrrrrrr")


def g2_table(setup: str, args) -> str:
    rows, base = [], None
    for g, c in G2_SETUPS[setup]:
        flops, mac, median, iqr, fastest, predicted = measure(g2_network(c, g), c, args)
        base = base or (mac, median)
        rows.append([str(g), str(c), f"{flops / 1e6:.1f}", f"{mac / 1e6:.2f}", f"{mac / base[0]:.2f}",
                     f"{predicted * 1e3:.2f}", f"{median * 1e3:.2f}", f"{iqr * 1e3:.2f}", f"{fastest * 1e3:.2f}",
                     f"{1 / median:.0f}", f"{base[1] / median:.2f}"])
    return markdown_table(["g", "c", "MFLOPs", "MAC (M elem.)", "MAC vs g=1", "roofline ms", "time ms", "IQR ms",
                           "min ms",
                           "images/s", "speed vs g=1"], rows, "rrrrrrrrrrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"CPU: {cpu_name()} ({platform.machine()}), {args.threads} thread(s), torch {torch.__version__}, "
          f"batch 1, {SIZE}x{SIZE}, median of {args.repeats} forwards after {args.warmup} warm-ups\n")
    for setup in G1_SETUPS:
        print(f"G1, 10 blocks of 1x1 convs c1 -> c2 -> c1, {setup}\n")
        print(g1_table(setup, args) + "\n")
    for setup in G2_SETUPS:
        print(f"G2, 10 stacked 1x1 group convs c -> c, {setup}\n")
        print(g2_table(setup, args) + "\n")


if __name__ == "__main__":
    main()
