"""The zoo's reference counts (flopcount/data/references.toml), and how far an analysis is from them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from flopcount import tomlio


@lru_cache(maxsize=1)
def load_references() -> dict[str, dict[str, Any]]:
    text = resources.files("flopcount.data").joinpath("references.toml").read_text(encoding="utf-8")
    return tomlio.loads(text)


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
