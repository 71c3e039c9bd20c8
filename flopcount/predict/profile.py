"""A latency profile: one machine's kernel measurements, the fits made from them, and where they came from.

A JSON file, versioned by ``format_version``. Its ``runtimes`` map holds one entry per runtime, keyed
``torch-eager-cpu`` today (torch.compile or ONNX Runtime would be further keys, calibrated apart, since
they fuse and dispatch differently). Each runtime entry carries its provenance (CPU model, threads,
torch version, date), the per-call overheads, every measured sample, the per-kind fits with their
cross-validated error, and the model-level terms.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flopcount.devices import cpu_name
from flopcount.errors import ConfigError
from flopcount.predict.fit import KindFit

# 2: convs split by the backend torch runs them on (kinds.runs_on_mkldnn). 3: pools fit a per-output term;
# batch-statistics norms and GroupNorm have kinds; clones and zero pads are copies.
FORMAT_VERSION = 3
EAGER_CPU = "torch-eager-cpu"
SUFFIX = ".json"


@dataclass
class KindEntry:
    samples: list[dict[str, Any]]  # {"config": {...}, "min_s": ..., "median_s": ...}
    fit: KindFit | None
    cv: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"cv": self.cv, "fit": self.fit.to_dict() if self.fit else None, "samples": self.samples}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KindEntry":
        fit = data.get("fit")
        return cls(list(data.get("samples", [])), KindFit.from_dict(fit) if fit else None, dict(data.get("cv", {})))


@dataclass
class RuntimeProfile:
    """What one runtime on one machine costs."""

    runtime: str
    provenance: dict[str, Any]
    overheads: dict[str, float]  # op_call_s, module_call_s, container_call_s
    kinds: dict[str, KindEntry]
    statistic: str = "min_s"  # which per-sample statistic the fits use
    model_terms: dict[str, float] = field(default_factory=dict)  # scale, per weight byte, per output byte, per call
    model_cv: dict[str, Any] = field(default_factory=dict)
    fallback_rates: dict[str, float] = field(default_factory=dict)  # flop/s and byte/s for kinds never calibrated

    @property
    def threads(self) -> int:
        return int(self.provenance.get("threads", 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "provenance": self.provenance,
            "statistic": self.statistic,
            "overheads": self.overheads,
            "fallback_rates": self.fallback_rates,
            "model_terms": self.model_terms,
            "model_cv": self.model_cv,
            "kinds": {k: v.to_dict() for k, v in sorted(self.kinds.items())},
        }

    @classmethod
    def from_dict(cls, runtime: str, data: dict[str, Any]) -> "RuntimeProfile":
        return cls(runtime, dict(data.get("provenance", {})), dict(data.get("overheads", {})),
                   {k: KindEntry.from_dict(v) for k, v in data.get("kinds", {}).items()},
                   str(data.get("statistic", "min_s")), dict(data.get("model_terms", {})),
                   dict(data.get("model_cv", {})), dict(data.get("fallback_rates", {})))


@dataclass
class PredictProfile:
    name: str
    runtimes: dict[str, RuntimeProfile]
    path: Path | None = None
    format_version: int = FORMAT_VERSION

    def runtime(self, key: str = EAGER_CPU) -> RuntimeProfile:
        if key not in self.runtimes:
            raise ConfigError(f"latency profile '{self.name}' has no runtime '{key}' "
                              f"(it has: {', '.join(sorted(self.runtimes)) or 'none'})")
        return self.runtimes[key]

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "name": self.name,
                "runtimes": {k: v.to_dict() for k, v in self.runtimes.items()}}


def provenance(threads: int, **extra: Any) -> dict[str, Any]:
    """Where a profile was measured: CPU model, threads, torch and Python versions, date."""
    import torch

    import flopcount

    return {
        "cpu": cpu_name(),
        "machine": platform.machine(),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "flopcount": flopcount.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **extra,
    }


def shipped_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "predict"


def user_dir() -> Path:
    """The user's own latency profiles, beside the device profiles: $XDG_CONFIG_HOME/flopcount/predict
    (else ~/.config/flopcount/predict); `flopcount calibrate --profile NAME` writes here."""
    from flopcount.devices import user_devices_dir

    return user_devices_dir().parent / "predict"


def user_profile_path(name: str) -> Path:
    return user_dir() / f"{name}{SUFFIX}"


def list_profiles() -> list[str]:
    """Every profile name, the user's and the shipped ones."""
    return sorted({p.stem for folder in (user_dir(), shipped_dir()) if folder.is_dir()
                   for p in folder.glob(f"*{SUFFIX}")})


def resolve(name_or_path: str | Path) -> Path:
    """The file a profile name (the user's directory first, then shipped) or path stands for; ConfigError
    naming the known ones if none."""
    path = Path(name_or_path)
    if path.suffix == SUFFIX and path.is_file():
        return path
    user = user_profile_path(str(name_or_path))
    if path.suffix != SUFFIX and user.is_file():
        return user
    shipped = shipped_dir() / f"{name_or_path}{SUFFIX}"
    if shipped.is_file():
        return shipped
    known = ", ".join(list_profiles()) or "none found"
    raise ConfigError(f"unknown latency profile '{name_or_path}' (known: {known}; or give a path to a "
                      f"{SUFFIX} written by `flopcount calibrate`)")


def load_profile(name_or_path: str | Path) -> PredictProfile:
    """A latency profile by name (the user's directory, then shipped: ``cpu_measured``) or by path to a
    ``.json`` file."""
    path = resolve(name_or_path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read latency profile: {error}") from None
    if not isinstance(data, dict) or "runtimes" not in data:
        raise ConfigError(f"{path}: not a latency profile (no 'runtimes')")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(f"{path}: latency profile format {version!r}, this flopcount reads {FORMAT_VERSION}; "
                          "recalibrate with `flopcount calibrate`")
    try:
        runtimes = {k: RuntimeProfile.from_dict(k, v) for k, v in data["runtimes"].items()}
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: malformed latency profile ({type(error).__name__}: {error})") from None
    return PredictProfile(str(data.get("name", path.stem)), runtimes, path)


def save_profile(profile: PredictProfile, path: str | Path) -> Path:
    """Write ``profile`` as JSON (compact: the samples and trees make it large)."""
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_suffix(SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.to_dict(), separators=(",", ":")) + "\n")
    profile.path = path
    return path


def matching_device(profile: PredictProfile):
    """The roofline device profile to show beside a prediction, and why: the device profile of the same name
    (flopcount.devices) when there is one, else cpu_measured."""
    from flopcount.devices import list_devices, load_device

    if profile.name in list_devices():
        return load_device(profile.name), f"the device profile named like latency profile '{profile.name}'"
    return load_device("cpu_measured"), f"no device profile named '{profile.name}': cpu_measured instead"
