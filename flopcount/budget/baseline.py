"""Baseline files: yesterday's per-model and per-layer counts (JSON), so that growth beyond an allowed
percentage fails too, naming the layers that grew. One line per layer, so an update reads as a diff."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from flopcount.budget.schema import COUNT_METRICS, METRIC_MEANING, STEP_METRICS
from flopcount.errors import ConfigError, FlopcountError

if TYPE_CHECKING:
    from flopcount.budget.measure import Measurement

BASELINE_FORMAT = 1
_OPTIONAL_TOTALS = ("all_ops_flops",)  # written since measurement_from_report kept it; older files lack it


@dataclass(frozen=True)
class BaselineEntry:
    model: str
    input_size: tuple[str, ...]
    kwargs: dict[str, Any]
    totals: dict[str, int]
    layers: dict[str, dict[str, int]]


def load_baseline(path: Path, named_at: str | None = None) -> dict[str, BaselineEntry]:
    """The entries of the baseline at ``path``. ``named_at`` (``budgets.toml:3``) says where the path was
    written, so that a missing file is reported there, where the user fixes it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f"{named_at}: baseline: {path}" if named_at else str(path)
        raise ConfigError(f"{where}: baseline file not found (write it with: flopcount check --update-baseline)") \
            from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: baseline is not UTF-8 text (byte {error.start}: {error.reason})") from None
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
                totals={**{m: int(raw["totals"][m]) for m in COUNT_METRICS},
                        **{m: int(raw["totals"][m]) for m in _OPTIONAL_TOTALS if m in raw["totals"]}},
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
        # Memory and training limits are absolute ceilings, not tracked against a baseline.
        "totals": {k: v for k, v in measurement.totals.items() if k not in STEP_METRICS},
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_baseline(data), encoding="utf-8")
    except OSError as error:
        raise FlopcountError(f"{path}: cannot write the baseline: {error.strerror or error}") from None


_FLAT_OBJECT = re.compile(r'\{\n\s*("[^"\n]*": -?\d+(?:,\n\s*"[^"\n]*": -?\d+)*)\n\s*\}')
_FLAT_LIST = re.compile(r'\[\n\s*("[^"\n]*"(?:,\n\s*"[^"\n]*")*)\n\s*\]')


def dump_baseline(data: Mapping[str, Any]) -> str:
    """JSON with one line per layer, so that a baseline update reads as a per-layer diff in review."""
    text = json.dumps(data, indent=1)
    text = _FLAT_OBJECT.sub(lambda m: "{" + re.sub(r",\n\s*", ", ", m.group(1)) + "}", text)
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"
