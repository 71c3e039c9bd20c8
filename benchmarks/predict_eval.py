"""How well does `flopcount predict` predict measured latency? Every zoo model plus generated networks.

    python benchmarks/predict_eval.py --profile cpu_measured --generated 100 --threads 1

Each model is analysed on meta and predicted from its records alone, then built on CPU and timed whole as
`flopcount bench` times a model (eval, no_grad, no hooks, 3 warm-up forwards, then 20 in a row), alone in
``--processes`` fresh processes; the measured latency is the median of the processes' medians, by
wall-clock (as bench) and by the thread's CPU time (the same forwards minus the time other processes held
the core). The generated networks come from
``archgen.EVALUATION_SEEDS``, disjoint from the seeds calibration times whole, and no zoo model is ever
timed by calibration. The held-out networks (``heldout_nets.py``: EfficientNet-, DenseNet-, Inception-
and ResNeXt-style, written apart from the generator) test families calibration never saw, and the
third-party ones (``thirdparty_nets.py``: transformers' own ResNet, MobileNet, EfficientNet, RegNet,
ConvNeXt, ViT, MobileViT, LeViT and Swin, when transformers is installed) code nobody here wrote;
``--independent`` adds 20 more transformers models kept for an independent check, ``--spot-check`` nine
more first run later (``thirdparty_nets.SPOT_CHECK``). Printed next
to the prediction: the roofline bound (``flopcount roofline`` with ``--device``) and a FLOPs-proportional
baseline whose one constant (ms per FLOP) is the median over the evaluated models themselves, an oracle
that flatters it. The noise floor is the spread of the repeats. The host's speed against its calibration
is measured before and after the models by re-timing 100 of the profile's kernels (``drift.speed_now``,
as `flopcount predict --host-speed now` and `bench --zoo` do); the row "prediction at host speed now"
is the prediction scaled by the mean of the two (each kind re-timed by its own), the plain "prediction" row is not scaled.

    python benchmarks/predict_eval.py --profile cpu_measured --independent --measured runs/*.json

times nothing: it predicts with the given profile and compares with the measurements earlier runs wrote
(``--json``), one summary each: predictions depend on the profile and the records alone, so a profile can
be held against runs made at other hours (the host's speed moves; see the README). A run that stored its
probe readings and what they were divided by (``probe_reference``) gets the row at host speed now too, the
readings held against the given profile's reference. Given three runs or
more, it also ranks each run's bands of equal FLOPs by the other runs' measurements: how far the band bar
can be met by anything that predicts from those models' latencies on this machine (``reproducibility``),
and how each run's models moved against the other runs' with their share of depthwise convs (``phases``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time

import numpy as np
import torch

from flopcount.analysis import analyze
from flopcount.loading import load_model
from flopcount.predict import load_profile, predict
from flopcount.predict.archgen import EVALUATION_SEEDS, generate
from flopcount.predict.drift import (SPEED_PER_KIND, Drift, against_reference, host_drift, mean_reading, network_drift,
                                     probe_reference, speed_now)
from flopcount.predict.measure import ModelTiming, num_threads, time_models
from flopcount.predict.worker import KernelTimer
from flopcount.timing import BENCH_REPEATS, BENCH_WARMUP, spearman
from flopcount.zoo import get_spec, list_models
from heldout_nets import HELDOUT
from thirdparty_nets import INDEPENDENT, SPOT_CHECK, THIRD_PARTY, available as third_party_available

CHECKS = ("independent", "spot-check")  # models measured apart from the evaluation: not in its bands


def bands(rows, factor: float = 1.2, min_size: int = 4):
    """Groups of models whose paper FLOPs lie within ``factor`` of the group's smallest (as `bench --zoo`)."""
    groups = []
    for row in sorted(rows, key=lambda r: r["flops"]):
        if groups and row["flops"] <= groups[-1][0]["flops"] * factor:
            groups[-1].append(row)
        else:
            groups.append([row])
    return [g for g in groups if len(g) >= min_size]


