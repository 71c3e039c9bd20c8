"""One forward pass, watched two ways at once.

* Forward pre/post hooks (global ones, filtered to this model's modules) keep a stack of module paths
  and record each call of a module that has a formula (its ops inside stand down: nothing counts twice).
* A ``TorchFunctionMode`` sees every torch function called from Python: ops outside any module with a
  formula (``x + y``, ``torch.cat``, ``F.adaptive_avg_pool2d``, a channel shuffle's view/transpose) are
  recorded against the innermost module whose forward called them. A module with no formula is thus
  never silently zero: its ops are counted one by one, and the report says so.

On the fast path (everything on ``meta``) a function with a ``meta_rule`` is not run at all: the rule
returns an empty meta tensor of the right shape, skipping torch's slow Python meta decompositions.

Only the analysing thread is watched: the module hooks are global, so each call checks the thread it
runs in, and another thread running the same model is neither recorded nor disturbed. Walkers nest (a
forward that itself calls ``analyze`` on a submodule): only the innermost active walker records.

What ``complete`` means: every op that moves or computes data had a formula. Queries of metadata,
grad-mode switches, asserts and the creation of constants are not ops and are never recorded; an op
with no formula is recorded as uncounted (its tensors' traffic still goes into MAC) and makes the
report a lower bound.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn
from torch.nn.modules import module as torch_module
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode

from flopcount.errors import FormulaError
from flopcount.formulas import REGISTRY, FormulaRegistry, register_optional
from flopcount.plugins import load_plugins
from flopcount.records import FROM_INPUT, FROM_STATE, Cost, LayerRecord, TensorSpec

def _resolve(owner: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        owner = getattr(owner, part, None)
    return owner


# Queries of metadata and creation of constants: no model computation, never recorded.
_IGNORED = frozenset(
    [getattr(torch.Tensor, n) for n in (
        "size", "dim", "numel", "stride", "is_contiguous", "element_size", "data_ptr", "__len__", "__format__",
        "__repr__", "storage_offset", "is_floating_point", "is_complex", "nelement", "ndimension", "get_device",
        "new_empty", "new_zeros", "new_ones", "new_full", "new_tensor", "__hash__", "requires_grad_", "_is_view",
        "untyped_storage", "__reduce_ex__", "__deepcopy__", "__setstate__", "register_hook", "item", "tolist",
        "__bool__", "__int__", "__float__", "__index__", "numpy", "is_inference",
    )]
    + [_resolve(torch, n) for n in (
        "empty", "zeros", "ones", "full", "arange", "empty_like", "zeros_like", "ones_like", "full_like", "rand",
        "randn", "randint", "tensor", "as_tensor", "is_grad_enabled", "is_tensor",
        "linspace", "eye", "get_default_dtype", "is_floating_point", "device", "finfo", "iinfo",
        # grad-mode switches and checks: bookkeeping, not ops (a `@torch.no_grad()` forward calls them)
        "_assert", "_assert_async", "is_inference_mode_enabled", "is_autocast_enabled", "set_grad_enabled",
        "_C._set_grad_enabled", "_C._get_tracing_state", "_C._is_torch_function_enabled",
    ) if _resolve(torch, n) is not None]
)


_ACTIVE = threading.local()  # .walkers: the walkers attached in this thread, innermost last


@contextmanager
def unwatched() -> Iterator[None]:
    """Walkers already active in this thread stop recording until the block ends: for the setup and
    bookkeeping of an ``analyze`` called from inside a watched forward."""
    stack = _active_walkers()
    stack.append(None)
    depth = len(stack)
    try:
        yield
    finally:
        del stack[depth - 1]


def _active_walkers() -> list:
    if not hasattr(_ACTIVE, "walkers"):
        _ACTIVE.walkers = []
    return _ACTIVE.walkers


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Tensors in a (possibly nested) argument, output, list or dict, in order. A list, not a generator:
    it runs several times per op, and nested generators cost a frame per level and item."""
    if isinstance(value, torch.Tensor):
        return [value]
    found: list[torch.Tensor] = []
    _collect_tensors(value, found)
    return found


