"""Reading TOML on every supported Python: ``tomllib`` from 3.11, the ``tomli`` backport on 3.10.

The one place that chooses; budget files, device profiles and the zoo's references all read TOML here.
"""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli (a dependency on 3.10 only)
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    return tomllib.loads(text)