def error_stats(errors) -> dict:
    a = np.abs(np.asarray(errors))
    return {"within_5": float(np.mean(a <= 0.05)), "within_10": float(np.mean(a <= 0.10)),
            "within_20": float(np.mean(a <= 0.20)), "median": float(np.median(a)), "p95": float(np.quantile(a, 0.95))}


def collect(names, generated: int, heldout: bool = True, third_party: bool = True, independent: bool = False,
            spot_check: bool = False):
    """(name, source, model to analyse, builder, input size) for every model to evaluate."""
    items = []
    for name in names:
        spec = get_spec(name)
        items.append((name, "zoo", load_model(name).model, ("zoo", name), tuple(spec.input_size)))
    for i in range(generated):
        arch = generate(EVALUATION_SEEDS[i])
        with torch.device("meta"):
            meta = arch.build()
        items.append((arch.name, "generated", meta, ("generated", arch.seed), arch.input_size))
    for name, (build, resolution) in (HELDOUT.items() if heldout else ()):
        with torch.device("meta"):
            meta = build().eval()  # as every loader hands a model to analysis: BatchNorm in eval, no dropout
        items.append((name, "held-out", meta, ("held-out", name), (1, 3, resolution, resolution)))
    for name, (build, resolution) in (THIRD_PARTY.items() if third_party else ()):
        # built on CPU (transformers' initialisers are not all meta-safe) and analysed on meta like the rest
        items.append((name, "third-party", build(), ("third-party", name), (1, 3, resolution, resolution)))
    for name, (build, resolution) in (INDEPENDENT.items() if independent else ()):
        items.append((name, "independent", build(), ("independent", name), (1, 3, resolution, resolution)))
    for name, (build, resolution) in (SPOT_CHECK.items() if spot_check else ()):
        items.append((name, "spot-check", build(), ("spot-check", name), (1, 3, resolution, resolution)))
    return items


def build(spec):
    source, key = spec
    if source == "zoo":
        return load_model(key, {}, "cpu").model
    if source == "generated":
        return generate(key).build()
    if source == "third-party":
        return THIRD_PARTY[key][0]()
    if source == "independent":
        return INDEPENDENT[key][0]()
    if source == "spot-check":
        return SPOT_CHECK[key][0]()
    return HELDOUT[key][0]().eval()


def profile_drift(profile_name: str | None):
    """The host's speed against the profile's calibration, as ``speed_now`` reads it but in this process
    (None without a profile at the evaluated threads)."""
    if not profile_name:
        return None
    runtime = load_profile(profile_name).runtime()
    return against_reference(runtime, host_drift(runtime, per_kind=SPEED_PER_KIND))


def measure(specs, threads: int, rounds: int, warmup: int, repeats: int, profile_name: str | None):
    """In a fresh process, as a user's `flopcount bench` runs: the host's drift since calibration (when the
    profile's thread count is the one evaluated), then every model built and timed, visits interleaved.
    A process that has done other work first (here: analysing 140 models) times the same models a few
    percent slower, and calibration times its kernels and networks in young worker processes too."""
    drift = profile_drift(profile_name)
    with num_threads(threads):
        built = [(build(spec), (torch.randn(size),)) for spec, size in specs]
        return drift, time_models(built, rounds=rounds, warmup=warmup, repeats=repeats)


