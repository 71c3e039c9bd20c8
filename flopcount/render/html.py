"""One self-contained, offline HTML file for a Report: look at a model instead of reading it.

Everything is computed here, in Python; the page's script only lays it out. The page holds:

* the totals and whether they are complete (every op had a formula) or a lower bound;
* the module tree as a treemap (or an icicle), sized by FLOPs, MAC, params, the roofline time, the
  latency the calibrated predictor gives (:func:`flopcount.predict.predict`, ``cpu_measured`` profile by
  default) and, when the report has ``memory``, the activation bytes each module's calls allocate; a
  link can choose the view: ``report.html#metric=mac&layout=icicle``;
* with ``memory``, the peak (activations + weights) and the layer where it happens;
* per-layer bars along the network's depth: each layer's share of the FLOPs above the axis and its
  share of the MAC below it (where the work is vs where the memory traffic is: ShuffleNet V2's point);
* the roofline scatter of :func:`flopcount.roofline.roofline` on a device profile (``cpu_measured`` by
  default), with hover details;
* with ``baseline``, a before/after view: :func:`flopcount.diff.diff` of the baseline against this model.

The data sits in the page as JSON (``<script type="application/json" id="flopcount-data">``, the
:func:`html_payload` of the report, with ``schema_version``); the CSS and the script are inlined from
``flopcount/data/html``. No CDN, no font, no request: the file works offline and from an e-mail.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from importlib import resources
from typing import Any

from flopcount.records import CATEGORIES, PAPER_CATEGORIES
from flopcount.report import Report

SCHEMA_VERSION = 1
DEFAULT_DEVICE = "cpu_measured"
DEFAULT_LATENCY_PROFILE = "cpu_measured"

# Tree metrics: key -> (label, what it measures). The page offers every metric present in the payload.
TREE_METRICS = {
    "flops": ("FLOPs", "multiply-adds of every op (one fused multiply-add = 1 FLOP)"),
    "mac": ("MAC", "memory access cost: elements read + written (ShuffleNet V2), not multiply-accumulates"),
    "params": ("params", "parameter elements (a shared module's counted once)"),
    "activation_bytes": ("memory", "activation bytes each call allocates: how far live memory rose while it ran "
                                   "above the level before it (outputs and temporaries; views and in-place ops "
                                   "allocate nothing), summed over the module's calls. The peak is in the totals"),
    "latency_ms": ("roofline time", "roofline time in ms on the device profile: max(FLOPs / peak, bytes / bandwidth) "
                                    "per call, summed"),
    "predicted_ms": ("predicted latency", "calibrated latency predictor (flopcount predict): each op's predicted "
                                          "ms, summed; the Python cost of container forwards is the root's own"),
}


def render_html(report: Report, *, baseline: Any = None, device: Any = DEFAULT_DEVICE,
                latency_profile: Any = DEFAULT_LATENCY_PROFILE, metric: str | None = None,
                title: str | None = None) -> str:
    """The HTML page of ``report``.

    ``baseline``: what to show a before/after view against: a Report, a saved JSON report or a budget
    baseline (a path, ``file.json#model_id``), a :class:`~flopcount.diff.Side` or a ready
    :class:`~flopcount.diff.Diff` (baseline = A, this report = B). ``device``: a device profile name,
    path or :class:`~flopcount.roofline.DeviceProfile` for the roofline and the predicted latency;
    ``None`` leaves both out. ``latency_profile``: a latency profile name, path or
    :class:`~flopcount.predict.PredictProfile` for the predicted latency; ``None`` (or one that does not
    load) leaves it out. ``metric``: the tree metric the page opens on (a link's ``#metric=`` wins).
    """
    payload = html_payload(report, baseline=baseline, device=device, latency_profile=latency_profile, metric=metric)
    page = _asset("report.html")
    # No "<" at all in the data: nothing from a model's names can end the script or open a comment in it.
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    replacements = {
        "/*FLOPCOUNT_CSS*/": _asset("report.css"),
        "/*FLOPCOUNT_JS*/": _asset("report.js"),
        "FLOPCOUNT_DATA": data,
        "FLOPCOUNT_TITLE": html.escape(title or f"flopcount: {report.model}"),
    }
    for marker, text in replacements.items():
        page = page.replace(marker, text, 1)
    return page


def html_payload(report: Report, *, baseline: Any = None, device: Any = DEFAULT_DEVICE,
                 latency_profile: Any = DEFAULT_LATENCY_PROFILE, metric: str | None = None) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-ready data (the page's ``flopcount-data``)."""
    from flopcount.errors import UsageError

    roofline_data, latency_ms, device_note = _roofline(report, device)
    prediction, latency_note = _prediction(report, latency_profile)
    per_record = {"latency_ms": latency_ms}
    if prediction is not None:
        per_record["predicted_ms"] = {op.index: op.ms for op in prediction.ops}
    if report.memory is not None:
        per_record["activation_bytes"] = dict(enumerate(report.memory.raised_by()))
    tree = module_tree(report, per_record)
    if prediction is not None:  # not any op's: the Python of the modules' forwards, at the root
        tree["values"]["predicted_ms"] = round(tree["values"]["predicted_ms"] + prediction.container_seconds * 1e3, 9)
    metrics = [k for k in TREE_METRICS if k in tree["values"]]
    if metric is not None and metric not in metrics:
        raise UsageError(f"no tree metric {metric!r} in this report; choose one of {', '.join(metrics)}")
    return {
        "schema_version": SCHEMA_VERSION,
        "model": report.model,
        "inputs": [f"{t}" if t.dtype == "float32" else f"{t}:{t.dtype}" for t in report.inputs],
        "device": report.device,
        "conventions": report.to_dict()["conventions"],
        "totals": asdict(report.totals),
        "complete": report.complete,
        "uncounted": dict(report.uncounted),
        "counted_from_ops": dict(report.counted_from_ops),
        "metrics": [{"key": k, "label": TREE_METRICS[k][0], "meaning": TREE_METRICS[k][1]} for k in metrics],
        "default_metric": metric or "flops",
        "categories": list(CATEGORIES),
        "paper_categories": sorted(PAPER_CATEGORIES),
        "tree": tree,
        "memory": _memory(report),
        "prediction": None if prediction is None else {
            "profile": prediction.profile, "runtime": prediction.runtime, "threads": prediction.threads,
            "total_ms": prediction.total_ms, "container_ms": prediction.container_seconds * 1e3},
        "latency_note": latency_note,
        "layers": [
            {"index": r.index, "name": r.name, "op": r.op, "category": r.category, "counted": r.counted,
             "flops": r.flops, "mac": r.mac, "params": r.params,
             "output": str(r.outputs[0]) if r.outputs else ""}
            for r in report.records
        ],
        "roofline": roofline_data,
        "roofline_note": device_note,
        "diff": _diff(report, baseline),
    }


def module_tree(report: Report, per_record: dict[str, dict[int, float] | None] | None = None) -> dict[str, Any]:
    """The module hierarchy with each node's own plus descendants' values.

    A node per module path (its ``key``; the root's is ``""``); the function-level ops a module's
    ``forward`` runs outside its children become leaf nodes keyed ``path:op`` (calls of one op summed). Params are those each
    module holds, from ``report.module_params``, so the root's params equal the total. ``per_record``:
    further metrics, each a map record index -> value (roofline ms, predicted ms, activation bytes), summed
    like FLOPs; ``None`` maps are left out.
    """
    extra = {k: v for k, v in (per_record or {}).items() if v is not None}
    metrics = ("flops", "mac", "params", *extra)
    nodes: dict[str, dict[str, Any]] = {}

    def node(key: str, path: str, name: str, typ: str, category: str | None = None) -> dict[str, Any]:
        found = nodes.get(key)
        if found is None:
            found = nodes[key] = {"key": key, "name": name, "path": path, "type": typ, "category": category,
                                  "own": dict.fromkeys(metrics, 0), "children": []}
            if key:
                parent = _parent(key)
                node(parent, parent, parent.rsplit(".", 1)[-1] if parent else "(root)",
                     report.module_types.get(parent, ""))["children"].append(found)
        return found

    node("", "", "(root)", report.module_types.get("", report.model))
    for path, n in report.module_params.items():
        node(path, path, _last(path), report.module_types.get(path, ""))["own"]["params"] += n
    for record in report.records:
        if record.source == "op":
            target = node(f"{record.path}:{record.op}", record.path, record.op, record.op, record.category)
        else:
            target = node(record.path, record.path, _last(record.path), record.op, record.category)
        target["category"] = target["category"] or record.category  # a node made first for its params
        own = target["own"]
        own["flops"] += record.flops
        own["mac"] += record.mac
        for k, values in extra.items():
            own[k] += values.get(record.index, 0)
    return _finish(nodes[""], metrics)


def _parent(key: str) -> str:
    if ":" in key:
        return key.split(":", 1)[0]
    return key.rsplit(".", 1)[0] if "." in key else ""


def _last(path: str) -> str:
    return path.rsplit(".", 1)[-1] if path else "(root)"


def _finish(node: dict[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
    children = [_finish(c, metrics) for c in node["children"]]
    values = {m: node["own"][m] + sum(c["values"][m] for c in children) for m in metrics}
    for k in ("latency_ms", "predicted_ms"):
        if k in values:
            values[k] = round(values[k], 9)
    out = {"key": node["key"], "name": node["name"], "path": node["path"], "type": node["type"], "values": values}
    if node["category"] is not None:
        out["category"] = node["category"]
    if children:
        out["children"] = children
    return out


def _roofline(report: Report, device: Any) -> tuple[dict[str, Any] | None, dict[int, float] | None, str]:
    if device is None:
        return None, None, "no device profile given"
    from flopcount.errors import ConfigError
    from flopcount.roofline import DeviceProfile, load_device, roofline

    try:
        profile = device if isinstance(device, DeviceProfile) else load_device(str(device))
    except ConfigError as error:
        return None, None, f"no roofline: {error}"
    result = roofline(report, profile)
    points = [
        {"index": p.index, "name": p.name, "op": p.op, "category": p.category, "flop": p.flop, "bytes": p.bytes,
         "intensity": p.intensity if p.bytes else None, "bound": p.bound, "time_s": p.time}
        for p in result.points
    ]
    data = {
        "device": {"name": profile.name, "description": profile.description, "source": profile.source,
                   "peak_flops": profile.peak_flops, "bandwidth": profile.bandwidth, "ridge": profile.ridge},
        "points": points,
        "total_time_s": result.total_time,
        "time_by_bound_s": result.time_by_bound(),
        "skipped": result.skipped,
        "flop_convention": "2 FLOPs per multiply-add, as device peaks are quoted",
    }
    return data, {p.index: p.time * 1e3 for p in result.points}, f"roofline on {profile.name}"


def _prediction(report: Report, latency_profile: Any) -> tuple[Any, str]:
    """The calibrated predictor's Prediction (or None) and a note saying which latency the page shows."""
    if latency_profile is None:
        return None, "no latency profile given: the latency shown is the roofline time"
    from flopcount.errors import ConfigError
    from flopcount.predict import PredictProfile, load_profile, predict

    try:
        profile = latency_profile if isinstance(latency_profile, PredictProfile) else load_profile(str(latency_profile))
        return predict(report, profile), f"predicted by the calibrated latency profile {profile.name}"
    except ConfigError as error:
        return None, f"no latency profile loaded ({error}): the latency shown is the roofline time"


def _memory(report: Report) -> dict[str, Any] | None:
    memory = report.memory
    if memory is None:
        return None
    peak = memory.peak_record
    return {"peak_memory_bytes": memory.peak_memory_bytes, "peak_activation_bytes": memory.peak_activation_bytes,
            "param_bytes": memory.param_bytes, "buffer_bytes": memory.buffer_bytes,
            "input_bytes": memory.input_bytes, "optimizer_state_bytes": memory.optimizer_state_bytes,
            "peak_record": peak, "peak_name": report.records[peak].name if peak >= 0 else None,
            "peak_op": report.records[peak].op if peak >= 0 else None}


def _diff(report: Report, baseline: Any) -> dict[str, Any] | None:
    if baseline is None:
        return None
    from flopcount.diff import Diff, diff

    result = baseline if isinstance(baseline, Diff) else diff(baseline, report)
    return result.to_dict()


def stylesheet() -> str:
    """The report's CSS, for other flopcount pages (the budget check's) to look the same."""
    return _asset("report.css")


def static_page(title: str, header: str, main: str, extra_css: str = "") -> str:
    """A script-free, offline page in the report's style: ``header`` and ``main`` are HTML (escaped by
    the caller), ``title`` is text. The budget check's and compare's pages."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{html.escape(title)}</title>
<style>{stylesheet()}{extra_css}</style>
</head>
<body>
<header>{header}</header>
<main>
{main}
</main>
</body>
</html>
"""


def _asset(name: str) -> str:
    return (resources.files("flopcount") / "data" / "html" / name).read_text(encoding="utf-8")
