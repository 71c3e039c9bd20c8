"""Counts and byte sizes: K/M/G/T formatting and parsing. A leaf module: it imports nothing of flopcount."""

from __future__ import annotations

import math

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


def parse_count(text: str | int | float) -> int:
    """'300M' -> 300_000_000, '3.5M' -> 3_500_000, '2G', '1500', 1500. Raises ValueError."""
    if isinstance(text, bool):
        raise ValueError(f"not a count: {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = text.strip().upper()
        if s.endswith(("KB", "MB", "GB", "TB")):
            s = s[:-1]  # "2GB" of MAC bytes reads as 2G
        unit = s[-1] if s and s[-1] in "KMGT" else ""
        number = s[:-1] if unit else s
        try:
            value = float(number) * _UNIT_VALUES[unit]
        except ValueError:
            raise ValueError(f"not a count: {text!r} (expected e.g. 300M, 3.5M, 2G)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a count: {text!r} (must be a finite number >= 0)")
    return round(value)


_BYTE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_bytes(text: str | int | float) -> int:
    """A memory size: '12MiB' -> 12 * 2**20, '1.5GB' -> 1_500_000_000, '512' or 512 -> 512 bytes.
    Decimal units (KB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) of 1024, as in
    the IEC standard. Raises ValueError."""
    if isinstance(text, bool):
        raise ValueError(f"not a memory size: {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = text.strip().replace(" ", "")
        number = s.rstrip("KMGTBkmgtiIbB")
        unit = s[len(number):].upper()
        if unit not in _BYTE_UNITS:
            raise ValueError(f"not a memory size: {text!r} (expected e.g. 512, 12MiB, 1.5GB)")
        try:
            value = float(number) * _BYTE_UNITS[unit]
        except ValueError:
            raise ValueError(f"not a memory size: {text!r} (expected e.g. 512, 12MiB, 1.5GB)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a memory size: {text!r} (must be a finite number >= 0)")
    return round(value)
