"""flopcount: params, FLOPs and memory access cost (MAC) of PyTorch models, layer by layer.

FLOPs are multiply-adds (one fused multiply-add = 1 FLOP); MAC is memory access cost (elements read +
written), never multiply-accumulates. Imports are lazy so that ``import flopcount`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "flopcount.analysis",
    "Report": "flopcount.report",
    "Totals": "flopcount.report",
    "LayerRecord": "flopcount.records",
    "Cost": "flopcount.records",
    "formula": "flopcount.formulas",
    "register_formula": ("flopcount.formulas", "formula"),
    "REGISTRY": "flopcount.formulas",
    "list_models": "flopcount.zoo",
    "get_model": "flopcount.zoo",
    "get_spec": "flopcount.zoo",
    "register_model": "flopcount.zoo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'flopcount' has no attribute {name!r}")
    module_name, attr = target if isinstance(target, tuple) else (target, name)
    import importlib

    return getattr(importlib.import_module(module_name), attr)
