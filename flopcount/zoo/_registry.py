"""One registry of bundled models: names, builders, default input sizes.

Family modules register their variants with :func:`register_family` (a table of variants, one call) or
:func:`register_model` (one model); a name registered twice is refused.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from flopcount.errors import DuplicateRegistrationError, UnknownModelError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    builder: Callable[..., Any]
    input_size: tuple[int, ...] = (1, 3, 224, 224)
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def build(self, **overrides: Any):
        return self.builder(**{**self.kwargs, **overrides})


_MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    family: str,
    builder: Callable[..., Any],
    input_size: tuple[int, ...] = (1, 3, 224, 224),
    description: str = "",
    **kwargs: Any,
) -> ModelSpec:
    if name in _MODELS:
        raise DuplicateRegistrationError(f"model '{name}' is already registered")
    spec = ModelSpec(name, family, builder, tuple(input_size), dict(kwargs), description)
    _MODELS[name] = spec
    return spec


def register_family(
    family: str,
    builder: Callable[..., Any],
    variants: Iterable[tuple[str, str, Mapping[str, Any]]],
    *,
    input_size: tuple[int, ...] = (1, 3, 224, 224),
) -> list[ModelSpec]:
    """Register every variant of one family from a table of ``(name, description, builder kwargs)`` rows,
    in the table's order (the order ``list_models`` shows)."""
    return [register_model(name, family=family, builder=builder, input_size=input_size, description=description,
                           **kwargs) for name, description, kwargs in variants]


def _load_families() -> None:
    # Importing the package registers every family (see zoo/__init__.py).
    import flopcount.zoo  # noqa: F401


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Registered names matching a shell-style wildcard, in registration order."""
    _load_families()
    return [
        name
        for name, spec in _MODELS.items()
        if fnmatch.fnmatchcase(name, pattern) and (family is None or fnmatch.fnmatchcase(spec.family, family))
    ]


def get_spec(name: str) -> ModelSpec:
    _load_families()
    try:
        return _MODELS[name]
    except KeyError:
        raise UnknownModelError(name, difflib.get_close_matches(name, list(_MODELS), n=3, cutoff=0.5)) from None


def get_model(name: str, **overrides: Any):
    """Build a bundled model by name (on the current default device)."""
    return get_spec(name).build(**overrides)
