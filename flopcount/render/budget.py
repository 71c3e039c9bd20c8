"""Renderings of a budget check: a rich table, JSON, JUnit XML, GitHub annotations, Markdown.

Each function takes a :class:`flopcount.budget.BudgetResult` and only formats it; nothing is computed
here beyond percentages. Counts are exact integers in JSON and JUnit properties, K/M/G elsewhere.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from flopcount.budget import COUNT_METRICS, METRIC_MEANING, STEP_METRICS, BudgetResult, Check
from flopcount.render.common import Column, csv_text, fit_table, json_document, markdown_table
from flopcount.units import human, human_bytes

CONVENTIONS = ("flops = paper total (multiply-adds of conv + linear + matmul + attention); "
               "mac = memory access cost in elements read + written; params = parameter elements")
_MARK = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def fmt_value(check: Check, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if check.unit == "ms":
        return f"{value:.2f} ms"
    if check.unit == "bytes":
        return human_bytes(value)
    return human(value)


def fmt_headroom(check: Check) -> str:
    room = check.headroom_pct
    return "-" if room is None or math.isnan(room) else f"{room:.1f}%"


def summary(result: BudgetResult) -> str:
    checks = result.checks
    failed = [c for c in checks if c.failed]
    skipped = [c for c in checks if c.status == "skip"]
    text = f"{len(result.models)} models, {len(checks)} checks: "
    text += f"{len(failed)} failed" if failed else "all passed"
    if skipped:
        text += f", {len(skipped)} skipped"
    if failed:
        text += f" ({', '.join(dict.fromkeys(c.model for c in failed))})"
    return text


def _rows(result: BudgetResult):
    for model in result.models:
        for i, check in enumerate(model.checks):
            yield model, i == 0, check


# ---------------------------------------------------------------------------------------------- table


def table_renderable(result: BudgetResult, width: int = 200):
    from rich.console import Group
    from rich.text import Text

    columns = [Column("model"), Column("metric"), Column("value", "right"), Column("budget", "right"),
               Column("headroom", "right", drop=1), Column("status")]
    style = {"pass": "green", "fail": "bold red", "skip": "yellow"}
    body, ends = [], []
    for index, model in enumerate(result.models):
        for i, check in enumerate(model.checks):
            label = Text()  # Text, not markup: ids and patterns like "features.[0-3]" hold brackets
            if i == 0:
                label.append(model.budget.id)
            if i == 1 or len(model.checks) == 1:
                label.append(("\n" if i == 0 else "") + ", ".join(model.input_size), style="dim")
            metric = Text(check.metric)
            if check.basis:
                metric.append(f"\n{check.basis}", style="dim")
            body.append([label, metric, fmt_value(check, check.value), fmt_value(check, check.limit),
                         fmt_headroom(check), Text(_MARK[check.status], style=style[check.status])])
        if index < len(result.models) - 1:
            ends.append(len(body) - 1)
    title = f"flopcount budgets: {_display_path(result.path)}" if result.path else "flopcount budgets"
    table = fit_table(columns, body, width, title=title, caption=CONVENTIONS, end_sections=ends)
    parts = [table]
    notes = [c for c in result.checks if c.status != "pass"]
    for check in notes:
        line = Text()
        line.append(f"{_MARK[check.status]} ", style=style[check.status])
        line.append(f"{check.model} {check.metric}: ", style="bold")
        line.append(check.detail)
        parts.append(line)
    parts.append(Text(summary(result), style="bold green" if result.passed else "bold red"))
    return Group(*parts)


# ----------------------------------------------------------------------------------------------- json


def to_json(result: BudgetResult) -> str:
    def number(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value

    data = {
        "file": str(result.path) if result.path else None,
        "passed": result.passed,
        "summary": summary(result),
        "conventions": {m: METRIC_MEANING[m] for m in (*COUNT_METRICS, "latency_ms", *STEP_METRICS)},
        "models": [
            {
                "id": m.budget.id,
                "model": m.budget.model,
                "input_size": list(m.input_size),
                "kwargs": m.budget.kwargs,
                "passed": m.passed,
                "totals": dict(m.measurement.totals),
                "latency_ms": m.measurement.latency_ms,
                "latency_basis": m.measurement.latency_basis if m.measurement.latency_ms is not None else None,
                "checks": [
                    {"metric": c.metric, "value": number(c.value), "limit": number(c.limit),
                     "headroom_pct": number(None if c.headroom_pct is None else round(c.headroom_pct, 3)),
                     "status": c.status, "detail": c.detail, "line": c.line,
                     **({"basis": c.basis} if c.basis else {})}
                    for c in m.checks
                ],
            }
            for m in result.models
        ],
    }
    return json_document("check", data)


CSV_COLUMNS = ("model", "metric", "value", "limit", "headroom_pct", "status", "detail", "line")


def to_csv(result: BudgetResult) -> str:
    """One row per checked limit, exact values."""
    return csv_text(({"model": c.model, "metric": c.metric, "value": c.value, "limit": c.limit,
                      "headroom_pct": c.headroom_pct, "status": c.status, "detail": c.detail, "line": c.line}
                     for c in result.checks), CSV_COLUMNS)


# ---------------------------------------------------------------------------------------------- junit


def to_junit(result: BudgetResult) -> str:
    """JUnit XML: one test suite per model, one test case per checked limit."""
    checks = result.checks
    root = ET.Element("testsuites", name="flopcount budgets", tests=str(len(checks)),
                      failures=str(sum(c.failed for c in checks)), errors="0",
                      skipped=str(sum(c.status == "skip" for c in checks)))
    for model in result.models:
        suite = ET.SubElement(root, "testsuite", name=model.budget.id, tests=str(len(model.checks)),
                              failures=str(sum(c.failed for c in model.checks)), errors="0",
                              skipped=str(sum(c.status == "skip" for c in model.checks)))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="input_size", value=", ".join(model.input_size))
        for key, value in model.measurement.totals.items():
            ET.SubElement(props, "property", name=key, value=str(value))
        for check in model.checks:
            attrs = {"classname": f"flopcount.budgets.{model.budget.id}", "name": check.metric}
            if result.path is not None:
                attrs["file"] = _display_path(result.path)
            if check.line:
                attrs["line"] = str(check.line)
            case = ET.SubElement(suite, "testcase", attrs)
            message = f"{check.metric} {fmt_value(check, check.value)} (budget {fmt_value(check, check.limit)})"
            if check.failed:
                failure = ET.SubElement(case, "failure", message=message, type="BudgetExceeded")
                failure.text = check.detail
            elif check.status == "skip":
                ET.SubElement(case, "skipped", message=check.detail)
            else:
                ET.SubElement(case, "system-out").text = f"{message}; headroom {fmt_headroom(check)}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------------------------- github


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(result: BudgetResult) -> str:
    """GitHub Actions workflow commands: an ::error per failed limit, a ::warning per skipped one."""
    lines = []
    for check in result.checks:
        if check.status == "pass":
            continue
        level = "error" if check.failed else "warning"
        props = []
        if result.path is not None:
            props.append(f"file={_escape_property(_display_path(result.path))}")
            if check.line:
                props.append(f"line={check.line}")
        props.append(f"title={_escape_property(f'flopcount budget: {check.model} {check.metric}')}")
        message = (f"{check.model} {check.metric}: {check.detail}" if check.limit is None else
                   f"{check.model} {check.metric} = {fmt_value(check, check.value)}, budget "
                   f"{fmt_value(check, check.limit)}: {check.detail}")
        lines.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    lines.append(f"::notice title=flopcount budgets::{_escape_data(summary(result))}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- markdown


def to_markdown(result: BudgetResult) -> str:
    """A pull-request comment: the verdict, the failures with their explanation, every check folded."""
    headers = ["model", "metric", "value", "budget", "headroom", "status"]

    def row(check: Check) -> list[str]:
        return [check.model, f"`{check.metric}`", fmt_value(check, check.value), fmt_value(check, check.limit),
                fmt_headroom(check), {"pass": "✅ pass", "fail": "❌ fail", "skip": "⚠️ skip"}[check.status]]

    verdict = "✅" if result.passed else "❌"
    where = f" (`{_display_path(result.path)}`)" if result.path else ""
    out = [f"### {verdict} flopcount budgets{where}: {summary(result)}", "", f"_{CONVENTIONS}._", ""]
    notes = [c for c in result.checks if c.status != "pass"]
    if notes:
        out += [markdown_table(headers, [row(c) for c in notes], "llrrrl"), ""]
        out += [f"- **{c.model}** `{c.metric}`: {c.detail}" for c in notes]
        out.append("")
    out += ["<details><summary>All checks</summary>", "",
            markdown_table(headers, [row(c) for _, _, c in _rows(result)], "llrrrl"), "", "</details>", ""]
    return "\n".join(out)


def _display_path(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def failure_message(model) -> str:
    """Why one model failed its budget, for a pytest failure: every failed limit and its explanation."""
    failed = [c for c in model.checks if c.failed]
    lines = [f"flopcount budget of {model.budget.id} ({', '.join(model.input_size)}) failed "
             f"{len(failed)} of {len(model.checks)} checks:"]
    for c in failed:
        lines.append(f"  {c.metric}: {fmt_value(c, c.value)} > {fmt_value(c, c.limit)}: {c.detail}")
    t = model.measurement.totals
    lines.append(f"  (params {t['params']:,}; paper FLOPs {t['flops']:,}; MAC {t['mac']:,} elements)")
    return "\n".join(lines)
