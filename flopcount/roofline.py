"""Roofline model: how long each layer would take on a device that is limited by compute or by memory.

Conventions, stated once:

* A device's peak is quoted the way vendors quote it, in FLOP/s with **2 FLOPs per fused
  multiply-add**. flopcount's FLOPs are multiply-adds, so every FLOP count is doubled here before it
  meets a peak: ``flop = 2 * record.flops``. The intensity axis is therefore FLOP (2 per FMA) per byte.
* Memory traffic is the layer's MAC in bytes (inputs + weights read, outputs written, dtype aware): the
  traffic of a layer that reuses perfectly from cache, i.e. a lower bound on DRAM traffic.
* Roofline time of a layer = max(flop / peak_flops, mac_bytes / bandwidth). A layer is *memory bound*
  when its intensity is below the device's ridge point ``peak_flops / bandwidth``, else compute bound.

Device profiles (peak, bandwidth, memory size, source) are read and measured by :mod:`flopcount.devices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Device profiles live in flopcount.devices; their names stay importable from here, where they began.
from flopcount.devices import (  # noqa: F401
    DeviceProfile,
    device_toml,
    list_devices,
    load_device,
    measure_device,
    measured_profile_path,
    user_devices_dir,
    write_device,
)
from flopcount.report import Report

FLOPS_PER_FMA = 2  # vendors' FLOP/s count a fused multiply-add as 2; flopcount's FLOPs count it as 1


@dataclass(frozen=True)
class RooflinePoint:
    index: int  # record index in the report
    name: str
    op: str
    category: str
    flop: int  # 2 per multiply-add, comparable with the device peak
    bytes: int  # MAC in bytes
    intensity: float  # flop / bytes (inf when a layer moves nothing)
    bound: str  # "compute" or "memory"
    time: float  # seconds, max of the two roofs
    measured: float | None = None  # seconds measured on this machine, when given


@dataclass(frozen=True)
class Roofline:
    model: str
    device: DeviceProfile
    points: list[RooflinePoint]
    skipped: int  # records with neither FLOPs nor memory traffic (views) or no formula

    @property
    def total_time(self) -> float:
        return sum(p.time for p in self.points)

    @property
    def measured_time(self) -> float | None:
        if any(p.measured is None for p in self.points):
            return None
        return sum(p.measured for p in self.points)

    def time_by_bound(self) -> dict[str, float]:
        out = {"compute": 0.0, "memory": 0.0}
        for p in self.points:
            out[p.bound] += p.time
        return out


def bound_of(flop: float, nbytes: float, device: DeviceProfile) -> tuple[float, str, float]:
    """(intensity, bound, time) of ``flop`` FLOPs (2 per FMA) over ``nbytes`` bytes on ``device``."""
    intensity = flop / nbytes if nbytes else float("inf")
    compute_time, memory_time = flop / device.peak_flops, nbytes / device.bandwidth
    bound = "compute" if intensity >= device.ridge else "memory"
    return intensity, bound, max(compute_time, memory_time)


def roofline(report: Report, device: DeviceProfile, times=None) -> Roofline:
    """Roofline point of every record with a cost; ``times`` (seconds per record) adds measured times."""
    if times is not None and len(times) != len(report.records):
        from flopcount.errors import UsageError

        raise UsageError(f"times has {len(times)} entries for {len(report.records)} records")
    points, skipped = [], 0
    for r in report.records:
        if not r.counted or (r.flops == 0 and r.mac_bytes == 0):
            skipped += 1
            continue
        flop = FLOPS_PER_FMA * r.flops
        intensity, bound, seconds = bound_of(flop, r.mac_bytes, device)
        measured = times[r.index] if times is not None else None
        points.append(RooflinePoint(r.index, r.name, r.op, r.category, flop, r.mac_bytes, intensity, bound, seconds,
                                    measured))
    return Roofline(report.model, device, points, skipped)


# -- chart -------------------------------------------------------------------------------------------

def plot_roofline(result: Roofline, path: str | Path, *, title: str | None = None) -> Path:
    """Draw the roofline with one point per layer and save it (PNG, SVG or PDF by the file's suffix)."""
    from flopcount.errors import FlopcountError

    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed, and never steal a GUI backend
        import matplotlib.pyplot as plt
    except ImportError:
        raise FlopcountError("the roofline chart needs matplotlib: pip install 'flopcount[plot]'") from None

    device = result.device
    points = [p for p in result.points if p.bytes > 0 and p.flop > 0]
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    lo = min([p.intensity for p in points] + [device.ridge]) / 3
    hi = max([p.intensity for p in points] + [device.ridge]) * 3
    longest = max((p.time for p in points), default=1.0) or 1.0
    xs = [lo, device.ridge, hi]
    ax.plot(xs, [min(device.peak_flops, x * device.bandwidth) for x in xs], color="black", lw=2,
            label=f"roof: {device.peak_flops / 1e9:.1f} GFLOP/s, {device.bandwidth / 1e9:.1f} GB/s")
    ax.axvline(device.ridge, color="grey", ls=":", lw=1)
    ax.annotate(f"ridge {device.ridge:.1f} FLOP/B", (device.ridge, device.peak_flops), textcoords="offset points",
                xytext=(5, -15), fontsize=8, color="grey")
    by_category: dict[str, list[RooflinePoint]] = {}
    for p in points:
        by_category.setdefault(p.category, []).append(p)
    for category, group in sorted(by_category.items()):
        # A layer's attainable rate on this device: its FLOPs over its roofline time.
        ax.scatter([p.intensity for p in group], [p.flop / p.time for p in group],
                   s=[12 + 200 * p.time / longest for p in group], alpha=0.6,
                   label=f"{category} ({len(group)})")
    timed = [p for p in points if p.measured]
    if timed:
        ax.scatter([p.intensity for p in timed], [p.flop / p.measured for p in timed], s=14, facecolors="none",
                   edgecolors="black", linewidths=0.6, alpha=0.7, label=f"measured on this machine ({len(timed)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity, FLOP per byte of MAC (2 FLOPs per multiply-add)")
    ax.set_ylabel("FLOP/s (filled: attainable, area ~ roofline time)")
    measured = result.measured_time
    ax.set_title(title or f"{result.model} on {device.name}: predicted {result.total_time * 1e3:.3g} ms"
                 + (f", measured {measured * 1e3:.3g} ms (sum of layers)" if measured is not None else ""))
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
