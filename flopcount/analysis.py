"""analyze(): run one watched forward pass and turn its records into a Report.

The model is left exactly as it was: hooks are removed in ``finally``, and a model on a real device
whose parameters or buffers a forward would change (BatchNorm running statistics in training mode)
gets them back, with the random generator's state. Analysing a real model on ``meta`` watches a copy
of it whose parameters are shape-only stand-ins, so nothing of the size of the model or its
activations is allocated and the caller's model is never modified, even for a moment.
"""

from __future__ import annotations

import copy
import sys
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Mapping

import torch
from torch import nn

from flopcount.errors import FlopcountError, ForwardError, ModelBuildError, UsageError
from flopcount.formulas import REGISTRY, FormulaRegistry
from flopcount.inputs import make_tensor, normalize_input_size
from flopcount.loading import resolve_device
from flopcount.meta_attention import fused_attention_as_on_cpu
from flopcount.module_copy import deepcopy_modules
from flopcount.report import Report, Totals
from flopcount.walker import Walker, spec_of, tensors_in, unwatched


def analyze(
    model: nn.Module,
    input_size: Any = None,
    *,
    inputs: Any = None,
    device: str | torch.device | None = None,
    fast: bool = True,
    name: str | None = None,
    registry: FormulaRegistry = REGISTRY,
    materialize: Callable[[torch.device], nn.Module] | None = None,
    memory: bool = False,
    train: bool = False,
    optimizer: str = "adamw",
    amp: str | None = None,
) -> Report:
    """Params, FLOPs and MAC of every layer call of ``model`` on one input.

    Give either ``input_size`` ((1, 3, 224, 224), '1x3x224x224', '1x128:int64', or a list of them for
    several inputs) or ``inputs`` (a tensor, a tuple of positional inputs, or a dict of keyword
    inputs). ``fast=False`` runs torch's own kernels for every op instead of shape rules (same counts).

    The analysis runs on ``meta`` unless ``device`` names another: nothing of the size of the weights
    or activations is allocated, whatever the batch and resolution. When the forward needs data (an
    ``item()``, ``nonzero``, a boolean mask, data-dependent control flow) and no device was asked for,
    it runs again on a real device: the model's own, or ``cpu`` for a model that lives on meta, built by
    ``materialize(device)`` when given (``loading.load_model`` gives one) or else copied with freshly
    initialised weights. ``Report.device`` says where it ran and ``Report.notes`` why.

    The caller sees no difference afterwards: parameters, buffers, inputs, the RNG and torch's hook
    tables are as they were, and other threads running the same model are not observed or disturbed.

    ``memory=True`` also measures live memory op by op (``report.memory``, see flopcount.memory);
    ``train=True`` analyses one training step instead, on meta (forward + backward + ``optimizer`` step,
    ``amp`` None, "bf16" or "fp16"; ``report.training`` and ``report.memory``, see flopcount.training).
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"analyze() needs a torch.nn.Module, got {type(model).__name__}")
    if (input_size is None) == (inputs is None):
        raise UsageError("give exactly one of input_size or inputs")
    model = _eager_module(model)
    tree = list(_modules_iteratively(model))  # walked once here, read by the checks and the meta copy
    _refuse_torchscript(tree)
    name = name or type(model).__name__
    # Walkers already watching this thread (a forward that calls analyze) do not see this analysis.
    with unwatched(), _deep_enough(tree):
        if train:  # memory and training analysis (issue #13): a separate driver over the same walker
            from flopcount.training import analyze_training

            return analyze_training(model, input_size, inputs=inputs, device=device, name=name,
                                    registry=registry, optimizer=optimizer, amp=amp, modules=tree)
        target = resolve_device(device) if device is not None else torch.device("meta")
        try:
            return _analyze_on(model, target, input_size, inputs, fast, name, registry, memory, tree)
        except _NotCopyable as error:
            if device is not None:
                raise UsageError(f"{error}; analyse it on its own device (--device cpu)") from error.__cause__
            report = _analyze_on(model, _device_of(model), input_size, inputs, fast, name, registry, memory)
            report.notes.append(f"{error}, so it ran on {report.device} instead of meta")
            return report
        except ForwardError as error:
            if not (target.type == "meta" and _needs_data(error.__cause__)):
                raise
            if device is not None:
                raise ForwardError(f"{error}; this forward needs data, which meta tensors do not have: "
                                   "analyse on a real device (--device cpu)") from error.__cause__
            real, how = _real_model(model, name, materialize, error)
            report = _analyze_on(real, _device_of(real), input_size, inputs, fast, name, registry, memory)
            report.notes.append(f"the forward needs data ({first_line(error.__cause__)[:80]}), so it ran on "
                                f"{report.device} instead of meta{how}")
            return report


def _needs_data(error: BaseException | None) -> bool:
    """True for the failures of a meta forward that a real device would not have: ops with no meta
    kernel (nonzero, masked_select, unique) and reads of values (item(), bool(), tolist())."""
    if isinstance(error, NotImplementedError):
        return True
    return isinstance(error, RuntimeError) and "meta" in str(error).lower()


def _real_model(model: nn.Module, name: str, materialize, error: ForwardError) -> tuple[nn.Module, str]:
    """The model on a real device for a forward that needs data, and how it got there (for the note)."""
    if _device_of(model).type != "meta":
        return model, ""
    cpu = torch.device("cpu")
    try:
        if materialize is not None:
            return materialize(cpu), " (model built on cpu)"
        return _initialised_copy(model, cpu), " (weights freshly initialised on cpu: data-dependent counts follow them)"
    except Exception as build_error:
        raise ModelBuildError(f"{error} on meta, and {name} could not be built on cpu to run it with data "
                              f"({type(build_error).__name__}: {first_line(build_error)}); try --device cuda") from build_error


def _initialised_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """A copy of a meta model on ``device`` with memory for its weights, initialised by the modules' own
    ``reset_parameters`` / ``reset_running_stats`` (other tensors start at zero)."""
    real = copy.deepcopy(model).to_empty(device=device)
    with torch.no_grad():
        for t in (*real.parameters(), *real.buffers()):
            t.zero_()
        for module in real.modules():
            for reset in ("reset_parameters", "reset_running_stats"):
                if callable(getattr(module, reset, None)):
                    getattr(module, reset)()
    return real


def _analyze_on(model: nn.Module, target: torch.device, input_size: Any, inputs: Any, fast: bool, name: str,
                registry: FormulaRegistry, memory: bool = False, tree: list | None = None) -> Report:
    if inputs is None:
        args, kwargs = tuple(make_tensor(s, target) for s in normalize_input_size(input_size)), {}
    else:
        args, kwargs = _split_inputs(inputs)
        # A forward may modify its input in place: it works on a copy (on meta, on a shape-only one).
        args, kwargs = _copy_tensors((args, kwargs), target)

    watched = _meta_copy(model, tree) if target.type == "meta" and _device_of(model).type != "meta" else model
    # Memory needs torch's own choice of ops (CPU max pooling allocates int64 indices that a shape rule
    # would skip): the walker's shape rules stand down, and the tracker's exact meta shortcuts stand in.
    walker = Walker(watched, registry, fast=fast and target.type == "meta" and not memory)
    described = ", ".join(str(spec_of(t)) for t in tensors_in((args, kwargs)))
    tracker = _memory_tracker(walker, watched, (args, kwargs)) if memory else nullcontext()
    attention = fused_attention_as_on_cpu() if memory and target.type == "meta" else nullcontext()
    with _preserved(model, target):
        walker.attach()
        try:
            with torch.no_grad(), attention, walker, tracker:
                output = watched(*args, **kwargs)
                if memory:
                    tracker.finish()  # while the output is still held, as a caller holds it
                del output
        except FlopcountError:
            raise
        except Exception as error:  # the user's forward may raise anything: report it in one line
            raise ForwardError(f"forward of {name} failed on input {described} ({target.type}): "
                               f"{type(error).__name__}: {first_line(error)}") from error
        finally:
            walker.detach()
    report = _build_report(model, name, walker, (args, kwargs), target)
    if memory:  # issue #13: live memory of the same pass
        from flopcount.memory import profile_from

        report.memory = profile_from(tracker, report.records, watched, tensors_in((args, kwargs)))
    return report


def _memory_tracker(walker: Walker, model: nn.Module, inputs: Any):
    """A live-bytes tracker whose phases are the walker's record indices; state and inputs are external."""
    from flopcount.memory import LiveBytes

    state = [*model.parameters(), *model.buffers()]
    return LiveBytes(external=[*state, *tensors_in(inputs)], phase=lambda: len(walker.records), shortcut=True)


