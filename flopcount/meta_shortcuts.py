"""How the live-memory tracker answers each aten op on ``meta`` cheaply (``answer_on_meta``).

Torch's meta kernels for convolution, its backward, pooling, batch norm and the pointwise ops run
Python decompositions (~1.5 ms each); the tracker only needs each result's shape, strides and dtype.
An op is answered by its shape rule (``meta_rules``), else the element-wise shortcut here, else torch's
kernel; the shortcuts handle the plain valid case and return None for anything else, so that torch's
own kernel runs and raises its own error. Repeats of any other op come from a memo of its first result.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from flopcount.meta_rules import META, META_RULES, fresh_like
from flopcount.walker import tensors_in

_BOOLEAN_RESULT = frozenset({
    "eq", "ne", "lt", "gt", "le", "ge", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit",
    "logical_and", "logical_or", "logical_not", "logical_xor", "isreal",
})


_SCALAR_KWARGS = frozenset({"alpha", "value", "rounding_mode"})


@functools.lru_cache(maxsize=None)
def _pointwise_kind(func) -> str | None:
    """"in-place" or "out-of-place" for an element-wise op with one result, else None (static facts of
    the op's schema, looked up once: reading ``_schema`` builds Python objects on each access)."""
    if torch.Tag.pointwise not in func.tags:
        return None
    schema = func._schema
    if len(schema.returns) != 1 or not schema.arguments:
        return None
    alias = schema.returns[0].alias_info
    if alias is not None:
        return "in-place" if alias.is_write and schema.arguments[0].alias_info is not None else None
    return None if schema.name.removeprefix("aten::") in _BOOLEAN_RESULT else "out-of-place"


def pointwise_on_meta(func, args: tuple, kwargs: dict | None) -> Any:
    """The result of an element-wise aten op on meta, without its meta kernel (many run as slow Python
    decompositions: ~0.3 ms each, thousands per training step). In-place: the op returns its first
    argument, allocating nothing. Out-of-place, when every tensor is a meta tensor of one floating
    dtype and one of them has the broadcast shape: a fresh tensor like it (same strides, as
    TensorIterator keeps them). Anything else (promotion, every operand broadcast, boolean results)
    returns None: torch's kernel decides."""
    kind = _pointwise_kind(func)
    return None if kind is None else _pointwise_result(kind, args, kwargs)


def _pointwise_result(kind: str, args: tuple, kwargs: dict | None) -> Any:
    if not args or kwargs and not _SCALAR_KWARGS.issuperset(kwargs):
        return None  # clone(memory_format=...), _to_copy(dtype=...): layout or dtype change, torch decides
    first = args[0]
    if not isinstance(first, torch.Tensor):
        return None
    # Plain loops, no generators: this runs for thousands of ops per training step.
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if kwargs:
        tensors += [a for a in kwargs.values() if isinstance(a, torch.Tensor)]
    dtype = first.dtype
    for t in tensors:
        if not t.is_meta or t.dtype != dtype:
            return None
    if not first.is_floating_point():
        return None
    if kind == "in-place":
        return first
    shape = first.shape
    for t in tensors:
        if t.shape != shape:
            break
    else:  # one shape (an activation's backward, x + y in a residual): like the first
        return fresh_like(first)
    # Like the first operand that has the result's shape (a scale (N, C, 1, 1) times x: like x): one
    # whose shape every other operand broadcasts to (torch.broadcast_shapes is a slow Python reference).
    for full in tensors:
        shape = full.shape
        if all(t.dim() <= len(shape) and all(a == b or a == 1 for a, b in zip(reversed(t.shape), reversed(shape)))
               for t in tensors):
            return fresh_like(full)
    return None


def all_meta(args: Any) -> bool:
    """Every tensor in the arguments of an aten op (nested in lists, tuples, dicts) is on meta: plain
    loops, it runs per op. An aten list is typed: one that starts with a number (a convolution's stride)
    holds no tensor."""
    for item in args.values() if isinstance(args, dict) else args:
        if isinstance(item, torch.Tensor):
            if not item.is_meta:
                return False
        elif isinstance(item, (tuple, list)):
            if item and type(item[0]) in _NUMBERS:
                continue
            for sub in item:
                if isinstance(sub, torch.Tensor):
                    if not sub.is_meta:
                        return False
                elif isinstance(sub, (tuple, list, dict)) and not all_meta(sub):
                    return False
        elif isinstance(item, dict) and not all_meta(item):
            return False
    return True


_NUMBERS = frozenset((int, float, bool))


class MetaMemo:
    """Runs an op's meta kernel once per signature (op, shapes, strides, dtypes, other arguments) and
    answers repeats with fresh empty tensors of the same metadata: a network repeats its blocks, and
    meta kernels like batch norm's forward and backward run Python (~1.5 ms each). Ops whose result
    aliases an argument (views, in-place, out=) are never memoised."""

    def __init__(self) -> None:
        self._results: dict[Any, Any] = {}

    def call(self, func, args: tuple, kwargs: dict) -> Any:
        if _returns_alias(func):  # views, in-place and out= ops: cheap C++ kernels, never memoised
            return func(*args, **kwargs)
        key = self._key(func, args, kwargs)
        if key is not None:
            found = self._results.get(key)
            if found is not None:
                return _rebuild(found)
        out = func(*args, **kwargs)
        if key is not None and not _aliases_argument(out, args, kwargs):
            layout = _layout(out)
            if layout is not None:
                self._results[key] = layout
        return out

    @staticmethod
    def _key(func, args: tuple, kwargs: dict) -> Any:
        parts: list[Any] = [func]
        for value in (*args, *sorted(kwargs.items())):
            part = _signature(value)
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)


