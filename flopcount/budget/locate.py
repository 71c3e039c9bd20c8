"""Line numbers of keys in a TOML text: tomllib gives no positions, and a line is what a user (and a
GitHub annotation) needs. Best effort: table headers and `key =` lines; None when not found."""

from __future__ import annotations

import json
import re

_KEY_LINE = re.compile(r"""\s*("((?:[^"\\]|\\.)*)"|'([^']*)'|[A-Za-z0-9_-]+)\s*=""")


def locate(text: str, table: tuple[str, ...], key: str | None) -> int | None:
    current: tuple[str, ...] = ()
    header_line = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = _split_header(stripped)
            if current == table and header_line is None:
                header_line = number
                if key is None:
                    return number
            continue
        if key is None:
            continue
        match = _KEY_LINE.match(line)
        if not match:
            continue
        name = match.group(2) if match.group(2) is not None else match.group(3) if match.group(3) is not None \
            else match.group(1)
        if current == table and name == key:
            return number
        # a key of a sub-table written inline in its parent: `layers = { "x" = ... }` or `"x" = {...}`
        if current == table[:-1] and table and name == table[-1]:
            header_line = header_line or number
    return header_line


def _split_header(header: str) -> tuple[str, ...]:
    """('models', 'mobilenet_v2', 'layers') from '[models.mobilenet_v2.layers]  # comment'."""
    body = header.lstrip("[")
    parts, buf, quote = [], "", None
    for ch in body:
        if quote:
            if ch == quote:
                quote = None
            else:
                buf += ch
        elif ch in "\"'":
            quote = ch
        elif ch == "]":
            break
        elif ch == ".":
            parts.append(buf.strip())
            buf = ""
        else:
            buf += ch
    parts.append(buf.strip())
    return tuple(parts)


def quote_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)

