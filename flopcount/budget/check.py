"""Running a check: validate everything first (:func:`prepare_check`), then measure and evaluate every
model (:func:`run_check`); :func:`check_model` does the same for one model given in code (the pytest
fixture). :func:`update_baseline` is the one way both rewrite a baseline and re-check against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from flopcount.budget.baseline import BaselineEntry, baseline_entry, load_baseline, write_baseline
from flopcount.budget.evaluate import BudgetResult, ModelResult, evaluate
from flopcount.budget.measure import Planned, build_device, measure, resolve
from flopcount.budget.schema import BudgetFile, ModelBudget, find_budget_file, load_budget_file, parse_budget
from flopcount.errors import ConfigError, UsageError


def validate_output_path(path: str | Path, option: str = "--output") -> Path:
    """Refuse, before any model runs, a report path that cannot be written: a directory, a missing
    directory, a read-only place. The trial open creates nothing that was not there."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: directory {path.parent} does not exist")
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write: {error.strerror or error}") from None
    if not existed:
        path.unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class PreparedCheck:
    """A check that has passed every validation: what :func:`run_check` runs."""

    budget_file: BudgetFile
    plan: list[Planned]
    baseline: Path | None  # the baseline file compared against (or rewritten)
    update_baseline: bool
    output: Path | None  # validated report path, if any


def prepare_check(file: str | Path | None = None, *, only: str | None = None, baseline: str | Path | None = None,
                  update_baseline: bool = False, output: str | Path | None = None,
                  directory: str | Path | None = None) -> PreparedCheck:
    """Everything that can be wrong with a check, found before the first model is analysed: the output
    path, the budget file (default: :func:`find_budget_file` in ``directory``, else the current one),
    the baseline, and every model reference. Each problem is one line (exit code 2)."""
    output_path = validate_output_path(output) if output is not None else None
    path = Path(file) if file is not None else find_budget_file(Path(directory or Path.cwd()))
    if path is None:
        raise UsageError("no budget file: give one, add [tool.flopcount] to ./pyproject.toml, or create "
                         "./configs/budgets.toml")
    budget_file = load_budget_file(path).select(only)
    check_latency_profiles(budget_file)
    baseline_path = Path(baseline) if baseline is not None else budget_file.baseline
    if update_baseline and baseline_path is None:
        raise UsageError("--update-baseline needs a baseline file: set baseline = \"...json\" in "
                         f"{path} or pass --baseline")
    baselines = None
    if baseline_path is not None and not update_baseline:
        named_at = None
        if baseline is None:  # the path comes from the budget file: name where it is written
            line = budget_file.baseline_line
            named_at = f"{budget_file.path}:{line}" if line else str(budget_file.path)
        baselines = load_baseline(baseline_path, named_at)
    plan = resolve(budget_file, baselines)
    return PreparedCheck(budget_file, plan, baseline_path, update_baseline, output_path)


def check_latency_profiles(budget_file: BudgetFile) -> None:
    """Every latency_profile of the file can be loaded: else one line naming file:line, before any model runs."""
    from flopcount.predict import load_profile

    for entry in budget_file.models:
        if entry.latency_profile is None:
            continue
        try:
            load_profile(entry.latency_profile)
        except ConfigError as error:
            line = entry.latency_profile_line
            where = f"{budget_file.path}:{line}" if line else str(budget_file.path)
            raise ConfigError(f"{where}: latency_profile: {error}") from None


def run_check(prepared: PreparedCheck, progress: Callable[[str], None] | None = None) -> BudgetResult:
    """Measure and evaluate every planned model; with ``update_baseline``, then write the measured counts
    into the baseline and re-check against them (:func:`update_baseline`)."""
    result = check_models(prepared.plan, prepared.budget_file.path, progress)
    if prepared.update_baseline and prepared.baseline is not None:
        update_baseline(prepared.baseline, result.models)
    return result


def update_baseline(path: Path, results: Iterable[ModelResult]) -> int:
    """Write each result's counts as its model's entry in the baseline at ``path`` (other entries are
    kept), then re-evaluate its checks against that fresh entry. Returns how many entries were written."""
    results = list(results)
    write_baseline(path, {m.budget.id: baseline_entry(m.budget.model, m.input_size, m.budget.kwargs, m.measurement)
                          for m in results})
    for m in results:
        fresh = BaselineEntry(m.budget.model, tuple(m.input_size), dict(m.budget.kwargs), m.measurement.totals,
                              m.measurement.layers)
        m.checks = evaluate(m.budget, m.measurement, fresh)
    return len(results)


