"""Running the reference counters (fvcore, torch's FlopCounterMode) on a model, and turning their
cumulative per-module counts into each module's own counts, keyed by module path."""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import Iterator

from torch import nn

from flopcount.conventions import FCM, FVCORE


@dataclass(frozen=True)
class ReferenceStatus:
    name: str
    available: bool
    reason: str = ""  # why it is unavailable, one line


@contextlib.contextmanager
def _quiet_fvcore() -> Iterator[None]:
    # fvcore logs every unsupported op and uncalled module, and the tracer warns about Python control
    # flow; compare turns all of that into its reason column instead.
    logger = logging.getLogger("fvcore")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def run_fvcore(model: nn.Module, args: tuple, kwargs: dict) -> tuple[ReferenceStatus, dict, dict]:
    """fvcore's own counts and unsupported ops per module path (op name -> count)."""
    try:
        with _quiet_fvcore():  # its import warns about torch.jit.script's deprecation
            from fvcore.nn import FlopCountAnalysis  # imported here only: a heavy, optional reference
    except ImportError:
        return ReferenceStatus(FVCORE, False, "fvcore is not installed (pip install fvcore)"), {}, {}
    if kwargs:
        return ReferenceStatus(FVCORE, False, "fvcore traces positional tensor inputs only"), {}, {}
    try:
        with _quiet_fvcore():
            analysis = FlopCountAnalysis(model, args if len(args) != 1 else args[0])
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            cumulative = {path: dict(ops) for path, ops in analysis.by_module_and_operator().items()}
            unsupported = {path: dict(analysis.unsupported_ops(path)) for path in cumulative}
    except Exception as error:  # a model fvcore cannot trace: say why and go on with the other reference
        return ReferenceStatus(FVCORE, False, one_line(error)), {}, {}
    return ReferenceStatus(FVCORE, True), own_counts(cumulative), own_counts(unsupported)


def run_flop_counter_mode(model: nn.Module, args: tuple, kwargs: dict) -> tuple[ReferenceStatus, dict, dict]:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    try:
        with counter:
            model(*args, **kwargs)
    except Exception as error:
        return ReferenceStatus(FCM, False, one_line(error)), {}, {}
    # Keys are 'RootType', 'RootType.child.grandchild' and 'Global'; counts are 2 per multiply-add.
    root = type(model).__name__
    cumulative: dict[str, dict[str, float]] = {}
    for key, ops in counter.get_flop_counts().items():
        if key == root or key.startswith(root + "."):
            cumulative[key[len(root) + 1:]] = {str(op): _halve(n) for op, n in ops.items()}
    return ReferenceStatus(FCM, True), own_counts(cumulative), {}


def _halve(count: int) -> float:
    # Exact for counts beyond 2**53, where a float division would round.
    return count // 2 if count % 2 == 0 else count / 2


def as_number(value: float) -> float:
    return int(value) if float(value).is_integer() else float(value)


def own_counts(cumulative: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each module's own counts, from counts that include its descendants'.

    A module's count is reduced by those of its nearest descendants that have a count of their own: a
    module called directly by a grandparent leaves its parent without one in FlopCounterMode.
    """
    present = {path for path, ops in cumulative.items() if any(ops.values())}
    own = {path: dict(ops) for path, ops in cumulative.items() if path in present}
    for path in present:
        parent = _nearest_ancestor(path, present)
        if parent is None:
            continue
        for op, n in cumulative[path].items():
            own[parent][op] = as_number(own[parent].get(op, 0) - n)
    return {path: {op: n for op, n in ops.items() if n} for path, ops in own.items()}


def _nearest_ancestor(path: str, present: set[str]) -> str | None:
    while path:
        path = path.rpartition(".")[0]
        if path in present:
            return path
    return None
