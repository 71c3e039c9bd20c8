"""Render prefill/decode results: a rich table (one row per model and phase, device columns beside), the
CLI's table (one column per phase, so that any number of devices fits a terminal), markdown and JSON.
Pure functions of the results: nothing here computes a cost."""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table

from flopcount.llm.phases import DeviceEstimate, PhaseResult
from flopcount.render.common import Column, fit_table, json_document, number_or_none
from flopcount.units import human, human_bytes

Results = Sequence[tuple[PhaseResult, Sequence[DeviceEstimate]]]


def _rate(result: PhaseResult, estimate: DeviceEstimate) -> str:
    if result.phase == "decode":
        return f"{estimate.tokens_per_second(result.tokens * result.batch):,.1f} tok/s"
    seconds = estimate.seconds
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.1f} us"
    return f"{seconds * 1e3:,.1f} ms" if seconds < 1 else f"{seconds:,.1f} s"


def _fits(estimate: DeviceEstimate) -> str:
    return "?" if estimate.fits is None else ("yes" if estimate.fits else "no")


def phase_rows(results: Sequence[tuple[PhaseResult, Sequence[DeviceEstimate]]]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells shared by the rich table and a markdown rendering."""
    devices = [e.device for e in results[0][1]] if results else []
    headers = ["model", "phase", "tokens", "FLOPs/token", "bytes moved", "KV cache", "weights"]
    for device in devices:
        headers += [f"{device} bound", f"{device} fits"]
    rows = []
    for result, estimates in results:
        phase = result.phase if result.phase == "prefill" else f"decode @{result.context}"
        row = [result.model, phase, str(result.tokens), human(result.per_token_flops), human_bytes(result.traffic_bytes),
               human_bytes(result.kv_cache_bytes), human_bytes(result.weights_bytes)]
        for estimate in estimates:
            row += [f"{_rate(result, estimate)} ({estimate.bound})", _fits(estimate)]
        rows.append(row)
    return headers, rows


def phase_table(results: Sequence[tuple[PhaseResult, Sequence[DeviceEstimate]]], title: str = "") -> Table:
    headers, rows = phase_rows(results)
    dtype = results[0][0].dtype if results else ""
    table = Table(title=title or f"prefill and decode ({dtype} weights and cache; FLOPs = multiply-adds)")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def phase_markdown(results: Sequence[tuple[PhaseResult, Sequence[DeviceEstimate]]]) -> str:
    headers, rows = phase_rows(results)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(headers) - 2)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def phase_dict(result: PhaseResult, estimates: Sequence[DeviceEstimate] = ()) -> dict[str, Any]:
    geometry = result.geometry
    return {
        "model": result.model,
        "phase": result.phase,
        "tokens": result.tokens,
        "context": result.context,
        "batch": result.batch,
        "dtype": result.dtype,
        "conventions": {"flops": "multiply-adds (one fused multiply-add = 1 FLOP)",
                        "bytes": "weights read + KV cache read + KV cache written, at dtype"},
        "attention": None if geometry is None else {
            "layers": geometry.layers, "heads": geometry.heads, "kv_heads": geometry.kv_heads,
            "head_dim": geometry.head_dim, "sliding_window": geometry.sliding_window},
        "experts": None if result.experts is None else {"per_token": result.experts[0], "per_layer": result.experts[1]},
        "params": result.params,
        "params_read": result.params_read,
        "flops": result.flops,
        "flops_per_token": result.per_token_flops,
        "paper_flops": result.paper_flops,
        "attention_flops": result.attention_flops,
        "attention_flops_windowed": result.attention_flops_windowed,
        "weights_bytes": result.weights_bytes,
        "weights_read_bytes": result.weights_read_bytes,
        "cache_read_bytes": result.cache_read_bytes,
        "cache_written_bytes": result.cache_written_bytes,
        "traffic_bytes": result.traffic_bytes,
        "kv_cache_bytes": result.kv_cache_bytes,
        "kv_cache_bytes_windowed": result.kv_cache_bytes_windowed,
        "memory_bytes": result.memory_bytes,
        "complete": result.report.complete,
        "uncounted": dict(result.report.uncounted),
        "devices": [{
            "device": e.device, "compute_seconds": e.compute_seconds, "memory_seconds": e.memory_seconds,
            "seconds": e.seconds, "bound": e.bound,
            "tokens_per_second": number_or_none(e.tokens_per_second(result.tokens * result.batch)),
            "memory_needed": e.memory_needed, "memory_available": e.memory_available, "fits": e.fits,
        } for e in estimates],
    }


def _phase_header(result: PhaseResult) -> str:
    return f"prefill {result.tokens:,}" if result.phase == "prefill" else f"decode @{result.context:,}"


def _with_window(full: int, windowed: int, text) -> str:
    return text(full) if windowed == full else f"{text(full)} (window: {text(windowed)})"


def _describe(result: PhaseResult) -> str:
    """The attention geometry in words: GQA, sliding window."""
    g = result.geometry
    if g is None:
        return f"{result.model}: no KV cache"
    heads = f"{g.heads} heads" if g.kv_heads == g.heads else f"{g.heads} heads, {g.kv_heads} KV heads (GQA)"
    window = f", sliding window {g.sliding_window:,}" if g.sliding_window else ""
    experts = f", {result.experts[0]} of {result.experts[1]} experts per token (MoE)" if result.experts else ""
    return f"{result.model}: {g.layers} layers, {heads}, head dim {g.head_dim}{window}{experts}"


def renderables(results: Results, width: int = 120):
    """One column per phase, one row per quantity and per device: fits 80 columns with any device count."""
    first = results[0][0]
    label = Column("", style="bold")
    columns = [label] + [Column(_phase_header(r), "right") for r, _ in results]
    metric_rows = [
        ("tokens x batch", lambda r: f"{r.tokens:,} x {r.batch}"),
        ("FLOPs / token", lambda r: human(r.per_token_flops)),
        ("FLOPs", lambda r: human(r.flops)),
        ("attention FLOPs", lambda r: _with_window(r.attention_flops, r.attention_flops_windowed, human)),
        ("params read", lambda r: f"{human(r.params_read)} of {human(r.params)}"),
        ("weights read", lambda r: human_bytes(r.weights_read_bytes)),
        ("KV cache read", lambda r: human_bytes(r.cache_read_bytes)),
        ("KV cache written", lambda r: human_bytes(r.cache_written_bytes)),
        ("bytes moved", lambda r: human_bytes(r.traffic_bytes)),
        ("KV cache", lambda r: _with_window(r.kv_cache_bytes, r.kv_cache_bytes_windowed, human_bytes)),
        ("weights + cache", lambda r: human_bytes(r.memory_bytes)),
    ]
    rows = [[name] + [cell(r) for r, _ in results] for name, cell in metric_rows]
    devices = [e.device for e in results[0][1]]
    for i, device in enumerate(devices):
        rows.append([f"{device} bound"] + [f"{_rate(r, es[i])} {es[i].bound}" for r, es in results])
        rows.append([f"{device} fits"] + [_fit_text(es[i]) for _, es in results])
    caption = notes(results)
    title = f"{_describe(first)}; {first.dtype}"
    return fit_table(columns, rows, width, title=title, caption=caption, title_justify="left", header_style="bold")


def notes(results: Results) -> str:
    """The conventions under a phase table, and which profiles' peaks are for another dtype."""
    dtype = results[0][0].dtype
    text = (f"FLOPs are multiply-adds; bytes at {dtype} for weights and KV cache; a bound is the roofline time "
            "max(2 x FLOPs / peak, bytes / bandwidth): decode tokens/s, prefill time.")
    mismatched = sorted({f"{e.device} ({e.profile_dtype})" for _, es in results for e in es
                         if e.profile_dtype not in (None, dtype)})
    if mismatched:
        text += f" Peak FLOP/s of another dtype: {', '.join(mismatched)}; copy the profile to change it."
    return text


def _fit_text(estimate: DeviceEstimate) -> str:
    if estimate.fits is None:
        return f"? ({human_bytes(estimate.memory_needed)} needed)"
    needed, available = human_bytes(estimate.memory_needed).split(), human_bytes(estimate.memory_available).split()
    amounts = f"{needed[0]}/{' '.join(available)}" if needed[1] == available[1] else \
        f"{' '.join(needed)}/{' '.join(available)}"
    return f"{'yes' if estimate.fits else 'NO'} ({amounts})"


def to_json(results: Results) -> str:
    return json_document("phase", {"model": results[0][0].model if results else "",
                                   "phases": [phase_dict(r, es) for r, es in results]})


def to_markdown(results: Results) -> str:
    return f"{phase_markdown(results)}\n\n{_describe(results[0][0])}. {notes(results)}\n"
