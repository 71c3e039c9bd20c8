"""Rendering of a latency Prediction: a rich table (roofline time beside the prediction) and a JSON dict.

Pure functions of a Prediction (and, for the roofline column, a device profile): nothing is measured.
The roofline time comes from ``flopcount.roofline``, the analytic lower bound the prediction improves on.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from flopcount.predict.predictor import Prediction
from flopcount.render.common import Column, csv_text, fit_table, json_document, markdown_table


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


def _rows(prediction: Prediction, device, top: int | None) -> list[dict[str, Any]]:
    """Every op (the ``top`` slowest when given) and a last row for the container modules' calls."""
    roof = roofline_times(prediction, device)
    total = prediction.total_seconds or 1.0
    ops = prediction.ops if top is None else sorted(prediction.ops, key=lambda o: -o.seconds)[:top]
    rows = [{"name": o.name, "op": o.op, "kind": o.kind, "predictor": o.predictor, "predicted_ms": o.seconds * 1e3,
             "roofline_ms": roof[o.index] * 1e3 if o.index in roof else None, "share": o.seconds / total}
            for o in ops]
    rows.append({"name": "(module calls)", "op": f"{prediction.containers} containers", "kind": "",
                 "predictor": "fit: model terms", "predicted_ms": prediction.container_seconds * 1e3,
                 "roofline_ms": None, "share": prediction.container_seconds / total})
    return rows


def _cells(prediction: Prediction, device, top: int | None) -> list[list[str]]:
    """The rows as text, in the table's column order (the roofline column only with a device)."""
    cells = []
    for r in _rows(prediction, device, top):
        row = [r["name"], r["op"], _ms(r["predicted_ms"] / 1e3)]
        if device is not None:
            row.append(_ms(None if r["roofline_ms"] is None else r["roofline_ms"] / 1e3))
        cells.append(row + [f"{100 * r['share']:.1f}", r["predictor"]])
    return cells


def _title(prediction: Prediction) -> str:
    return (f"{prediction.model}: predicted latency on '{prediction.profile}' ({prediction.runtime}, "
            f"{prediction.threads} thread(s))")


def _summary_lines(prediction: Prediction, device, device_note: str = "") -> list[str]:
    lines = [f"predicted {prediction.total_ms:.2f} ms"]
    by_kind = prediction.host_speed_by_kind
    if by_kind:
        low, high = min(by_kind, key=by_kind.get), max(by_kind, key=by_kind.get)
        lines.append(f"at this machine's speed now: the profile's kernels re-timed here take x{prediction.host_speed:.3f} "
                     f"of their calibrated time (median), x{by_kind[low]:.3f} ({low}) to x{by_kind[high]:.3f} ({high}) "
                     f"by kind; each op is scaled by its kind's reading, by the median for the kinds not re-timed")
    elif prediction.host_speed != 1.0:
        lines.append(f"at this machine's speed now: every op x{prediction.host_speed:.3f}, the time the profile's "
                     "kernels take here now over their calibrated time")
    if device is not None:
        roof = sum(roofline_times(prediction, device).values()) * 1e3
        lines.append(f"roofline bound {roof:.2f} ms on device profile '{device.name}'"
                     + (f" ({device_note})" if device_note else ""))
    fallback = prediction.fallback_ops
    if fallback:
        lines.append(f"{len(fallback)} op(s) used the fallback (overhead + roofline): "
                     + ", ".join(sorted({o.op for o in fallback})))
    cpu = prediction.provenance.get("cpu")
    if cpu:
        lines.append(f"profile measured on {cpu}, torch {prediction.provenance.get('torch')}, "
                     f"{prediction.provenance.get('date')}")
    return lines


def prediction_table(prediction: Prediction, device=None, *, top: int | None = None, width: int = 120,
                     device_note: str = "") -> Group:
    """Per-op predicted ms (largest first when ``top`` is given), the predictor used, roofline ms beside;
    fits ``width`` columns (low-priority columns give way, named in the caption)."""
    columns = [Column("name"), Column("op", drop=3), Column("predicted ms", "right")]
    if device is not None:
        columns.append(Column("roofline ms", "right", drop=2))
    columns += [Column("% time", "right", drop=4), Column("predictor", text=True, drop=1)]
    rows = _cells(prediction, device, top)
    table = fit_table(columns, rows, width, title=_title(prediction), title_justify="left", header_style="bold",
                      end_sections=[len(rows) - 2])
    lines = _summary_lines(prediction, device, device_note)
    summary = Text(lines[0], style="bold")
    for line in lines[1:]:
        summary.append("\n" + line, style="yellow" if "fallback" in line else "dim" if "measured on" in line else "")
    return Group(table, summary)


