"""``copy.deepcopy`` of an ``nn.Module`` tree, without deepcopy's generic per-module machinery.

``copy.deepcopy(model, memo)`` reduces every module (``__reduce_ex__``, ``copyreg._slotnames``,
``_reconstruct``) and deep-copies its twenty-odd attribute dicts, most of them empty hook dicts: on a
40-module CNN that is 1.5 ms, the whole cost of a meta forward there. ``deepcopy_modules`` gives the
same result for modules that keep torch's own ``nn.Module.__getstate__`` and reduction:
each module is created with ``cls.__new__`` and given a copy of its state, submodules are copied the
same way, empty dicts are made afresh, and every other value goes through ``copy.deepcopy`` with the
shared memo (so tied parameters, stand-ins placed in the memo beforehand and references between
modules resolve exactly as in deepcopy). A module whose class customises copying or pickling is left
to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

from torch import nn

# Overriding any of these changes what deepcopy does. ``__setstate__`` is not among them: deepcopy_modules
# calls it as deepcopy does (torch's Conv, BatchNorm, MultiheadAttention... use it to fill in defaults).
_COPY_HOOKS = ("__deepcopy__", "__reduce_ex__", "__reduce__", "__getstate__", "__new__", "__getnewargs__",
               "__getnewargs_ex__", "__slots__")
_ATOMS = frozenset((int, float, bool, str, bytes, complex, type(None)))
_PLAIN: dict[type, bool] = {}  # module class -> whether it copies like nn.Module (cached: checked once)


def deepcopy_modules(module: nn.Module, memo: dict[int, Any]) -> nn.Module:
    """What ``copy.deepcopy(module, memo)`` returns, faster for plain modules."""
    found = memo.get(id(module))
    if found is not None:
        return found
    cls = type(module)
    if not _copies_like_module(cls):
        return copy.deepcopy(module, memo)
    clone = cls.__new__(cls)
    memo[id(module)] = clone
    state = module.__getstate__()
    clone.__setstate__({key: _copy_value(key, value, memo) for key, value in state.items()})
    return clone


def _copy_value(key: str, value: Any, memo: dict[int, Any]) -> Any:
    if key == "_modules" and type(value) in (dict, OrderedDict):
        return type(value)((name, None if sub is None else deepcopy_modules(sub, memo))
                           for name, sub in value.items())
    kind = type(value)
    if kind in _ATOMS or (kind is tuple and all(type(v) in _ATOMS for v in value)):
        return value  # what deepcopy returns for them too
    if kind in (dict, OrderedDict, set) and not value:  # the hook dicts and buffer-name set: empty
        return kind()
    if kind is dict:  # _parameters and _buffers: stand-ins (in the memo) or None
        return {name: copy.deepcopy(v, memo) for name, v in value.items()}
    return copy.deepcopy(value, memo)


def _copies_like_module(cls: type) -> bool:
    """No class between ``cls`` and ``nn.Module`` overrides a copy or pickle hook, and none has slots."""
    plain = _PLAIN.get(cls)
    if plain is None:
        below = cls.__mro__[: cls.__mro__.index(nn.Module)]
        plain = not any(hook in vars(c) for c in below for hook in _COPY_HOOKS)
        _PLAIN[cls] = plain
    return plain