rewrite_baseline = update_baseline  # the same function, for check_model, whose flag of that name shadows it


def _load(reference: str, entry: ModelBudget) -> tuple[Any, Any]:
    """The model to analyse, and (with a latency limit) a CPU copy to time: meta models cannot run."""
    from flopcount.loading import load_model

    loaded = load_model(reference, entry.kwargs, build_device(entry))
    cpu_model = None
    if entry.max_latency_ms is not None and entry.latency_profile is None:  # a prediction needs no real forward
        cpu_model = loaded.model if loaded.device == "cpu" else load_model(reference, entry.kwargs, "cpu").model
    return loaded.model, cpu_model


def check_models(plan: list[Planned], path: Path | None = None,
                 progress: Callable[[str], None] | None = None) -> BudgetResult:
    """Measure every planned model and evaluate it; ``progress(id)`` is called after each."""
    results = []
    for item in plan:
        entry = item.budget
        module, cpu_model = _load(item.reference, entry)
        measured = measure(module, list(item.input_size), device=entry.device,
                           latency=entry.max_latency_ms is not None, cpu_model=cpu_model, name=entry.id,
                           step=entry.limits, latency_profile=entry.latency_profile)
        results.append(ModelResult(entry, item.input_size, measured, evaluate(entry, measured, item.baseline)))
        if progress is not None:
            progress(entry.id)
    return BudgetResult(path, results)


def check_model(model: Any, input_size: Any = None, *, name: str, max_params: Any = None, max_flops: Any = None,
                max_mac: Any = None, max_latency_ms: Any = None, latency_profile: str | None = None,
                layers: Mapping[str, Any] | None = None,
                baseline: str | Path | None = None, max_regression_pct: Any = None, kwargs: Mapping[str, Any] | None = None,
                device: str = "meta", update_baseline: bool = False, where: str = "flopcount_budget",
                warn: Callable[[str], None] | None = None) -> ModelResult:
    """Check one model given in code (an ``nn.Module`` or a model name) against limits given as arguments.

    The limits go through the same validation as a budget file. With ``baseline`` (a JSON file) and no
    ``max_regression_pct``, any growth against the baseline fails. A missing baseline entry is not an
    error here (the first run has none): ``warn`` is told, and ``update_baseline`` writes it.
    """
    from flopcount.inputs import normalize_input_size

    spec: dict[str, Any] = {k: v for k, v in (("max_params", max_params), ("max_flops", max_flops),
                                              ("max_mac", max_mac), ("max_latency_ms", max_latency_ms),
                                              ("latency_profile", latency_profile),
                                              ("layers", layers), ("kwargs", kwargs)) if v is not None}
    if isinstance(model, str):
        spec["model"] = model
    if input_size is not None:
        spec["input_size"] = [str(s) for s in normalize_input_size(input_size)]
    if baseline is not None:
        spec["max_regression_pct"] = 0 if max_regression_pct is None else max_regression_pct
    elif max_regression_pct is not None:
        spec["max_regression_pct"] = max_regression_pct
    data: dict[str, Any] = {"models": {name: spec}}
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
        (module, cpu_model), sizes = _load(plan.reference, entry), plan.input_size
    else:
        if entry.input_size is None:
            raise ConfigError(f"{where}: give input_size, e.g. flopcount_budget(model, (1, 3, 224, 224))")
        module, sizes, cpu_model = model, entry.input_size, None
    measured = measure(module, list(sizes), device=entry.device, latency=entry.max_latency_ms is not None,
                       cpu_model=cpu_model, name=name, step=entry.limits, latency_profile=entry.latency_profile)

    if base is not None and base.input_size != tuple(sizes) and not update_baseline:
        raise ConfigError(f"{baseline_path}: the entry {name} was measured on {', '.join(base.input_size)}; rerun "
                          f"with --flopcount-update-baseline")
    result = ModelResult(entry, tuple(sizes), measured, evaluate(entry, measured, base))
    if update_baseline and baseline_path is not None:
        rewrite_baseline(baseline_path, [result])
    elif baseline_path is not None and base is None and warn is not None:
        warn(f"{baseline_path}: no baseline entry for {name}; write it with pytest --flopcount-update-baseline")
    return result