def first_line(error: BaseException) -> str:
    """The line of an exception's message that says what went wrong. Wrappers such as torch.compile's
    backend errors put a header first ("backend='inductor' raised:"): the line after it is the useful one."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    for line in lines:
        if not line.endswith(":"):
            return line
    return lines[0] if lines else ""


def _eager_module(model: nn.Module) -> nn.Module:
    """The eager module to watch: the original of a ``torch.compile``d one."""
    return getattr(model, "_orig_mod", model) if type(model).__name__ == "OptimizedModule" else model


def _refuse_torchscript(tree: list[tuple[str, nn.Module]]) -> None:
    """TorchScript is refused: its ops run in the JIT where no hook or function mode sees them (a silent,
    complete-looking zero). ``tree``: the model's (path, module) pairs."""
    for path, module in tree:
        if isinstance(module, torch.jit.ScriptModule):
            where = f"submodule '{path}'" if path else "the model"
            raise UsageError(f"{where} is a TorchScript module ({type(module).__name__}): flopcount cannot see "
                             "inside it; analyse the eager nn.Module it was scripted or traced from")


def _modules_iteratively(model: nn.Module):
    """(path, module) pairs like ``named_modules``, without recursion (a 1,000-deep tree is fine)."""
    seen: set[int] = set()
    stack = [("", model)]
    while stack:
        path, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        yield path, module
        children = [(f"{path}.{n}" if path else n, m) for n, m in module._modules.items() if m is not None]
        stack.extend(reversed(children))


