"""List the generated architectures `predict_eval.py` evaluates (or those calibration times whole).

    python benchmarks/archgen.py --count 100            # the evaluation set
    python benchmarks/archgen.py --count 40 --calibration

The generator itself lives in the package (``flopcount.predict.archgen``) because `flopcount calibrate`
uses it too, with seeds disjoint from the evaluation's. Each line: name, resolution, params, paper FLOPs,
MAC and the number of records, from an analysis on meta (nothing is allocated or run).
"""

from __future__ import annotations

import argparse

import torch

from flopcount.analysis import analyze
from flopcount.predict.archgen import CALIBRATION_SEEDS, EVALUATION_SEEDS, generate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--calibration", action="store_true", help="list calibration seeds instead")
    args = parser.parse_args(argv)
    seeds = CALIBRATION_SEEDS if args.calibration else EVALUATION_SEEDS
    print(f"{'name':<24} {'res':>4} {'params':>9} {'MFLOPs':>9} {'MAC M':>8} {'records':>7}")
    for i in range(args.count):
        arch = generate(seeds[i])
        with torch.device("meta"):
            model = arch.build()
        report = analyze(model, arch.input_size, device="meta", name=arch.name)
        t = report.totals
        print(f"{arch.name:<24} {arch.resolution:>4} {t.params / 1e6:>8.2f}M {t.paper_flops / 1e6:>9.1f} "
              f"{t.mac / 1e6:>8.2f} {len(report.records):>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
