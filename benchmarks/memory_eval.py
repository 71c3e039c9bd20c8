"""Peak memory and training FLOPs of every zoo model: flopcount (on meta) against torch's own tools.

    python benchmarks/memory_eval.py [--all | --models mobilenet_v2,resnet50] [--train-batch 8] [--no-train]
    python benchmarks/memory_eval.py --speed-only [--repeats 5]   # training FLOPs and speed only (~1 min)

Memory columns for a subset of one model per family by default (a few minutes; ``--all``: every zoo model,
~10 min on 2 cores), FLOPs and speed for every zoo model (input size from the zoo, default 3x224x224):

* inference, batch 1 and 8: ``analyze(..., device="meta", memory=True).memory.peak_memory_bytes`` against
  ``MemTracker`` running the real model on CPU in eval mode under ``no_grad``, tracking the model
  (``track_external(model)``: parameters and buffers; the input is not tracked, as in issue #13's figure);
* one AdamW training step, batch ``--train-batch``: ``analyze(..., train=True).training.peak_step_bytes``
  against MemTracker over ``loss = model(x).sum(); loss.backward(); optimizer.step(); zero_grad()`` in train
  mode, after a warm-up step (batch 1) so that the optimizer state exists, tracking model and optimizer;
* training FLOPs: flopcount's conv + linear + matmul (+ attention) forward + backward against
  ``FlopCounterMode`` (divided by 2: it counts 2 per multiply-add) over a meta forward + backward;
* speed: CPU time of ``analyze(..., train=True)`` (forward, backward and optimizer step, from the user's
  CPU model) against FlopCounterMode over a meta forward + backward of a meta model built beforehand
  (model construction is outside both timings; batch 1, best of ``--repeats`` after a warm-up).

Results: README.md, "Memory and training". vit_b_16's inference peak is slightly above MemTracker's: in
eval under no_grad, nn.MultiheadAttention runs the fused ``_native_multi_head_attention`` on CPU, whose
temporaries differ from the op-by-op path it takes on meta. Training FLOPs equal FlopCounterMode on
every model without grouped convs; with grouped convs FlopCounterMode counts each weight gradient as a
dense conv (6.9x ours on mobilenet_v2).

MemTracker's peak is taken after every aten op, over storages, like flopcount's LiveBytes; its per-module
snapshots (``_update_peak_stats`` walks every module after every op: minutes on 32 models) are skipped
by ``GlobalPeakTracker``, which keeps MemTracker's own global-peak update unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch

import flopcount
from flopcount.zoo import get_model, get_spec, list_models


def global_peak_tracker():
    from torch.distributed._tools.mem_tracker import MemTracker

    class GlobalPeakTracker(MemTracker):
        def _update_peak_stats(self, peak_state) -> None:
            # The second loop of MemTracker._update_peak_stats, verbatim in effect: the device totals.
            for dev, dev_snap in self._curr_mem_snap.items():
                if self._peak_mem.get(dev, 0) < dev_snap["Total"]:
                    self._peak_mem[dev] = dev_snap["Total"]
                    self._peak_mem_snap[dev] = dict(dev_snap)

    return GlobalPeakTracker()


def measured_inference_peak(name: str, size: tuple[int, ...]) -> int:
    model = get_model(name).eval()
    x = torch.randn(size)
    tracker = global_peak_tracker()
    tracker.track_external(model)
    with torch.no_grad(), tracker:
        model(x)
    return tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]


def measured_training_peak(name: str, size: tuple[int, ...]) -> int:
    torch.manual_seed(0)
    model = get_model(name).train()
    optimizer = torch.optim.AdamW(model.parameters())
    warm = torch.randn((1, *size[1:]))
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        warm = torch.randn((2, *size[1:]))  # batch norm in training needs more than one value per channel
    model(warm).sum().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    x = torch.randn(size)
    tracker = global_peak_tracker()
    tracker.track_external(model, optimizer)
    with tracker:
        loss = model(x).sum()
        loss.backward()
        del loss
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]


def flop_counter_train(meta_model: torch.nn.Module, size: tuple[int, ...]) -> int:
    """FlopCounterMode over a meta forward + backward of an already built meta model (multiply-adds)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        meta_model(torch.empty(size, device="meta")).sum().backward()
    for p in meta_model.parameters():
        p.grad = None
    return counter.get_total_flops() // 2


