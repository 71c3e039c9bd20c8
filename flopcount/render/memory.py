"""Rendering of live memory and of a training step (issue #13): a rich table with the peak marked, a
JSON dict for scripts, and a PNG of the live bytes over the forward (matplotlib, imported lazily).
``renderables`` / ``to_json`` / ``to_csv`` / ``to_markdown`` are `flopcount memory`'s four formats;
``totals_lines`` are the lines `flopcount analyze` adds to its totals panel.

Pure functions of a Report analysed with ``memory=True`` or ``train=True``; nothing here counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from flopcount.errors import UsageError
from flopcount.render.common import Column, csv_text, fit_table, json_document, markdown_table
from flopcount.report import Report
from flopcount.units import human, human_bytes

WHAT_IF_DTYPES = ("float16", "bfloat16", "int8", "int4")
PEAK_MARK = "◀ peak"


def _profile(report: Report):
    if report.memory is None:
        raise UsageError("this report has no memory profile: analyse with memory=True or train=True")
    return report.memory


def memory_table(report: Report, title: str = "") -> Table:
    """One row per record: its output, the bytes live after it and the highest while it ran; the row
    where the peak happens is marked. A training report adds saved bytes and backward FLOPs."""
    mem = _profile(report)
    training = report.training
    table = Table(title=title or None, header_style="bold")
    columns = [("name", "left"), ("type", "left"), ("output", "right"), ("live after", "right"),
               ("peak during", "right")]
    if training is not None:
        columns += [("saved", "right"), ("input grad", "right"), ("weight grad", "right")]
    columns.append(("", "left"))
    for column, justify in columns:
        numeric = justify == "right"
        table.add_column(column, justify=justify, overflow="fold", no_wrap=numeric)
    for record in report.records:
        peak = record.index == mem.peak_record
        output = sum(spec.nbytes for spec in record.outputs)
        cells = [record.name, record.op, human_bytes(output), human_bytes(mem.live_after[record.index]),
                 human_bytes(mem.peak_during[record.index])]
        if training is not None:
            saved = training.saved_bytes[record.index]
            cells += [human_bytes(saved) if saved else "", _flops(training.input_grad_flops[record.index]),
                      _flops(training.weight_grad_flops[record.index])]
        cells.append(PEAK_MARK if peak else "")
        table.add_row(*cells, style="bold red" if peak else None)
    return table


def _flops(value: int) -> str:
    return human(value) if value else ""


def memory_summary(report: Report) -> list[tuple[str, str]]:
    """(label, value) lines for a totals panel or a footer."""
    mem = _profile(report)
    where = report.records[mem.peak_record].name if mem.peak_record >= 0 else None
    lines = [
        ("peak memory", human_bytes(mem.peak_memory_bytes) + (f" (at {where})" if where else "")),
        ("peak activations", human_bytes(mem.peak_activation_bytes)),
        ("parameters", human_bytes(mem.param_bytes)),
        ("buffers", human_bytes(mem.buffer_bytes)),
        ("weights as fp16 / bf16 / int8 / int4", " / ".join(human_bytes(mem.weights_as(d)) for d in WHAT_IF_DTYPES)),
    ]
    training = report.training
    if training is not None:
        lines[0] = ("peak of the training step", f"{human_bytes(training.peak_step_bytes)} (in {training.peak_phase})")
        lines += [
            ("optimizer state", f"{human_bytes(training.optimizer_state_bytes)} ({training.optimizer}"
                                f"{', amp ' + training.amp if training.amp else ''})"),
            ("gradients", human_bytes(training.grad_bytes)),
            ("saved for backward", human_bytes(training.saved_activation_bytes)),
            ("backward FLOPs", human(training.backward_flops)),
            ("train FLOPs (forward + backward)", human(training.train_flops)),
        ]
    return lines


def memory_json(report: Report) -> dict[str, Any]:
    _profile(report)  # a report without memory is a usage error
    data: dict[str, Any] = {
        "model": report.model,
        "inputs": [{"shape": list(t.shape), "dtype": t.dtype} for t in report.inputs],
        "conventions": {"bytes": "live bytes under eager execution; views and in-place ops allocate nothing",
                        "flops": "multiply-adds (one fused multiply-add = 1 FLOP)"},
        **report.memory_dict(),
    }
    data["records"] = _rows(report)
    return data


def plot_live_bytes(report: Report, path: str | Path) -> Path:
    """Live activation bytes after each record, with the peak marked, as a PNG at ``path``."""
    mem = _profile(report)
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError as error:
        raise UsageError("drawing the memory plot needs matplotlib: pip install 'flopcount[plot]'") from error
    mib = [b / 2**20 for b in mem.peak_during]
    figure, axes = plt.subplots(figsize=(10, 4))
    try:
        axes.step(range(len(mib)), mib, where="mid", label="activations live (MiB)")
        if mem.peak_record >= 0:
            axes.plot([mem.peak_record], [mib[mem.peak_record]], "o", color="red")
            axes.annotate(f"peak {human_bytes(mem.peak_activation_bytes)}\n{report.records[mem.peak_record].name}",
                          (mem.peak_record, mib[mem.peak_record]), textcoords="offset points", xytext=(10, -10),
                          fontsize=8, va="top")
        axes.set_xlabel("layer call (forward order)")
        axes.set_ylabel("MiB")
        axes.set_title(f"{report.model}: live activation memory over the forward "
                       f"(+ {human_bytes(mem.param_bytes + mem.buffer_bytes)} parameters and buffers)")
        axes.legend(loc="upper right")
        figure.tight_layout()
        out = Path(path)
        figure.savefig(out, dpi=100)
    finally:
        plt.close(figure)
    return out


def totals_lines(report: Report) -> list[tuple[str, str]]:
    """The lines of `flopcount analyze`'s totals panel: the peak, and the training step when analysed."""
    mem = report.memory
    if mem is None:
        return []
    where = f" at {report.records[mem.peak_record].name}" if mem.peak_record >= 0 else ""
    training = report.training
    if training is None:
        return [("peak memory", f"{human_bytes(mem.peak_memory_bytes)}  {human_bytes(mem.peak_activation_bytes)} "
                                f"activations{where} + {human_bytes(mem.param_bytes + mem.buffer_bytes)} weights")]
    return [
        ("train FLOPs", f"{training.train_flops:,} ({human(training.train_flops)}): backward "
                        f"{human(training.backward_flops)} ({training.optimizer}"
                        f"{', amp ' + training.amp if training.amp else ''})"),
        ("training step peak", f"{human_bytes(training.peak_step_bytes)} in {training.peak_phase}: optimizer state "
                               f"{human_bytes(training.optimizer_state_bytes)}, gradients {human_bytes(training.grad_bytes)}"),
    ]


