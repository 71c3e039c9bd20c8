"""The zoo latency sweep rendered: per-model latency beside FLOPs and MAC, and how well each predicts it."""

from __future__ import annotations

import dataclasses

from flopcount.render.common import csv_text, json_document, markdown_table, number_or_none, simple_table
from flopcount.units import human

MODEL_COLUMNS = ("name", "paper_flops", "flops", "mac", "mac_bytes", "roofline_time", "latency_median", "latency_p25",
                 "latency_p75", "latency_min", "latency_max", "layer_spearman_flops", "layer_spearman_mac",
                 "predicted_time", "prediction_error")
PREDICTORS = (("paper FLOPs (conv+linear)", "paper_flops"), ("all-ops FLOPs", "flops"), ("MAC (elements)", "mac"))


def _flat(row) -> dict:
    out = {k: number_or_none(v) if isinstance(v, float) else v for k, v in dataclasses.asdict(row).items()
           if k != "latency"}
    out.update({f"latency_{k}": v for k, v in dataclasses.asdict(row.latency).items() if k != "repeats"})
    out["prediction_error"] = row.prediction_error
    return out


def _predictors(z) -> list[tuple[str, str]]:
    return (list(PREDICTORS) + ([(f"roofline time ({z.device})", "roofline_time")] if z.device is not None else [])
            + ([(f"predicted ({z.latency_profile})", "predicted_time")] if z.latency_profile is not None else []))


def _model_table(z) -> tuple[str, list[str], str, list[list[str]]]:
    predicted = z.device is not None
    latency_predicted = z.latency_profile is not None
    rows = sorted(z.rows, key=lambda r: r.latency.median)
    title = f"Zoo on this CPU, {z.threads} thread(s), default inputs (median of {rows[0].latency.repeats if rows else 0} runs)"
    headers = (["model", "paper FLOPs", "all-ops FLOPs", "MAC", "latency ms", "IQR ms"]
               + (["predicted ms", "error %"] if latency_predicted else [])
               + ([f"roofline ms ({z.device})"] if predicted else []) + ["layers rho FLOPs", "layers rho MAC"])
    align = "lrrrrr" + ("rr" if latency_predicted else "") + ("r" if predicted else "") + "rr"
    body = [[r.name, human(r.paper_flops), human(r.flops), human(r.mac), f"{r.latency.median * 1e3:.2f}",
             f"{(r.latency.p75 - r.latency.p25) * 1e3:.2f}"]
            + ([f"{r.predicted_time * 1e3:.2f}", f"{100 * r.prediction_error:+.1f}"] if latency_predicted else [])
            + ([f"{r.roofline_time * 1e3:.2f}"] if predicted else [])
            + [f"{r.layer_spearman_flops:.2f}", f"{r.layer_spearman_mac:.2f}"] for r in rows]
    return title, headers, align, body


def _correlation_lines(z) -> list[str]:
    lines = [f"Spearman rank correlation with measured latency over {len(z.rows)} models (median / min latency):"]
    lines += [f"  {label:<32} {z.correlation(attr):.3f} / {z.correlation(attr, 'min'):.3f}" for label, attr in _predictors(z)]
    errors = [abs(r.prediction_error) for r in z.rows if r.prediction_error is not None]
    if errors:
        within = sum(e <= 0.10 for e in errors)
        lines.append(f"Predicted latency ({z.latency_profile}) vs measured median: {within} of {len(errors)} models "
                     f"within ±10%, median |error| {100 * sorted(errors)[len(errors) // 2]:.1f}%.")
    if z.host_speed is not None:
        lines.append(f"Predictions at this machine's speed now: x{z.host_speed:.3f} of the profile's calibrated "
                     f"kernel times ({z.host_speed_note})"
                     + (f"; the {len(z.host_speed_by_kind)} kinds re-timed by their own reading" if z.host_speed_by_kind
                        else "") + ".")
    elif z.host_speed_note:
        lines.append(f"Predictions {z.host_speed_note}.")
    lines.append("Layer columns: the same correlation over one model's layers (per-layer hooked timings).")
    return lines


def renderables(z, bands: list, width: int = 200) -> list:
    """``bands``: :func:`flopcount.bench.flop_bands` of ``z``, models of similar FLOPs ranked among themselves."""
    from rich.text import Text

    predicted = z.device is not None
    title, headers, align, body = _model_table(z)
    drops = {"all-ops FLOPs": 4, "IQR ms": 3, "layers rho FLOPs": 2, "layers rho MAC": 1,
             f"roofline ms ({z.device})": 5}
    out = [simple_table(title, headers, align, body, width, drops=drops), Text("\n".join(_correlation_lines(z)))]
    if bands:
        out.append(simple_table(
            "Among models of similar FLOPs (paper FLOPs within 1.2x of the band's smallest, 4+ models): "
            "Spearman with median latency",
            ["paper FLOPs", "models", "rho paper FLOPs", "rho MAC"] + (["rho roofline"] if predicted else []),
            "llrr" + ("r" if predicted else ""),
            [[f"{human(b.low)}-{human(b.high)}", ", ".join(b.names), f"{b.rho_flops:.2f}", f"{b.rho_mac:.2f}"]
             + ([f"{b.rho_roofline:.2f}" if b.rho_roofline is not None else ""] if predicted else []) for b in bands],
            width, text=("models",),
        ))
    return out


def to_json(z, bands: list) -> str:
    return json_document("bench_zoo", {
        "threads": z.threads, "device": z.device, "latency_profile": z.latency_profile,
        "host_speed": z.host_speed, "host_speed_note": z.host_speed_note, "host_speed_by_kind": z.host_speed_by_kind,
        "models": [_flat(r) for r in z.rows],
        "bands": [{k: number_or_none(v) if isinstance(v, float) else v for k, v in dataclasses.asdict(b).items()}
                  for b in bands],
        "correlations": {attr: {"median": number_or_none(z.correlation(attr)),
                                "min": number_or_none(z.correlation(attr, "min"))} for _, attr in _predictors(z)},
    })


def to_csv(z, bands: list | None = None) -> str:
    return csv_text((_flat(r) for r in z.rows), MODEL_COLUMNS)


def to_markdown(z, bands: list | None = None) -> str:
    title, headers, align, body = _model_table(z)
    return f"{title}\n\n{markdown_table(headers, body, align)}\n\n" + "\n".join(_correlation_lines(z)) + "\n"