@functools.lru_cache(maxsize=None)
def _returns_alias(func) -> bool:
    """True when the op's schema says a result aliases an argument (read once per op)."""
    schema = getattr(func, "_schema", None)
    return schema is not None and any(r.alias_info is not None for r in schema.returns)


def _signature(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.device.type != "meta":
            return None
        return ("T", tuple(value.shape), value.stride(), value.dtype, value.requires_grad)
    if isinstance(value, (list, tuple)):
        parts = [_signature(v) for v in value]
        return None if any(p is None for p in parts) else (type(value).__name__, *parts)
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype, torch.device, torch.layout,
                                           torch.memory_format)):
        return ("V", type(value).__name__, value)
    return None


def _layout(out: Any) -> Any:
    if out is None:
        return ("None",)
    if isinstance(out, torch.Tensor):
        if out.device.type != "meta" or out.storage_offset() != 0:
            return None
        return ("T", tuple(out.shape), out.stride(), out.dtype, out.untyped_storage().nbytes())
    if isinstance(out, (tuple, list)):
        parts = [_layout(o) for o in out]
        return None if any(p is None for p in parts) else (type(out), *parts)
    return None


def _rebuild(layout: Any) -> Any:
    if layout[0] == "None":
        return None
    if layout[0] == "T":
        _, shape, stride, dtype, nbytes = layout
        t = torch.empty_strided(shape, stride, dtype=dtype, device=META)
        return t if t.untyped_storage().nbytes() == nbytes else None
    return layout[0](_rebuild(part) for part in layout[1:])


def _aliases_argument(out: Any, args: tuple, kwargs: dict) -> bool:
    inputs = {id(t.untyped_storage()) for t in tensors_in((args, kwargs))}
    return any(id(t.untyped_storage()) in inputs for t in tensors_in(out))


def answer_on_meta(func, args: tuple, kwargs: dict, memo: MetaMemo) -> Any:
    """``func(*args, **kwargs)`` with meta tensors: a shape rule of ``META_RULES`` when one applies, else
    the element-wise shortcut, else torch's kernel (memoised by ``memo`` unless the result aliases an
    argument). What the op is (its rule, whether it is element-wise, whether it returns an alias) is
    looked up once per op: a training step dispatches thousands of ops, most of them repeats."""
    plan = _PLANS.get(id(func))  # by id: an OpOverload hashes in Python; each lives as long as torch
    if plan is None or plan[0] is not func:
        # An alias op's kernel is called as OpOverload.__call__ calls it (its _op), one Python frame less;
        # so are the C++ kernels of _CHEAP: cheaper than the memo's key.
        direct = _returns_alias(func) or func in _CHEAP
        kernel = getattr(func, "_op", func) if direct else None
        plan = _PLANS[id(func)] = (func, META_RULES.get(func), _pointwise_kind(func), kernel)
    _, rule, pointwise, direct_kernel = plan
    if rule is not None and all_meta(args):
        out = rule(*args, **kwargs)
        if out is not None:
            return out
    if pointwise is not None:
        out = _pointwise_result(pointwise, args, kwargs)
        if out is not None:
            return out
    if direct_kernel is not None:  # views, in-place and out= ops, factories: cheap C++ kernels, never memoised
        return direct_kernel(*args, **kwargs)
    return memo.call(func, args, kwargs)


_aten = torch.ops.aten
_PLANS: dict[int, tuple[Any, Any, str | None, Any]] = {}
# Ops with C++ meta kernels that a step runs often: factories (the empty reserve tensor of every training
# batch norm) and the view a channel shuffle's reshape makes.
_CHEAP = frozenset((_aten.empty.memory_format, _aten.empty_strided.default, _aten._unsafe_view.default))
