"""Counts and byte sizes: K/M/G/T formatting and parsing. A leaf module: it imports nothing of flopcount."""

from __future__ import annotations

import math
import re

_STEPS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def human(value: float, suffix: str = "") -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    for size, unit in _STEPS:
        if value >= size:
            return f"{sign}{value / size:.2f}{unit}{suffix}"
    return f"{sign}{value:g}{suffix}"


def human_bytes(value: float) -> str:
    for size, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:g} B"


_UNIT_VALUES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY_VALUES = {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}
_NUMBER_UNIT = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:E[-+]?\d+)?)\s*([A-Z]*)")


class ByteUnitError(ValueError):
    """A byte size ("3 MB") where a count is expected: FLOPs, MAC and params are not bytes."""


def parse_count(text: str | int | float) -> int:
    """'300M' -> 300_000_000, '3.5M' -> 3_500_000, '2G', '1500', 1500. Raises ValueError.

    A byte unit ("3MB", "2 GiB") is refused with :class:`ByteUnitError`: counts are elements or
    multiply-adds, and reading "3MB" of a FLOPs limit as 3M would hide a mistake.
    """
    number, unit, digits = _split(text, "count")
    if unit == "B":
        raise ValueError(f"not a count: {text!r} (for billions write G, e.g. \"{digits}G\")")
    if unit[:1] in _UNIT_VALUES and unit[1:] in ("B", "IB", "I"):
        raise ByteUnitError(f"not a count: {text!r} is a byte size; counts take K, M, G, T without B "
                            f"(e.g. \"{digits}{unit[0]}\")")
    if unit not in _UNIT_VALUES:
        raise ValueError(f"not a count: {text!r} (expected e.g. 300M, 3.5M, 2G)")
    return _finite(number * _UNIT_VALUES[unit], text, "count")


def parse_bytes(text: str | int | float) -> int:
    """A byte size -> int bytes: '12MiB' -> 12 * 2**20, '1.5GB' -> 1_500_000_000, '512KB' -> 512_000,
    '1024' or 1024 -> 1024. Decimal (KB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB) prefixes; a prefix
    without B ("12M") is refused, since it could mean either. Raises ValueError."""
    number, unit, digits = _split(text, "byte size")
    prefix = unit[:-1] if unit.endswith("B") else None
    if prefix is not None and (prefix in _UNIT_VALUES or prefix in _BINARY_VALUES):
        return _finite(number * {**_UNIT_VALUES, **_BINARY_VALUES}[prefix], text, "byte size")
    if unit == "":
        return _finite(number, text, "byte size")
    if unit in _UNIT_VALUES or unit in _BINARY_VALUES:
        raise ValueError(f"not a byte size: {text!r} (write the B: {digits}{unit[0]}B is {digits} x 10^"
                         f"{3 * 'KMGT'.index(unit[0]) + 3}, {digits}{unit[0]}iB is {digits} x 2^"
                         f"{10 * 'KMGT'.index(unit[0]) + 10})")
    raise ValueError(f"not a byte size: {text!r} (expected e.g. 512KB, 12MiB, 1.5GB or 1024)")


def _split(text: str | int | float, what: str) -> tuple[float, str, str]:
    """(number, upper-case unit, the number as written) of '3.5 MiB' or of a plain int/float."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"not a {what}: {text!r}")
    if not isinstance(text, str):
        return float(text), "", str(text)
    match = _NUMBER_UNIT.fullmatch(text.strip().upper())
    if not match:
        raise ValueError(f"not a {what}: {text!r}")
    return float(match.group(1)), match.group(2), match.group(1)


def _finite(value: float, text: object, what: str) -> int:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a {what}: {text!r} (must be a finite number >= 0)")
    return round(value)

