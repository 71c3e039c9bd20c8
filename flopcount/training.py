"""One training step on ``meta``: forward + backward + optimizer step, counted and measured.

Autograd works on meta, so the step really runs, shape-only: the walker records the forward as for
inference, a ``LiveBytes`` tracker (flopcount.memory) follows every storage of the forward, of the
backward and of the optimizer step, and a saved-tensors hook sees what autograd keeps for backward.
Nothing is estimated that the step itself can show: which tensors need gradients (a frozen parameter
skips its weight gradient, the first layer its input gradient), what is saved and when it is freed;
what the optimizer allocates follows torch's implementation (``OPTIMIZERS``). ``torch.utils.checkpoint`` works the same way: its region saves nothing
(its own hooks take over) and its forward runs again during backward, where the walker records it:
those recompute FLOPs are added to the step.

Backward FLOPs come from the forward records through flopcount.formulas.backward. The step analysed
stands for a training loop's later steps: parameters, buffers and optimizer state exist through all of
it (see ``_step_peak``), and its peak is them plus the highest live bytes seen during the step.
Attention runs the fused kernel CPU would pick (``meta_attention``), not meta's fallback.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from flopcount.errors import FlopcountError, ForwardError, UsageError
from flopcount.formulas import REGISTRY, FormulaRegistry
from flopcount.formulas.backward import GradNeeds, backward_cost
from flopcount.memory import LiveBytes, MemoryProfile, record_levels, storage_bytes
from flopcount.meta_attention import fused_attention_as_on_cpu
from flopcount.report import Report
from flopcount.training_setup import cast_floating, named_state, step_copy, train_mode, trainable_paths
from flopcount.walker import Walker, spec_of, tensors_in

@dataclass(frozen=True)
class OptimizerMemory:
    """What torch's optimizer allocates per parameter tensor, in its single-tensor implementation (the
    one CPU and meta take; foreach is for CUDA): state tensors like the parameter, float32 step
    counters, and temporaries like the parameter alive at once during that parameter's update. Computed,
    not run: a torch optimizer costs a few hundred dispatched ops a step, and its construction imports
    torch._dynamo (1-3 s). tests/test_training.py holds these to MemTracker on real SGD, momentum and AdamW."""

    moments: int
    step_counters: int
    update_temporaries: int
    held_over: int = 0  # temporaries of the previous parameter still bound to a loop variable


OPTIMIZERS = {
    "sgd": OptimizerMemory(0, 0, 0),  # param.add_(grad, alpha=-lr): in place
    "momentum": OptimizerMemory(1, 0, 0),  # buf = grad.clone() once, then buf.mul_().add_(): in place
    # exp_avg and exp_avg_sq, a 0-d float32 step; denom = (exp_avg_sq.sqrt() / bias_correction).add_(eps)
    # holds sqrt's result and the quotient at once, while the previous parameter's denom is still bound
    "adam": OptimizerMemory(2, 1, 2, 1),
    "adamw": OptimizerMemory(2, 1, 2, 1),
}
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_REQUIRES_GRAD = operator.attrgetter("requires_grad")


@dataclass(frozen=True)
class TrainingProfile:
    """FLOPs (multiply-adds) and memory (bytes) of one training step. Per-record tuples are indexed
    like ``Report.records`` (the forward's records)."""

    optimizer: str
    amp: str | None
    forward_flops: int
    forward_paper_flops: int
    input_grad_flops: tuple[int, ...]
    weight_grad_flops: tuple[int, ...]
    paper: tuple[bool, ...]  # the record's category is in the paper total (conv, linear, matmul, attention)
    recompute_flops: int  # forward FLOPs run again during backward (activation checkpointing)
    recompute_paper_flops: int
    saved_bytes: tuple[int, ...]  # activations autograd saves for backward, per record (each storage once)
    param_bytes: int
    buffer_bytes: int
    grad_bytes: int
    optimizer_state_bytes: int  # moments, step counters, and fp32 master weights under amp
    peak_step_bytes: int  # everything live at the step's peak, state included
    peak_phase: str  # "forward", "backward" or "optimizer step"
    peak_live_bytes: int  # the part of the peak the step allocated (activations, gradients, temporaries)

    @property
    def backward_flops(self) -> int:
        return sum(self.input_grad_flops) + sum(self.weight_grad_flops) + self.recompute_flops

    @property
    def backward_paper_flops(self) -> int:
        own = sum(i + w for i, w, p in zip(self.input_grad_flops, self.weight_grad_flops, self.paper) if p)
        return own + self.recompute_paper_flops

    @property
    def train_flops(self) -> int:
        return self.forward_flops + self.backward_flops

    @property
    def train_paper_flops(self) -> int:
        return self.forward_paper_flops + self.backward_paper_flops

    @property
    def saved_activation_bytes(self) -> int:
        return sum(self.saved_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "amp": self.amp,
            "forward_flops": self.forward_flops,
            "backward_flops": self.backward_flops,
            "input_grad_flops": sum(self.input_grad_flops),
            "weight_grad_flops": sum(self.weight_grad_flops),
            "recompute_flops": self.recompute_flops,
            "train_flops": self.train_flops,
            "train_paper_flops": self.train_paper_flops,
            "saved_activation_bytes": self.saved_activation_bytes,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "grad_bytes": self.grad_bytes,
            "optimizer_state_bytes": self.optimizer_state_bytes,
            "peak_step_bytes": self.peak_step_bytes,
            "peak_phase": self.peak_phase,
            "records": [
                {"input_grad_flops": i, "weight_grad_flops": w, "saved_bytes": s}
                for i, w, s in zip(self.input_grad_flops, self.weight_grad_flops, self.saved_bytes)
            ],
        }


def analyze_training(model: nn.Module, input_size: Any = None, *, inputs: Any = None, device: Any = None,
                     name: str | None = None, registry: FormulaRegistry = REGISTRY, optimizer: str = "adamw",
                     amp: str | None = None, modules: list[tuple[str, nn.Module]] | None = None) -> Report:
    """``analyze(model, ..., train=True)``: the forward's Report, with ``.training`` (TrainingProfile)
    and ``.memory`` (live bytes of the forward, peak over the whole step). Always runs on meta.
    ``modules``: the model's (path, module) pairs when the caller has walked them already."""
    # Imported here: analysis imports this module lazily, and its helpers are the same for both passes.
    from flopcount.analysis import _build_report, _copy_tensors, _split_inputs
    from flopcount.inputs import make_tensor, normalize_input_size

    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    if amp is not None and amp not in AMP_DTYPES:
        raise UsageError(f"unknown amp {amp!r}: choose bf16 or fp16")
    if device is not None and torch.device(device).type != "meta":
        raise UsageError("a training step is analysed on meta only (device='meta' or none)")
    half = AMP_DTYPES.get(amp) if amp else None
    if inputs is None:
        args, kwargs = tuple(make_tensor(s, "meta") for s in normalize_input_size(input_size)), {}
    else:
        args, kwargs = _copy_tensors(_split_inputs(inputs), torch.device("meta"))
    if half is not None:
        args, kwargs = cast_floating((args, kwargs), half)

    watched = step_copy(model, half, modules)
    named_params, named_buffers = named_state(watched)
    stand_ins = dict((*named_params, *named_buffers))
    params = [t for t in dict.fromkeys(stand_ins.values()) if t.requires_grad]
    masters = [torch.empty_like(p, dtype=torch.float32).requires_grad_() for p in params] if half else params
    rule = OPTIMIZERS[optimizer]

    walker = Walker(watched, registry, fast=False)
    needs_inputs: list[tuple[bool, ...]] = []
    walker.record_hooks.append(lambda index, ins, outs: needs_inputs.append(tuple(map(_REQUIRES_GRAD, ins))))
    stage = {"name": "forward"}
    external = [*stand_ins.values(), *tensors_in((args, kwargs)), *masters]
    tracker = LiveBytes(external=external, phase=lambda: len(walker.records) if stage["name"] == "forward" else stage["name"],
                       shortcut=True)
    external_ids = {id(t.untyped_storage()) for t in external}
    saved: dict[int, int] = {}  # storage id -> record index that saved it first
    saved_bytes: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if stage["name"] == "forward":
            storage = t.untyped_storage()
            key = id(storage)
            if key not in external_ids and key not in saved:
                index = len(walker.records)
                saved[key] = index
                saved_bytes[index] = saved_bytes.get(index, 0) + storage.nbytes()
        return t

    described = ", ".join(str(spec_of(t)) for t in tensors_in((args, kwargs)))
    train_mode(watched, walker.modules)
    walker.attach()
    try:
        with torch.enable_grad(), fused_attention_as_on_cpu(), tracker:
            forward_end = _forward_backward(watched, args, kwargs, walker, tracker, stage, pack)
            grad_bytes = storage_bytes([p.grad for p in params if p.grad is not None])
            stage["name"] = "optimizer step"
            if half is not None:  # the half gradients become the fp32 master weights' gradients
                for p, m in zip(params, masters):
                    m.grad = None if p.grad is None else p.grad.float()
                    p.grad = None
            updated = [m for m in masters if m.grad is not None]
            before_update = tracker.live
            for p in (*params, *masters):
                p.grad = None
            tracker.finish()
    except FlopcountError:
        raise
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ForwardError(f"training step of {name or type(model).__name__} failed on input {described} (meta): "
                           f"{type(error).__name__}: {message}") from error
    finally:
        walker.detach()

    moments = rule.moments * storage_bytes(updated) + rule.step_counters * 4 * len(updated)
    state_bytes = moments + (storage_bytes(masters) if half is not None else 0)
    sizes = [0, *(storage_bytes([m]) for m in updated)]
    update_peak = before_update + max(rule.update_temporaries * now + rule.held_over * previous
                                      for previous, now in zip(sizes, sizes[1:] or [0]))
    tracker.peak_in_phase["optimizer step"] = max(tracker.peak_in_phase.get("optimizer step", 0), update_peak)
    peak_live, peak_phase = _step_peak(tracker, moments)
    recompute = walker.records[forward_end:]
    del walker.records[forward_end:]
    report = _build_report(watched, name or type(model).__name__, walker, (args, kwargs), torch.device("meta"))
    trainable = trainable_paths(named_params)
    input_grads, weight_grads = [], []
    for record, flags in zip(report.records, needs_inputs):
        weights = record.source == "module" and record.path in trainable
        cost = backward_cost(record, GradNeeds(flags, weights))
        input_grads.append(cost.input_grad)
        weight_grads.append(cost.weight_grad)
    base = _memory_profile(tracker, report, named_params, stand_ins, args, kwargs, state_bytes,
                           peak_live - moments)
    if not (isinstance(peak_phase, int) and peak_phase < len(report.records)):
        base = dataclasses.replace(base, peak_record=-1)
    elif base.peak_record != peak_phase:
        base = dataclasses.replace(base, peak_record=peak_phase)
    report.memory = base
    report.training = TrainingProfile(
        optimizer=optimizer,
        amp=amp,
        forward_flops=report.totals.flops,
        forward_paper_flops=report.totals.paper_flops,
        input_grad_flops=tuple(input_grads),
        weight_grad_flops=tuple(weight_grads),
        paper=tuple(r.is_paper for r in report.records),
        recompute_flops=sum(r.flops for r in recompute),
        recompute_paper_flops=sum(r.flops for r in recompute if r.is_paper),
        saved_bytes=tuple(saved_bytes.get(i, 0) for i in range(len(report.records))),
        param_bytes=base.param_bytes,
        buffer_bytes=base.buffer_bytes,
        grad_bytes=grad_bytes,
        optimizer_state_bytes=state_bytes,
        peak_step_bytes=base.peak_memory_bytes,
        peak_phase=peak_phase if isinstance(peak_phase, str) else "forward",
        peak_live_bytes=peak_live,
    )
    return report


def _forward_backward(model, args, kwargs, walker, tracker, stage, pack) -> int:
    """Forward (recorded, saved tensors seen), a sum of the outputs as the loss, backward. Returns the
    number of forward records: records after them were made during backward (recompute)."""
    with walker, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = model(*args, **kwargs)
    tracker.finish()
    forward_end = len(walker.records)
    stage["name"] = "backward"
    roots = [o for o in tensors_in(output) if o.requires_grad]
    if not roots:
        raise UsageError("no output of the model needs a gradient: nothing to train")
    loss = sum(o.sum() for o in roots)  # any scalar loss: its gradient is what backward starts from
    del output, roots
    with walker:  # a checkpointed region's forward runs again here: record it
        _run_backward(loss)
    return forward_end


def _run_backward(loss: torch.Tensor) -> None:
    engine_backward = getattr(torch.autograd.graph, "_engine_run_backward", None)
    if engine_backward is None:  # older torch: the recompute is then recorded at module level only
        torch.autograd.backward(loss)
        return
    # torch.autograd.backward goes through __torch_function__, which would run the whole backward with the
    # walker's mode switched off and hide a checkpoint's recomputed ops from it; the engine call does not.
    engine_backward((loss,), (torch.ones_like(loss),), False, False, (), True, True)


def _step_peak(tracker: LiveBytes, state_bytes: int) -> tuple[int, Any]:
    """Peak live bytes of a training loop's step (not its first), and where it happens: a later step
    carries the optimizer's moments and step counters (``state_bytes``) through every phase."""
    best, where = 0, None
    for phase, peak in tracker.peak_in_phase.items():
        value = peak + state_bytes
        if value > best:
            best, where = value, phase
    return best, where


def _memory_profile(tracker: LiveBytes, report: Report, named_params: list[tuple[str, torch.Tensor]],
                    stand_ins: dict[str, torch.Tensor], args: tuple, kwargs: dict, state_bytes: int,
                    peak_activation_bytes: int) -> MemoryProfile:
    """Live bytes of the training forward per record; the peak is the whole step's, optimizer state included."""
    names = {key for key, _ in named_params}
    params = list(dict.fromkeys(t for key, t in stand_ins.items() if key in names))
    buffers = list(dict.fromkeys(t for key, t in stand_ins.items() if key not in names))
    live_after, peak_during, peak_record = record_levels(tracker, len(report.records))
    return MemoryProfile(
        param_bytes=storage_bytes(params),
        buffer_bytes=storage_bytes(buffers),
        input_bytes=storage_bytes(tensors_in((args, kwargs))),
        live_after=live_after,
        peak_during=peak_during,
        peak_activation_bytes=peak_activation_bytes,
        peak_record=peak_record,
        param_elems_by_dtype=_elems_by_dtype(params),  # the step's own weights (half under amp)
        optimizer_state_bytes=state_bytes,
    )


def _elems_by_dtype(tensors: list[torch.Tensor]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in tensors:
        name = str(t.dtype).removeprefix("torch.")
        counts[name] = counts.get(name, 0) + t.numel()
    return counts
