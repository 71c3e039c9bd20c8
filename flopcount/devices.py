"""Device profiles: a device's compute roof, memory bandwidth and memory size, each naming its source.

Profiles are small TOML files. Looked up by name in this order: the user's directory
(``$XDG_CONFIG_HOME/flopcount/devices``, else ``~/.config/flopcount/devices``), then the profiles shipped
inside the package (``flopcount/data/devices``); a path to a ``.toml`` file is used as given.
``measure_device`` profiles the machine it runs on from a matmul and a large copy; its result is written
into the user's directory, never into the installed package or the source checkout.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flopcount import tomlio
from flopcount.errors import ConfigError

_REQUIRED = ("name", "peak_flops", "bandwidth", "source")


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    peak_flops: float  # FLOP/s, 2 per fused multiply-add
    bandwidth: float  # bytes/s
    source: str
    description: str = ""
    dtype: str = "float32"
    memory_bytes: int | None = None  # the device's memory size (RAM of a CPU, HBM of a GPU); None: not given

    @property
    def ridge(self) -> float:
        """Intensity (FLOP per byte) at which the memory roof meets the compute roof."""
        return self.peak_flops / self.bandwidth


def user_devices_dir() -> Path:
    """The user's own profiles: $XDG_CONFIG_HOME/flopcount/devices, else ~/.config/flopcount/devices."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "flopcount" / "devices"


def _shipped_profiles() -> dict[str, "resources.abc.Traversable"]:
    folder = resources.files("flopcount.data").joinpath("devices")
    return {entry.name[: -len(".toml")]: entry for entry in folder.iterdir() if entry.name.endswith(".toml")}


def list_devices() -> list[str]:
    names = set(_shipped_profiles())
    user = user_devices_dir()
    if user.is_dir():
        names.update(p.stem for p in user.glob("*.toml"))
    return sorted(names)


def load_device(name_or_path: str) -> DeviceProfile:
    """A profile by name (``h100``) or by path to a ``.toml`` file."""
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        try:
            return parse_device(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read device profile: {error}") from None
    user = user_devices_dir() / f"{name_or_path}.toml"
    if user.is_file():
        return load_device(str(user))
    shipped = _shipped_profiles().get(name_or_path)
    if shipped is None:
        known = ", ".join(list_devices()) or "none found"
        raise ConfigError(f"unknown device profile '{name_or_path}' (known: {known}; or give a path to a .toml)")
    return parse_device(shipped.read_text(encoding="utf-8"), f"flopcount/data/devices/{shipped.name}")


def parse_device(text: str, where: str) -> DeviceProfile:
    try:
        data = tomlio.loads(text)
    except tomlio.TOMLDecodeError as error:
        raise ConfigError(f"{where}: cannot read device profile: {error}") from None
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{where}: device profile lacks {', '.join(missing)}")
    try:
        peak, bandwidth = float(data["peak_flops"]), float(data["bandwidth"])
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: peak_flops and bandwidth must be numbers") from None
    if peak <= 0 or bandwidth <= 0:
        raise ConfigError(f"{where}: peak_flops and bandwidth must be > 0")
    memory = data.get("memory_bytes")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0):
        raise ConfigError(f"{where}: memory_bytes must be a positive integer number of bytes, got {memory!r}")
    return DeviceProfile(name=str(data["name"]), peak_flops=peak, bandwidth=bandwidth, source=str(data["source"]),
                         description=str(data.get("description", "")), dtype=str(data.get("dtype", "float32")),
                         memory_bytes=memory)


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
    ]
    if profile.memory_bytes is not None:
        lines.append(f"memory_bytes = {profile.memory_bytes}")
    lines.append(f"source = {q(profile.source)}")
    return "\n".join(lines) + "\n"


def measured_profile_path(name: str) -> Path:
    """Where ``--measure-profile NAME`` writes: the user's profile directory (see :func:`user_devices_dir`)."""
    return user_devices_dir() / f"{name}.toml"


def write_device(profile: DeviceProfile, path: Path) -> Path:
    """Write ``profile`` to ``path``; when the user directory cannot be created, to ./NAME.toml instead."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(device_toml(profile), encoding="utf-8")
    except OSError:
        path = Path.cwd() / path.name
        path.write_text(device_toml(profile), encoding="utf-8")
    return path


def measure_device(name: str, *, threads: int | None = None, matmul_n: int = 2048, copy_mib: int = 256,
                   repeats: int = 5) -> DeviceProfile:
    """Measure this CPU: best-of-``repeats`` fp32 matmul FLOP/s and large-copy bandwidth.

    The matmul (n x n by n x n, 2 n^3 FLOP) approaches the compute roof that a good BLAS reaches; the
    copy (read + write of ``copy_mib`` MiB, far larger than any cache) gives the sustained DRAM bandwidth.
    Both are what a layer can hope for, not what the silicon's data sheet says.
    """
    import torch

    from flopcount.timing import num_threads, time_calls

    with num_threads(threads), torch.no_grad():
        a = torch.randn(matmul_n, matmul_n)
        b = torch.randn(matmul_n, matmul_n)
        c = torch.empty(matmul_n, matmul_n)
        # one untimed call each: BLAS threads and page faults
        best_mm = time_calls(lambda: torch.mm(a, b, out=c), warmup=1, repeats=repeats).min
        numel = copy_mib * 2**20 // 4
        src = torch.randn(numel)
        dst = torch.empty_like(src)
        best_copy = time_calls(lambda: dst.copy_(src), warmup=1, repeats=repeats).min
        used_threads = torch.get_num_threads()
    peak = 2 * matmul_n**3 / best_mm
    bandwidth = 2 * numel * 4 / best_copy
    cpu = cpu_name()
    today = _dt.date.today().isoformat()
    source = (f"measured {today} by `flopcount roofline --measure-profile {name}` on {cpu}, {used_threads} thread(s), "
              f"torch {torch.__version__}: best of {repeats} fp32 {matmul_n}x{matmul_n} matmuls (2n^3 FLOP) and "
              f"{copy_mib} MiB tensor copies (read + write); memory_bytes: the machine's physical RAM")
    return DeviceProfile(name=name, peak_flops=peak, bandwidth=bandwidth, source=source,
                         description=f"{cpu}, {used_threads} thread(s), measured", memory_bytes=physical_memory())


def physical_memory() -> int | None:
    """This machine's RAM in bytes (what `free -b` calls total), or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_SIZE_SUFFIXES = {"K": 1024, "M": 1024**2, "G": 1024**3}


def last_level_cache_bytes(cpu: int = 0, root: Path = Path("/sys/devices/system/cpu")) -> int | None:
    """Size of the largest data cache ``cpu`` uses (its last level), from Linux's sysfs; None elsewhere."""
    sizes = []
    for index in (root / f"cpu{cpu}" / "cache").glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        sizes.append(int(text[:-1]) * _SIZE_SUFFIXES[text[-1]] if text[-1:] in _SIZE_SUFFIXES else int(text or 0))
    return max(sizes, default=0) or None
