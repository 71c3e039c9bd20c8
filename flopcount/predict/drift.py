"""Is this machine as fast now as when its profile was calibrated? Re-time some of the profile's kernels.

A profile stores every kernel it timed. Timing a spread of them again, the same way (same builder,
clock and statistic), gives the ratio of now to then per kernel; its median is how much faster or
slower the machine runs today (another tenant on a shared host, a different clock frequency, thermal
state). A profile alone cannot know that. An evaluation prints it beside its errors, so that a shift of
the whole machine is not mistaken for an error of the predictor; on the profile's own machine,
``speed_now`` measures it for `flopcount predict --host-speed now` and `bench --zoo --host-speed now`,
which scale their predictions by it. On another machine there is nothing to re-time: the profile
predicts its machine as it ran while calibrated.

The kernels track whole models to a few percent. In three evaluations of 2026-11-29 (153 models each,
the profile calibrated that morning) the probe read 0.953, 0.974 and 0.957 while the models took 1.004,
1.017 and 1.011 of their predicted times: kernels re-timed in a young process among 100 configs run a few
percent faster than calibration's rounds timed them, and scaling took the share within 10% from 99% to
90%, 98% to 96% and 96% to 87%. Calibration now stores the probe's reading at its end
(``speed_reference``) and ``speed_now`` divides by it. Against the shipped profile of five sittings the
readings the day's 21 evaluations stored follow their models (the runs' median signed error on the
reading: slope 1.04, r = 0.73), and scaled by them 20 of the 21 hold 90% within 10% (16 unscaled). A
prediction that depends on the moment has no place in a budget check, so scaling is asked for.

The host's phases do not move every kind alike. Against the other runs of the day, a run's models moved
by -6.3% to +14.8% per unit of their depthwise share of kernel time (20 runs; `predict_eval.py
--measured`), and in two evaluations of 16:45 and 17:01 the probe read depthwise convs at 0.94 and
binary ops at 1.09-1.10 while the median kind read 0.985-0.990. The scaling takes each re-timed kind's
own median (``Drift.by_kind``; the overall median for kinds not re-timed): on those runs' four readings
it took the median error from 3.5-4.3% to 2.8-3.5% and the share within 10% from 92-93% to 92-95%; in a
third run (17:24) from 2.5-2.8% to 2.6-2.9%, within 10% 98-99% either way; in a fourth (17:49, the host
back near its calibration) 2.7-4.7% to 2.6-3.5%. Against the median kind the readings held still over
those four runs (depthwise 0.949-0.954, binary 1.06-1.11) while the runs' depthwise slopes went from
-6.4% to +1.4%: they measure how each kind moved since calibration, not from one run to the next. Two
later runs (18:32, 18:53) came out about even per kind and by the median (93% and 97-98% within 10%).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from flopcount.errors import ConfigError
from flopcount.predict.measure import num_threads, time_configs
from flopcount.predict.profile import RuntimeProfile, provenance

if TYPE_CHECKING:
    from flopcount.predict.worker import KernelTimer

# Kinds that carry most of a CNN's time, and the range of kernel times that a forward's time is made of.
DRIFT_KINDS = ("conv", "conv_mkldnn", "conv1x1", "conv_dw_mkldnn", "conv_group_mkldnn", "linear", "batchnorm", "binary",
               "act_relu", "maxpool")
MIN_S, MAX_S = 2e-5, 2e-2


@dataclass(frozen=True)
class Drift:
    """Now / at calibration for ``count`` re-timed kernels or networks: the median and quartiles of the ratio,
    and for re-timed kernels the median per kind (the host's phases do not move every kind alike)."""

    count: int
    median: float
    p25: float
    p75: float
    by_kind: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, ratios: list[float], kinds: list[str] | None = None) -> "Drift":
        by_kind: dict[str, list[float]] = {}
        for kind, ratio in zip(kinds or [], ratios):
            by_kind.setdefault(kind, []).append(ratio)
        ratios = sorted(ratios)
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        return cls(len(ratios), statistics.median(ratios), quartiles[0], quartiles[2],
                   {kind: statistics.median(r) for kind, r in by_kind.items()})

    def to_dict(self) -> dict:
        return {"count": self.count, "median": self.median, "p25": self.p25, "p75": self.p75,
                **({"by_kind": self.by_kind} if self.by_kind else {})}

    @classmethod
    def from_dict(cls, data: dict) -> "Drift":
        return cls(int(data["count"]), float(data["median"]), float(data["p25"]), float(data["p75"]),
                   {kind: float(ratio) for kind, ratio in data.get("by_kind", {}).items()})

    def over(self, reference: float) -> "Drift":
        """Every ratio divided by ``reference``: the same reading against another baseline."""
        return Drift(self.count, self.median / reference, self.p25 / reference, self.p75 / reference,
                     {kind: ratio / reference for kind, ratio in self.by_kind.items()})


def mean_reading(readings: Sequence[Drift]) -> tuple[float, dict[str, float]]:
    """The mean of several probe readings (before and after some models): of their medians, and per kind
    of the kinds every reading re-timed."""
    kinds = [kind for kind in readings[0].by_kind if all(kind in r.by_kind for r in readings)]
    return (statistics.fmean(r.median for r in readings),
            {kind: statistics.fmean(r.by_kind[kind] for r in readings) for kind in kinds})


