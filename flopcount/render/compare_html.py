"""A comparison with fvcore and FlopCounterMode as one self-contained, offline HTML page
(``flopcount compare MODEL -f html -o compare.html``).

The verdict, the totals, the per-family totals with each reference's convention, then a row per module
path with its status and the reason a reference differs. The same cells as the table and markdown
(:mod:`flopcount.render.compare`); no script, styled by the HTML report's stylesheet.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from flopcount.render.compare import _cells, _columns, _family_lines, _rows, _summary, _totals_lines, _verdict
from flopcount.render.html import static_page

if TYPE_CHECKING:
    from flopcount.compare import Comparison

_EXTRA_CSS = """
table.compare { width: 100%; }
table.compare td.text { white-space: normal; max-width: 520px; }
tr[data-status="mismatch"] td.status { color: #c0392b; font-weight: 700; }
tr[data-status="explained"] td.status { color: #a6541a; }
tr[data-status="unexplained"] td.status { color: #8e3b8e; font-weight: 700; }
tr[data-status="match"] td.status { color: #1d7a3a; }
#verdict .ok { color: #1d7a3a; } #verdict .mismatch { color: #c0392b; }
"""


def to_html(result: Comparison, only_differences: bool = False) -> str:
    e = html.escape
    verdict = "".join(f'<li class="{"mismatch" if line.startswith("MISMATCH") else "ok" if line.startswith("OK") else ""}">'
                      f"{e(line)}</li>" for line in _verdict(result))
    header = (f"<h1>flopcount compare: {e(result.model)}</h1>\n"
              f'<p class="conventions">{e(_summary(result))}</p>\n<ul id="verdict">{verdict}</ul>')
    headers, body = _totals_lines(result)
    totals = _table("totals", headers, body, left=1)
    headers, body = _family_lines(result)
    families = _table("families", headers, body, left=2, text_from=len(headers) - len(result.references))
    rows = _table("rows", _columns(result), [_cells(r) for r in _rows(result, only_differences)], left=3,
                  text_from=len(_columns(result)) - 1,
                  statuses=[r.status for r in _rows(result, only_differences)])
    main = (f'<section><h2>Totals</h2>{totals}</section>\n<section><h2>By family</h2>{families}</section>\n'
            f'<section><h2>Per module</h2><p class="hint">Δ = reference − flopcount; FLOPs are multiply-adds.</p>'
            f"{rows}</section>")
    return static_page(f"flopcount compare: {result.model}", header, main, _EXTRA_CSS)


def _table(table_id: str, headers: list[str], body: list[list[str]], *, left: int, text_from: int | None = None,
           statuses: list[str] | None = None) -> str:
    """A table whose first ``left`` columns are left-aligned labels and columns from ``text_from`` wrap."""
    e = html.escape
    text_from = len(headers) if text_from is None else text_from

    def cell(i: int, value: str) -> str:
        cls = "text" if i < left or i >= text_from else ""
        if headers[i] == "status":
            cls = "status"
        return f'<td class="{cls}">{e(value)}</td>' if cls else f"<td>{e(value)}</td>"

    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    lines = []
    for n, values in enumerate(body):
        status = f' data-status="{e(statuses[n])}"' if statuses else ""
        lines.append(f"<tr{status}>" + "".join(cell(i, v) for i, v in enumerate(values)) + "</tr>")
    return f'<table class="compare" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(lines) + "\n</tbody></table>"
