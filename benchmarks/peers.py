"""Speed of one analysis of mobilenet_v2, flopcount against its peers, measured in the same run.

    pip install -e ".[bench]"   # fvcore, thop, ptflops, torchinfo
    python benchmarks/peers.py [--threads 1] [--repeats 10]

Every tool analyses the same model instance (CPU) after one warm-up call; the median of the repeats
is reported, with ratios against flopcount. flopcount runs on meta (its default for bundled models,
no compute) and is also timed at 64x3x1024x1024 to show that its cost does not grow with the input.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import warnings

import torch

from flopcount.timing import time_calls


def median_ms(fn, repeats: int) -> float:
    return 1000 * time_calls(fn, warmup=1, repeats=repeats).median


def quiet(fn):
    def run():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)

    import flopcount
    from flopcount.zoo import get_model

    model = get_model("mobilenet_v2").eval()
    with torch.device("meta"):
        meta_model = get_model("mobilenet_v2").eval()
    x = torch.randn(1, 3, 224, 224)
    meta_x = torch.empty(1, 3, 224, 224, device="meta")

    cases: dict[str, object] = {}
    cases["flopcount (meta model)"] = lambda: flopcount.analyze(meta_model, (1, 3, 224, 224))
    cases["flopcount (cpu model, device=meta)"] = lambda: flopcount.analyze(model, (1, 3, 224, 224), device="meta")
    cases["flopcount at 64x3x1024x1024"] = lambda: flopcount.analyze(meta_model, (64, 3, 1024, 1024))

    def forward():
        with torch.no_grad():
            model(x)

    def meta_forward():
        with torch.no_grad():
            meta_model(meta_x)

    cases["plain CPU forward"] = forward
    cases["plain meta forward"] = meta_forward

    from torch.utils.flop_counter import FlopCounterMode

    def fcm():
        with torch.no_grad(), FlopCounterMode(display=False):
            model(x)

    cases["torch FlopCounterMode"] = fcm
    with contextlib.suppress(ImportError):
        from fvcore.nn import FlopCountAnalysis

        cases["fvcore"] = quiet(lambda: FlopCountAnalysis(model, (x,)).total())
    with contextlib.suppress(ImportError):
        import thop

        def run_thop():
            # thop leaves total_ops/total_params buffers behind: profile a throwaway copy
            import copy

            thop.profile(copy.deepcopy(model), inputs=(x,), verbose=False)

        cases["thop (incl. model copy)"] = quiet(run_thop)
    with contextlib.suppress(ImportError):
        from ptflops import get_model_complexity_info

        cases["ptflops"] = quiet(lambda: get_model_complexity_info(model, (3, 224, 224), print_per_layer_stat=False))
    with contextlib.suppress(ImportError):
        import torchinfo

        cases["torchinfo"] = quiet(lambda: torchinfo.summary(model, input_data=x, verbose=0, device="cpu"))

    results = {name: median_ms(fn, args.repeats) for name, fn in cases.items()}
    ours = results["flopcount (meta model)"]
    print(f"mobilenet_v2, 1x3x224x224, torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'tool':<36} {'ms':>9} {'x flopcount':>12}")
    for name, ms in results.items():
        print(f"{name:<36} {ms:>9.1f} {ms / ours:>12.1f}")
    big = results["flopcount at 64x3x1024x1024"]
    print(f"\nflopcount at 64x3x1024x1024 / at 1x3x224x224: {big / ours:.2f} (target: within 1.10)")
    print(f"fvcore / flopcount: {results.get('fvcore', float('nan')) / ours:.1f} (target >= 10)")
    print(f"FlopCounterMode / flopcount: {results['torch FlopCounterMode'] / ours:.1f} (target >= 5)")
    print(f"plain CPU forward / flopcount: {results['plain CPU forward'] / ours:.1f} (target > 1)")


if __name__ == "__main__":
    main()
