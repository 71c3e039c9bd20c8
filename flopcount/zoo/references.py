"""The reference counts of flopcount/data/references.toml (the zoo's models, and under its [hf] table the
bundled Hugging Face configs), and how far an analysis is from them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from flopcount import tomlio


HF_SECTION = "hf"


@lru_cache(maxsize=1)
def _reference_file() -> dict[str, Any]:
    text = resources.files("flopcount.data").joinpath("references.toml").read_text(encoding="utf-8")
    return tomlio.loads(text)


def load_references() -> dict[str, dict[str, Any]]:
    """The zoo's models by name (the [hf] section left out)."""
    return {name: ref for name, ref in _reference_file().items() if name != HF_SECTION}


def hf_references() -> dict[str, dict[str, Any]]:
    """The bundled Hugging Face configs by name (``hf:llama-2-7b`` -> ``"llama-2-7b"``)."""
    return dict(_reference_file().get(HF_SECTION, {}))


@dataclass(frozen=True)
class Deviation:
    """Relative gaps (ours - reference) / reference; None where the reference gives no figure."""

    params: float | None
    flops: float | None
    paper_params: float | None
    paper_flops: float | None
    tolerance: float | None

    @property
    def within_tolerance(self) -> bool:
        exact = all(gap in (None, 0.0) for gap in (self.params, self.flops))
        paper = [g for g in (self.paper_params, self.paper_flops) if g is not None]
        return exact and all(abs(g) <= (self.tolerance or 0.0) for g in paper)


def _gap(ours: int, reference: float | None) -> float | None:
    return None if reference is None else (ours - reference) / reference


def deviation(name: str, params: int, paper_flops: int) -> Deviation | None:
    ref = load_references().get(name)
    if ref is None:
        return None
    return Deviation(
        params=_gap(params, ref.get("params")),
        flops=_gap(paper_flops, ref.get("flops")),
        paper_params=_gap(params, ref.get("paper_params")),
        paper_flops=_gap(paper_flops, ref.get("paper_flops")),
        tolerance=ref.get("tolerance"),
    )
