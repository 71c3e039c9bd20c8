"""Time kernels the way a model runs them: eval, ``no_grad``, a fixed thread count, warm-up first.

Each config is rebuilt as the Python-level call a model makes (an ``nn.Conv2d`` module, ``torch.cat``,
a transposed view's ``contiguous``), so its time includes the per-call dispatch overhead that dominates
thin layers. Several configs are timed together, interleaved: every round visits all of them in a
fresh random order, and a config's time is the min (and median) of its rounds, so a burst of load from
another process spoils one round of many configs rather than every round of one.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from flopcount.predict.kinds import VIEW

# One timed batch of calls lasts about this long: long enough for perf_counter, short enough to interleave.
BATCH_S = 0.002
MAX_CALLS_PER_BATCH = 200


@dataclass(frozen=True)
class Sample:
    """One measured config: seconds per call, min and median over interleaved rounds."""

    kind: str
    config: dict[str, Any]
    min_s: float
    median_s: float
    rounds: int


# The activation modules that take ``inplace=``. Samples stored before configs said whether an activation ran
# in place were timed as these modules in place (zoo and torchvision blocks build them so), out of place for
# the rest and for every function.
_MODULES_WITH_INPLACE_FLAG = ("relu", "relu6", "hardswish", "hardsigmoid", "silu")


def _activation_module(kind: str, inplace: bool):
    from torch import nn

    classes = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
               "sigmoid": nn.Sigmoid, "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh,
               "gelu_tanh": lambda: nn.GELU(approximate="tanh")}
    cls = classes[kind]
    if not inplace:
        return cls(inplace=False) if kind in _MODULES_WITH_INPLACE_FLAG else cls()
    if kind in _MODULES_WITH_INPLACE_FLAG:
        return cls(inplace=True)
    return {"sigmoid": lambda x: x.sigmoid_(), "tanh": lambda x: x.tanh_()}[kind]  # no module flag: the method


def _activation_function(kind: str, inplace: bool):
    import torch
    from torch.nn import functional as F

    if inplace:
        return {"relu": torch.relu_, "relu6": lambda x: F.relu6(x, inplace=True),
                "hardswish": lambda x: F.hardswish(x, inplace=True),
                "hardsigmoid": lambda x: F.hardsigmoid(x, inplace=True), "sigmoid": torch.sigmoid_,
                "silu": lambda x: F.silu(x, inplace=True), "tanh": torch.tanh_}[kind]
    return {"relu": torch.relu, "relu6": F.relu6, "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid,
            "sigmoid": torch.sigmoid, "silu": F.silu, "gelu": F.gelu, "tanh": torch.tanh,
            "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[kind]


def build(kind: str, c: dict[str, Any]) -> Callable[[], Any]:
    """A zero-argument callable that runs the kernel ``kind`` with config ``c`` once (inputs prebuilt)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def data(*shape: int):
        # Uniform in [-1, 1): as good as normal values for timing, and 3x faster to make for big tensors.
        return torch.empty(shape).uniform_(-1, 1)

    if kind.startswith("conv"):
        module = nn.Conv2d(c["cin"], c["cout"], (c["kh"], c["kw"]), c["s"], (c["ph"], c["pw"]), c.get("d", 1),
                           groups=c["g"], bias=bool(c.get("bias"))).eval()
        x = data(c["n"], c["cin"], c["h"], c["w"])
        return lambda: module(x)
    if kind == "linear":
        module = nn.Linear(c["cin"], c["cout"], bias=bool(c.get("bias", 1))).eval()
        x = data(c["rows"], c["cin"])
        return lambda: module(x)
    if kind == "matmul":
        a, b = data(c["b"], c["m"], c["k"]), data(c["b"], c["k"], c["n"])
        return lambda: torch.matmul(a, b)
    if kind == "batchnorm":
        module = nn.BatchNorm2d(c["c"]).eval()
        x = data(c["n"], c["c"], c["hw"], 1)
        return lambda: module(x)
    if kind == "batchnorm_stats":
        x = data(c["n"], c["c"], c["hw"])
        return lambda: F.batch_norm(x, None, None, training=True)
    if kind == "groupnorm":
        module = nn.GroupNorm(c["g"], c["c"]).eval()
        x = data(c["n"], c["c"], c["hw"], 1)
        return lambda: module(x)
    if kind in ("layernorm", "softmax"):
        x = data(c["rows"], c["d"])
        if kind == "layernorm":
            module = nn.LayerNorm(c["d"]).eval()
            return lambda: module(x)
        return lambda: torch.softmax(x, -1)
    if kind.startswith("act_"):
        name = kind[4:]
        inplace = bool(c.get("inplace", c.get("module") and name in _MODULES_WITH_INPLACE_FLAG))
        # Applied in place hundreds of times, SiLU and Hardswish (~x/2 near zero) shrink [-1, 1) to denormal
        # floats within ~130 calls, which x86 runs several times slower, then to zeros: timed on values they
        # leave (almost) unchanged instead. The other activations are idempotent or settle at normal values.
        x = torch.empty(c["numel"]).uniform_(16, 20) if inplace and name in ("silu", "hardswish") else data(c["numel"])
        fn = _activation_module(name, inplace) if c.get("module") else _activation_function(name, inplace)
        return lambda: fn(x)
    if kind == "reduce":
        x = data(c["outer"], c["reduced"], c["inner"])
        reduce = (lambda t: t.sum(1), lambda t: torch.linalg.vector_norm(t, dim=1), lambda t: t.var(1),
                  lambda t: t.amax(1))[c["op"]]
        return lambda: reduce(x)
    if kind == "unary":
        x = torch.empty(c["numel"]).uniform_(0.5, 1.5)  # where sqrt, rsqrt, log are defined, exp stays normal
        return (lambda: torch.sqrt(x)) if c["op"] == 0 else (lambda: torch.exp(x))
    if kind == "binary":
        numel, other = c["numel"], c["other"]
        if other < numel and numel % other == 0:
            # The smaller operand broadcasts over trailing dims, as an SE block's (n, c, 1, 1) scale does.
            x, y = data(other, numel // other), data(other, 1)
        else:
            x, y = data(numel), data(numel)
        if c.get("inplace"):
            return lambda: x.add_(y)
        return lambda: x + y
    if kind in ("maxpool", "avgpool"):
        x = data(c["n"], c["c"], c["h"], c["w"])
        cls = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
        ceil = bool(c.get("ceil", 0))
        module = cls(c["k"], c["s"], c["p"], ceil_mode=ceil)
        fn = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
        return (lambda: module(x)) if c.get("module") else (lambda: fn(x, c["k"], c["s"], c["p"], ceil_mode=ceil))
    if kind == "adaptive_avgpool":
        x = data(c["n"], c["c"], c["h"], c["w"])
        module = nn.AdaptiveAvgPool2d((c["oh"], c["ow"]))
        return (lambda: module(x)) if c.get("module") else (lambda: F.adaptive_avg_pool2d(x, (c["oh"], c["ow"])))
    if kind == "cat":
        parts = [data(c["numel"] // c["inner"] // c["parts"] or 1, c["inner"]) for _ in range(c["parts"])]
        return lambda: torch.cat(parts, dim=1)
    if kind == "copy":
        inner = c["inner"]
        if inner >= c["numel"]:  # one contiguous block: a clone
            x = data(c["numel"])
            return lambda: x.clone()
        # (a, b, inner) viewed with the first two swapped: runs of `inner`, adjacent ones `jump` = b x inner apart
        b = max(c["jump"] // inner, 2)
        a = max(c["numel"] // (b * inner), 2)
        view = data(a, b, inner).transpose(0, 1)
        return lambda: view.contiguous()
    if kind == "pad":
        x = data(1, c["c"], c["h"], c["w"])
        right, bottom = c["ow"] - c["w"], c["oh"] - c["h"]
        pads = (right // 2, right - right // 2, bottom // 2, bottom - bottom // 2)
        return lambda: F.pad(x, pads)
    if kind == "mha":
        module = nn.MultiheadAttention(c["e"], c["heads"], batch_first=True).eval()
        x = data(c["b"], c["l"], c["e"])
        if c.get("s", c["l"]) == c["l"]:
            return lambda: module(x, x, x, need_weights=False)
        keys = data(c["b"], c["s"], c["e"])  # cross-attention: torch's unfused path
        return lambda: module(x, keys, keys, need_weights=False)
    if kind == "sdpa":
        lead = (1, c["b"]) if c.get("rank", 3) == 4 else (c["b"],)  # heads in a batch of one, as models call it
        q, k, v = data(*lead, c["l"], c["d"]), data(*lead, c["s"], c["d"]), data(*lead, c["s"], c["d"])
        mask = data(*(1,) * len(lead), c["l"], c["s"]) if c.get("masked") else None  # additive, broadcast
        causal = bool(c.get("causal"))
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    if kind == VIEW:
        x = data(2, 8, 4, 4)
        if c.get("module"):
            module = nn.Dropout(0.2).eval()
            return lambda: module(x)
        return lambda: x.view(2, -1)
    raise ValueError(f"no builder for kernel kind {kind!r}")


def clock(threads: int | None = None) -> Callable[[], float]:
    """The clock that times one call best: the calling thread's CPU time when torch runs on one thread.

    With one intra-op thread every kernel runs on the calling thread, so its CPU time (user + system,
    page faults included) is the call's latency minus the time other processes held the core: on a
    shared machine that is the noise-free latency, which wall-clock can only approach by repeating.
    With more threads the work runs on a pool the caller's CPU time does not see: wall-clock then.
    """
    import torch

    return time.thread_time if (threads or torch.get_num_threads()) == 1 else time.perf_counter


def _time_batch(fn: Callable[[], Any], calls: int, now: Callable[[], float] = time.perf_counter) -> float:
    start = now()
    for _ in range(calls):
        fn()
    return (now() - start) / calls


def time_configs(items: Sequence[tuple[str, dict]], *, rounds: int = 5, seed: int = 0,
                 on_sample: Callable[[int], None] | None = None) -> list[Sample]:
    """Time every (kind, config) in ``items``, interleaved over ``rounds`` rounds (torch settings as they are).

    Each visit makes one untimed call before its timed batch, so a config is timed warm whatever ran
    before it: without it, a kernel long enough for one call per batch was timed cold after a large
    config had flushed the caches, and its time depended on the round's mix (re-timed in a different
    mix, the same configs came out 10-25% apart). A real forward's cold weights are a model-level term
    (``ModelTerms.per_weight_byte``), fitted on whole networks.
    """
    import torch

    rng = random.Random(seed)
    now = clock()
    fns, calls, kept = [], [], []
    with torch.no_grad():
        for kind, config in items:
            try:
                fn = build(kind, config)
                fn()  # warm-up: first-call allocation, lazy init, weight packing
            except (RuntimeError, ValueError):
                # A config this torch refuses: no sample, rather than a calibration lost after minutes of work.
                # The caller sees it missing (calibrate counts them in the profile's provenance).
                continue
            once = _time_batch(fn, 1)
            fns.append(fn)
            kept.append((kind, config))
            calls.append(max(1, min(MAX_CALLS_PER_BATCH, int(BATCH_S / max(once, 1e-7)))))
        items = kept
        times: list[list[float]] = [[] for _ in items]
        order = list(range(len(items)))
        for _ in range(rounds):
            rng.shuffle(order)
            for i in order:
                fns[i]()  # untimed: the config before this one may have flushed the caches (see the docstring)
                times[i].append(_time_batch(fns[i], calls[i], now))
            if on_sample:
                on_sample(len(items))
    return [Sample(kind, dict(config), min(t), statistics.median(t), len(t))
            for (kind, config), t in zip(items, times)]


@dataclass(frozen=True)
class Overheads:
    """Seconds per call of the runtime's fixed costs, measured on the smallest possible work."""

    op_call: float  # a torch function on a one-element tensor
    module_call: float  # an nn.Module whose forward is one such function
    container_call: float  # one more level of nn.Sequential around a module: what a block's forward costs

    def to_dict(self) -> dict[str, float]:
        return {"op_call_s": self.op_call, "module_call_s": self.module_call, "container_call_s": self.container_call}


def measure_overheads(rounds: int = 7, depth: int = 32) -> Overheads:
    """Per-call overhead of a torch op, a module call, and a container level (``depth`` nested Sequentials)."""
    import torch
    from torch import nn

    now = clock()
    x = torch.zeros(1)
    leaf = nn.ReLU()
    nested: nn.Module = nn.ReLU()
    for _ in range(depth):
        nested = nn.Sequential(nested)

    def best(fn: Callable[[], Any]) -> float:
        with torch.no_grad():
            fn()
            return min(_time_batch(fn, 500, now) for _ in range(rounds))

    op = best(lambda: torch.relu(x))
    module = best(lambda: leaf(x))
    deep = best(lambda: nested(x))
    return Overheads(op, module, max((deep - module) / depth, 0.0))


@dataclass(frozen=True)
class ModelTiming:
    """Seconds of whole forwards, by two clocks: wall-clock (what `flopcount bench` reports) and the
    calling thread's CPU time (the same forwards minus the time other processes held the core)."""

    min_s: float
    median_s: float
    spread: float  # (max - min) / median of the wall-clock repeats: the measurement's own noise
    cpu_min_s: float
    cpu_median_s: float
    cpu_spread: float
    repeats: int
    # Wall-clock medians of the even- and the odd-numbered visits: two independent measurements of the
    # same model, whose agreement (over many models) is how far the measured ranking itself can be trusted.
    halves_s: tuple[float, float] = (math.nan, math.nan)

    @classmethod
    def of(cls, wall: Sequence[float], cpu: Sequence[float], per_visit: int | None = None) -> "ModelTiming":
        w, c = statistics.median(wall), statistics.median(cpu)
        per_visit = per_visit or len(wall)
        visits = [wall[i:i + per_visit] for i in range(0, len(wall), per_visit)]
        even, odd = [t for v in visits[0::2] for t in v], [t for v in visits[1::2] for t in v]
        halves = (statistics.median(even), statistics.median(odd)) if even and odd else (w, w)
        return cls(min(wall), w, (max(wall) - min(wall)) / w, min(cpu), c, (max(cpu) - min(cpu)) / c, len(wall),
                   halves)


def time_models(models: Sequence[tuple[Any, tuple]], *, rounds: int = 3, warmup: int = 1, repeats: int = 3,
                seed: int = 0, deadline: float | None = None,
                on_round: Callable[[int], None] | None = None) -> list[ModelTiming]:
    """Whole-forward times of several (model, args) as `flopcount bench` runs them: eval, ``no_grad``, no
    hooks, ``warmup`` forwards, then ``repeats`` timed forwards in a row, so each model is timed in its
    own steady state (caches and the allocator's heap warmed by itself, not by the model before). The
    visits are interleaved: ``rounds`` rounds each visit every model once in a fresh random order, so a
    burst of load from other processes spoils one visit, not one model. Stops early at ``deadline`` (a
    perf_counter time) once 2 rounds are done."""
    import torch

    rng = random.Random(seed)
    wall: list[list[float]] = [[] for _ in models]
    cpu: list[list[float]] = [[] for _ in models]
    order = list(range(len(models)))
    with torch.no_grad():
        for r in range(rounds):
            if deadline is not None and r >= 2 and time.perf_counter() > deadline:
                break
            rng.shuffle(order)
            for i in order:
                model, args = models[i]
                model.eval()
                for _ in range(warmup):
                    model(*args)
                for _ in range(repeats):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    model(*args)
                    cpu[i].append(time.thread_time() - start_cpu)
                    wall[i].append(time.perf_counter() - start)
            if on_round:
                on_round(r + 1)
    return [ModelTiming.of(w, c, repeats) for w, c in zip(wall, cpu)]


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (None: as they are), restoring torch's setting afterwards."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