def alone_in_fresh_processes(specs, threads: int, processes: int, rounds: int, warmup: int,
                             repeats: int) -> list[ModelTiming]:
    """Every model timed alone in ``processes`` fresh processes, as `flopcount bench MODEL` times one; the
    passes go over all models in a new random order each, so a burst of load spoils one process of a model.
    Measured = the median of the processes' medians; ``halves_s`` = even- against odd-numbered processes."""
    per_model: list[list[ModelTiming]] = [[] for _ in specs]
    order = list(range(len(specs)))
    rng = random.Random(0)
    for _ in range(processes):
        rng.shuffle(order)
        for i in order:
            with KernelTimer(threads, recycle_s=math.inf) as worker:
                per_model[i] += worker.run(measure, [specs[i]], threads, rounds, warmup, repeats, None)[1]
    out = []
    for runs in per_model:
        median = statistics.median(t.median_s for t in runs)
        even, odd = [t.median_s for t in runs[0::2]], [t.median_s for t in runs[1::2]] or [median]
        out.append(ModelTiming(min(t.min_s for t in runs), median, statistics.median(t.spread for t in runs),
                               min(t.cpu_min_s for t in runs), statistics.median(t.cpu_median_s for t in runs),
                               statistics.median(t.cpu_spread for t in runs), sum(t.repeats for t in runs),
                               (statistics.median(even), statistics.median(odd))))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu_measured", help="latency profile: shipped name or path")
    parser.add_argument("--device", default="cpu_measured", help="roofline device profile")
    parser.add_argument("--generated", type=int, default=100)
    parser.add_argument("--no-heldout", dest="heldout", action="store_false", help="skip the held-out families")
    parser.add_argument("--no-third-party", dest="third_party", action="store_false",
                        help="skip transformers' vision models (skipped anyway without transformers)")
    parser.add_argument("--independent", action="store_true",
                        help="also the 20 transformers models of the independent check (thirdparty_nets.INDEPENDENT)")
    parser.add_argument("--spot-check", action="store_true",
                        help="also the 9 transformers models first run on 2026-11-29 19:1x (thirdparty_nets.SPOT_CHECK)")
    parser.add_argument("--models", default="*", help="zoo models (shell pattern); '' for none")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--processes", type=int, default=5, help="fresh processes each model is timed alone in")
    parser.add_argument("--rounds", type=int, default=None,
                        help="visits of a model per process (default 1, as bench), or interleaved visits with --together (5)")
    parser.add_argument("--warmup", type=int, default=BENCH_WARMUP, help="untimed forwards before each visit")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed forwards in a row per visit (default {BENCH_REPEATS} as bench, 3 with --together)")
    parser.add_argument("--together", action="store_true",
                        help="time every model in one process, visits interleaved (faster; not how bench runs)")
    parser.add_argument("--measured", nargs="+", metavar="JSON",
                        help="time nothing: re-predict the measurements that earlier runs wrote with --json, one "
                             "summary each (predictions depend on the profile and the records only)")
    parser.add_argument("--json", help="write every model's numbers here")
    parser.add_argument("--markdown", action="store_true", help="print the summary as a markdown table")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 5 if args.together else 1
    if args.repeats is None:
        args.repeats = 3 if args.together else BENCH_REPEATS

    profile = load_profile(args.profile)
    if profile.runtime().threads != args.threads:
        print(f"warning: profile calibrated at {profile.runtime().threads} thread(s), evaluating at {args.threads}",
              file=sys.stderr)
    device = None
    try:
        from flopcount.roofline import load_device, roofline

        device = load_device(args.device)
    except Exception as error:  # the roofline column is optional
        print(f"no roofline column: {error}", file=sys.stderr)

    names = list_models(args.models) if args.models else []
    third_party = args.third_party and third_party_available()
    if args.third_party and not third_party:
        print("no third-party group: transformers is not installed", file=sys.stderr)
    independent = args.independent and third_party_available()
    items = collect(names, args.generated, args.heldout, third_party, independent,
                    args.spot_check and third_party_available())
    rows = []
    predictions = {}  # by model name: to scale to the host's speed now without predicting again
    started = time.perf_counter()
    for name, source, meta, _, size in items:
        report = analyze(meta, size, device="meta", name=name)
        prediction = predict(report, profile)
        predictions[name] = prediction
        rows.append({"name": name, "source": source, "flops": report.totals.paper_flops,
                     "predicted_ms": prediction.total_ms, "depthwise_share": depthwise_share(prediction),
                     "roofline_ms": roofline(report, device).total_time * 1e3 if device else None,
                     "fallback_ops": len(prediction.fallback_ops)})
    predict_s = time.perf_counter() - started
    print(f"predicted {len(rows)} models from their records in {predict_s:.1f} s", file=sys.stderr)

    if args.measured:
        for path in args.measured:
            print(f"\n# measurements of {path}, predicted with profile '{profile.name}'")
            print(_remeasured(rows, path, args, device, predictions, probe_reference(profile.runtime())))
        if len(args.measured) >= 3:
            print("\n# how far the band bar can be met: the prediction against the other runs' measurements")
            print(reproducibility(rows, args.measured, args.markdown))
            print("\n# what moves between runs: each run's models against the other runs' median")
            print(phases(rows, args.measured, args.markdown))
        return 0

    drift_profile = args.profile if profile.runtime().threads == args.threads else None
    specs = [(spec, size) for *_, spec, size in items]
    networks = None
    speeds: list[Drift] = []  # the host's speed against calibration: before (and after) the models
    if args.together:
        print("timing in a fresh process ...", file=sys.stderr)
        with KernelTimer(args.threads, recycle_s=math.inf) as worker:
            drift, timings = worker.run(measure, specs, args.threads, args.rounds, args.warmup, args.repeats,
                                        drift_profile)
        speeds = [drift] if drift else []
    else:
        print(f"timing {len(specs)} models, each alone in {args.processes} fresh processes ...", file=sys.stderr)
        speeds = [speed_now(profile.runtime())] if drift_profile else []
        timings = alone_in_fresh_processes(specs, args.threads, args.processes, args.rounds, args.warmup, args.repeats)
        speeds += [speed_now(profile.runtime())] if drift_profile else []
        networks = network_drift(profile.runtime()) if drift_profile and profile.runtime().model_cv else None
    for row, t in zip(rows, timings):
        row.update(wall_ms=t.median_s * 1e3, wall_min_ms=t.min_s * 1e3, wall_spread=t.spread,
                   cpu_ms=t.cpu_median_s * 1e3, cpu_min_ms=t.cpu_min_s * 1e3, cpu_spread=t.cpu_spread,
                   halves_ms=[h * 1e3 for h in t.halves_s])
    host_speed = at_host_speed(rows, predictions, speeds) if speeds else None

    prov = profile.runtime().provenance
    print(f"profile '{profile.name}': {prov.get('cpu')}, {prov.get('threads')} thread(s), torch {prov.get('torch')}, "
          f"{prov.get('date')}, clock {prov.get('clock')}; evaluated on {len(rows)} models at {args.threads} "
          f"thread(s), " + (f"{args.rounds} interleaved visits in one process" if args.together else
                             f"each alone in {args.processes} fresh processes of {args.rounds} visits") +
          f" of {args.warmup} warm-up and {args.repeats} timed forwards, measured = median")
    if not args.together and networks is not None:
        print(f"network drift: {networks.count} of the profile's calibration networks re-timed alone now take "
              f"{networks.median:.3f}x their calibrated time (quartiles {networks.p25:.3f}-{networks.p75:.3f}); "
              "not corrected for either")
    if speeds:
        print(f"host speed: the profile's kernels re-timed take {host_speed:.3f}x their calibrated time ("
              + ", ".join(f"{when} {s.median:.3f}, quartiles {s.p25:.3f}-{s.p75:.3f}"
                          for when, s in zip(("before the models", "after"), speeds))
              + "); the row 'prediction at host speed now' is scaled by it (each re-timed kind by its own reading), "
                "as `flopcount predict --host-speed now` scales; the 'prediction' rows are not")
    for clock, title in (("wall", "measured by wall-clock, as `flopcount bench` does"),
                         ("cpu", "measured by the thread's CPU time (the same runs, minus time other processes held the core)")):
        per_flop = measured_by(rows, clock)
        print(f"\n## {title}\n")
        print(summarize(rows, args, device, per_flop))
    if args.json:
        with open(args.json, "w") as f:
            # probe_reference: what the readings were divided by, so that --measured can hold them against
            # another profile's predictions
            json.dump({"rows": rows, "host_speed": host_speed, "speeds": [s.to_dict() for s in speeds],
                       "probe_reference": probe_reference(profile.runtime()) if speeds else None,
                       "networks": networks.to_dict() if networks is not None else None}, f, indent=1)
    return 0


