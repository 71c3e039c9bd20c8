"""A budget check as one self-contained, offline HTML page (``flopcount check -f html -o budgets.html``).

The verdict, then per model a row per checked limit: the value, the budget, a bar of how much of the
budget the value uses (red past 100 %), the headroom and the status; the explanation of every failed or
skipped check under its model. No script: the page is a table, styled by the HTML report's stylesheet.
"""

from __future__ import annotations

import html
import math

from flopcount.budget import BudgetResult, Check
from flopcount.render.budget import CONVENTIONS, _display_path, fmt_headroom, fmt_value, summary
from flopcount.render.html import static_page

_STATUS = {"pass": "pass", "fail": "FAIL", "skip": "skip"}
_EXTRA_CSS = """
table.checks { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.checks th, table.checks td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; }
table.checks th:nth-child(-n+1), table.checks td:nth-child(-n+1) { text-align: left; }
.use { width: 180px; } .use .track { background: var(--bg); border-radius: 3px; height: 10px; overflow: hidden; }
.use .fill { background: var(--accent); height: 10px; } .use .fill.over { background: #c0392b; }
td.status.pass { color: #1d7a3a; } td.status.fail { color: #c0392b; font-weight: 700; } td.status.skip { color: #a6541a; }
#verdict.pass { color: #1d7a3a; } #verdict.fail { color: #c0392b; }
"""


def to_html(result: BudgetResult) -> str:
    where = f": {_display_path(result.path)}" if result.path else ""
    verdict = "pass" if result.passed else "fail"
    sections = "\n".join(_model_section(model) for model in result.models)
    e = html.escape
    header = (f"<h1>flopcount budgets{e(where)}</h1>\n"
              f'<p id="verdict" class="{verdict}">{e(summary(result))}</p>\n'
              f'<p class="conventions">{e(CONVENTIONS)}.</p>')
    return static_page(f"flopcount budgets{where}", header, sections, _EXTRA_CSS)


def _model_section(model) -> str:
    e = html.escape
    rows = "\n".join(_check_row(check) for check in model.checks)
    notes = "".join(f"<li><b>{e(c.metric)}</b>: {e(c.detail)}</li>" for c in model.checks if c.status != "pass")
    return (f'<section class="model" data-id="{e(model.budget.id)}"><h2>{e(model.budget.id)}</h2>'
            f'<p class="hint">{e(model.budget.model)}, input {e(", ".join(model.input_size))}</p>'
            '<table class="checks"><thead><tr><th>metric</th><th>value</th><th>budget</th><th>use of budget</th>'
            f'<th>headroom</th><th>status</th></tr></thead><tbody>\n{rows}\n</tbody></table>'
            + (f'<ul class="notes">{notes}</ul>' if notes else "") + "</section>")


def _check_row(check: Check) -> str:
    e = html.escape
    use = "" if check.limit in (None, 0) or math.isnan(check.value) else check.value / check.limit
    bar = "" if use == "" else (f'<div class="track" title="{use:.1%} of the budget"><div class="fill'
                                f'{" over" if use > 1 else ""}" style="width:{min(use, 1) * 100:.1f}%"></div></div>')
    return (f'<tr data-status="{check.status}"><td>{e(check.metric)}</td><td>{e(fmt_value(check, check.value))}</td>'
            f'<td>{e(fmt_value(check, check.limit))}</td><td class="use">{bar}</td><td>{e(fmt_headroom(check))}</td>'
            f'<td class="status {check.status}">{_STATUS[check.status]}</td></tr>')
