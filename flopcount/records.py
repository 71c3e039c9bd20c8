"""Plain data: one tensor's shape, one op's cost, one recorded layer call.

FLOPs are multiply-adds throughout (one fused multiply-add = 1); MAC is memory access cost in
elements read plus elements written (ShuffleNet V2's definition), with its size in bytes beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# LayerRecord.input_from for a tensor that no record produced: a model input (or a constant made in
# forward), or a parameter or buffer of the model.
FROM_INPUT = -1
FROM_STATE = -2

# Categories whose FLOPs make up the "paper total" that papers and torchvision's `_ops` quote.
PAPER_CATEGORIES = frozenset({"conv", "linear", "matmul", "attention"})

CATEGORIES = (
    "conv",
    "linear",
    "matmul",
    "attention",
    "norm",
    "activation",
    "pool",
    "resample",
    "elementwise",
    "reduction",
    "embedding",
    "movement",
    "none",
    "uncounted",
)


class TensorSpec(NamedTuple):
    """Shape and dtype of one tensor. A NamedTuple: thousands are made per analysis, and it is cheap."""

    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    numel: int
    # Strides in elements when the tensor is not contiguous (a transposed or permuted view, channels-last),
    # else None. Kernels that need contiguous input copy such a tensor first: the latency predictor counts it.
    strides: tuple[int, ...] | None = None

    @classmethod
    def of(cls, shape: tuple[int, ...], dtype: str, itemsize: int, strides: tuple[int, ...] | None = None) -> "TensorSpec":
        return cls(tuple(shape), dtype, itemsize, math.prod(shape), strides)

    @property
    def contiguous(self) -> bool:
        return self.strides is None

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    def __str__(self) -> str:
        return "x".join(map(str, self.shape)) if self.shape else "scalar"


@dataclass(frozen=True)
class Cost:
    """What one formula returns.

    ``reads``/``writes`` are element counts; ``None`` means "every tensor argument (and, for a module,
    its own parameters and buffers) is read once and every output written once", which is right for
    nearly every op. Formulas override them only where that is wrong (views, lookups). Their sizes in
    bytes follow each tensor's own dtype: a formula that gives ``reads`` of tensors of several dtypes
    (int64 indices and float rows) gives ``read_bytes`` too; otherwise the output's item size is used.
    """

    flops: int
    category: str
    reads: int | None = None
    writes: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    read_bytes: int | None = None
    write_bytes: int | None = None


@dataclass
class LayerRecord:
    """One call of one leaf module, or one op called outside any module that has a formula."""

    index: int
    path: str  # qualified module path; "" is the root module
    op: str  # module class name, or the op's name for a function-level record
    source: str  # "module" or "op"
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    flops: int
    category: str
    mac: int  # elements read + written
    mac_bytes: int
    params: int = 0  # parameters first seen at this call (a shared module's params count once)
    attrs: dict[str, Any] = field(default_factory=dict)
    call: int = 0  # 0 for the first call of this module (or op at this path), 1 for the second...
    counted: bool = True  # False: no formula for this op; flops/mac are not known
    input_from: tuple[int, ...] = ()  # index of the record that produced each tensor input, or FROM_*

    @property
    def name(self) -> str:
        base = self.path or "(root)"
        return base if self.source == "module" else f"{base}:{self.op}"

    @property
    def is_paper(self) -> bool:
        return self.category in PAPER_CATEGORIES

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "path": self.path,
            "op": self.op,
            "source": self.source,
            "category": self.category,
            "counted": self.counted,
            "call": self.call,
            "inputs": [list(t.shape) for t in self.inputs],
            "outputs": [list(t.shape) for t in self.outputs],
            "dtype": self.outputs[0].dtype if self.outputs else None,
            "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in self.attrs.items()},
            "params": self.params,
            "flops": self.flops,
            "mac": self.mac,
            "mac_bytes": self.mac_bytes,
            "input_from": list(self.input_from),
        }