def _rows(report: Report) -> list[dict[str, Any]]:
    mem = _profile(report)
    training = report.training
    rows = []
    for r in report.records:
        row = {"index": r.index, "name": r.name, "op": r.op, "output_bytes": sum(s.nbytes for s in r.outputs),
               "live_after_bytes": mem.live_after[r.index], "peak_during_bytes": mem.peak_during[r.index],
               "peak": r.index == mem.peak_record}
        if training is not None:
            row.update(saved_bytes=training.saved_bytes[r.index], input_grad_flops=training.input_grad_flops[r.index],
                       weight_grad_flops=training.weight_grad_flops[r.index])
        rows.append(row)
    return rows


def renderables(report: Report, width: int = 200) -> list:
    """The per-record live-memory table (peak row marked) and a summary panel, fitted to ``width``."""
    from rich.panel import Panel
    from rich.table import Table

    training = report.training is not None
    columns = [Column("name"), Column("type", drop=3), Column("output", "right", drop=4),
               Column("live after", "right"), Column("peak during", "right", drop=2)]
    if training:
        columns += [Column("saved", "right", drop=5), Column("input grad", "right", drop=6),
                    Column("weight grad", "right", drop=6)]
    columns.append(Column("", style="bold red"))
    body = []
    for row in _rows(report):
        cells = [row["name"], row["op"], human_bytes(row["output_bytes"]), human_bytes(row["live_after_bytes"]),
                 human_bytes(row["peak_during_bytes"])]
        if training:
            cells += [human_bytes(row["saved_bytes"]) if row["saved_bytes"] else "", _flops(row["input_grad_flops"]),
                      _flops(row["weight_grad_flops"])]
        body.append([*cells, PEAK_MARK if row["peak"] else ""])
    what = "activations live in one training step's forward" if training else "activations live over the forward"
    table = fit_table(columns, body, width, title=f"{report.model}: {what} (bytes)", header_style="bold")
    grid = Table.grid(padding=(0, 3))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in memory_summary(report):
        grid.add_row(label, value)
    return [table, Panel(grid, title="memory", expand=False)]


def to_json(report: Report) -> str:
    return json_document("memory", memory_json(report))


def to_csv(report: Report) -> str:
    rows = _rows(report)
    return csv_text(rows, list(rows[0]) if rows else ["index", "name"])


def to_markdown(report: Report) -> str:
    training = report.training is not None
    headers = ["name", "type", "output", "live after", "peak during"] + (
        ["saved", "input grad", "weight grad"] if training else []) + [""]
    body = []
    for row in _rows(report):
        cells = [row["name"], row["op"], human_bytes(row["output_bytes"]), human_bytes(row["live_after_bytes"]),
                 human_bytes(row["peak_during_bytes"])]
        if training:
            cells += [human_bytes(row["saved_bytes"]), human(row["input_grad_flops"]), human(row["weight_grad_flops"])]
        body.append([*cells, "**peak**" if row["peak"] else ""])
    summary = "\n".join(f"- {label}: {value}" for label, value in memory_summary(report))
    align = "llrrr" + ("rrr" if training else "") + "l"
    return f"**{report.model}** ({', '.join(str(i) for i in report.inputs)})\n\n{summary}\n\n" \
           f"{markdown_table(headers, body, align)}\n"