def _collect_tensors(value: Any, found: list[torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        found.append(value)
        return
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (tuple, list)):
        return
    for item in value:  # a tensor item is taken here, without a call: most items are tensors
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list, dict)):
            _collect_tensors(item, found)


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def spec_of(t: torch.Tensor) -> TensorSpec:
    dtype = t.dtype
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    strides = None if t.is_contiguous() else tuple(t.stride())
    return TensorSpec(tuple(t.shape), name, dtype.itemsize, t.numel(), strides)


def _traffic(specs: tuple[TensorSpec, ...], elements: int | None, nbytes: int | None, itemsize: int,
             base_elements: int = 0, base_bytes: int = 0) -> tuple[int, int]:
    """Elements and bytes read (or written): a formula's own count, at its ``nbytes`` or else ``itemsize``
    per element; without one, every tensor in ``specs`` once at its own item size, plus the base (a
    module's weights)."""
    if elements is not None:
        return elements, nbytes if nbytes is not None else elements * itemsize
    for spec in specs:
        base_elements += spec.numel
        base_bytes += spec.numel * spec.itemsize
    return base_elements, base_bytes


def op_name(func: Any) -> str:
    return getattr(func, "__name__", None) or repr(func)


def _apply(formula: Callable[..., Cost | None], name: str, *args: Any, **kwargs: Any) -> Cost | None:
    try:
        return formula(*args, **kwargs)
    except Exception as error:  # a formula bug must not pass for a failure of the user's forward
        raise FormulaError(f"the formula for {name} failed on this call ({type(error).__name__}: {error}); "
                           "please report it") from error


class _ModuleInfo:
    """What the walker needs of a module, computed once before the forward pass."""

    __slots__ = ("path", "type_name", "formula", "weights", "weight_elems", "weight_bytes", "childless")

    def __init__(self, path: str, module: nn.Module, registry: FormulaRegistry):
        self.path = path
        self.type_name = type(module).__name__
        self.formula = registry.for_module(module)
        self.childless = not module._modules
        self.weights: list[torch.Tensor] = []
        self.weight_elems = self.weight_bytes = 0
        if self.formula is not None:
            # Weights a formula module reads on each call: its parameters and floating buffers (BN
            # stats). A leaf's own dicts are read directly: `parameters()` walks the tree, slowly.
            if self.childless:
                self.weights = [p for p in module._parameters.values() if p is not None]
                buffers = [b for b in module._buffers.values() if b is not None]
            else:
                self.weights, buffers = list(module.parameters()), list(module.buffers())
            for t in self.weights + [b for b in buffers if b.is_floating_point()]:
                elems = t.numel()
                self.weight_elems += elems
                self.weight_bytes += elems * t.element_size()


