"""Roofline model: how long each layer would take on a device that is limited by compute or by memory.

Conventions, stated once:

* A device's peak is quoted the way vendors quote it, in FLOP/s with **2 FLOPs per fused
  multiply-add**. flopcount's FLOPs are multiply-adds, so every FLOP count is doubled here before it
  meets a peak: ``flop = 2 * record.flops``. The intensity axis is therefore FLOP (2 per FMA) per byte.
* Memory traffic is the layer's MAC in bytes (inputs + weights read, outputs written, dtype aware): the
  traffic of a layer that reuses perfectly from cache, i.e. a lower bound on DRAM traffic.
* Roofline time of a layer = max(flop / peak_flops, mac_bytes / bandwidth). A layer is *memory bound*
  when its intensity is below the device's ridge point ``peak_flops / bandwidth``, else compute bound.

Device profiles are small TOML files (``configs/devices/*.toml``) naming their source; ``measure_device``
writes one for the machine it runs on from a matmul and a large copy.
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flopcount.errors import ConfigError
from flopcount.report import Report

FLOPS_PER_FMA = 2  # vendors' FLOP/s count a fused multiply-add as 2; flopcount's FLOPs count it as 1
_REQUIRED = ("name", "peak_flops", "bandwidth", "source")


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    peak_flops: float  # FLOP/s, 2 per fused multiply-add
    bandwidth: float  # bytes/s
    source: str
    description: str = ""
    dtype: str = "float32"

    @property
    def ridge(self) -> float:
        """Intensity (FLOP per byte) at which the memory roof meets the compute roof."""
        return self.peak_flops / self.bandwidth


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


# -- device profiles ---------------------------------------------------------------------------------

def devices_dirs() -> list[Path]:
    """Where profiles are looked up: ./configs/devices, then the source checkout's configs/devices."""
    dirs = [Path.cwd() / "configs" / "devices", Path(__file__).resolve().parent.parent / "configs" / "devices"]
    return list(dict.fromkeys(d for d in dirs))


def measured_profile_path(name: str) -> Path:
    """Where ``--measure-device NAME`` writes: the source checkout's configs/devices, else ./configs/devices."""
    checkout = Path(__file__).resolve().parent.parent / "configs" / "devices"
    return (checkout if checkout.is_dir() else Path.cwd() / "configs" / "devices") / f"{name}.toml"


def list_devices() -> list[str]:
    names = set()
    for d in devices_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def load_device(name_or_path: str) -> DeviceProfile:
    """A profile by name (``h100``) or by path to a ``.toml`` file."""
    path = Path(name_or_path)
    if not (name_or_path.endswith(".toml") and path.is_file()):
        found = [d / f"{name_or_path}.toml" for d in devices_dirs() if (d / f"{name_or_path}.toml").is_file()]
        if not found:
            known = ", ".join(list_devices()) or "none found"
            raise ConfigError(f"unknown device profile '{name_or_path}' (known: {known}; or give a path to a .toml)")
        path = found[0]
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read device profile: {error}") from None
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{path}: device profile lacks {', '.join(missing)}")
    try:
        peak, bandwidth = float(data["peak_flops"]), float(data["bandwidth"])
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: peak_flops and bandwidth must be numbers") from None
    if peak <= 0 or bandwidth <= 0:
        raise ConfigError(f"{path}: peak_flops and bandwidth must be > 0")
    return DeviceProfile(name=str(data["name"]), peak_flops=peak, bandwidth=bandwidth, source=str(data["source"]),
                         description=str(data.get("description", "")), dtype=str(data.get("dtype", "float32")))


def device_toml(profile: DeviceProfile, note: str = "") -> str:
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"# {line}" for line in note.splitlines()]
    lines += [
        f"name = {q(profile.name)}",
        f"description = {q(profile.description)}",
        f"dtype = {q(profile.dtype)}",
        f"peak_flops = {profile.peak_flops:.6g}  # FLOP/s, 2 FLOPs per fused multiply-add",
        f"bandwidth = {profile.bandwidth:.6g}  # bytes/s",
        f"source = {q(profile.source)}",
    ]
    return "\n".join(lines) + "\n"


def measure_device(name: str, *, threads: int | None = None, matmul_n: int = 2048, copy_mib: int = 256,
                   repeats: int = 5) -> DeviceProfile:
    """Measure this CPU: best-of-``repeats`` fp32 matmul FLOP/s and large-copy bandwidth.

    The matmul (n x n by n x n, 2 n^3 FLOP) approaches the compute roof that a good BLAS reaches; the
    copy (read + write of ``copy_mib`` MiB, far larger than any cache) gives the sustained DRAM bandwidth.
    Both are what a layer can hope for, not what the silicon's data sheet says.
    """
    import torch

    from flopcount.bench import num_threads

    with num_threads(threads), torch.no_grad():
        a = torch.randn(matmul_n, matmul_n)
        b = torch.randn(matmul_n, matmul_n)
        c = torch.empty(matmul_n, matmul_n)
        torch.mm(a, b, out=c)  # warm-up: BLAS threads and page faults
        best_mm = min(_timed(lambda: torch.mm(a, b, out=c)) for _ in range(repeats))
        numel = copy_mib * 2**20 // 4
        src = torch.randn(numel)
        dst = torch.empty_like(src)
        dst.copy_(src)
        best_copy = min(_timed(lambda: dst.copy_(src)) for _ in range(repeats))
        used_threads = torch.get_num_threads()
    peak = 2 * matmul_n**3 / best_mm
    bandwidth = 2 * numel * 4 / best_copy
    cpu = _cpu_name()
    today = _dt.date.today().isoformat()
    source = (f"measured {today} by `flopcount roofline --measure-device {name}` on {cpu}, {used_threads} thread(s), "
              f"torch {torch.__version__}: best of {repeats} fp32 {matmul_n}x{matmul_n} matmuls (2n^3 FLOP) and "
              f"{copy_mib} MiB tensor copies (read + write)")
    return DeviceProfile(name=name, peak_flops=peak, bandwidth=bandwidth, source=source,
                         description=f"{cpu}, {used_threads} thread(s), measured")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_device(profile: DeviceProfile, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(device_toml(profile))
    return path


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
