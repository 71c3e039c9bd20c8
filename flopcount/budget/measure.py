"""Resolving a budget's models (names, factories, baseline entries: all checked before anything runs) and
measuring them: the analysis numbers a budget is held to, and a CPU latency timed by flopcount.timing.
torch is imported lazily, inside the functions that need it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from flopcount.budget.baseline import BaselineEntry
from flopcount.budget.schema import COUNT_METRICS, BudgetFile, Context, ModelBudget
from flopcount.errors import FlopcountError
from flopcount.timing import DEFAULT_THREADS, time_model

LATENCY_WARMUP = 2
LATENCY_REPEATS = 5


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

    text = _text_for_lines(budget_file.path)
    prefix = ("tool", "flopcount") if budget_file.path.name == "pyproject.toml" else ()
    ctx = Context(budget_file.path, text, prefix)
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



def _text_for_lines(path) -> str:
    """The budget file's text, only to name lines in errors ("" for limits given in code, not a file)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


@dataclass
class Measurement:
    """The numbers a budget is checked against; built from a Report, or by hand in tests."""

    totals: dict[str, int]  # params, flops (paper total), all_ops_flops, mac; peak_memory, train_flops, train_memory when asked
    layers: dict[str, dict[str, int]]  # module path -> own params, paper FLOPs and MAC of the calls at that path
    ops: dict[str, dict[str, int]] = field(default_factory=dict)  # "path:op" of function-level ops -> same
    latency_ms: float | None = None
    types: dict[str, str] = field(default_factory=dict)  # module path -> class name, to name layers in messages
    latency_basis: str = "measured"  # or "predicted (profile NAME)": how latency_ms was obtained

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
            cpu_model: Any = None, name: str | None = None, step: Iterable[str] = (),
            latency_profile: str | None = None) -> Measurement:
    """Analyse ``model`` (on ``device``, meta by default); time a real CPU forward when ``latency``.

    ``cpu_model`` is the model to time when ``model`` lives on meta (it cannot run for real). ``step``
    names the STEP_METRICS to measure too: peak_memory from the same pass, train_* from a training step
    (AdamW, fp32) analysed on meta. With ``latency_profile`` (a name or .json path), ``latency`` is
    predicted from the analysis by that profile (flopcount.predict) instead: nothing is timed.
    """
    from flopcount.analysis import analyze

    step = set(step)
    report = analyze(model, input_size, device=device, name=name, memory="peak_memory" in step)
    latency_ms, basis = None, "measured"
    if latency and latency_profile is not None:
        from flopcount.predict import load_profile, predict

        profile = load_profile(latency_profile)
        latency_ms, basis = predict(report, profile).total_ms, f"predicted (profile {profile.name})"
    elif latency:
        latency_ms = measure_latency(cpu_model if cpu_model is not None else model, input_size)
    measured = measurement_from_report(report, latency_ms)
    measured.latency_basis = basis
    if report.memory is not None:
        measured.totals["peak_memory"] = report.memory.peak_memory_bytes
    if step & {"train_flops", "train_memory"}:
        training = analyze(model, input_size, name=name, train=True).training
        measured.totals["train_flops"] = training.train_paper_flops
        measured.totals["train_memory"] = training.peak_step_bytes
    return measured


def measure_latency(model: Any, input_size: Any, *, warmup: int = LATENCY_WARMUP, repeats: int = LATENCY_REPEATS,
                    threads: int | None = DEFAULT_THREADS, timer: Callable[[], float] = time.perf_counter) -> float:
    """Median wall time in ms of ``repeats`` CPU forwards after ``warmup`` untimed ones, at ``threads``
    threads (one by default, as ``flopcount bench``: torch's default pool makes small models noisy)."""
    from flopcount.errors import ForwardError
    from flopcount.inputs import make_tensor, normalize_input_size

    if any(t.device.type != "cpu" for t in (*model.parameters(), *model.buffers())):
        raise FlopcountError("max_latency_ms needs the model on cpu")
    args = tuple(make_tensor(s, "cpu") for s in normalize_input_size(input_size))
    try:
        timing = time_model(model, args, warmup=warmup, repeats=repeats, threads=threads, timer=timer)
    except FlopcountError:
        raise
    except Exception as error:
        raise ForwardError(f"timed forward failed: {type(error).__name__}: {error}") from error
    return timing.median * 1000.0


def build_device(entry: ModelBudget) -> str | None:
    """Where to build the model: where it is analysed, except that meta analyses need no meta build (a
    user's model is built on cpu by default and analysed through meta stand-ins of its weights)."""
    return None if entry.device == "meta" else entry.device
