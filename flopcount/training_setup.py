"""The model a training step runs on: a meta copy of the user's model in training mode, at a dtype.

The caller's model is never touched (not its parameters, not its training flags); the copy's parameters
and buffers are meta stand-ins, tied ones stay tied, and ``requires_grad`` is kept, so the step sees the
same frozen layers and shared modules as the real one would.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from flopcount.errors import UsageError


def step_copy(model: nn.Module, half: torch.dtype | None, modules: list | None = None) -> nn.Module:
    """The model to train: a copy whose parameters and buffers are meta stand-ins (tied ones stay tied,
    ``requires_grad`` is kept), floating ones in ``half`` under amp (the model's copy; fp32 master weights
    live in the optimizer). The caller's model is never touched, not even its training flags."""
    from flopcount.analysis import _meta_copy, _NotCopyable

    try:
        watched = _meta_copy(model, modules)
    except _NotCopyable as error:
        raise UsageError(f"{error}: a training step is analysed on a meta copy of the model") from error.__cause__
    return watched.to(half) if half is not None else watched


def named_state(model: nn.Module) -> tuple[list[tuple[str, torch.Tensor]], list[tuple[str, torch.Tensor]]]:
    """``named_parameters(remove_duplicate=False)`` and ``named_buffers(remove_duplicate=False)`` in one walk
    of the tree (each is a walk of its own)."""
    params, buffers = [], []
    for prefix, module in model.named_modules(remove_duplicate=False):
        dot = "." if prefix else ""
        params += [(prefix + dot + key, p) for key, p in module._parameters.items() if p is not None]
        buffers += [(prefix + dot + key, b) for key, b in module._buffers.items() if b is not None]
    return params, buffers


def train_mode(model: nn.Module, modules: list[tuple[str, nn.Module]]) -> None:
    """``model.train()``. ``modules``: its (path, module) pairs. Without a class that overrides ``train``
    (one that freezes its batch norms, say), that is setting each ``training`` flag, which ``train()``
    does through ``nn.Module.__setattr__`` and a recursion: a tenth of a millisecond on a small CNN."""
    for _, module in modules:
        cls = type(module)
        if cls.train is not nn.Module.train or cls.__setattr__ is not nn.Module.__setattr__ \
                or "training" not in module.__dict__:
            model.train()
            return
    for _, module in modules:
        module.__dict__["training"] = True


def trainable_paths(named_params: list[tuple[str, torch.Tensor]]) -> set[str]:
    """Module paths that hold a parameter needing a gradient, themselves or below them (``named_params``:
    the model's ``named_parameters(remove_duplicate=False)``, so a shared module counts under every path)."""
    paths: set[str] = set()
    for key, p in named_params:
        if not p.requires_grad:
            continue
        path = key.rpartition(".")[0]
        while path not in paths:  # a path in the set has its ancestors in it already
            paths.add(path)
            if not path:
                break
            path = path.rpartition(".")[0]
    return paths


def cast_floating(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, (tuple, list)):
        return type(value)(cast_floating(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: cast_floating(v, dtype) for k, v in value.items()}
    return value
