"""Model budgets: load a budget file, measure the models it names, and check them.

A budget file (``configs/budgets.toml``, or ``[tool.flopcount]`` in a pyproject.toml) gives limits per
model; a baseline file (JSON) remembers yesterday's per-model and per-layer counts so that growth
beyond an allowed percentage fails too, naming the layers that grew. Three phases, so that a broken
file never leaves a check half-run: :func:`load_budget_file` (schema, pure), :func:`resolve` (model
names, factories, baseline; imports torch) and :func:`measure` / :func:`evaluate` (analysis, then a
pure comparison of numbers).

Conventions: ``flops`` is the paper total (multiply-adds of conv + linear + matmul + attention),
``mac`` is memory access cost in elements (read + written), ``params`` counts parameter elements.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import statistics
import time
import tomllib
from fractions import Fraction
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from flopcount.errors import ConfigError, FlopcountError
from flopcount.units import human, parse_count

COUNT_METRICS = ("params", "flops", "mac")
METRIC_MEANING = {
    "params": "parameter elements",
    "flops": "paper-total FLOPs: multiply-adds of conv + linear + matmul + attention",
    "mac": "memory access cost: elements read + written",
    "latency_ms": "median CPU forward time in ms",
}
BASELINE_FORMAT = 1
LATENCY_WARMUP = 2
LATENCY_REPEATS = 5
_TOP_LAYERS = 5  # layers named in a failure's explanation

_TOP_KEYS = {"baseline", "max_regression_pct", "models"}
_MODEL_KEYS = {"model", "input_size", "kwargs", "device", "max_params", "max_flops", "max_mac", "max_latency_ms",
               "max_regression_pct", "layers"}
_LAYER_KEYS = {"max_params", "max_flops", "max_mac"}


# ----------------------------------------------------------------------------------------------------
# The schema


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
    limits: dict[str, int] = field(default_factory=dict)  # params / flops / mac -> maximum
    max_latency_ms: float | None = None
    max_regression_pct: float | None = None  # None: no baseline comparison
    layers: tuple[LayerLimit, ...] = ()
    line: int | None = None  # where the entry starts in the file, for annotations


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    models: tuple[ModelBudget, ...]
    baseline: Path | None = None

    def select(self, pattern: str | None) -> "BudgetFile":
        if not pattern:
            return self
        chosen = tuple(m for m in self.models if fnmatch.fnmatchcase(m.id, pattern))
        if not chosen:
            raise ConfigError(f"{self.path}: no model id matches '{pattern}'")
        return BudgetFile(self.path, chosen, self.baseline)


class _Context:
    """Where a value sits: the file, its text (to find lines) and the TOML table prefix."""

    def __init__(self, path: Path, text: str, prefix: tuple[str, ...]):
        self.path, self.text, self.prefix = path, text, prefix

    def error(self, keys: tuple[str, ...], message: str, key: str | None = None) -> ConfigError:
        full = (*keys, key) if key is not None else keys
        line = locate(self.text, (*self.prefix, *keys), key)
        where = f"{self.path}:{line}" if line else str(self.path)
        dotted = ".".join(_quote_key(k) for k in (*self.prefix, *full))
        return ConfigError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")


def load_budget_file(path: str | Path) -> BudgetFile:
    """Parse and validate a budget file; every problem is a one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read budget file {path}: {error.strerror or error}") from None
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
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if match:
            message = message[: match.start()] + message[match.end():]
            raise ConfigError(f"{path}:{match.group(1)}:{match.group(2)}: TOML syntax error: {message}") from None
        raise ConfigError(f"{path}: TOML syntax error: {message}") from None


