"""The fast path's shape rules refuse what torch's meta kernels refuse.

A seeded generator makes calls of conv / transposed conv / linear / norms / pooling / element-wise /
matmul / softmax / attention with random channel counts, groups, dtypes, ranks and sizes, many of them
impossible. For each, ``analyze(fast=True)`` must raise exactly when ``analyze(fast=False)`` (torch's own
meta kernels) raises, and when neither does, the records must be equal.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from flopcount import analyze
from flopcount.errors import ForwardError

_DTYPES = (torch.float32, torch.float32, torch.float32, torch.float16, torch.int64)


class _Call(nn.Module):
    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        self.parts = nn.ModuleDict(modules)

    def forward(self, *inputs):
        return self.fn(self.parts, *inputs)


def _near(rng: random.Random, value: int) -> int:
    return max(1, rng.choice([value, value, value, value - 1, value + 1, 2 * value]))


def _case(rng: random.Random):
    """(description, model, input tensors on meta)."""
    kind = rng.choice(["conv", "conv1d", "conv_transpose", "linear", "batch_norm", "layer_norm", "group_norm",
                       "max_pool", "avg_pool", "adaptive_pool", "binary", "inplace", "matmul", "softmax", "sdpa"])
    dtype = rng.choice(_DTYPES)
    c = rng.choice([2, 3, 4, 6])
    size = rng.choice([1, 2, 5, 8])
    rank = rng.choice([3, 4, 4, 4, 5])
    shape = [2, _near(rng, c)] + [size] * (rank - 2)
    if kind in ("conv", "conv1d", "conv_transpose"):
        groups = rng.choice([1, 1, 2, 3])
        dims = 1 if kind == "conv1d" else 2
        shape = [2, _near(rng, c * groups)] + [size] * (rank - 2 if kind != "conv1d" else rng.choice([1, 1, 2]))
        cls = {"conv": nn.Conv2d, "conv1d": nn.Conv1d, "conv_transpose": nn.ConvTranspose2d}[kind]
        layer = cls(c * groups, rng.choice([2, 4, 6]) * groups, rng.choice([1, 3]), stride=rng.choice([1, 2]),
                    padding=rng.choice([0, 1]), groups=groups)
        model = _Call(lambda m, x: m["layer"](x), layer=layer)
        return f"{kind} {dims}d groups={groups}", model, [torch.empty(shape, dtype=dtype)]
    if kind == "linear":
        features = rng.choice([3, 8])
        shape = [2] * (rank - 3) + [_near(rng, features)]
        return kind, _Call(lambda m, x: m["layer"](x), layer=nn.Linear(features, 5)), [torch.empty(shape, dtype=dtype)]
    if kind == "batch_norm":
        model = _Call(lambda m, x: m["layer"](x), layer=nn.BatchNorm2d(c))
        return kind, model, [torch.empty(shape, dtype=dtype)]
    if kind == "layer_norm":
        normalized = [_near(rng, size)] * rng.choice([1, 2])
        return kind, _Call(lambda m, x: m["layer"](x), layer=nn.LayerNorm(normalized)), [torch.empty(shape, dtype=dtype)]
    if kind == "group_norm":
        groups = rng.choice([g for g in (1, 2, 3) if c % g == 0])
        return kind, _Call(lambda m, x: m["layer"](x), layer=nn.GroupNorm(groups, c)), [torch.empty(shape, dtype=dtype)]
    if kind in ("max_pool", "avg_pool"):
        kernel, padding = rng.choice([1, 2, 3]), rng.choice([0, 1, 2])
        ceil_mode = rng.choice([False, True])
        pool = (nn.MaxPool2d if kind == "max_pool" else nn.AvgPool2d)(kernel, rng.choice([1, 2]), padding,
                                                                        ceil_mode=ceil_mode)
        return f"{kind} k={kernel} p={padding}", _Call(lambda m, x: m["layer"](x), layer=pool), [torch.empty(shape, dtype=dtype)]
    if kind == "adaptive_pool":
        pool = nn.AdaptiveAvgPool2d(rng.choice([1, 2, (None, 3)]))
        return kind, _Call(lambda m, x: m["layer"](x), layer=pool), [torch.empty(shape, dtype=dtype)]
    if kind in ("binary", "inplace", "matmul"):
        a = [rng.choice([1, 2, 3]) for _ in range(rng.choice([1, 2, 3]))]
        b = [rng.choice([1, 2, 3]) for _ in range(rng.choice([1, 2, 3]))]
        other_dtype = rng.choice(_DTYPES)
        fn = {"binary": lambda m, x, y: x + y, "inplace": lambda m, x, y: x.clone().mul_(y),
              "matmul": lambda m, x, y: x @ y}[kind]
        return f"{kind} {a} {b}", _Call(fn), [torch.empty(a, dtype=dtype), torch.empty(b, dtype=other_dtype)]
    if kind == "softmax":
        dim = rng.choice([-1, 1, rank - 1, rank, -rank - 1])
        return f"softmax dim={dim}", _Call(lambda m, x: F.softmax(x, dim=dim)), [torch.empty(shape, dtype=dtype)]
    # sdpa: query (2, h, L, E), key/value with possibly mismatched E, S or heads
    e, length = rng.choice([4, 8]), rng.choice([3, 5])
    q = torch.empty(2, 2, length, e, dtype=dtype)
    k = torch.empty(2, rng.choice([2, 2, 3]), rng.choice([length, 6]), _near(rng, e), dtype=rng.choice(_DTYPES))
    v = torch.empty(2, k.shape[1], rng.choice([k.shape[2], 7]), e, dtype=k.dtype)
    return "sdpa", _Call(lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v)), [q, k, v]


def _outcome(model, inputs, fast: bool):
    try:
        return analyze(model, inputs=tuple(inputs), device="meta", fast=fast)
    except ForwardError as error:
        return error


_CASES = 240


@pytest.mark.parametrize("seed", range(3))
def test_fast_path_raises_iff_torch_meta_kernels_raise(seed):
    rng = random.Random(seed)
    failures, refused = [], 0
    for _ in range(_CASES // 3):
        description, model, inputs = _case(rng)
        with torch.device("meta"):
            model = model.to("meta")
        fast, slow = _outcome(model, inputs, True), _outcome(model, inputs, False)
        shapes = [f"{tuple(t.shape)}:{t.dtype}" for t in inputs]
        if isinstance(fast, Exception) != isinstance(slow, Exception):
            failures.append(f"{description} {shapes}: fast {'raised' if isinstance(fast, Exception) else 'ran'}, "
                            f"slow {slow if isinstance(slow, Exception) else 'ran'}")
        elif isinstance(slow, Exception):
            refused += 1
        elif [r.to_dict() for r in fast.records] != [r.to_dict() for r in slow.records]:
            failures.append(f"{description} {shapes}: records differ")
    assert not failures, "\n".join(failures)
    assert 10 < refused < _CASES // 3 - 10  # the generator makes both valid and invalid calls


@pytest.mark.parametrize("name, input_size, model_dtype", [
    ("mobilenet_v2", "1x4x224x224", torch.float32),  # 4 channels into a 3-channel stem
    ("shufflenet_v2_x0_5", "1x3x224x224:int64", torch.float32),  # integer input into a float conv
    ("vit_b_16", "1x3x224x224", torch.float16),  # float32 input into a float16 model (its biased patch conv)
    ("vit_b_16", "1x1x224x224", torch.float32),  # one channel into the patch embedding
])
def test_impossible_zoo_forwards_fail_on_the_fast_path_as_on_the_slow(name, input_size, model_dtype):
    from flopcount.zoo import get_spec

    with torch.device("meta"):
        model = get_spec(name).build().eval().to(model_dtype)
    for fast in (True, False):
        with pytest.raises(ForwardError, match=f"forward of .* failed on input {input_size.split(':')[0]}"):
            analyze(model, input_size, device="meta", fast=fast)


def test_linear_given_the_wrong_feature_count_fails_on_the_fast_path():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(5, 2))  # 4 features into a Linear(5, 2)
    with pytest.raises(ForwardError, match="same reduction dim"):
        analyze(model, (3, 8), device="meta", fast=True)
