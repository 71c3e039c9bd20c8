"""The timing module: statistics by hand, warm-up and repeats with a fake clock, and the import graph that
timing.py exists to keep acyclic (bench, roofline and budget all time things; none imports another's)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flopcount
from flopcount.timing import Timing, time_calls

PACKAGE = Path(flopcount.__file__).parent


def test_quartiles_interpolate_between_order_statistics():
    # sorted 1, 2, 3, 4, 10: median 3; inclusive quartiles at positions 1 and 3 -> 2 and 4
    t = Timing.of([10.0, 1.0, 3.0, 2.0, 4.0])
    assert (t.median, t.p25, t.p75, t.min, t.max, t.repeats) == (3.0, 2.0, 4.0, 1.0, 10.0, 5)
    one = Timing.of([0.5])  # a single run: every statistic is that run
    assert (one.median, one.p25, one.p75, one.spread) == (0.5, 0.5, 0.5, 0.0)
    with pytest.raises(ValueError):
        Timing.of([])


def test_warmup_calls_are_run_but_not_timed():
    calls = []
    ticks = iter([0.0, 0.004, 1.0, 1.001, 2.0, 2.002])  # three timed calls: 4, 1, 2 ms
    t = time_calls(lambda: calls.append(1), warmup=2, repeats=3, timer=lambda: next(ticks))
    assert len(calls) == 5
    assert t.median == pytest.approx(0.002) and t.min == pytest.approx(0.001) and t.max == pytest.approx(0.004)


def _flopcount_imports(path: Path) -> set[str]:
    """Every flopcount module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flopcount"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("flopcount"))
    return found


@pytest.mark.parametrize("module, forbidden", [
    ("bench", {"flopcount.budget"}),
    ("roofline", {"flopcount.bench", "flopcount.budget"}),
    ("devices", {"flopcount.bench", "flopcount.roofline", "flopcount.budget"}),
    ("timing", {"flopcount.bench", "flopcount.roofline", "flopcount.budget", "flopcount.devices"}),
    ("units", {"flopcount.render", "flopcount.budget"}),
])
def test_timing_breaks_the_circles(module, forbidden):
    imported = _flopcount_imports(PACKAGE / f"{module}.py")
    assert not {m for m in imported if any(m == f or m.startswith(f + ".") for f in forbidden)}


def test_budget_imports_no_bench_or_roofline():
    for path in (PACKAGE / "budget").glob("*.py"):
        assert not {m for m in _flopcount_imports(path) if m in ("flopcount.bench", "flopcount.roofline")}, path
