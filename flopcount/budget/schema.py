"""The budget file's schema: parse and validate a budget TOML into plain data, every problem one line
naming ``file:line: key``. Pure: no torch, no model is built here.

Conventions: ``flops`` is the paper total (multiply-adds of conv + linear + matmul + attention),
``mac`` is memory access cost in elements (read + written), ``params`` counts parameter elements.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from flopcount import tomlio
from flopcount.budget.locate import locate, quote_key
from flopcount.errors import ConfigError
from flopcount.units import ByteUnitError, parse_bytes, parse_count

COUNT_METRICS = ("params", "flops", "mac")
# Limits of a model's totals that no baseline tracks (issue #13): the metric and its unit. Memory limits
# take byte units ("12MiB", "1.5GB"); train_flops, a count, takes K/M/G/T.
STEP_METRICS = {"peak_memory": "bytes", "train_flops": "count", "train_memory": "bytes"}
METRIC_MEANING = {
    "params": "parameter elements",
    "flops": "paper-total FLOPs: multiply-adds of conv + linear + matmul + attention",
    "mac": "memory access cost: elements read + written",
    "latency_ms": "median CPU forward time in ms, measured at 1 thread; with latency_profile, predicted from that "
                  "latency profile (flopcount predict) instead",
    "peak_memory": "peak inference memory in bytes: activations + parameters + buffers (eager, on meta)",
    "train_flops": "paper-total multiply-adds of one training step: forward + backward",
    "train_memory": "peak bytes of one training step (AdamW, fp32): activations, gradients, weights, optimizer state",
}

_TOP_KEYS = {"baseline", "max_regression_pct", "latency_profile", "models"}
_MODEL_KEYS = {"model", "input_size", "kwargs", "device", "max_params", "max_flops", "max_mac", "max_latency_ms",
               "latency_profile", "max_regression_pct", "layers", *(f"max_{m}" for m in STEP_METRICS)}
_LAYER_KEYS = {"max_params", "max_flops", "max_mac"}

@dataclass(frozen=True)
class LayerLimit:
    """Limits for every module path (or function-level op name ``path:op``) matching ``pattern``."""

    pattern: str
    limits: dict[str, int]  # metric -> maximum
    line: int | None = None


@dataclass(frozen=True)
class ModelBudget:
    id: str  # the key under [models]: names the row, and the model's entry in the baseline
    model: str  # zoo name, path/to/file.py:factory or package.module:factory, as written
    input_size: tuple[str, ...] | None  # canonical input specs; None: the zoo model's default
    kwargs: dict[str, Any] = field(default_factory=dict)
    device: str = "meta"
    limits: dict[str, int] = field(default_factory=dict)  # params / flops / mac and STEP_METRICS -> maximum
    max_latency_ms: float | None = None
    # a latency profile (name, or .json path resolved against the budget file): max_latency_ms holds the
    # prediction for that machine instead of a timing on this one
    latency_profile: str | None = None
    latency_profile_line: int | None = None
    max_regression_pct: float | None = None  # None: no baseline comparison
    layers: tuple[LayerLimit, ...] = ()
    line: int | None = None  # where the entry starts in the file, for annotations


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    models: tuple[ModelBudget, ...]
    baseline: Path | None = None
    baseline_line: int | None = None  # where `baseline = ...` is written, to name it when the file is missing

    def select(self, pattern: str | None) -> "BudgetFile":
        if not pattern:
            return self
        chosen = tuple(m for m in self.models if fnmatch.fnmatchcase(m.id, pattern))
        if not chosen:
            raise ConfigError(f"{self.path}: no model id matches '{pattern}'")
        return replace(self, models=chosen)


class Context:
    """Where a value sits: the file, its text (to find lines) and the TOML table prefix."""

    def __init__(self, path: Path, text: str, prefix: tuple[str, ...]):
        self.path, self.text, self.prefix = path, text, prefix

    def error(self, keys: tuple[str, ...], message: str, key: str | None = None) -> ConfigError:
        full = (*keys, key) if key is not None else keys
        line = locate(self.text, (*self.prefix, *keys), key)
        where = f"{self.path}:{line}" if line else str(self.path)
        dotted = ".".join(quote_key(k) for k in (*self.prefix, *full))
        return ConfigError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")


def load_budget_file(path: str | Path) -> BudgetFile:
    """Parse and validate a budget file; every problem is a one-line :class:`ConfigError`."""
    path = Path(path)
    text = read_text(path, "budget file")
    data = parse_toml(text, path)
    prefix: tuple[str, ...] = ()
    if path.name == "pyproject.toml":
        prefix = ("tool", "flopcount")
        data = data.get("tool", {}).get("flopcount")
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: no [tool.flopcount] table")
    return parse_budget(data, path, text, prefix)


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomlio.loads(text)
    except tomlio.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if match:
            message = message[: match.start()] + message[match.end():]
            raise ConfigError(f"{path}:{match.group(1)}:{match.group(2)}: TOML syntax error: {message}") from None
        raise ConfigError(f"{path}: TOML syntax error: {message}") from None


def parse_budget(data: Mapping[str, Any], path: Path, text: str = "", prefix: tuple[str, ...] = ()) -> BudgetFile:
    ctx = Context(path, text, prefix)
    _reject_unknown(data, _TOP_KEYS, (), ctx)
    default_pct = _percent(data, "max_regression_pct", (), ctx)
    baseline = data.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise ctx.error((), "must be a path to a JSON file (relative to this file)", "baseline")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise ctx.error((), "missing: add at least one [models.<name>] table", "models")
    default_profile = _latency_profile(data, (), ctx)
    entries = tuple(_parse_model(mid, spec, default_pct, default_profile, ctx) for mid, spec in models.items())
    if baseline is None and any(e.max_regression_pct is not None for e in entries):
        raise ctx.error((), "max_regression_pct needs a baseline file: add baseline = \"<file>.json\"", "baseline")
    if not baseline:
        return BudgetFile(path, entries)
    return BudgetFile(path, entries, path.parent / baseline, locate(text, prefix, "baseline"))


def _latency_profile(table: Mapping[str, Any], keys: tuple[str, ...], ctx: Context) -> tuple[str, int | None] | None:
    """``latency_profile``: a profile name, or a .json path (relative to the budget file), and its line."""
    value = table.get("latency_profile")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(keys, "must be a latency profile name (cpu_measured, or yours from `flopcount calibrate`) "
                              "or a path to its .json", "latency_profile")
    value = value.strip()
    if value.endswith(".json") and not Path(value).is_absolute():
        value = str(ctx.path.parent / value)
    return value, locate(ctx.text, (*ctx.prefix, *keys), "latency_profile")


def _parse_model(mid: str, spec: Any, default_pct: float | None, default_profile: tuple[str, int | None] | None,
                 ctx: Context) -> ModelBudget:
    keys = ("models", mid)
    if not isinstance(spec, dict):
        raise ctx.error(("models",), "must be a table like [models.mobilenet_v2]", mid)
    _reject_unknown(spec, _MODEL_KEYS, keys, ctx)
    model = spec.get("model", mid)
    if not isinstance(model, str) or not model.strip():
        raise ctx.error(keys, "must be a zoo name, path/to/file.py:factory or package.module:factory", "model")
    kwargs = spec.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ctx.error(keys, "must be a table, e.g. kwargs = { width_mult = 0.5 }", "kwargs")
    device = spec.get("device", "meta")
    if not isinstance(device, str) or not device:
        raise ctx.error(keys, "must be a device name such as \"meta\" or \"cpu\"", "device")
    limits = {m: _count(spec, f"max_{m}", keys, ctx) for m in COUNT_METRICS if f"max_{m}" in spec}
    limits |= {m: (_bytes if unit == "bytes" else _count)(spec, f"max_{m}", keys, ctx)
               for m, unit in STEP_METRICS.items() if f"max_{m}" in spec}
    latency = spec.get("max_latency_ms")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float))
                                or not math.isfinite(latency) or latency <= 0):
        raise ctx.error(keys, f"must be a positive number of milliseconds, got {latency!r}", "max_latency_ms")
    own_profile = _latency_profile(spec, keys, ctx)
    if own_profile is not None and latency is None:
        raise ctx.error(keys, "latency_profile predicts max_latency_ms: add max_latency_ms", "latency_profile")
    profile = (own_profile or default_profile) if latency is not None else None
    pct = _percent(spec, "max_regression_pct", keys, ctx)
    layers = spec.get("layers", {})
    if not isinstance(layers, dict):
        raise ctx.error(keys, "must be a table of pattern = { max_flops = ... }", "layers")
    layer_limits = tuple(_parse_layer(pattern, value, keys, ctx) for pattern, value in layers.items())
    if not limits and latency is None and not layer_limits and pct is None and default_pct is None:
        raise ctx.error(keys, "no limit: give max_params, max_flops, max_mac, max_latency_ms, max_peak_memory, "
                              "max_train_flops, max_train_memory, layers or max_regression_pct")
    return ModelBudget(
        id=mid,
        model=model.strip(),
        input_size=_input_size(spec, keys, ctx),
        kwargs=dict(kwargs),
        device=device,
        limits=limits,
        max_latency_ms=float(latency) if latency is not None else None,
        latency_profile=profile[0] if profile else None,
        latency_profile_line=profile[1] if profile else None,
        max_regression_pct=pct if pct is not None else default_pct,
        layers=layer_limits,
        line=locate(ctx.text, (*ctx.prefix, *keys), None),
    )


def _parse_layer(pattern: str, value: Any, keys: tuple[str, ...], ctx: Context) -> LayerLimit:
    where = (*keys, "layers")
    if not isinstance(value, dict):
        raise ctx.error(where, "must be a table, e.g. \"features.*\" = { max_flops = \"50M\" }", pattern)
    _reject_unknown(value, _LAYER_KEYS, (*where, pattern), ctx)
    if not value:
        raise ctx.error(where, "no limit: give max_params, max_flops or max_mac", pattern)
    limits = {m: _count(value, f"max_{m}", (*where, pattern), ctx) for m in COUNT_METRICS if f"max_{m}" in value}
    return LayerLimit(pattern, limits, locate(ctx.text, (*ctx.prefix, *where), pattern))


def _reject_unknown(table: Mapping[str, Any], allowed: set[str], keys: tuple[str, ...], ctx: Context) -> None:
    import difflib

    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"did you mean {close[0]}?" if close else f"expected one of {', '.join(sorted(allowed))}"
            raise ctx.error(keys, f"unknown key; {hint}", key)


def _count(table: Mapping[str, Any], key: str, keys: tuple[str, ...], ctx: Context) -> int:
    value = table[key]
    if isinstance(value, float) and not math.isfinite(value):
        raise ctx.error(keys, f"not a count: {value!r}", key)
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        raise ctx.error(keys, f"must be a count like \"300M\", \"3.5M\", \"2G\" or an integer, got {value!r}", key)
    try:
        return parse_count(value)
    except ByteUnitError as error:
        raise ctx.error(keys, str(error), key) from None
    except (ValueError, OverflowError):
        if isinstance(value, (int, float)) and value < 0:
            raise ctx.error(keys, f"must not be negative, got {value!r}", key) from None
        if isinstance(value, str) and value.strip().startswith("-"):
            raise ctx.error(keys, f"must not be negative, got {value!r}", key) from None
        raise ctx.error(keys, f"not a count: {value!r} (expected e.g. \"300M\", \"3.5M\", \"2G\" or an integer)",
                        key) from None


def _bytes(table: Mapping[str, Any], key: str, keys: tuple[str, ...], ctx: Context) -> int:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ctx.error(keys, f"must be a memory size like \"12MiB\", \"1.5GB\" or an integer of bytes, got {value!r}",
                        key)
    try:
        return parse_bytes(value)
    except (ValueError, OverflowError) as error:
        raise ctx.error(keys, str(error), key) from None


def _percent(table: Mapping[str, Any], key: str, keys: tuple[str, ...], ctx: Context) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ctx.error(keys, f"must be a percentage >= 0 (e.g. 2 or 0.5), got {value!r}", key)
    return float(value)


def _input_size(spec: Mapping[str, Any], keys: tuple[str, ...], ctx: Context) -> tuple[str, ...] | None:
    from flopcount.errors import InputSpecError
    from flopcount.inputs import normalize_input_size

    value = spec.get("input_size")
    if value is None:
        return None
    try:
        return tuple(str(s) for s in normalize_input_size(value))
    except InputSpecError as error:
        raise ctx.error(keys, str(error), "input_size") from None


def read_text(path: Path, what: str) -> str:
    """A file's UTF-8 text; a missing, unreadable or non-UTF-8 file is a one-line ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: {what} is not UTF-8 text (byte {error.start}: {error.reason}); "
                          f"save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror or error}") from None


def find_budget_file(directory: Path) -> Path | None:
    """The default budget file: ./pyproject.toml if it has [tool.flopcount], else ./configs/budgets.toml."""
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        data = parse_toml(read_text(pyproject, "pyproject.toml"), pyproject)
        if isinstance(data.get("tool", {}).get("flopcount"), dict):
            return pyproject
    candidate = directory / "configs" / "budgets.toml"
    return candidate if candidate.is_file() else None
