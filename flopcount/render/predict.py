"""Rendering of a latency Prediction: a rich table (roofline time beside the prediction) and a JSON dict.

Pure functions of a Prediction (and, for the roofline column, a device profile): nothing is measured.
The roofline time comes from ``flopcount.roofline``, the analytic lower bound the prediction improves on.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from flopcount.predict.predictor import Prediction

SCHEMA_VERSION = 1


def roofline_times(prediction: Prediction, device) -> dict[int, float]:
    """Roofline seconds per record index (records with no traffic and no FLOPs have none)."""
    if device is None or prediction.report is None:
        return {}
    from flopcount.roofline import roofline

    return {p.index: p.time for p in roofline(prediction.report, device).points}


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def prediction_table(prediction: Prediction, device=None, *, top: int | None = None) -> Group:
    """Per-op predicted ms (largest first when ``top`` is given), the predictor used, roofline ms beside."""
    roof = roofline_times(prediction, device)
    ops = prediction.ops
    if top is not None:
        ops = sorted(ops, key=lambda o: -o.seconds)[:top]
    table = Table(header_style="bold", title=f"{prediction.model}: predicted latency on '{prediction.profile}' "
                                            f"({prediction.runtime}, {prediction.threads} thread(s))")
    table.add_column("name", overflow="fold")
    table.add_column("op")
    table.add_column("predicted ms", justify="right", no_wrap=True)
    if device is not None:
        table.add_column("roofline ms", justify="right", no_wrap=True)
    table.add_column("% time", justify="right", no_wrap=True)
    table.add_column("predictor", overflow="fold")
    total = prediction.total_seconds or 1.0
    for o in ops:
        row = [o.name, o.op, _ms(o.seconds)]
        if device is not None:
            row.append(_ms(roof.get(o.index)))
        row += [f"{100 * o.seconds / total:.1f}", o.predictor]
        table.add_row(*row)
    row = ["(module calls)", f"{prediction.containers} containers", _ms(prediction.container_seconds)]
    if device is not None:
        row.append("")
    table.add_row(*row, f"{100 * prediction.container_seconds / total:.1f}", "fit: model terms")
    summary = Text(f"predicted {prediction.total_ms:.2f} ms")
    if device is not None:
        summary.append(f"   roofline bound {sum(roof.values()) * 1e3:.2f} ms on device '{device.name}'")
    fallback = prediction.fallback_ops
    if fallback:
        summary.append(f"\n{len(fallback)} op(s) used the fallback (overhead + roofline): "
                       + ", ".join(sorted({o.op for o in fallback})), style="yellow")
    cpu = prediction.provenance.get("cpu")
    if cpu:
        summary.append(f"\nprofile measured on {cpu}, torch {prediction.provenance.get('torch')}, "
                       f"{prediction.provenance.get('date')}", style="dim")
    return Group(table, summary)


def prediction_dict(prediction: Prediction, device=None) -> dict[str, Any]:
    """JSON-ready: totals in ms, every op with its predictor, the roofline ms beside when a device is given."""
    roof = roofline_times(prediction, device)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": prediction.model,
        "profile": prediction.profile,
        "runtime": prediction.runtime,
        "threads": prediction.threads,
        "provenance": prediction.provenance,
        "predicted_ms": prediction.total_ms,
        "roofline_ms": sum(roof.values()) * 1e3 if device is not None else None,
        "roofline_device": device.name if device is not None else None,
        "container_calls": prediction.containers,
        "container_ms": prediction.container_seconds * 1e3,
        "ops": [
            {"index": o.index, "name": o.name, "op": o.op, "kind": o.kind, "predictor": o.predictor,
             "predicted_ms": o.seconds * 1e3, "kernel_ms": o.kernel_seconds * 1e3,
             "roofline_ms": roof[o.index] * 1e3 if o.index in roof else None}
            for o in prediction.ops
        ],
    }