def host_drift(runtime: RuntimeProfile, per_kind: int = 6, seed: int = 0, rounds: int = 5,
               timer: "KernelTimer | None" = None) -> Drift:
    """Re-time up to ``per_kind`` stored samples of each of ``DRIFT_KINDS`` at the profile's thread count,
    here or in ``timer``'s worker process."""
    rng = random.Random(seed)
    chosen = []
    for kind in DRIFT_KINDS:
        entry = runtime.kinds.get(kind)
        if entry is None:
            continue
        usable = [s for s in entry.samples if MIN_S <= s[runtime.statistic] <= MAX_S]
        chosen += [(kind, s) for s in rng.sample(usable, min(per_kind, len(usable)))]
    if not chosen:
        raise ValueError("the profile stores no kernel samples to re-time")
    items = [(kind, s["config"]) for kind, s in chosen]
    if timer is not None:
        now = timer.time_configs(items, rounds=rounds, seed=seed)
    else:
        with num_threads(runtime.threads):
            now = time_configs(items, rounds=rounds, seed=seed)
    # a config this torch refuses is left out of time_configs' result: match by (kind, config), not position
    stored = {(kind, json.dumps(s["config"], sort_keys=True)): s for kind, s in chosen}
    retimed = [(sample.kind, getattr(sample, runtime.statistic) / stored[key][runtime.statistic])
               for sample in now if (key := (sample.kind, json.dumps(sample.config, sort_keys=True))) in stored]
    if not retimed:
        raise ValueError("none of the profile's kernels could be re-timed here")
    return Drift.of([ratio for _, ratio in retimed], [kind for kind, _ in retimed])


def network_drift(runtime: RuntimeProfile, count: int = 10) -> Drift:
    """Re-time ``count`` of the profile's whole calibration networks, each alone in a fresh worker as
    calibration timed them. The kernels alone can hold still while whole networks slow down: on a shared
    host another tenant's use of the last-level cache costs a network that streams megabytes of weights and
    activations more than a kernel timed on its own (here: kernels 0.996x, networks a few percent slower,
    within the hour)."""
    from flopcount.predict.archgen import seed_of
    from flopcount.predict.model_terms import NETWORK_STATISTIC, time_network
    from flopcount.predict.measure import clock

    names = list(runtime.model_cv.get("networks", []))[:count]
    measured = list(runtime.model_cv.get("measured_s", []))[:count]
    if not names:
        raise ValueError("the profile stores no calibration networks to re-time")
    with num_threads(runtime.threads):
        statistic = ("cpu_" if clock() is time.thread_time else "") + NETWORK_STATISTIC
    return Drift.of([getattr(time_network(seed_of(name), runtime.threads), statistic) / then
                     for name, then in zip(names, measured)])


def not_calibrated_here(runtime: RuntimeProfile) -> str | None:
    """None when this machine can be the one the profile was calibrated on (same CPU model, architecture
    and torch version, cores for its threads); else what differs. Re-timing its kernels on another
    machine would measure that machine, not the profile's."""
    import os

    then, here = runtime.provenance, provenance(runtime.threads)
    differ = [f"{key} {then[key]!r} (here {here[key]!r})" for key in ("cpu", "machine", "torch")
              if then.get(key) is not None and then[key] != here[key]]
    if not then.get("cpu"):
        differ.append("no CPU model recorded")
    if runtime.threads > (os.cpu_count() or 1):
        differ.append(f"{runtime.threads} threads (here {os.cpu_count()} cores)")
    return "; ".join(differ) or None


SPEED_PER_KIND = 10  # kernels per kind that speed_now re-times: 100 in all, 2-3 s here


def _probe(runtime: RuntimeProfile) -> Drift:
    """``host_drift`` in a young worker process (2-3 s here)."""
    from flopcount.predict.worker import KernelTimer

    with KernelTimer(runtime.threads) as timer:
        return host_drift(runtime, per_kind=SPEED_PER_KIND, timer=timer)


def speed_reference(runtime: RuntimeProfile) -> float | None:
    """What the probe of ``speed_now`` reads at the end of calibration, on the samples just stored (None
    when too few kernels to re-time). Re-timed in a young worker among 100 configs, kernels read a few
    percent faster than calibration's rounds timed them (0.95-0.96 of their stored times while whole
    models ran at their predicted speed, three evaluations of 2026-11-29); dividing by this reading
    compares the probe with itself."""
    try:
        return _probe(runtime).median
    except ValueError:
        return None


def speed_now(runtime: RuntimeProfile) -> Drift:
    """This machine's speed now against its calibration: the probe's reading (``host_drift`` in a young
    worker) over the reading calibration stored (``speed_reference``; profiles without one are compared
    with their stored times as they are). Raises ConfigError when this is not the machine the profile
    was calibrated on."""
    why = not_calibrated_here(runtime)
    if why:
        raise ConfigError(f"cannot measure the host's speed against a profile calibrated elsewhere: {why}")
    return against_reference(runtime, _probe(runtime))


def probe_reference(runtime: RuntimeProfile) -> float:
    """What a probe reading is divided by to give the host's speed against ``runtime``'s predictions: the
    reading calibration stored (``speed_reference``; 1.0 for profiles without one, compared with their
    stored times as they are) times what the model-level terms carry of the sittings after calibration
    (``model_terms.sittings_factor``): the probe compares kernels with the sitting they were timed in, a
    prediction stands for the average of every sitting."""
    from flopcount.predict.model_terms import sittings_factor

    return float(runtime.provenance.get("speed_reference") or 1.0) * sittings_factor(runtime)


def against_reference(runtime: RuntimeProfile, reading: Drift) -> Drift:
    """A probe reading as the host's speed against ``runtime``'s predictions (``probe_reference``)."""
    return reading.over(probe_reference(runtime))
