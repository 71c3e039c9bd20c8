"""One registry of cost formulas, keyed by module class or by torch function.

A formula is a pure function of shapes (it reads ``.shape`` and module hyper-parameters, never data):

* module formula ``fn(module, inputs: tuple, output) -> Cost``, registered with a module class;
* function formula ``fn(result, *args, **kwargs) -> Cost | None``, registered with torch functions; its
  parameters carry the torch function's own names, so Python binds the call's arguments for us. None
  means "this call cannot be counted" and is reported as uncounted.

A function formula may carry a ``meta_rule``: a cheap function with the same arguments that returns an
empty ``meta`` tensor of the output's shape. On the fast path it replaces torch's meta kernels, some of
which run slow Python decompositions; results are identical (a test checks every zoo model). A rule
handles only the plain valid case and returns None for anything else (mixed or integer dtypes, channels
that do not match, an unusual rank): torch's own meta kernel then runs and raises exactly what torch
raises, so the fast and slow paths agree on failures too (a generated set of invalid calls checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from flopcount.errors import DuplicateRegistrationError
from flopcount.records import Cost


@dataclass(frozen=True)
class Formula:
    target: Any
    cost: Callable[..., Cost]
    meta_rule: Callable[..., Any] | None = None


class FormulaRegistry:
    """Formulas by target. A registry made by :meth:`layered` looks in its own formulas first and in
    its parent's after: per-run overrides over the defaults, without touching them."""

    def __init__(self, parent: FormulaRegistry | None = None) -> None:
        self.parent = parent
        self._formulas: dict[Any, Formula] = {}
        self._module_cache: dict[type, Formula | None] = {}

    def layered(self) -> FormulaRegistry:
        return FormulaRegistry(parent=self)

    def register(self, *targets: Any, meta_rule: Callable[..., Any] | None = None):
        """Decorator: register ``fn`` for every target; a target registered twice is refused."""

        def decorate(fn: Callable[..., Cost]) -> Callable[..., Cost]:
            # dict.fromkeys: torch exposes some functions under two names (F.relu_ is torch.relu_).
            for target in dict.fromkeys(targets):
                if target in self._formulas:
                    raise DuplicateRegistrationError(f"a formula for {_target_name(target)} is already registered")
                self._formulas[target] = Formula(target, fn, meta_rule)
            self._module_cache.clear()
            return fn

        return decorate

    def for_function(self, func: Any) -> Formula | None:
        found = self._formulas.get(func)
        if found is None and self.parent is not None:
            return self.parent.for_function(func)
        return found

    def _own_or_parent(self, target: Any) -> Formula | None:
        found = self._formulas.get(target)
        if found is None and self.parent is not None:
            return self.parent._own_or_parent(target)
        return found

    def for_module(self, module: nn.Module) -> Formula | None:
        """The formula of the module's class or of the nearest registered base class.

        A subclass that overrides ``forward`` gets none: it may do more than its base, so its ops are
        counted one by one instead.
        """
        cls = type(module)
        if cls not in self._module_cache:
            self._module_cache[cls] = self._lookup_class(cls)
        return self._module_cache[cls]

    def _lookup_class(self, cls: type) -> Formula | None:
        for base in cls.__mro__:
            if base is nn.Module:
                return None
            found = self._own_or_parent(base)
            if found is not None:
                return found if getattr(cls, "forward") is getattr(base, "forward") else None
        return None

    def targets(self) -> list[Any]:
        inherited = self.parent.targets() if self.parent is not None else []
        return list(dict.fromkeys([*self._formulas, *inherited]))


def _target_name(target: Any) -> str:
    return getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)


REGISTRY = FormulaRegistry()
formula = REGISTRY.register
