"""Model budgets: load a budget file, measure the models it names, and check them.

A budget file (``configs/budgets.toml``, or ``[tool.flopcount]`` in a pyproject.toml) gives limits per
model; a baseline file (JSON) remembers yesterday's per-model and per-layer counts so that growth
beyond an allowed percentage fails too, naming the layers that grew. The phases, so that a broken file
never leaves a check half-run: :mod:`~flopcount.budget.schema` (parse and validate, pure),
:func:`prepare_check` / :func:`resolve` (model names, factories, baseline, output path; imports torch),
then :func:`run_check` (measure, then :mod:`~flopcount.budget.evaluate`, a pure comparison of numbers).

Conventions: ``flops`` is the paper total (multiply-adds of conv + linear + matmul + attention),
``mac`` is memory access cost in elements (read + written), ``params`` counts parameter elements.
"""

from flopcount.budget.baseline import (
    BASELINE_FORMAT,
    BaselineEntry,
    baseline_entry,
    dump_baseline,
    load_baseline,
    write_baseline,
)
from flopcount.budget.check import (
    PreparedCheck,
    check_model,
    check_models,
    prepare_check,
    run_check,
    update_baseline,
    validate_output_path,
)
from flopcount.budget.evaluate import BudgetResult, Check, ModelResult, evaluate, explain
from flopcount.budget.locate import locate
from flopcount.budget.measure import (
    LATENCY_REPEATS,
    LATENCY_WARMUP,
    Measurement,
    Planned,
    measure,
    measure_latency,
    measurement_from_report,
    resolve,
)
from flopcount.budget.schema import (
    COUNT_METRICS,
    METRIC_MEANING,
    STEP_METRICS,
    BudgetFile,
    LayerLimit,
    ModelBudget,
    find_budget_file,
    load_budget_file,
    parse_budget,
    parse_toml,
)

__all__ = [
    "BASELINE_FORMAT", "BaselineEntry", "baseline_entry", "dump_baseline", "load_baseline", "write_baseline",
    "PreparedCheck", "check_model", "check_models", "prepare_check", "run_check", "update_baseline",
    "validate_output_path", "BudgetResult", "Check", "ModelResult", "evaluate", "explain", "locate",
    "LATENCY_REPEATS", "LATENCY_WARMUP", "Measurement", "Planned", "measure", "measure_latency",
    "measurement_from_report", "resolve", "COUNT_METRICS", "METRIC_MEANING", "STEP_METRICS", "BudgetFile", "LayerLimit",
    "ModelBudget", "find_budget_file", "load_budget_file", "parse_budget", "parse_toml",
]
