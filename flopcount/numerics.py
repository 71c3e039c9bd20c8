"""Does a forward compute on denormal floats? Then its measured time says little about trained weights.

x86 CPUs compute on denormal (subnormal) floats, magnitudes below ``torch.finfo(dtype).tiny``, many times
slower than on normal ones. Trained networks keep their activations of order one; random weights drawn
too small (transformers' initialiser: normal with std 0.02, norm scales included) shrink them at every
layer, and by a few dozen layers they are denormal: transformers' EfficientNet-B0 so built had 8% of its
activations denormal and measured 27.9 ms, 23.2 ms with denormals flushed to zero (2026-11-29). `bench`
counts them in one extra forward and says so, rather than report such a time as the model's.
"""

from __future__ import annotations

from dataclasses import dataclass

WARN_FRACTION = 1e-3  # of all float elements that leaf modules output


@dataclass(frozen=True)
class Denormals:
    """Denormal elements among the float outputs of a forward's leaf-module calls."""

    elements: int
    total: int
    worst_layer: str  # the leaf module whose outputs hold the largest share of denormals ("" if none)
    worst_fraction: float

    @property
    def fraction(self) -> float:
        return self.elements / self.total if self.total else 0.0

    @property
    def significant(self) -> bool:
        return self.fraction >= WARN_FRACTION

    def warning(self) -> str:
        return (f"warning: {100 * self.fraction:.1f}% of the activations are denormal floats (up to "
                f"{100 * self.worst_fraction:.0f}% of '{self.worst_layer}'), which CPUs compute many times slower: "
                "weights drawn too small shrink activations so, and trained weights would time differently "
                "(torch.set_flush_denormal(True) flushes them to zero)")


def count_denormals(model, args: tuple) -> Denormals:
    """One forward of ``model(*args)`` (no_grad) counting denormal elements in every leaf module's outputs."""
    import torch

    counts: dict[str, list[int]] = {}

    def hook(name: str):
        def count(module, inputs, output) -> None:
            for tensor in output if isinstance(output, (tuple, list)) else (output,):
                if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.numel():
                    tiny = torch.finfo(tensor.dtype).tiny
                    denormal = int(((tensor != 0) & (tensor.abs() < tiny)).sum())
                    seen = counts.setdefault(name, [0, 0])
                    seen[0] += denormal
                    seen[1] += tensor.numel()
        return count

    handles = [module.register_forward_hook(hook(name)) for name, module in model.named_modules()
               if not any(True for _ in module.children())]
    try:
        with torch.no_grad():
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
    elements = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    worst = max(counts.items(), key=lambda item: item[1][0] / item[1][1], default=("", [0, 1]))
    return Denormals(elements, total, worst[0] if worst[1][0] else "", worst[1][0] / worst[1][1])