class Walker(TorchFunctionMode):
    """Records one forward pass of ``model``: ``attach()``, run the forward inside ``with walker:``,
    ``detach()`` in a ``finally``.

    ``state`` lists the tensors that stand for the model's parameters and buffers when they are not the
    model's own (a CPU model analysed through meta stand-ins). ``clock`` (e.g. ``time.perf_counter``)
    makes the walker time each recorded call too, into ``times[record index]``, for ``flopcount bench``.
    """

    def __init__(self, model: nn.Module, registry: FormulaRegistry = REGISTRY, fast: bool = False,
                 state: Iterable[torch.Tensor] = (), clock: Callable[[], float] | None = None):
        super().__init__()
        load_plugins()  # every walk (analyze, bench's timing) sees the formulas of installed plug-ins
        register_optional()  # and those of torchvision.ops once the model's code imported torchvision
        self.registry = registry
        self.fast = fast
        self.clock = clock
        self.times: dict[int, float] = {}
        self._starts: list[float | None] = []
        self.records: list[LayerRecord] = []
        self.uncounted: Counter[str] = Counter()
        self.counted_from_ops: dict[str, str] = {}  # path -> module type, for formula-less leaf modules
        self.modules = list(model.named_modules())  # one walk of the tree, shared with the report
        self._infos = {id(m): (_ModuleInfo(path, m, registry), m) for path, m in self.modules}
        self._stack: list[_ModuleInfo] = []
        self._formula_depth = 0
        self._calls: Counter[tuple[str, str]] = Counter()
        self._producers: dict[int, tuple[weakref.ref, int]] = {}
        self._seen_params: set[int] = set()
        self._state_ids = {id(t) for t in state}
        for _, module in self.modules:
            self._state_ids.update(map(id, module._parameters.values()))
            self._state_ids.update(map(id, module._buffers.values()))
        self._handles: list[Any] = []
        self._thread: int | None = None
        # Called as hook(index, input_tensors, output_tensors) for each record (issue #13: the training
        # analysis reads which inputs need gradients); the walker itself never needs one.
        self.record_hooks: list[Callable[[int, list, list], None]] = []

    def _watching(self) -> bool:
        """True in the analysing thread while this walker is the innermost active one."""
        if threading.get_ident() != self._thread:
            return False
        active = getattr(_ACTIVE, "walkers", None)
        return bool(active) and active[-1] is self

    # -- hooks ---------------------------------------------------------------------------------
    def attach(self) -> None:
        # Global module hooks: two registrations instead of two per module (a 10,000-layer model pays
        # nothing extra). They fire for this model's modules only while attached; others are skipped.
        self._thread = threading.get_ident()
        _active_walkers().append(self)
        self._handles.append(register_module_forward_pre_hook(self._pre_hook))
        self._handles.append(register_module_forward_hook(self._post_hook, with_kwargs=True))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
            # torch's remove() leaves the handle's id in this dict: one leaked entry per analysis.
            torch_module._global_forward_hooks_with_kwargs.pop(handle.id, None)
        self._handles.clear()
        if self in _active_walkers():
            _active_walkers().remove(self)

    def _pre_hook(self, module: nn.Module, args: tuple) -> None:
        entry = self._infos.get(id(module))
        if entry is None or entry[1] is not module or not self._watching():
            return  # not a module of the analysed model (created during forward, or another model)
        info = entry[0]
        self._stack.append(info)
        if info.formula is not None:
            self._formula_depth += 1
        if self.clock is not None:
            timed = info.formula is not None and self._formula_depth == 1  # a call that gets a record
            self._starts.append(self.clock() if timed else None)

    def _post_hook(self, module: nn.Module, args: tuple, *kwargs_and_output: Any) -> None:
        # torch registers a global hook and its with_kwargs flag in two dicts, not atomically: a forward
        # running in another thread while we attach or detach may call us without kwargs. That call is
        # never ours to record (the thread filter below), so both shapes are accepted.
        kwargs, output = kwargs_and_output if len(kwargs_and_output) == 2 else ({}, kwargs_and_output[0])
        entry = self._infos.get(id(module))
        if entry is None or entry[1] is not module or not self._watching():
            return
        end = self.clock() if self.clock is not None else 0.0
        info = self._stack.pop()
        start = self._starts.pop() if self.clock is not None else None
        if info.formula is None:
            return
        self._formula_depth -= 1
        if self._formula_depth:
            return  # inside another formula module, which accounts for this call
        with torch._C.DisableTorchFunction():
            inputs = (*args, *kwargs.values()) if kwargs else args
            cost = _apply(info.formula.cost, info.type_name, module, inputs, output)
            params = 0
            for p in info.weights:
                if id(p) not in self._seen_params:
                    self._seen_params.add(id(p))
                    params += p.numel()
            self._add_record(info.path, info.type_name, "module", inputs, output, cost, params,
                             info.weight_elems, info.weight_bytes)
        if start is not None:
            self.times[len(self.records) - 1] = end - start

    # -- functions -----------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self._formula_depth and not self.fast and self.clock is None:
            return func(*args, **kwargs)  # inside a module with a formula, off the fast path: nothing to do
        if func in _IGNORED or getattr(func, "__name__", None) == "__get__" or not self._watching():
            return func(*args, **kwargs)
        # Inside a module with a formula the op is neither recorded nor (off the fast path) shortcut.
        found = self.registry.for_function(func) if self.fast or not self._formula_depth else None
        out = None
        if self.fast and found is not None and found.meta_rule is not None and kwargs.get("out") is None:
            out = found.meta_rule(*args, **kwargs)
        if out is None:
            if self.clock is not None and self._formula_depth == 0:
                start = self.clock()
                out = func(*args, **kwargs)
                self.times[len(self.records)] = self.clock() - start  # the index the record gets next
            else:
                out = func(*args, **kwargs)
        if self._formula_depth == 0:
            self._record_op(func, found, args, kwargs, out)
        return out

    def _record_op(self, func: Any, found: Any, args: tuple, kwargs: dict, out: Any) -> None:
        info = self._stack[-1] if self._stack else None
        path = info.path if info else ""
        name = op_name(func)
        if info is not None and info.childless and info.formula is None:
            self.counted_from_ops[path] = info.type_name
        # A formula may return None for a call it cannot count (an einsum with '...'): uncounted too.
        cost = _apply(found.cost, name, out, *args, **kwargs) if found is not None else None
        if cost is None:
            self.uncounted[name] += 1
        self._add_record(path, name, "op", (args, kwargs), out, cost, 0, 0, 0)

    # -- records -------------------------------------------------------------------------------
    def _add_record(self, path: str, op: str, source: str, inputs: Any, output: Any, cost: Cost | None, params: int,
                    weight_elems: int, weight_bytes: int) -> None:
        in_tensors = tensors_in(inputs)
        out_tensors = tensors_in(output)
        index = len(self.records)
        producers = self._producers
        input_from = []
        for t in in_tensors:  # the record that made it, else a model input or the model's own state
            entry = producers.get(id(t))
            input_from.append(entry[1] if entry is not None and entry[0]() is t
                              else FROM_STATE if id(t) in self._state_ids else FROM_INPUT)
        for t in out_tensors:
            producers[id(t)] = (weakref.ref(t), index)
        for hook in self.record_hooks:
            hook(index, in_tensors, out_tensors)
        in_specs = tuple([spec_of(t) for t in in_tensors])
        out_specs = tuple([spec_of(t) for t in out_tensors])
        # An op with no formula still moves its tensors: its MAC is known even though its FLOPs are not.
        out_itemsize = out_specs[0].itemsize if out_specs else 4
        reads, read_bytes = _traffic(in_specs, cost and cost.reads, cost and cost.read_bytes, out_itemsize,
                                     weight_elems, weight_bytes)
        writes, write_bytes = _traffic(out_specs, cost and cost.writes, cost and cost.write_bytes, out_itemsize)
        if cost is None:
            flops, category, counted, attrs = 0, "uncounted", False, {}
        else:
            flops, category, counted, attrs = cost.flops, cost.category, True, cost.attrs
        mac, mac_bytes = reads + writes, read_bytes + write_bytes
        key = (path, op)
        call = self._calls.get(key, 0)
        self._calls[key] = call + 1
        self.records.append(LayerRecord(
            index=index, path=path, op=op, source=source,
            inputs=in_specs, outputs=out_specs, flops=int(flops), category=category, mac=int(mac),
            mac_bytes=int(mac_bytes), params=params, attrs=dict(attrs), call=call, counted=counted,
            input_from=tuple(input_from),
        ))