def parse_budget(data: Mapping[str, Any], path: Path, text: str = "", prefix: tuple[str, ...] = ()) -> BudgetFile:
    ctx = _Context(path, text, prefix)
    _reject_unknown(data, _TOP_KEYS, (), ctx)
    default_pct = _percent(data, "max_regression_pct", (), ctx)
    baseline = data.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise ctx.error((), "must be a path to a JSON file (relative to this file)", "baseline")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise ctx.error((), "missing: add at least one [models.<name>] table", "models")
    entries = tuple(_parse_model(mid, spec, default_pct, ctx) for mid, spec in models.items())
    if baseline is None and any(e.max_regression_pct is not None for e in entries):
        raise ctx.error((), "max_regression_pct needs a baseline file: add baseline = \"<file>.json\"", "baseline")
    return BudgetFile(path, entries, (path.parent / baseline) if baseline else None)


def _parse_model(mid: str, spec: Any, default_pct: float | None, ctx: _Context) -> ModelBudget:
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
    latency = spec.get("max_latency_ms")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float))
                                or not math.isfinite(latency) or latency <= 0):
        raise ctx.error(keys, f"must be a positive number of milliseconds, got {latency!r}", "max_latency_ms")
    pct = _percent(spec, "max_regression_pct", keys, ctx)
    layers = spec.get("layers", {})
    if not isinstance(layers, dict):
        raise ctx.error(keys, "must be a table of pattern = { max_flops = ... }", "layers")
    layer_limits = tuple(_parse_layer(pattern, value, keys, ctx) for pattern, value in layers.items())
    if not limits and latency is None and not layer_limits and pct is None and default_pct is None:
        raise ctx.error(keys, "no limit: give max_params, max_flops, max_mac, max_latency_ms, layers or "
                              "max_regression_pct")
    return ModelBudget(
        id=mid,
        model=model.strip(),
        input_size=_input_size(spec, keys, ctx),
        kwargs=dict(kwargs),
        device=device,
        limits=limits,
        max_latency_ms=float(latency) if latency is not None else None,
        max_regression_pct=pct if pct is not None else default_pct,
        layers=layer_limits,
        line=locate(ctx.text, (*ctx.prefix, *keys), None),
    )


def _parse_layer(pattern: str, value: Any, keys: tuple[str, ...], ctx: _Context) -> LayerLimit:
    where = (*keys, "layers")
    if not isinstance(value, dict):
        raise ctx.error(where, "must be a table, e.g. \"features.*\" = { max_flops = \"50M\" }", pattern)
    _reject_unknown(value, _LAYER_KEYS, (*where, pattern), ctx)
    if not value:
        raise ctx.error(where, "no limit: give max_params, max_flops or max_mac", pattern)
    limits = {m: _count(value, f"max_{m}", (*where, pattern), ctx) for m in COUNT_METRICS if f"max_{m}" in value}
    return LayerLimit(pattern, limits, locate(ctx.text, (*ctx.prefix, *where), pattern))


def _reject_unknown(table: Mapping[str, Any], allowed: set[str], keys: tuple[str, ...], ctx: _Context) -> None:
    import difflib

    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"did you mean {close[0]}?" if close else f"expected one of {', '.join(sorted(allowed))}"
            raise ctx.error(keys, f"unknown key; {hint}", key)


def _count(table: Mapping[str, Any], key: str, keys: tuple[str, ...], ctx: _Context) -> int:
    value = table[key]
    if isinstance(value, float) and not math.isfinite(value):
        raise ctx.error(keys, f"not a count: {value!r}", key)
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        raise ctx.error(keys, f"must be a count like \"300M\", \"3.5M\", \"2G\" or an integer, got {value!r}", key)
    try:
        return parse_count(value)
    except (ValueError, OverflowError):
        if isinstance(value, (int, float)) and value < 0:
            raise ctx.error(keys, f"must not be negative, got {value!r}", key) from None
        if isinstance(value, str) and value.strip().startswith("-"):
            raise ctx.error(keys, f"must not be negative, got {value!r}", key) from None
        raise ctx.error(keys, f"not a count: {value!r} (expected e.g. \"300M\", \"3.5M\", \"2G\" or an integer)",
                        key) from None


