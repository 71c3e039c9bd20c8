"""What every renderer shares: the JSON envelope, CSV, Markdown tables, and rich tables that fit a terminal.

A rich table here never cuts a name or a number: each column is a *token* column (names, numbers,
statuses: never wrapped, never truncated) or a *text* column (explanations: folds at spaces). When the
terminal is too narrow, columns with a drop rank give way, highest rank first, and the table's caption
says which ones and how to see them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

# Bump when a field is renamed or removed; adding a field keeps the version.
SCHEMA_VERSION = "1"


def json_document(kind: str, data: Mapping[str, Any]) -> str:
    """One JSON document of ``kind`` (the command that made it), carrying ``schema_version``."""
    return json.dumps({"schema_version": SCHEMA_VERSION, "kind": kind, **data}, indent=2)


def csv_text(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" * len(headers)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def num(x: float) -> str:
    return f"{x:,.0f}"


def number_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a missing, undefined or unbounded number is null."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "left"
    text: bool = False  # True: free text that may fold at spaces; False: a token that never breaks
    drop: int = 0  # 0: always shown; on a narrow terminal the highest rank goes first
    style: str | None = None
    min_width: int = 0


_TEXT_MIN = 12  # a folding column still gets this many characters (or its longest word)


def _cell_width(cell: Any) -> int:
    from rich.cells import cell_len
    from rich.text import Text

    plain = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in plain.splitlines()), default=0)


def _longest_word(cell: Any) -> int:
    from rich.text import Text

    plain = cell.plain if isinstance(cell, Text) else str(cell)
    return max((len(w) for w in plain.split()), default=0)


def _fold_header(header: str) -> str:
    """A multi-word header on two lines, split where the longer line is shortest."""
    words = header.split()
    if len(words) < 2:
        return header
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    return "\n".join(min(splits, key=lambda pair: max(len(pair[0]), len(pair[1]))))


def _needed(column: Column, header: str, cells: list[Any]) -> int:
    if column.text:
        longest_header_word = max((len(w) for w in header.split()), default=0)
        return max(longest_header_word, min(_TEXT_MIN, max((_cell_width(c) for c in cells), default=0)),
                   max((_longest_word(c) for c in cells), default=0))
    return max([column.min_width] + [len(line) for line in header.splitlines()] + [_cell_width(c) for c in cells])


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, *, title: str | None = None,
              caption: str | None = None, end_sections: Sequence[int] = (), title_justify: str = "center",
              **table_options):
    """A rich Table of ``rows`` that fits ``width`` columns by dropping low-priority columns, with a note."""
    from rich.table import Table

    keep = list(range(len(columns)))
    headers = [c.header for c in columns]
    cells = [[row[i] for row in rows] for i in range(len(columns))]
    needed = [_needed(c, h, col) for c, h, col in zip(columns, headers, cells)]

    def total() -> int:  # one border and two padding characters per column, plus the closing border
        return sum(needed[i] + 3 for i in keep) + 1

    if total() > width:  # first fold multi-word headers onto two lines, then drop columns
        headers = [_fold_header(h) if not c.text and len(h) > max(map(_cell_width, col), default=0) else h
                   for c, h, col in zip(columns, headers, cells)]
        needed = [_needed(c, h, col) for c, h, col in zip(columns, headers, cells)]

    dropped: list[str] = []
    while total() > width:
        droppable = [i for i in keep if columns[i].drop > 0]
        if not droppable:
            break
        victim = max(droppable, key=lambda i: (columns[i].drop, i))
        keep.remove(victim)
        dropped.append(columns[victim].header)
    if dropped:
        note = (f"Hidden at {width} columns: {', '.join(reversed(dropped))} "
                "(widen with --width, or use -f csv / -f json for every column).")
        caption = f"{caption}\n{note}" if caption else note
    # Still too wide with every droppable column gone (a transformers layer's name of 60-70 characters at 80
    # columns): the widest token folds onto more lines rather than squeeze the numbers beside it out of sight.
    folded = max(keep, key=lambda i: needed[i]) if total() > width else None
    if folded is not None:
        needed[folded] = max(_TEXT_MIN, needed[folded] - (total() - width))
    table = Table(title=title, title_justify=title_justify, caption=caption, caption_justify="left", **table_options)
    for i in keep:
        c = columns[i]
        if c.text:
            table.add_column(headers[i], justify=c.justify, overflow="fold", style=c.style)
        elif i == folded:
            table.add_column(headers[i], justify=c.justify, overflow="fold", width=needed[i], style=c.style)
        else:
            table.add_column(headers[i], justify=c.justify, no_wrap=True, min_width=needed[i], style=c.style)
    for index, row in enumerate(rows):
        table.add_row(*[row[i] for i in keep], end_section=index in end_sections)
    return table


def simple_table(title: str | None, headers: Sequence[str], align: str, rows: Sequence[Sequence[Any]], width: int,
                 *, text: Sequence[str] = (), drops: Mapping[str, int] | None = None, caption: str | None = None):
    """:func:`fit_table` from headers and an alignment string ('l'/'r' per column); ``text`` columns fold."""
    drops = drops or {}
    columns = [Column(h, "right" if a == "r" else "left", text=h in text, drop=drops.get(h, 0))
               for h, a in zip(headers, align)]
    return fit_table(columns, rows, width, title=title, caption=caption, title_justify="left")


def output_schema() -> dict:
    """The JSON Schema (draft 2020-12) of every ``-f json`` document, shipped in the package."""
    from importlib.resources import files

    return json.loads(files("flopcount").joinpath("data/schema/output.schema.json").read_text(encoding="utf-8"))
