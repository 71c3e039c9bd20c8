"""analyze(): run one watched forward pass and turn its records into a Report.

The model is left exactly as it was: hooks are removed in ``finally``, and a model on a real device
whose buffers a forward would change (BatchNorm running statistics in training mode) gets them back.
Analysing on ``meta`` swaps in shape-only copies of the parameters for the pass (``functional_call``),
so nothing of the size of the model or its activations is allocated.
"""

from __future__ import annotations

import contextlib
from typing import Any, Mapping

import torch
from torch import nn

from flopcount.errors import FlopcountError, ForwardError, UsageError
from flopcount.formulas import REGISTRY, FormulaRegistry
from flopcount.inputs import make_tensor, normalize_input_size
from flopcount.report import Report, Totals
from flopcount.walker import Walker, spec_of, tensors_in


def analyze(
    model: nn.Module,
    input_size: Any = None,
    *,
    inputs: Any = None,
    device: str | torch.device | None = None,
    fast: bool = True,
    name: str | None = None,
    registry: FormulaRegistry = REGISTRY,
    memory: bool = False,
    train: bool = False,
    optimizer: str = "adamw",
    amp: str | None = None,
) -> Report:
    """Params, FLOPs and MAC of every layer call of ``model`` on one input.

    Give either ``input_size`` ((1, 3, 224, 224), '1x3x224x224', '1x128:int64', or a list of them for
    several inputs) or ``inputs`` (a tensor, a tuple of positional inputs, or a dict of keyword
    inputs). ``device`` defaults to the model's; ``"meta"`` analyses without allocating anything.
    ``fast=False`` runs torch's own kernels for every op instead of shape rules (same counts, slower).
    ``memory=True`` also measures live memory op by op (``report.memory``, see flopcount.memory);
    ``train=True`` analyses one training step instead (forward + backward + ``optimizer`` step, ``amp``
    None, "bf16" or "fp16"; ``report.training`` and ``report.memory``, see flopcount.training).
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"analyze() needs a torch.nn.Module, got {type(model).__name__}")
    if (input_size is None) == (inputs is None):
        raise UsageError("give exactly one of input_size or inputs")
    model_device = _device_of(model)
    target = torch.device(device) if device is not None else model_device
    if train:  # memory and training analysis (issue #13): a separate driver over the same walker
        from flopcount.training import analyze_training

        return analyze_training(model, input_size, inputs=inputs, device=device, name=name, registry=registry,
                                optimizer=optimizer, amp=amp)

    if inputs is None:
        args, kwargs = tuple(make_tensor(s, target) for s in normalize_input_size(input_size)), {}
    else:
        args, kwargs = _split_inputs(inputs)
        if target.type == "meta":
            args, kwargs = _to_meta((args, kwargs))

    stand_ins = _meta_state(model) if target.type == "meta" and model_device.type != "meta" else None
    # Memory needs torch's own choice of ops (CPU max pooling allocates int64 indices that a shape rule
    # would skip): the walker's shape rules stand down, and the tracker's exact meta shortcuts stand in.
    walker = Walker(model, registry, fast=fast and target.type == "meta" and not memory,
                    state=(stand_ins or {}).values())
    described = ", ".join(str(spec_of(t)) for t in tensors_in((args, kwargs)))
    restore = _protect_state(model, target)
    tracker = _memory_tracker(walker, stand_ins, model, (args, kwargs)) if memory else contextlib.nullcontext()
    walker.attach()
    try:
        with torch.no_grad(), walker, tracker:
            if stand_ins is not None:
                output = torch.func.functional_call(model, stand_ins, args, kwargs, strict=False)
            else:
                output = model(*args, **kwargs)
            if memory:
                tracker.finish()  # while the output is still held, as a caller holds it
            del output
    except FlopcountError:
        raise
    except Exception as error:  # the user's forward may raise anything: report it in one line
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ForwardError(f"forward of {name or type(model).__name__} failed on input {described} ({target.type}): "
                           f"{type(error).__name__}: {message}") from error
    finally:
        walker.detach()
        restore()

    report = _build_report(model, name or type(model).__name__, walker, (args, kwargs), target)
    if memory:  # issue #13: live memory of the same pass
        from flopcount.memory import profile_from

        report.memory = profile_from(tracker, report.records, model, tensors_in((args, kwargs)))
    return report


def _memory_tracker(walker: Walker, stand_ins: dict | None, model: nn.Module, inputs: Any):
    """A live-bytes tracker whose phases are the walker's record indices; state and inputs are external."""
    from flopcount.memory import LiveBytes

    state = [*model.parameters(), *model.buffers(), *(stand_ins or {}).values()]
    return LiveBytes(external=[*state, *tensors_in(inputs)], phase=lambda: len(walker.records), shortcut=True)


def _build_report(model: nn.Module, name: str, walker: Walker, inputs: Any, device: torch.device) -> Report:
    records = walker.records
    # Each parameter counts once, under the first module that holds it (tied weights, shared modules).
    seen: set[int] = set()
    module_params: dict[str, int] = {}
    params = trainable = 0
    for path, module in walker.modules:
        for p in module._parameters.values():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            module_params[path] = module_params.get(path, 0) + p.numel()
            params += p.numel()
            trainable += p.numel() if p.requires_grad else 0
    totals = Totals(
        params=params,
        trainable_params=trainable,
        paper_flops=sum(r.flops for r in records if r.is_paper),
        flops=sum(r.flops for r in records),
        mac=sum(r.mac for r in records),
        mac_bytes=sum(r.mac_bytes for r in records),
        uncounted_calls=sum(walker.uncounted.values()),
    )
    return Report(
        model=name,
        inputs=tuple(spec_of(t) for t in tensors_in(inputs)),
        device=str(device),
        records=records,
        totals=totals,
        uncounted=dict(walker.uncounted),
        counted_from_ops=dict(walker.counted_from_ops),
        module_params=module_params,
        module_types={path: type(m).__name__ for path, m in walker.modules},
    )


def _device_of(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _split_inputs(inputs: Any) -> tuple[tuple, dict]:
    if isinstance(inputs, Mapping):
        return (), dict(inputs)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def _to_meta(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return torch.empty_like(value, device="meta")
    if isinstance(value, (tuple, list)):
        return type(value)(_to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_meta(v) for k, v in value.items()}
    return value


def _meta_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Meta stand-ins for every parameter and buffer; tied tensors share one stand-in."""
    stand_ins: dict[int, torch.Tensor] = {}
    state = {}
    for key, t in (*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)):
        if id(t) not in stand_ins:
            stand_ins[id(t)] = torch.empty_like(t, device="meta")
        state[key] = stand_ins[id(t)]
    return state


def _protect_state(model: nn.Module, device: torch.device):
    """Snapshot buffers that a real forward may update in place; return a function that restores them."""
    if device.type == "meta" or _device_of(model).type == "meta":
        return lambda: None
    saved = [(b, b.detach().clone()) for b in model.buffers()]

    def restore() -> None:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)

    return restore
