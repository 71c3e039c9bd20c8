"""Live memory of one forward pass under eager execution, measured on the same pass that is counted.

A ``LiveBytes`` tracker is a ``TorchDispatchMode`` that sees every aten op the pass runs (on ``meta``
as on a real device) and keeps a weak reference to the storage of every tensor an op returns. A
storage counts from the op that allocates it until the last tensor using it dies: the callback of a
weak reference to its storage object fires exactly when CPython's reference count drops to zero, which
is when eager PyTorch frees it. So liveness needs no graph analysis and gets the hard cases right by construction:

* a view (``view``, ``flatten``, a slice, ``transpose``) returns a known storage: it allocates nothing;
* an in-place op (``relu_``, ``x += y``) returns its input: it allocates nothing;
* a tensor that a Python variable, a module or autograd still holds stays live; one whose last user
  has run and that nothing holds is freed at once (a residual branch's input lives until the add).

This is what ``torch.distributed._tools.mem_tracker.MemTracker`` does on a real model: it also tracks
storages per aten op and takes the peak after each op. Tensors that exist before the pass (the model's
parameters and buffers, its inputs) are counted apart, as MemTracker counts parameters and buffers
apart and does not count inputs unless told to (``track_external``). With ``shortcut``, ops on meta are
answered by shape arithmetic (:mod:`flopcount.meta_shortcuts`) instead of torch's Python meta kernels.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from flopcount.meta_shortcuts import MetaMemo, answer_on_meta
from flopcount.walker import tensors_in

# Bits per weight for the what-if of storing the parameters in another dtype.
WEIGHT_DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "int8": 8, "int4": 4}


def storage_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (tied weights and views count once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[id(storage)] = storage.nbytes()
    return sum(seen.values())


class LiveBytes(TorchDispatchMode):
    """Bytes of the storages allocated inside the ``with`` block that are still alive, op by op.

    ``phase()`` tells which step of the analysis each op belongs to (the index of the record the walker
    is building, for instance): the tracker keeps the live bytes when each phase ends and the highest
    value seen during it. ``external`` tensors (parameters, buffers, inputs) are never counted here.
    ``shortcut=True`` answers element-wise ops on meta tensors without running their meta kernels
    (see ``pointwise_on_meta``): below autograd, so gradients flow as before, and far faster.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ in dynamo.disable, whose first call imports
        # torch._dynamo (3-5 s); nothing here is ever compiled.
        return False

    def __init__(self, external: Iterable[torch.Tensor] = (), phase=lambda: 0, shortcut: bool = False):
        super().__init__()
        self.shortcut = shortcut
        self._memo = MetaMemo()
        self._external = {id(t.untyped_storage()): t.untyped_storage() for t in external}
        self._live: dict[int, _StorageRef] = {}  # storage id -> a weak reference that says when it dies
        self._phase = phase
        self.live = 0
        self.peak = 0
        self.peak_phase: Any = None
        self.end_of_phase: dict[Any, int] = {}
        self.peak_in_phase: dict[Any, int] = {}
        self._current: Any = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        # Our own bookkeeping (storage, stride, empty tensors) must not reach a TorchFunctionMode above
        # us (the walker's): it would record nothing, slowly. One frame: this runs for every aten op.
        with torch._C.DisableTorchFunction():
            phase = self._phase()
            if phase != self._current:
                if self._current is not None:
                    self.end_of_phase[self._current] = self.live
                self._current = phase
            if self.shortcut:
                out = answer_on_meta(func, args, kwargs or {}, self._memo)
            else:
                out = func(*args, **(kwargs or {}))
            if type(out) is torch.Tensor:
                self.add(out)
            else:
                for t in tensors_in(out):
                    self.add(t)
            live = self.live
            if live > self.peak_in_phase.get(phase, -1):
                self.peak_in_phase[phase] = live
                if live > self.peak:
                    self.peak, self.peak_phase = live, phase
            return out

    def add(self, t: torch.Tensor) -> None:
        """Start counting ``t``'s storage (if new) until it dies."""
        storage = t.untyped_storage()
        key = id(storage)
        if key in self._live or key in self._external:
            return
        ref = _StorageRef(storage, self._free)
        ref.key, ref.nbytes = key, storage.nbytes()
        self._live[key] = ref
        self.live += ref.nbytes

    def _free(self, ref: "_StorageRef") -> None:
        self.live -= self._live.pop(ref.key).nbytes

    def finish(self) -> None:
        """Close the last phase (call after the pass, while its outputs are still held)."""
        if self._current is not None:
            self.end_of_phase[self._current] = self.live


