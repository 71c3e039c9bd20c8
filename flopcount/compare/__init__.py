"""flopcount against fvcore and torch's FlopCounterMode, layer by layer: :func:`compare` runs all three on
one model and aligns their counts per (module path, op family), with the reason for every difference."""

from flopcount.compare.comparison import RUN_NOTE, Comparison, Row, compare
from flopcount.compare.counters import ReferenceStatus, one_line, own_counts

__all__ = ["RUN_NOTE", "Comparison", "ReferenceStatus", "Row", "compare", "one_line", "own_counts"]