def _percent(table: Mapping[str, Any], key: str, keys: tuple[str, ...], ctx: _Context) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ctx.error(keys, f"must be a percentage >= 0 (e.g. 2 or 0.5), got {value!r}", key)
    return float(value)


def _input_size(spec: Mapping[str, Any], keys: tuple[str, ...], ctx: _Context) -> tuple[str, ...] | None:
    from flopcount.errors import InputSpecError
    from flopcount.inputs import normalize_input_size

    value = spec.get("input_size")
    if value is None:
        return None
    try:
        return tuple(str(s) for s in normalize_input_size(value))
    except InputSpecError as error:
        raise ctx.error(keys, str(error), "input_size") from None


# Locating a key in the TOML text: tomllib gives no positions, and a line number is what a user (and a
# GitHub annotation) needs. Best effort: table headers and `key =` lines; None when not found.
_KEY_LINE = re.compile(r"""\s*("((?:[^"\\]|\\.)*)"|'([^']*)'|[A-Za-z0-9_-]+)\s*=""")


def locate(text: str, table: tuple[str, ...], key: str | None) -> int | None:
    current: tuple[str, ...] = ()
    header_line = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = _split_header(stripped)
            if current == table and header_line is None:
                header_line = number
                if key is None:
                    return number
            continue
        if key is None:
            continue
        match = _KEY_LINE.match(line)
        if not match:
            continue
        name = match.group(2) if match.group(2) is not None else match.group(3) if match.group(3) is not None \
            else match.group(1)
        if current == table and name == key:
            return number
        # a key of a sub-table written inline in its parent: `layers = { "x" = ... }` or `"x" = {...}`
        if current == table[:-1] and table and name == table[-1]:
            header_line = header_line or number
    return header_line


def _split_header(header: str) -> tuple[str, ...]:
    """('models', 'mobilenet_v2', 'layers') from '[models.mobilenet_v2.layers]  # comment'."""
    body = header.lstrip("[")
    parts, buf, quote = [], "", None
    for ch in body:
        if quote:
            if ch == quote:
                quote = None
            else:
                buf += ch
        elif ch in "\"'":
            quote = ch
        elif ch == "]":
            break
        elif ch == ".":
            parts.append(buf.strip())
            buf = ""
        else:
            buf += ch
    parts.append(buf.strip())
    return tuple(parts)


def _quote_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


# ----------------------------------------------------------------------------------------------------
# Baseline files


@dataclass(frozen=True)
class BaselineEntry:
    model: str
    input_size: tuple[str, ...]
    kwargs: dict[str, Any]
    totals: dict[str, int]
    layers: dict[str, dict[str, int]]