class _StorageRef(weakref.ref):
    """A weak reference to a tracked storage, whose callback fires exactly when CPython frees the storage
    (what ``weakref.finalize`` does, without its registry: one is made per allocation of the pass)."""

    __slots__ = ("key", "nbytes")


@dataclass(frozen=True)
class MemoryProfile:
    """Inference memory of one forward pass (bytes). Activations are the tensors the pass allocates;
    parameters, buffers and inputs exist before it and are counted apart."""

    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    live_after: tuple[int, ...]  # activation bytes live after each record (index = record index)
    peak_during: tuple[int, ...]  # highest activation bytes while each record ran
    peak_activation_bytes: int
    peak_record: int  # index of the record during which the peak happens (-1: no record)
    param_elems_by_dtype: dict[str, int] = field(default_factory=dict)
    optimizer_state_bytes: int = 0  # training step only: moments, step counters, fp32 master weights

    @property
    def peak_memory_bytes(self) -> int:
        """Everything live at the peak: activations, parameters and buffers (MemTracker's total), and in a
        training step the gradients and temporaries (in ``peak_activation_bytes``) and optimizer state."""
        return self.peak_activation_bytes + self.param_bytes + self.buffer_bytes + self.optimizer_state_bytes

    def raised_by(self) -> tuple[int, ...]:
        """Activation bytes each record raised the live memory by while it ran: its highest level minus
        the level before it (what it allocated, outputs and temporaries, above what was already live; 0
        for a view or an in-place op). Unlike the levels themselves, these add up over a module's calls."""
        before = (0,) + self.live_after[:-1]
        return tuple(max(0, peak - level) for peak, level in zip(self.peak_during, before))

    def weights_as(self, dtype: str) -> int:
        """Bytes of the parameters if every floating parameter were stored as ``dtype``."""
        bits = WEIGHT_DTYPE_BITS[dtype]
        floating = sum(n for name, n in self.param_elems_by_dtype.items() if name in _FLOATING)
        other = self.param_bytes - sum(n * _ITEMSIZE[name] for name, n in self.param_elems_by_dtype.items()
                                       if name in _FLOATING)
        return math.ceil(floating * bits / 8) + other

    def weights_what_if(self) -> dict[str, int]:
        return {dtype: self.weights_as(dtype) for dtype in WEIGHT_DTYPE_BITS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "peak_record": self.peak_record,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "input_bytes": self.input_bytes,
            "optimizer_state_bytes": self.optimizer_state_bytes,
            "weights_what_if_bytes": self.weights_what_if(),
            "live_after_bytes": list(self.live_after),
            "peak_during_bytes": list(self.peak_during),
        }


_FLOATING = {"float32", "float64", "float16", "bfloat16"}
_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}


def unique_state(model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The model's parameters and buffers, each tensor once."""
    params = list({id(p): p for p in model.parameters()}.values())
    buffers = list({id(b): b for b in model.buffers()}.values())
    return params, buffers


def profile_from(tracker: LiveBytes, records: Sequence[Any], model: nn.Module, inputs: Iterable[torch.Tensor]) -> MemoryProfile:
    """Turn a tracker run over a walked forward (phases = record indices) into a MemoryProfile."""
    params, buffers = unique_state(model)
    by_dtype: dict[str, int] = {}
    for p in params:
        name = str(p.dtype).removeprefix("torch.")
        by_dtype[name] = by_dtype.get(name, 0) + p.numel()
    live_after, peak_during, peak_record = record_levels(tracker, len(records))
    return MemoryProfile(
        param_bytes=storage_bytes(params),
        buffer_bytes=storage_bytes(buffers),
        input_bytes=storage_bytes(inputs),
        live_after=live_after,
        peak_during=peak_during,
        peak_activation_bytes=tracker.peak,
        peak_record=peak_record,
        param_elems_by_dtype=by_dtype,
    )


def record_levels(tracker: LiveBytes, count: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Live bytes after each of ``count`` records (phases = record indices), the highest during each, and
    the record during which the tracker's peak happened (-1: none of them)."""
    live_after, peak_during = [], []
    last = 0
    for index in range(count):
        # A record that ran no op of its own (a view answered by a shape rule) keeps the level before it.
        last = tracker.end_of_phase.get(index, last)
        live_after.append(last)
        peak_during.append(tracker.peak_in_phase.get(index, last))
    peak_record = tracker.peak_phase if isinstance(tracker.peak_phase, int) and tracker.peak_phase < count else -1
    return tuple(live_after), tuple(peak_during), peak_record
