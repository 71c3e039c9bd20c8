"""Input specifications: parse '1x3x224x224' or '1x128:int64', and make tensors for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from flopcount.errors import InputSpecError

_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")
_SPEC = re.compile(r"^\s*(\d+(?:\s*[x,]\s*\d+)*)\s*(?::\s*(\w+))?\s*$")


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    dtype: str = "float32"

    def __str__(self) -> str:
        text = "x".join(map(str, self.shape))
        return text if self.dtype == "float32" else f"{text}:{self.dtype}"


def parse_input_spec(text: str) -> InputSpec:
    match = _SPEC.match(text)
    if not match:
        raise InputSpecError(f"malformed input size '{text}': expected dimensions like 1x3x224x224, optionally :int64")
    shape = tuple(int(d) for d in re.split(r"\s*[x,]\s*", match.group(1)))
    dtype = match.group(2) or "float32"
    if dtype not in _DTYPES:
        raise InputSpecError(f"unknown dtype '{dtype}' in input size '{text}': use one of {', '.join(_DTYPES)}")
    if any(d <= 0 for d in shape):
        raise InputSpecError(f"input size '{text}' has a dimension <= 0")
    return InputSpec(shape, dtype)


def normalize_input_size(input_size: Any) -> list[InputSpec]:
    """Accept (1, 3, 224, 224), '1x3x224x224', InputSpec, or a list of any of these (several inputs)."""
    if isinstance(input_size, (InputSpec, str)):
        items: Sequence[Any] = [input_size]
    elif isinstance(input_size, (tuple, list)) and input_size and all(isinstance(d, int) for d in input_size):
        items = [tuple(input_size)]
    elif isinstance(input_size, (tuple, list)) and input_size:
        items = list(input_size)
    else:
        raise InputSpecError(f"malformed input size {input_size!r}: expected e.g. (1, 3, 224, 224)")
    specs = []
    for item in items:
        if isinstance(item, InputSpec):
            specs.append(item)
        elif isinstance(item, str):
            specs.append(parse_input_spec(item))
        elif isinstance(item, (tuple, list)) and item and all(isinstance(d, int) and not isinstance(d, bool) for d in item):
            if any(d <= 0 for d in item):
                raise InputSpecError(f"input size {tuple(item)} has a dimension <= 0")
            specs.append(InputSpec(tuple(item)))
        else:
            raise InputSpecError(f"malformed input size {item!r}: expected a tuple of positive ints")
    return specs


def make_tensor(spec: InputSpec, device: Any, generator: Any = None):
    """An input tensor: empty on meta; zeros (deterministic, and valid token ids for an embedding), or
    seeded random floats when a ``torch.Generator`` is given (for timing, where data may matter)."""
    import torch

    dtype = getattr(torch, spec.dtype)
    if str(device) == "meta":
        return torch.empty(spec.shape, dtype=dtype, device="meta")
    if generator is not None and dtype.is_floating_point:
        return torch.randn(spec.shape, dtype=dtype, generator=generator).to(device)
    return torch.zeros(spec.shape, dtype=dtype, device=device)
