"""Cost formulas: one registry, one file per family. Importing this package registers them all.

To add a formula, write a function in the family's file (or a new one imported below) and decorate it
with ``@formula(target, ...)``; see ``registry.py`` for the two signatures.
"""

from flopcount.formulas.registry import REGISTRY, Formula, FormulaRegistry, formula
from flopcount.formulas import (  # noqa: F401,E402
    activation, attention, conv, elementwise, embedding, linear, movement, norm, pooling, recurrent, selection,
)

__all__ = ["REGISTRY", "Formula", "FormulaRegistry", "formula"]