def load_baseline(path: Path) -> dict[str, BaselineEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found (write it with: flopcount check --update-baseline)") \
            from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read baseline: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}:{error.lineno}:{error.colno}: baseline is not valid JSON: {error.msg}") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT or not isinstance(data.get("models"), dict):
        raise ConfigError(f"{path}: not a flopcount baseline (format {BASELINE_FORMAT}); rewrite it with "
                          f"--update-baseline")
    entries = {}
    for mid, raw in data["models"].items():
        try:
            entries[mid] = BaselineEntry(
                model=str(raw["model"]),
                input_size=tuple(raw["input_size"]),
                kwargs=dict(raw.get("kwargs", {})),
                totals={m: int(raw["totals"][m]) for m in COUNT_METRICS},
                layers={p: {m: int(v.get(m, 0)) for m in COUNT_METRICS} for p, v in raw["layers"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(f"{path}: models.{mid}: malformed baseline entry ({type(error).__name__}: {error}); "
                              f"rewrite it with --update-baseline") from None
    return entries


def baseline_entry(budget_model: str, input_size: Iterable[str], kwargs: Mapping[str, Any],
                   measurement: "Measurement") -> dict[str, Any]:
    return {
        "model": budget_model,
        "input_size": list(input_size),
        "kwargs": dict(kwargs),
        "totals": dict(measurement.totals),
        # all-zero paths (the root without params, Dropout, Identity) add lines and no information
        "layers": {path: dict(v) for path, v in sorted(measurement.layers.items()) if any(v.values())},
    }


def write_baseline(path: Path, entries: Mapping[str, dict[str, Any]]) -> None:
    """Merge ``entries`` (id -> :func:`baseline_entry`) into the baseline file at ``path``."""
    existing: dict[str, Any] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(old, dict) and old.get("format") == BASELINE_FORMAT and isinstance(old.get("models"), dict):
                existing = old["models"]
        except json.JSONDecodeError:
            pass  # a broken baseline is being replaced: that is the point of rewriting it
    models = {**existing, **entries}
    data = {
        "format": BASELINE_FORMAT,
        "conventions": {m: METRIC_MEANING[m] for m in COUNT_METRICS},
        "models": {k: models[k] for k in sorted(models)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_baseline(data), encoding="utf-8")


_FLAT_OBJECT = re.compile(r'\{\n\s*("[^"\n]*": -?\d+(?:,\n\s*"[^"\n]*": -?\d+)*)\n\s*\}')
_FLAT_LIST = re.compile(r'\[\n\s*("[^"\n]*"(?:,\n\s*"[^"\n]*")*)\n\s*\]')


def dump_baseline(data: Mapping[str, Any]) -> str:
    """JSON with one line per layer, so that a baseline update reads as a per-layer diff in review."""
    text = json.dumps(data, indent=1)
    text = _FLAT_OBJECT.sub(lambda m: "{" + re.sub(r",\n\s*", ", ", m.group(1)) + "}", text)
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"


# ----------------------------------------------------------------------------------------------------
# Resolving and measuring (torch is imported here, lazily)


@dataclass
class Planned:
    budget: ModelBudget
    reference: str  # what load_model gets: a zoo name, an absolute file path:factory or a module:factory
    input_size: tuple[str, ...]
    baseline: BaselineEntry | None


def resolve(budget_file: BudgetFile, baselines: Mapping[str, BaselineEntry] | None) -> list[Planned]:
    """Check that every model exists and every baseline entry matches, before anything is analysed."""
    from flopcount.errors import UsageError
    from flopcount.loading import is_user_reference, load_factory

    text = _read_text(budget_file.path)
    prefix = ("tool", "flopcount") if budget_file.path.name == "pyproject.toml" else ()
    ctx = _Context(budget_file.path, text, prefix)
    plan = []
    for entry in budget_file.models:
        keys = ("models", entry.id)
        key = "model" if entry.model != entry.id else None
        reference = entry.model
        input_size = entry.input_size
        if is_user_reference(reference):
            target, _, attr = reference.rpartition(":")
            if target.endswith(".py") or "/" in target or "\\" in target:
                reference = f"{(budget_file.path.parent / target).resolve()}:{attr}"
            try:
                load_factory(reference)
            except UsageError as error:
                raise ctx.error(keys, str(error), key) from None
            if input_size is None:
                raise ctx.error(keys, "a user model needs input_size, e.g. input_size = \"1x3x224x224\"", "input_size")
        else:
            from flopcount.zoo import get_spec

            try:
                spec = get_spec(reference)
            except UsageError as error:
                raise ctx.error(keys, str(error), key) from None
            if input_size is None:
                input_size = ("x".join(map(str, spec.input_size)),)
        if entry.device != "meta":
            import torch

            try:
                torch.device(entry.device)
            except (RuntimeError, ValueError):
                raise ctx.error(keys, f"unknown device '{entry.device}'", "device") from None
        base = None
        if baselines is not None:  # also used without max_regression_pct: to explain an absolute failure
            base = baselines.get(entry.id)
            # kwargs may differ: widening a model through its kwargs is growth to report, not a new model
            if base is not None and (base.model != entry.model or base.input_size != tuple(input_size)):
                raise ctx.error(keys, f"the baseline entry was measured for {base.model} on "
                                      f"{', '.join(base.input_size)}; rerun flopcount check --update-baseline")
        plan.append(Planned(entry, reference, tuple(input_size), base))
    return plan


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


@dataclass
class Measurement:
    """The numbers a budget is checked against; built from a Report, or by hand in tests."""

    totals: dict[str, int]  # params, flops (paper total), all_ops_flops, mac
    layers: dict[str, dict[str, int]]  # module path -> own params, paper FLOPs and MAC of the calls at that path
    ops: dict[str, dict[str, int]] = field(default_factory=dict)  # "path:op" of function-level ops -> same
    latency_ms: float | None = None
    types: dict[str, str] = field(default_factory=dict)  # module path -> class name, to name layers in messages

    def candidates(self) -> dict[str, dict[str, int]]:
        """Every module path (summed over its subtree) and every function-level op name, for patterns."""
        sums: dict[str, dict[str, int]] = {}
        for path, values in self.layers.items():
            parts = path.split(".") if path else []
            for depth in range(1, len(parts) + 1):
                key = ".".join(parts[:depth])
                slot = sums.setdefault(key, dict.fromkeys(COUNT_METRICS, 0))
                for metric in COUNT_METRICS:
                    slot[metric] += values.get(metric, 0)
        return {**sums, **self.ops}


def measurement_from_report(report: Any, latency_ms: float | None = None) -> Measurement:
    layers: dict[str, dict[str, int]] = {}
    ops: dict[str, dict[str, int]] = {}
    for path, n in report.module_params.items():
        layers.setdefault(path, dict.fromkeys(COUNT_METRICS, 0))["params"] += n
    for record in report.records:
        slot = layers.setdefault(record.path, dict.fromkeys(COUNT_METRICS, 0))
        paper = record.flops if record.is_paper else 0
        slot["flops"] += paper
        slot["mac"] += record.mac
        if record.source == "op":
            op = ops.setdefault(record.name, dict.fromkeys(COUNT_METRICS, 0))
            op["flops"] += paper
            op["mac"] += record.mac
    t = report.totals
    totals = {"params": t.params, "flops": t.paper_flops, "all_ops_flops": t.flops, "mac": t.mac}
    return Measurement(totals, layers, ops, latency_ms, dict(report.module_types))


def measure(model: Any, input_size: Any, *, device: str = "meta", latency: bool = False,
            cpu_model: Any = None, name: str | None = None) -> Measurement:
    """Analyse ``model`` (on ``device``, meta by default); time a real CPU forward when ``latency``.

    ``cpu_model`` is the model to time when ``model`` lives on meta (it cannot run for real).
    """
    from flopcount.analysis import analyze

    report = analyze(model, input_size, device=device, name=name)
    latency_ms = None
    if latency:
        latency_ms = measure_latency(cpu_model if cpu_model is not None else model, input_size)
    return measurement_from_report(report, latency_ms)


def measure_latency(model: Any, input_size: Any, *, warmup: int = LATENCY_WARMUP, repeats: int = LATENCY_REPEATS,
                    timer: Callable[[], float] = time.perf_counter) -> float:
    """Median wall time in ms of ``repeats`` CPU forwards after ``warmup`` untimed ones."""
    import torch

    from flopcount.errors import ForwardError
    from flopcount.inputs import make_tensor, normalize_input_size

    if any(t.device.type != "cpu" for t in (*model.parameters(), *model.buffers())):
        raise FlopcountError("max_latency_ms needs the model on cpu")
    args = tuple(make_tensor(s, "cpu") for s in normalize_input_size(input_size))
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                start = timer()
                model(*args)
                if i >= warmup:
                    times.append((timer() - start) * 1000.0)
    except Exception as error:
        raise ForwardError(f"timed forward failed: {type(error).__name__}: {error}") from error
    return statistics.median(times)


# ----------------------------------------------------------------------------------------------------
# Evaluating (pure)


@dataclass(frozen=True)
class Check:
    model: str  # the budget id
    metric: str  # params | flops | mac | latency_ms | flops[features.*] | flops vs baseline ...
    value: float
    limit: float | None
    status: str  # pass | fail | skip
    detail: str = ""
    line: int | None = None
    unit: str = "count"  # count | ms

    @property
    def headroom_pct(self) -> float | None:
        """How far below the limit the value is, in percent of the limit (negative: over)."""
        if self.limit is None or self.limit == 0:
            return None
        return (self.limit - self.value) / self.limit * 100.0

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass
class ModelResult:
    budget: ModelBudget
    input_size: tuple[str, ...]
    measurement: Measurement
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)


@dataclass
class BudgetResult:
    path: Path | None
    models: list[ModelResult]

    @property
    def checks(self) -> list[Check]:
        return [c for m in self.models for c in m.checks]

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.models)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]


def evaluate(budget: ModelBudget, measured: Measurement, baseline: BaselineEntry | None = None) -> list[Check]:
    """Compare one model's numbers with its budget (and baseline); one Check per limit."""
    checks = []
    for metric in COUNT_METRICS:
        if metric not in budget.limits:
            continue
        limit, value = budget.limits[metric], measured.totals[metric]
        detail = ""
        if value > limit:
            detail = f"{_over(value, limit, 'budget')}; " + explain(measured, baseline, metric)
        checks.append(Check(budget.id, metric, value, limit, "fail" if value > limit else "pass", detail.rstrip("; "),
                            budget.line))
    if budget.max_latency_ms is not None:
        value = measured.latency_ms
        if value is None:
            checks.append(Check(budget.id, "latency_ms", math.nan, budget.max_latency_ms, "skip", "not measured",
                                budget.line, "ms"))
        else:
            ok = value <= budget.max_latency_ms
            detail = "" if ok else (f"median CPU forward {value:.2f} ms is "
                                    f"{(value / budget.max_latency_ms - 1) * 100:.1f}% over {budget.max_latency_ms:g} ms")
            checks.append(Check(budget.id, "latency_ms", value, budget.max_latency_ms, "pass" if ok else "fail",
                                detail, budget.line, "ms"))
    checks += _layer_checks(budget, measured)
    if budget.max_regression_pct is not None:
        checks += _regression_checks(budget, measured, baseline)
    return checks


def _layer_checks(budget: ModelBudget, measured: Measurement) -> list[Check]:
    candidates = measured.candidates()
    checks = []
    for layer in budget.layers:
        matched = {k: v for k, v in candidates.items() if fnmatch.fnmatchcase(k, layer.pattern)}
        for metric, limit in layer.limits.items():
            label = f"{metric}[{layer.pattern}]"
            if not matched:
                checks.append(Check(budget.id, label, 0, limit, "fail", f"pattern '{layer.pattern}' matches no layer "
                                    f"(a renamed module?)", layer.line))
                continue
            over = sorted(((v[metric], k) for k, v in matched.items() if v[metric] > limit), reverse=True)
            worst_value, worst = max((v[metric], k) for k, v in matched.items())
            if over:
                names = ", ".join(f"{_layer(measured, k)} {human(v)}" for v, k in over[:_TOP_LAYERS])
                more = f" and {len(over) - _TOP_LAYERS} more" if len(over) > _TOP_LAYERS else ""
                detail = f"{len(over)} of {len(matched)} matching layers over {human(limit)}: {names}{more}"
            else:
                detail = f"largest: {_layer(measured, worst)} ({len(matched)} matching)"
            checks.append(Check(budget.id, label, worst_value, limit, "fail" if over else "pass", detail, layer.line))
    return checks


def _regression_checks(budget: ModelBudget, measured: Measurement, baseline: BaselineEntry | None) -> list[Check]:
    pct = budget.max_regression_pct or 0.0
    if baseline is None:
        return [Check(budget.id, "baseline", math.nan, None, "skip",
                      "no baseline entry yet: run flopcount check --update-baseline", budget.line)]
    checks = []
    for metric in COUNT_METRICS:
        base, value = baseline.totals[metric], measured.totals[metric]
        allowed = math.floor(base * (1 + Fraction(repr(pct)) / 100))  # exact: 1.15 * 100 is 114.99.. in floats
        ok = value <= allowed
        change = f"{_pct_change(value, base)} vs baseline {human(base)} (allowed +{pct:g}%)"
        detail = change if ok else f"{change}; " + explain(measured, baseline, metric)
        checks.append(Check(budget.id, f"{metric} vs baseline", value, allowed, "pass" if ok else "fail", detail,
                            budget.line))
    return checks


def explain(measured: Measurement, baseline: BaselineEntry | None, metric: str, top: int = _TOP_LAYERS) -> str:
    """Which layers grew most against the baseline (or, without one, which layers are largest)."""
    if baseline is None:
        largest = sorted(((v[metric], p) for p, v in measured.layers.items() if v[metric] > 0), reverse=True)[:top]
        return "largest layers: " + ", ".join(f"{_layer(measured, p)} {human(v)}" for v, p in largest) if largest else ""
    growth = []
    for path in set(measured.layers) | set(baseline.layers):
        now = measured.layers.get(path, {}).get(metric, 0)
        before = baseline.layers.get(path, {}).get(metric, 0)
        if now != before:
            growth.append((now - before, path, before, now))
    grown = sorted((g for g in growth if g[0] > 0), reverse=True)
    if not grown:
        return "no layer grew against the baseline; " + explain(measured, None, metric, top)
    parts = []
    for delta, path, before, now in grown[:top]:
        tag = "new" if path not in baseline.layers else f"{_pct_change(now, before)}" if before else "+inf%"
        parts.append(f"{_layer(measured, path)} +{human(delta)} ({tag})")
    more = f"; {len(grown) - top} more grew" if len(grown) > top else ""
    shrunk = sum(1 for g in growth if g[0] < 0)
    return f"grew most: {', '.join(parts)}{more}" + (f"; {shrunk} shrank" if shrunk else "")


def _layer(measured: Measurement, path: str) -> str:
    kind = measured.types.get(path)
    return f"{path or '(root)'} ({kind})" if kind else path or "(root)"


def _over(value: float, limit: float, what: str) -> str:
    if limit == 0:
        return f"{human(value)} over a {what} of 0"
    return f"{human(value)} is {(value / limit - 1) * 100:.1f}% over the {what} {human(limit)} (+{human(value - limit)})"


def _pct_change(now: float, before: float) -> str:
    if before == 0:
        return "+inf%" if now else "+0.0%"
    return f"{(now / before - 1) * 100:+.1f}%"


def check_models(plan: list[Planned], path: Path | None = None,
                 progress: Callable[[str], None] | None = None) -> BudgetResult:
    """Measure every planned model and evaluate it; ``progress(id)`` is called after each."""
    from flopcount.loading import load_model

    results = []
    for item in plan:
        entry = item.budget
        loaded = load_model(item.reference, entry.kwargs, _build_device(entry))
        cpu_model = None
        if entry.max_latency_ms is not None:
            cpu_model = loaded.model if loaded.device == "cpu" else load_model(item.reference, entry.kwargs, "cpu").model
        measured = measure(loaded.model, list(item.input_size), device=entry.device,
                           latency=entry.max_latency_ms is not None, cpu_model=cpu_model, name=entry.id)
        results.append(ModelResult(entry, item.input_size, measured, evaluate(entry, measured, item.baseline)))
        if progress is not None:
            progress(entry.id)
    return BudgetResult(path, results)


def _build_device(entry: ModelBudget) -> str | None:
    """Where to build the model: where it is analysed, except that meta analyses need no meta build (a
    user's model is built on cpu by default and analysed through meta stand-ins of its weights)."""
    return None if entry.device == "meta" else entry.device


def find_budget_file(directory: Path) -> Path | None:
    """The default budget file: ./pyproject.toml if it has [tool.flopcount], else ./configs/budgets.toml."""
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        data = parse_toml(_read_text(pyproject), pyproject)
        if isinstance(data.get("tool", {}).get("flopcount"), dict):
            return pyproject
    candidate = directory / "configs" / "budgets.toml"
    return candidate if candidate.is_file() else None


def check_model(model: Any, input_size: Any = None, *, name: str, max_params: Any = None, max_flops: Any = None,
                max_mac: Any = None, max_latency_ms: Any = None, layers: Mapping[str, Any] | None = None,
                baseline: str | Path | None = None, max_regression_pct: Any = None, kwargs: Mapping[str, Any] | None = None,
                device: str = "meta", update_baseline: bool = False, where: str = "flopcount_budget",
                warn: Callable[[str], None] | None = None) -> ModelResult:
    """Check one model given in code (an ``nn.Module`` or a model name) against limits given as arguments.

    The limits go through the same validation as a budget file. With ``baseline`` (a JSON file) and no
    ``max_regression_pct``, any growth against the baseline fails. A missing baseline entry is not an
    error here (the first run has none): ``warn`` is told, and ``update_baseline`` writes it.
    """
    from flopcount.loading import load_model

    spec: dict[str, Any] = {k: v for k, v in (("max_params", max_params), ("max_flops", max_flops),
                                              ("max_mac", max_mac), ("max_latency_ms", max_latency_ms),
                                              ("layers", layers), ("kwargs", kwargs)) if v is not None}
    if isinstance(model, str):
        spec["model"] = model
    if input_size is not None:
        spec["input_size"] = [str(s) for s in _input_specs(input_size)]
    if baseline is not None:
        spec["max_regression_pct"] = 0 if max_regression_pct is None else max_regression_pct
    elif max_regression_pct is not None:
        spec["max_regression_pct"] = max_regression_pct
    data = {"models": {name: spec}}
    if baseline is not None:
        data["baseline"] = str(baseline)
    budget_file = parse_budget(data, Path(where))
    entry = budget_file.models[0]
    baseline_path = Path(baseline) if baseline is not None else None

    base = None
    if baseline_path is not None and baseline_path.is_file():
        base = load_baseline(baseline_path).get(name)
    if isinstance(model, str):
        plan = resolve(budget_file, None)[0]
        loaded = load_model(plan.reference, entry.kwargs, _build_device(entry))
        module, sizes = loaded.model, plan.input_size
        cpu_model = None
        if entry.max_latency_ms is not None:
            cpu_model = loaded.model if loaded.device == "cpu" else load_model(plan.reference, entry.kwargs, "cpu").model
    else:
        if entry.input_size is None:
            raise ConfigError(f"{where}: give input_size, e.g. flopcount_budget(model, (1, 3, 224, 224))")
        module, sizes, cpu_model = model, entry.input_size, None
    measured = measure(module, list(sizes), device=entry.device, latency=entry.max_latency_ms is not None,
                       cpu_model=cpu_model, name=name)

    if base is not None and base.input_size != tuple(sizes) and not update_baseline:
        raise ConfigError(f"{baseline_path}: the entry {name} was measured on {', '.join(base.input_size)}; rerun "
                          f"with --flopcount-update-baseline")
    if update_baseline and baseline_path is not None:
        write_baseline(baseline_path, {name: baseline_entry(entry.model, sizes, entry.kwargs, measured)})
        base = BaselineEntry(entry.model, tuple(sizes), dict(entry.kwargs), measured.totals, measured.layers)
    elif baseline_path is not None and base is None and warn is not None:
        warn(f"{baseline_path}: no baseline entry for {name}; write it with pytest --flopcount-update-baseline")
    return ModelResult(entry, tuple(sizes), measured, evaluate(entry, measured, base))


def _input_specs(input_size: Any) -> list[Any]:
    from flopcount.inputs import normalize_input_size

    return normalize_input_size(input_size)