def cpu_seconds(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def error(predicted: int, measured: int) -> float:
    return 100.0 * (predicted - measured) / measured


# The default subset: one model of each family (depthwise, grouped, channel split, fire modules, residual,
# attention), which runs in a few minutes; --all measures every zoo model (~10 min on 2 cores).
QUICK = ("mobilenet_v2", "mobilenet_v3_small", "shufflenet_v1_g3", "shufflenet_v2_x1_0", "squeezenet1_0", "resnet50",
         "vit_b_16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="", help="comma-separated zoo names for the memory columns")
    parser.add_argument("--all", action="store_true", help="memory columns for every zoo model (default: a subset)")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--no-train", action="store_true", help="inference memory only")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats for the speed ratio (CPU time)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-only", action="store_true", help="skip the memory columns: training FLOPs and speed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    names = [n for n in args.models.split(",") if n] or (list_models() if args.all else list(QUICK))
    if args.speed_only:
        names = []

    print(f"memory_eval: memory of {len(names)} models; inference batch 1 and 8 (eval, no_grad); "
          + ("" if args.no_train else f"one AdamW step at batch {args.train_batch} after a warm-up step; ")
          + f"{args.threads} threads. MemTracker runs the real model on CPU; flopcount runs on meta.", flush=True)
    rows = []
    worst = {"inf": 0.0, "train": 0.0}
    for name in names:
        shape = tuple(get_spec(name).input_size[1:])
        cpu_model = get_model(name)
        row = {"model": name}
        for batch in (1, 8):
            size = (batch, *shape)
            predicted = flopcount.analyze(cpu_model.eval(), size, device="meta", memory=True).memory.peak_memory_bytes
            measured = measured_inference_peak(name, size)
            row[f"inf{batch}"] = (predicted, measured, error(predicted, measured))
            worst["inf"] = max(worst["inf"], abs(row[f"inf{batch}"][2]))
        if not args.no_train:
            size = (args.train_batch, *shape)
            predicted = flopcount.analyze(cpu_model, size, train=True, optimizer="adamw").training.peak_step_bytes
            measured = measured_training_peak(name, size)
            row["train"] = (predicted, measured, error(predicted, measured))
            worst["train"] = max(worst["train"], abs(row["train"][2]))
        rows.append(row)
        print(_line(row), flush=True)
    if rows:
        print()
        print(_markdown(rows, args.train_batch))
        print(f"\nworst |error|: inference {worst['inf']:.2f}% (target 2%)"
              + ("" if args.no_train else f", training step {worst['train']:.2f}% (target 5%)"))

    # FLOPs and speed of --train on every zoo model: meta only, cheap.
    print("\ntraining FLOPs and speed, every zoo model (batch 1; FlopCounterMode counts 2 per multiply-add, halved):")
    speed_rows = []
    for name in list_models():
        one = (1, *get_spec(name).input_size[1:])
        cpu_model = get_model(name)
        meta_model = get_model(name).to("meta").train()
        ours = flopcount.analyze(cpu_model, one, train=True).training.train_paper_flops
        theirs = flop_counter_train(meta_model, one)
        t_ours = cpu_seconds(lambda: flopcount.analyze(cpu_model, one, train=True), args.repeats)
        t_fcm = cpu_seconds(lambda: flop_counter_train(meta_model, one), args.repeats)
        speed_rows.append((name, ours, theirs, t_ours, t_fcm))
        print(f"{name:<24} train MAdds {ours:,} vs FCM {theirs:,} ({theirs / ours:.2f}x)  "
              f"{t_ours * 1e3:.1f} ms vs FCM {t_fcm * 1e3:.1f} ms: {t_fcm / t_ours:.1f}x", flush=True)
    print()
    print(_speed_markdown(speed_rows))
    ratios = sorted(t_fcm / t_ours for *_, t_ours, t_fcm in speed_rows)
    print(f"\nspeed, FlopCounterMode meta fwd+bwd / flopcount --train: min {ratios[0]:.1f}x, "
          f"median {ratios[len(ratios) // 2]:.1f}x (target >= 3x); FLOPs equal on "
          f"{sum(ours == theirs for _, ours, theirs, *_ in speed_rows)} of {len(speed_rows)} models")
    return 0


def _mib(value: int) -> str:
    return f"{value / 2**20:.1f}"


def _line(row) -> str:
    parts = [f"{row['model']:<24}"]
    for key in ("inf1", "inf8", "train"):
        if key in row:
            p, m, e = row[key]
            parts.append(f"{key} {_mib(p)}/{_mib(m)} MiB {e:+.2f}%")
    return "  ".join(parts)


def _markdown(rows, train_batch: int) -> str:
    train = "train" in rows[0]
    head = ["model", "inference b1 MiB (MemTracker)", "err", "inference b8 MiB (MemTracker)", "err"]
    if train:
        head += [f"AdamW step b{train_batch} MiB (MemTracker)", "err"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["model"]]
        for key in ("inf1", "inf8") + (("train",) if train else ()):
            p, m, e = row[key]
            cells += [f"{_mib(p)} ({_mib(m)})", f"{e:+.2f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _speed_markdown(rows) -> str:
    lines = ["| model | train MAdds b1 | FlopCounterMode / 2 | FCM / ours | ours ms | FCM ms | speed vs FCM |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, ours, theirs, t_ours, t_fcm in rows:
        lines.append(f"| {name} | {ours:,} | {theirs:,} | {theirs / ours:.2f}x | {t_ours * 1e3:.1f} | "
                     f"{t_fcm * 1e3:.1f} | {t_fcm / t_ours:.1f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
