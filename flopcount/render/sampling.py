"""A :class:`~flopcount.sampling.SampledReport` rendered: per-layer mean / min / max (rich table, JSON, Markdown)."""

from __future__ import annotations

from flopcount.render.common import Column, fit_table, json_document, markdown_table
from flopcount.sampling import SampledLayer, SampledReport, Spread
from flopcount.units import human

CONVENTIONS = ("FLOPs are multiply-adds, MAC is memory access cost (elements read + written); per layer and "
               "input, a layer that did not run counts 0")


def _spread(s: Spread) -> list[str]:
    return [human(s.mean), human(s.min), human(s.max)]


def _row(layer: SampledLayer, samples: int) -> list[str]:
    return [layer.name, layer.op, f"{layer.runs}/{samples}", *_spread(layer.metrics["flops"]),
            *_spread(layer.metrics["mac"])]


def _heading(result: SampledReport) -> str:
    t = result.totals
    return (f"{result.model} on {result.device}, {result.samples} inputs ({result.source}): FLOPs mean "
            f"{t['flops'].mean:,.1f} (min {t['flops'].min:,}, max {t['flops'].max:,}), MAC mean {t['mac'].mean:,.1f} "
            f"(min {t['mac'].min:,}, max {t['mac'].max:,}); params {result.params:,}")


def renderables(result: SampledReport, width: int = 200):
    from rich.console import Group
    from rich.text import Text

    columns = [Column("layer"), Column("type", drop=5), Column("ran", "right", drop=4),
               Column("FLOPs mean", "right"), Column("FLOPs min", "right", drop=2), Column("FLOPs max", "right", drop=2),
               Column("MAC mean", "right"), Column("MAC min", "right", drop=3), Column("MAC max", "right", drop=3)]
    table = fit_table(columns, [_row(layer, result.samples) for layer in result.layers], width,
                      caption=CONVENTIONS, header_style="bold")
    return Group(Text(_heading(result)), table)


def to_json(result: SampledReport) -> str:
    return json_document("analyze_samples", result.to_dict())


def to_markdown(result: SampledReport) -> str:
    headers = ["layer", "type", "ran", "FLOPs mean", "FLOPs min", "FLOPs max", "MAC mean", "MAC min", "MAC max"]
    table = markdown_table(headers, [_row(layer, result.samples) for layer in result.layers], "lllrrrrrr")
    return f"_{_heading(result)}_\n\n{table}\n\n_{CONVENTIONS}._\n"