def to_csv(prediction: Prediction, device=None, top: int | None = None) -> str:
    rows = [{**r, "share": f"{r['share']:.4f}"} for r in _rows(prediction, device, top)]
    return csv_text(rows, ["name", "op", "kind", "predictor", "predicted_ms", "roofline_ms", "share"])


def to_markdown(prediction: Prediction, device=None, top: int | None = None, device_note: str = "") -> str:
    headers = ["name", "op", "predicted ms"] + (["roofline ms"] if device is not None else []) + ["% time",
                                                                                                 "predictor"]
    rows = _cells(prediction, device, top)
    align = "llr" + ("r" if device is not None else "") + "rl"
    summary = "\n".join(f"- {line}" for line in _summary_lines(prediction, device, device_note))
    return f"## {_title(prediction)}\n\n{markdown_table(headers, rows, align)}\n\n{summary}\n"


def to_json(prediction: Prediction, device=None, top: int | None = None, device_note: str = "") -> str:
    """The ``predict`` document: every op (``top`` does not cut JSON), totals, the roofline device and why."""
    return json_document("predict", {**prediction_dict(prediction, device), "roofline_device_note": device_note})


def prediction_dict(prediction: Prediction, device=None) -> dict[str, Any]:
    """JSON-ready: totals in ms, every op with its predictor, the roofline ms beside when a device is given."""
    roof = roofline_times(prediction, device)
    return {
        "model": prediction.model,
        "profile": prediction.profile,
        "runtime": prediction.runtime,
        "threads": prediction.threads,
        "provenance": prediction.provenance,
        "predicted_ms": prediction.total_ms,
        "host_speed": prediction.host_speed,
        "host_speed_by_kind": prediction.host_speed_by_kind,
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


def _cv_rows(profile) -> list[dict[str, Any]]:
    runtime = profile.runtime()
    return [{"kind": kind, "samples": int(e.cv.get("samples", len(e.samples))),
             "median_abs_error": e.cv.get("median_abs_error"), "p90_abs_error": e.cv.get("p90_abs_error"),
             "within_10pct": e.cv.get("within_10pct")}
            for kind, e in sorted(runtime.kinds.items())]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def calibration_table(profile, path, width: int = 120) -> Group:
    """Where the profile went and each kernel kind's k-fold cross-validated error."""
    runtime = profile.runtime()
    columns = [Column("kernel kind"), Column("samples", "right"), Column("median |error|", "right"),
               Column("p90 |error|", "right"), Column("within ±10%", "right")]
    rows = [[r["kind"], str(r["samples"]), _pct(r["median_abs_error"]), _pct(r["p90_abs_error"]),
             _pct(r["within_10pct"])] for r in _cv_rows(profile)]
    table = fit_table(columns, rows, width, title=f"latency profile '{profile.name}': cross-validated error per "
                                                   "kernel kind", title_justify="left", header_style="bold")
    p = runtime.provenance
    lines = Text(f"wrote {path}", style="bold")
    whole = runtime.model_cv.get("median_abs_error")
    if whole is not None:
        lines.append(f"\nwhole calibration networks, leave-one-out: median |error| {_pct(whole)} over "
                     f"{len(runtime.model_cv.get('networks', []))} networks")
    else:
        lines.append("\nno whole-network terms (kernel kinds only): model totals add isolated kernel times")
    sittings = runtime.model_cv.get("sittings") or []
    if sittings:
        lines.append(f"\nnetworks timed in {len(sittings)} sittings ({', '.join(s['date'] or '?' for s in sittings)}), "
                     "fitted to the geometric mean of each network's times; the last ran at "
                     f"{sittings[-1]['against_before']:.3f}x the ones before (median)")
    lines.append(f"\n{p.get('kernels_timed')} kernels timed in {p.get('seconds_spent')} s on {p.get('cpu')}, "
                 f"{p.get('threads')} thread(s), torch {p.get('torch')}", style="dim")
    return Group(table, lines)


def calibration_json(profile, path) -> str:
    runtime = profile.runtime()
    return json_document("calibrate", {
        "profile": profile.name, "path": str(path), "runtime": runtime.runtime, "provenance": runtime.provenance,
        "kinds": _cv_rows(profile),
        "model_median_abs_error": runtime.model_cv.get("median_abs_error"),
        "model_networks": len(runtime.model_cv.get("networks", [])),
        "network_sittings": [{"date": s["date"], "against_before": s.get("against_before")}
                             for s in runtime.model_cv.get("sittings") or []],
    })