def at_host_speed(rows, predictions, readings) -> float:
    """Give every row ``drift_ms``: its prediction at the mean of the probe ``readings``, as
    `flopcount predict --host-speed now` scales (``Prediction.seconds_at``). Returns the mean median."""
    # This machine's speed now against its speed at calibration (the profile's own kernels re-timed): on
    # 2026-11-29 it swung by 8-12% within an hour, which moves every error of a run together.
    host_speed, speed_by_kind = mean_reading(readings)
    for row in rows:
        row["drift_ms"] = 1e3 * predictions[row["name"]].seconds_at(host_speed, speed_by_kind)
    return host_speed


def depthwise_share(prediction) -> float:
    """The share of a prediction's kernel time in depthwise convs: the kind whose speed moves most with the
    host's phases (see ``phases``)."""
    total = sum(op.kernel_seconds for op in prediction.ops)
    return sum(op.kernel_seconds for op in prediction.ops if op.kind.startswith("conv_dw")) / total if total else 0.0


def _stored_runs(rows, paths) -> tuple[list[dict[str, float]], list[str]]:
    """Each stored run's wall-clock ms by model, and the evaluated models every run measured (the
    independent ones left out: not every run has them)."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append({r["name"]: r["wall_ms"] for r in json.load(f)["rows"]})
    names = [r["name"] for r in rows if r["source"] not in CHECKS and all(r["name"] in run for run in runs)]
    return runs, names


def reproducibility(rows, paths, markdown: bool) -> str:
    """Per stored run, its bands of equal FLOPs ranked >= 0.9 by the prediction and by the other runs: each
    model's median over them of its time divided by the run's median model (a faster host moves no rank).
    The other runs know every model's latency on this machine from the same measurement, as no predictor
    can: the bands they miss are ties the measurement itself does not order from one run to the next."""
    runs, names = _stored_runs(rows, paths)
    normal = [{n: run[n] / statistics.median(run[m] for m in names) for n in names} for run in runs]
    predicted = {r["name"]: r["predicted_ms"] for r in rows}
    flops = {r["name"]: r["flops"] for r in rows}
    table, met = [], {"prediction": 0, "other runs": 0}
    for i, path in enumerate(paths):
        others = {n: statistics.median(run[n] for j, run in enumerate(normal) if j != i) for n in names}
        measured = [{"name": n, "flops": flops[n], "measured": runs[i][n]} for n in names]
        cells = []
        for label, guess in (("prediction", predicted), ("other runs", others)):
            rhos = [spearman([guess[r["name"]] for r in band], [r["measured"] for r in band])
                    for band in bands(measured)]
            reached = sum(rho >= 0.9 for rho in rhos)
            met[label] += reached == len(rhos)
            cells.append(f"{reached} of {len(rhos)}")
        table.append([path.rsplit("/", 1)[-1], *cells])
    lines = _format(["run", "prediction: bands >= 0.9", "the other runs' median: bands >= 0.9"], table, markdown)
    lines.append(f"every band >= 0.9: the prediction in {met['prediction']} of {len(paths)} runs, the other runs' "
                 f"median in {met['other runs']} of {len(paths)} ({len(names)} models measured in every run)")
    return "\n".join(lines)


def phases(rows, paths, markdown: bool) -> str:
    """Per stored run, how its models moved against the other runs' median (both divided by their median
    model): the spread of those moves, and the part that follows a model's depthwise share of predicted
    kernel time (least squares: slope per unit share, and the variance it explains). A host phase that
    moved every model alike would move no rank; one that moves depthwise-heavy models apart from the rest
    reorders the near-ties of a band, whatever the predictor."""
    runs, names = _stored_runs(rows, paths)
    share_of = {r["name"]: r["depthwise_share"] for r in rows}
    share = np.asarray([share_of[n] for n in names])
    logs = np.log([[run[n] for n in names] for run in runs])
    logs -= np.median(logs, axis=1, keepdims=True)
    table = []
    for i, path in enumerate(paths):
        moved = logs[i] - np.median(np.delete(logs, i, axis=0), axis=0)
        moved -= moved.mean()
        x = share - share.mean()
        slope = float(x @ moved / (x @ x))
        explained = 1 - float(np.sum((moved - slope * x) ** 2) / np.sum(moved ** 2))
        table.append([path.rsplit("/", 1)[-1], f"{100 * moved.std():.1f}%", f"{100 * slope:+.1f}%",
                      f"{explained:.2f}"])
    lines = _format(["run", "models' moves (sd)", "per unit of depthwise share", "variance explained"], table,
                    markdown)
    lines.append(f"{len(names)} models; depthwise share of predicted kernel time: median {np.median(share):.2f}, "
                 f"max {share.max():.2f}")
    return "\n".join(lines)


MEASUREMENT_KEYS = ("wall_ms", "wall_min_ms", "wall_spread", "cpu_ms", "cpu_min_ms", "cpu_spread", "halves_ms")


def _remeasured(rows, path: str, args, device, predictions, reference: float) -> str:
    """The summary of ``rows`` (predicted now) against the wall-clock measurements a run stored in ``path``,
    with the row "prediction at host speed now" when the run stored its probe readings and what they were
    divided by (``probe_reference`` of its profile): held against this profile's ``reference`` instead."""
    with open(path) as f:
        run = json.load(f)
    stored = {r["name"]: r for r in run["rows"]}
    missing = [r["name"] for r in rows if r["name"] not in stored and r["source"] not in CHECKS]
    if missing:
        raise SystemExit(f"{path}: no measurement of {len(missing)} of the models evaluated ({', '.join(missing[:3])}...)")
    if any(r["name"] not in stored for r in rows):
        print(f"{path}: the run measured none or not all of the independent and spot-check models; those it did "
              "not measure are left out", file=sys.stderr)
        rows = [r for r in rows if r["name"] in stored]
    measured = [{**r, **{k: stored[r["name"]][k] for k in MEASUREMENT_KEYS}} for r in rows]
    readings = [Drift.from_dict(s) for s in run.get("speeds") or []]
    if readings and run.get("probe_reference"):
        host_speed = at_host_speed(measured, predictions, [r.over(reference / run["probe_reference"]) for r in readings])
        kinds = "each re-timed kind by its own reading" if readings[0].by_kind else "no per-kind readings stored"
        print(f"{path}: host speed {host_speed:.3f} against this profile ({kinds})", file=sys.stderr)
    elif readings:
        print(f"{path}: no probe_reference stored, so no row at host speed now", file=sys.stderr)
    return summarize(measured, args, device, measured_by(measured, "wall"))


