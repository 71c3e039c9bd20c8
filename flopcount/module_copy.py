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
_EMPTY_FRESH = frozenset((dict, OrderedDict, set))
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
    state = {}
    # nn.Module.__getstate__ is the instance dict without the compiled forward: read the dict itself.
    for key, value in module.__dict__.items():
        kind = type(value)
        if kind in _ATOMS:  # most attributes: deepcopy returns them as they are
            state[key] = value
        elif kind in _EMPTY_FRESH and not value:  # a dozen empty hook dicts per module
            state[key] = kind()
        elif key != "_compiled_call_impl":
            state[key] = _copy_value(key, value, memo)
    state.pop("_compiled_call_impl", None)
    clone.__setstate__(state)
    return clone


def _copy_value(key: str, value: Any, memo: dict[int, Any]) -> Any:
    kind = type(value)
    if key == "_modules" and kind is dict:
        return {name: None if sub is None else deepcopy_modules(sub, memo) for name, sub in value.items()}
    if key == "_modules" and kind is OrderedDict:
        return kind((name, None if sub is None else deepcopy_modules(sub, memo)) for name, sub in value.items())
    if kind is tuple and all(type(v) in _ATOMS for v in value):
        return value  # kernel sizes, strides, paddings: deepcopy returns them as they are too
    if kind is dict:  # _parameters and _buffers: stand-ins (in the memo) or None
        return {name: memo[id(v)] if id(v) in memo else copy.deepcopy(v, memo) for name, v in value.items()}
    if kind is list and all(type(v) in _ATOMS for v in value):  # a conv's _reversed_padding_repeated_twice
        found = memo.get(id(value))
        if found is None:  # what deepcopy does for a list of atoms: a new list, remembered, kept alive
            found = memo[id(value)] = list(value)
            memo.setdefault(id(memo), []).append(value)
        return found
    return copy.deepcopy(value, memo)


def _copies_like_module(cls: type) -> bool:
    """No class between ``cls`` and ``nn.Module`` overrides a copy or pickle hook, and none has slots."""
    plain = _PLAIN.get(cls)
    if plain is None:
        below = cls.__mro__[: cls.__mro__.index(nn.Module)]
        plain = not any(hook in vars(c) for c in below for hook in _COPY_HOOKS)
        _PLAIN[cls] = plain
    return plain
