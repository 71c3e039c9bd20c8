"""Render prefill/decode results: a rich table (one row per model and phase, device columns beside) and a
JSON-ready dict. Pure functions of the results: nothing here computes a cost."""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table

from flopcount.llm.phases import DeviceEstimate, PhaseResult
from flopcount.units import human, human_bytes

SCHEMA_VERSION = 1


def _rate(result: PhaseResult, estimate: DeviceEstimate) -> str:
    if result.phase == "decode":
        return f"{estimate.tokens_per_second(result.tokens * result.batch):,.1f} tok/s"
    seconds = estimate.seconds
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
        "schema_version": SCHEMA_VERSION,
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
            "tokens_per_second": e.tokens_per_second(result.tokens * result.batch),
            "memory_needed": e.memory_needed, "memory_available": e.memory_available, "fits": e.fits,
        } for e in estimates],
    }
