"""Formula plug-ins: installed packages that register ``@formula``s through an entry point.

A package declares, in its pyproject.toml::

    [project.entry-points."flopcount.formulas"]
    mylib = "mylib.flopcount_formulas"

and the module it names registers formulas on import (``from flopcount import formula``). flopcount
imports every such module once, lazily, just before its first analysis, so that a user who analyses a
model built from ``mylib`` gets ``mylib``'s formulas without importing anything.

A plug-in that fails to import (or registers a formula twice) must not stop the analysis of everything
else: it is skipped with a one-line :class:`PluginWarning` that names the entry point, and its ops are
then reported as uncounted or counted from their parts, as without the plug-in.
"""

from __future__ import annotations

import threading
import warnings

GROUP = "flopcount.formulas"


class PluginWarning(UserWarning):
    """A formula plug-in could not be loaded."""


_lock = threading.Lock()
_loaded: dict[str, str] | None = None  # entry point name -> "ok" or the one-line reason it failed


def load_plugins() -> dict[str, str]:
    """Import every ``flopcount.formulas`` entry point once; later calls return the first outcome.

    Returns entry point name -> ``"ok"`` or why it failed (each failure also warns once).
    """
    global _loaded
    if _loaded is not None:
        return dict(_loaded)
    with _lock:
        if _loaded is None:
            _loaded = _import_all()
    return dict(_loaded)


def forget_plugins() -> None:
    """Look for entry points again at the next analysis (after installing a plug-in in a running process)."""
    global _loaded
    with _lock:
        _loaded = None


def reload_plugins() -> dict[str, str]:
    """Look for entry points again now."""
    forget_plugins()
    return load_plugins()


def _import_all() -> dict[str, str]:
    from importlib.metadata import entry_points

    outcome: dict[str, str] = {}
    for entry_point in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        if entry_point.name in outcome:  # the same distribution seen twice on sys.path
            continue
        try:
            entry_point.load()
        except Exception as error:  # any import-time failure of someone else's code: one line, not a traceback
            detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
            reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
            outcome[entry_point.name] = reason
            warnings.warn(f"formula plug-in '{entry_point.name}' ({entry_point.value}) was not loaded: "
                          f"{reason}", PluginWarning, stacklevel=4)
        else:
            outcome[entry_point.name] = "ok"
    return outcome