@contextmanager
def _deep_enough(tree: list[tuple[str, nn.Module]]):
    """Room on the Python stack for a deeply nested model (``tree``: its (path, module) pairs): each level
    costs a few more frames under hooks and the function mode than in a plain forward, which must not
    turn into a RecursionError."""
    depth = max(path.count(".") + 1 for path, _ in tree)
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, previous + 8 * depth))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


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


def _copy_tensors(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        if device.type == "meta":
            return torch.empty_like(value, device="meta")
        return value.detach().clone().to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_copy_tensors(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _copy_tensors(v, device) for k, v in value.items()}
    return value


def _meta_copy(model: nn.Module, tree: list[tuple[str, nn.Module]] | None = None) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers are shape-only meta tensors (tied ones stay
    tied, ``requires_grad`` is kept). The caller's model is never touched, so another thread may run it
    meanwhile; nothing of the size of its weights is allocated. ``tree``: the model's (path, module)
    pairs, when the caller has walked them already."""
    memo: dict[int, Any] = {}
    for _, module in tree or _modules_iteratively(model):  # one walk for both (parameters(), buffers(): two)
        for t in (*module._parameters.values(), *module._buffers.values()):
            if t is None or id(t) in memo:
                continue
            stand_in = torch.empty_like(t, device="meta")
            memo[id(t)] = nn.Parameter(stand_in, t.requires_grad) if isinstance(t, nn.Parameter) else stand_in
    try:
        return deepcopy_modules(model, memo)
    except Exception as error:
        raise _NotCopyable(f"{type(model).__name__} cannot be copied onto meta ({type(error).__name__}: "
                           f"{first_line(error)[:80]})") from error


class _NotCopyable(Exception):
    """A real model that ``copy.deepcopy`` refuses (an attribute holding a lock, a file, a generator)."""


@contextmanager
def _preserved(model: nn.Module, device: torch.device):
    """Put back whatever a real forward changes: parameters and buffers it updates in place (BatchNorm
    running statistics in training mode, a forward that mutates a weight) and the random generator
    (dropout in training mode). A meta analysis changes nothing real."""
    if device.type == "meta" or _device_of(model).type == "meta":
        yield
        return
    # Every tensor is put back: kernels such as batch_norm update running statistics without bumping
    # the version counter, so a changed tensor cannot be told from an unchanged one cheaply.
    saved = [(t, t.detach().clone()) for t in dict.fromkeys((*model.parameters(), *model.buffers()))]
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=rng_devices):
            yield
    finally:
        with torch.no_grad():
            for t, copy_ in saved:
                t.copy_(copy_)
