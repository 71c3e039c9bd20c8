"""Is this machine as fast now as when its profile was calibrated? Re-time some of the profile's kernels.

A profile stores every kernel it timed. Timing a spread of them again, the same way (same builder,
clock and statistic), gives the ratio of now to then per kernel; its median is how much faster or
slower the machine runs today (another tenant on a shared host, a different clock frequency, thermal
state). A prediction cannot know that; an evaluation prints it beside its errors so that a shift of
the whole machine is not mistaken for an error of the predictor.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

from flopcount.predict.measure import num_threads, time_configs
from flopcount.predict.profile import RuntimeProfile

# Kinds that carry most of a CNN's time, and the range of kernel times that a forward's time is made of.
DRIFT_KINDS = ("conv", "conv_mkldnn", "conv1x1", "conv_dw_mkldnn", "conv_group_mkldnn", "linear", "batchnorm", "binary",
               "act_relu", "maxpool")
MIN_S, MAX_S = 2e-5, 2e-2


@dataclass(frozen=True)
class Drift:
    """Now / at calibration for ``count`` re-timed kernels or networks: the median and quartiles of the ratio."""

    count: int
    median: float
    p25: float
    p75: float

    @classmethod
    def of(cls, ratios: list[float]) -> "Drift":
        ratios = sorted(ratios)
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        return cls(len(ratios), statistics.median(ratios), quartiles[0], quartiles[2])

    def to_dict(self) -> dict[str, float]:
        return {"count": self.count, "median": self.median, "p25": self.p25, "p75": self.p75}


def host_drift(runtime: RuntimeProfile, per_kind: int = 6, seed: int = 0, rounds: int = 5) -> Drift:
    """Re-time up to ``per_kind`` stored samples of each of ``DRIFT_KINDS`` at the profile's thread count."""
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
    with num_threads(runtime.threads):
        now = time_configs([(kind, s["config"]) for kind, s in chosen], rounds=rounds, seed=seed)
    return Drift.of([getattr(sample, runtime.statistic) / stored[runtime.statistic]
                     for sample, (_, stored) in zip(now, chosen)])


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
