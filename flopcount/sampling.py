"""Counts of a model whose cost depends on its data, over several inputs: mean, min and max per layer.

A detection head that keeps the boxes above a score, a mixture of experts whose router sends tokens to
some experts and not others: one input gives one possible cost. :func:`analyze_samples` analyses the
model on ``samples`` inputs (seeded random floats of the given shapes, or the tensors saved in a
directory) on a real device and aggregates per layer, keyed by the record's name (module path, or
``path:op`` for a function-level op; the calls of one name in one input summed). A layer that did not
run for an input counts 0 for it (an expert no token was routed to costs nothing), so a mean is over
all inputs. Integer inputs (token ids) are zeros, as in a single analysis: give real ones in a
directory. Meta tensors have no data, so sampling on meta is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from flopcount.errors import ConfigError, UsageError

METRICS = ("flops", "paper_flops", "mac", "mac_bytes")


@dataclass(frozen=True)
class Spread:
    mean: float
    min: int
    max: int

    @classmethod
    def of(cls, values: list[int]) -> "Spread":
        return cls(sum(values) / len(values), min(values), max(values))

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class SampledLayer:
    name: str
    op: str
    category: str
    runs: int  # how many inputs ran this layer at all
    calls: Spread  # calls per input
    metrics: dict[str, Spread]  # flops, paper_flops, mac, mac_bytes


@dataclass
class SampledReport:
    model: str
    device: str
    samples: int
    source: str  # "random (seed 0)" or the directory
    params: int
    totals: dict[str, Spread]
    layers: list[SampledLayer]
    reports: list[Any] = field(repr=False, default_factory=list)  # the Report of every input

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "device": self.device, "samples": self.samples, "source": self.source,
            "params": self.params,
            "totals": {m: s.to_dict() for m, s in self.totals.items()},
            "layers": [{"name": layer.name, "op": layer.op, "category": layer.category, "runs": layer.runs,
                        "calls": layer.calls.to_dict(), **{m: s.to_dict() for m, s in layer.metrics.items()}}
                       for layer in self.layers],
        }


def analyze_samples(model: Any, input_size: Any = None, *, samples: int = 8, seed: int = 0,
                    inputs_dir: str | Path | None = None, device: str | None = None,
                    name: str | None = None) -> SampledReport:
    """Analyse ``model`` on ``samples`` seeded random inputs of ``input_size`` (or on every ``*.pt`` file
    of ``inputs_dir``, in name order: a tensor, a tuple of tensors or a dict of keyword tensors each),
    on ``device`` (default: the model's), and aggregate per layer."""
    import torch

    from flopcount.analysis import analyze

    target = torch.device(device) if device is not None else _device_of(model)
    if target.type == "meta":
        raise UsageError("sampling needs data, which meta tensors do not have: analyse on a real device "
                         "(--device cpu)")
    if (input_size is None) == (inputs_dir is None):
        raise UsageError("give exactly one of input_size or inputs_dir")
    if inputs_dir is None and samples < 1:
        raise UsageError(f"samples must be at least 1, got {samples}")
    batches = list(_saved(Path(inputs_dir), target) if inputs_dir is not None
                   else _random(input_size, samples, seed, target))
    name = name or type(model).__name__
    reports = [analyze(model, inputs=batch, device=target, name=name) for batch in batches]
    source = str(inputs_dir) if inputs_dir is not None else f"random (seed {seed})"
    return aggregate(reports, source)


def aggregate(reports: list[Any], source: str = "") -> SampledReport:
    """Mean, min and max of every metric, per layer name and in total, over ``reports``."""
    per_input: list[dict[str, dict[str, int]]] = []
    described: dict[str, tuple[str, str]] = {}  # name -> (op, category), in first-run order
    for report in reports:
        layers: dict[str, dict[str, int]] = {}
        for r in report.records:
            described.setdefault(r.name, (r.op, r.category))
            slot = layers.setdefault(r.name, dict.fromkeys(("calls", *METRICS), 0))
            slot["calls"] += 1
            slot["flops"] += r.flops
            slot["paper_flops"] += r.flops if r.is_paper else 0
            slot["mac"] += r.mac
            slot["mac_bytes"] += r.mac_bytes
        per_input.append(layers)
    layers = []
    for layer_name, (op, category) in described.items():
        rows = [run.get(layer_name, {}) for run in per_input]
        layers.append(SampledLayer(
            layer_name, op, category, runs=sum(1 for row in rows if row),
            calls=Spread.of([row.get("calls", 0) for row in rows]),
            metrics={m: Spread.of([row.get(m, 0) for row in rows]) for m in METRICS}))
    totals = {m: Spread.of([getattr(report.totals, m) for report in reports]) for m in METRICS}
    first = reports[0]
    return SampledReport(first.model, first.device, len(reports), source, first.totals.params, totals, layers,
                         list(reports))


def _device_of(model: Any):
    import torch

    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _random(input_size: Any, samples: int, seed: int, device) -> Iterator[tuple]:
    import torch

    from flopcount.inputs import make_tensor, normalize_input_size

    specs = normalize_input_size(input_size)
    for i in range(samples):
        generator = torch.Generator().manual_seed(seed + i)
        yield tuple(make_tensor(spec, device, generator) for spec in specs)


def _saved(directory: Path, device) -> Iterable[Any]:
    import torch

    if not directory.is_dir():
        raise UsageError(f"no such directory: {directory}")
    files = sorted(directory.glob("*.pt"))
    if not files:
        raise UsageError(f"{directory}: no *.pt files (save inputs with torch.save(tensor_or_tuple, path))")
    for path in files:
        try:
            saved = torch.load(path, map_location=device, weights_only=True)
        except Exception as error:
            raise ConfigError(f"{path}: cannot load saved inputs ({type(error).__name__}: {error})") from None
        if isinstance(saved, torch.Tensor):
            yield (saved,)
        elif isinstance(saved, (tuple, list, dict)):
            yield tuple(saved) if isinstance(saved, list) else saved
        else:
            raise ConfigError(f"{path}: holds a {type(saved).__name__}; save a tensor, a tuple of tensors or a dict")
