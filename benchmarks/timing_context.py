"""Does a kernel's measured time depend on what else its process times? Depthwise convs timed alone and
among other kinds' configs, as calibration's rounds mix them.

    python benchmarks/timing_context.py --kind conv_dw_mkldnn --others 80 560

A grid of networks' own shapes (channels 8-256, 56x56 down to 14x14) is timed in a fresh worker alone,
then in fresh workers together with N configs of the profile's other kinds (interleaved, as
``measure.time_configs`` times a calibration round); printed: the median ratio of the grid's times in
company to alone, and the minor page faults of each run. On 2026-11-29 (1 thread, this host), in four
runs: 560 other configs made depthwise convs 18-27% slower, 80 made them 5-12% slower, 560 of at most
50 us 6% slower; 1x1 convs on torch's own kernel 2.5-4.6% (oneDNN's primitive cache is not it: the same
with its capacity at 16384). Nor is it the company's memory: with 560 configs built (each called once)
but never timed, the same depthwise convs ran at 0.96-0.98x their time alone, timed among them at
1.12-1.16x (two runs, 13:40-13:43 the same day): what slows them is the other kernels running.
Calibration times kernels in rounds of ~50 configs of all kinds, a model runs its own few dozen: a kind
that is slower in company is over-predicted in models that are made of it (MobileNet V1 by 6-17% in
every evaluation of that day).
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import statistics

from flopcount.predict import load_profile
from flopcount.predict.kinds import conv_kind
from flopcount.predict.measure import num_threads, time_configs
from flopcount.predict.worker import KernelTimer


def timed_with_faults(items, rounds: int, seed: int):
    """``time_configs`` of ``items`` and the minor page faults the process took meanwhile (build included)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    samples = time_configs(items, rounds=rounds, seed=seed)
    return samples, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def timed_beside_built(own, company, rounds: int, seed: int):
    """``time_configs`` of ``own`` in a process that has built (and called once) every config of ``company``
    and keeps them alive, but does not time them: their memory without their running."""
    import torch

    from flopcount.predict.measure import build

    kept = []
    with torch.no_grad():
        for kind, config in company:
            try:
                kept.append(build(kind, config))
                kept[-1]()
            except (RuntimeError, ValueError):
                continue
    return time_configs(own, rounds=rounds, seed=seed)


def grid(kind: str) -> list[tuple[str, dict]]:
    """Networks' shapes of ``kind`` (depthwise 3x3 or 1x1 convs), those torch runs as that kind."""
    configs = []
    for c in (8, 16, 32, 48, 64, 96, 128, 256):
        for hw in (56, 28, 14):
            if kind.startswith("conv_dw"):
                configs.append(dict(n=1, cin=c, cout=c, h=hw, w=hw, kh=3, kw=3, s=1, ph=1, pw=1, g=c, bias=0))
            else:
                configs.append(dict(n=1, cin=c, cout=2 * c, h=hw, w=hw, kh=1, kw=1, s=1, ph=0, pw=0, g=1, bias=0))
    with num_threads(1):
        return [(kind, c) for c in configs if conv_kind(c) == kind]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu_measured", help="latency profile whose samples keep company")
    parser.add_argument("--kind", default="conv_dw_mkldnn", help="conv_dw_mkldnn or conv1x1")
    parser.add_argument("--others", type=int, nargs="+", default=[80, 560], help="company sizes to try")
    parser.add_argument("--max-s", type=float, default=2e-3, help="company: configs of at most this many seconds")
    args = parser.parse_args(argv)

    runtime = load_profile(args.profile).runtime()
    own = grid(args.kind)
    if not own:
        raise SystemExit(f"no shape of the grid runs as {args.kind} here")
    rng = random.Random(3)
    pool = [(kind, s["config"]) for kind, entry in sorted(runtime.kinds.items()) if kind != args.kind
            for s in entry.samples if 2e-5 < s[runtime.statistic] < args.max_s]
    with KernelTimer(1, recycle_s=math.inf) as worker:
        alone, faults = worker.run(timed_with_faults, own, 5, 0)
    print(f"{len(own)} {args.kind} configs alone: {faults} minor faults")
    for count in args.others:
        company = rng.sample(pool, min(count, len(pool)))
        with KernelTimer(1, recycle_s=math.inf) as worker:
            together, faults = worker.run(timed_with_faults, own + company, 5, 0)
        ratio = statistics.median(t.min_s / a.min_s for t, a in zip(together[:len(own)], alone))
        print(f"with {len(company)} other configs: {ratio:.3f}x their time alone (median), {faults} minor faults")
        with KernelTimer(1, recycle_s=math.inf) as worker:
            beside = worker.run(timed_beside_built, own, company, 5, 0)
        ratio = statistics.median(b.min_s / a.min_s for b, a in zip(beside, alone))
        print(f"with the same {len(company)} configs built but never timed: {ratio:.3f}x their time alone (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