def measured_by(rows, clock: str) -> float:
    """Make ``clock``'s measurements ("wall" or "cpu") the ones ``summarize`` compares with, and the
    FLOPs baseline's constant from them (returned: ms per FLOP, the median over ``rows``)."""
    for row in rows:
        row["measured_ms"], row["measured_min_ms"], row["spread"] = (
            row[f"{clock}_ms"], row[f"{clock}_min_ms"], row[f"{clock}_spread"])
    per_flop = statistics.median(r["measured_ms"] / r["flops"] for r in rows if r["flops"])
    for row in rows:
        row[f"flops_ms_{clock}"] = row["flops_ms"] = row["flops"] * per_flop
    return per_flop


def summarize(rows, args, device, per_flop) -> str:
    predictors = [("prediction", "predicted_ms"), ("FLOPs x constant", "flops_ms")]
    if device is not None:
        predictors.insert(1, ("roofline", "roofline_ms"))
    # rank-wise the same as the prediction (one factor for every model): errors only
    rescaled = [("prediction at host speed now", "drift_ms")] if all("drift_ms" in r for r in rows) else []
    groups = {"all": rows, "zoo": [r for r in rows if r["source"] == "zoo"],
              "generated": [r for r in rows if r["source"] == "generated"],
              "held-out": [r for r in rows if r["source"] == "held-out"],
              "third-party": [r for r in rows if r["source"] == "third-party"],
              "independent": [r for r in rows if r["source"] == "independent"],
              "spot-check": [r for r in rows if r["source"] == "spot-check"]}
    lines = []
    header = ["models", "predictor", "within 5%", "within 10%", "within 20%", "median |err|", "p95 |err|"]
    table = []
    for group, members in groups.items():
        if not members:
            continue
        for label, key in predictors[:1] + rescaled + predictors[1:]:
            s = error_stats([r[key] / r["measured_ms"] - 1 for r in members])
            table.append([f"{group} ({len(members)})", label, f"{100 * s['within_5']:.0f}%",
                          f"{100 * s['within_10']:.0f}%", f"{100 * s['within_20']:.0f}%",
                          f"{100 * s['median']:.1f}%", f"{100 * s['p95']:.1f}%"])
    lines += _format(header, table, args.markdown)
    lines.append("")
    band_rows = []
    # the evaluation's own models: the independent ones are a separate check, not members of its bands
    for band in bands([r for r in rows if r["source"] not in CHECKS]):
        measured = [r["measured_ms"] for r in band]
        cells = [f"{band[0]['flops'] / 1e6:.0f}-{band[-1]['flops'] / 1e6:.0f}M", str(len(band))]
        for _, key in predictors:
            cells.append(f"{spearman([r[key] for r in band], measured):+.2f}")
        # the measurement against itself: even-numbered visits' median against odd-numbered ones' (wall-clock)
        cells.append(f"{spearman([r['halves_ms'][0] for r in band], [r['halves_ms'][1] for r in band]):+.2f}")
        band_rows.append(cells)
    lines.append("Spearman rank correlation with measured latency within bands of equal FLOPs (within 1.2x); the last "
                 "column ranks the measurement against itself (even- against odd-numbered processes, or visits with "
                 "--together), the most any "
                 "predictor can be expected to reach:")
    lines += _format(["paper FLOPs", "models", *[p for p, _ in predictors], "measured: half vs half"], band_rows,
                     args.markdown)
    spreads = [r["spread"] for r in rows]
    min_vs_median = [r["measured_ms"] / r["measured_min_ms"] - 1 for r in rows]
    lines.append("")
    lines.append(f"noise floor: repeat spread (max-min)/median: median {100 * statistics.median(spreads):.1f}%, "
                 f"p95 {100 * float(np.quantile(spreads, 0.95)):.1f}%; median/min - 1: median "
                 f"{100 * statistics.median(min_vs_median):.1f}%")
    lines.append(f"FLOPs baseline constant: {per_flop * 1e9:.3f} ms per GFLOP (median over the evaluated models)")
    signed = statistics.median(r["predicted_ms"] / r["measured_ms"] - 1 for r in rows)
    lines.append(f"median signed error of the prediction: {100 * signed:+.1f}% (a host "
                 f"{'faster' if signed > 0 else 'slower'} than the profile's sittings moves every model alike)")
    worst = sorted(rows, key=lambda r: -abs(r["predicted_ms"] / r["measured_ms"] - 1))[:8]
    lines.append("largest prediction errors: " + ", ".join(
        f"{r['name']} {r['predicted_ms']:.2f}/{r['measured_ms']:.2f} ms ({100 * (r['predicted_ms'] / r['measured_ms'] - 1):+.0f}%)"
        for r in worst))
    return "\n".join(lines)


def _format(header, rows, markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return out + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    return ["  ".join(str(x).rjust(w) for x, w in zip(line, widths)) for line in [header, *rows]]


if __name__ == "__main__":
    raise SystemExit(main())
