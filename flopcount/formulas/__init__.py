"""Cost formulas: one registry, one file per family. Importing this package registers them all.

To add a formula, write a function in the family's file (or a new one imported below) and decorate it
with ``@formula(target, ...)``; see ``registry.py`` for the two signatures.
"""

from flopcount.formulas.registry import REGISTRY, Formula, FormulaRegistry, formula
from flopcount.formulas import (  # noqa: F401,E402
    activation, attention, conv, elementwise, embedding, linear, movement, norm, pooling, recurrent, selection,
)

# Formulas for a library's own operators, imported once the model's code has imported that library.
_OPTIONAL = {"torchvision": "flopcount.formulas.torchvision_ops"}


def register_optional() -> None:
    """Register the formulas of optional libraries already imported (cheap: a look into sys.modules)."""
    import importlib
    import sys

    for library in [name for name in _OPTIONAL if name in sys.modules]:
        try:
            importlib.import_module(_OPTIONAL.pop(library))
        except (AttributeError, RuntimeError):  # a build without its operators: they stay uncounted, as reported
            pass


__all__ = ["REGISTRY", "Formula", "FormulaRegistry", "formula", "register_optional"]
