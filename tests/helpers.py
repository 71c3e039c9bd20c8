"""Shared test helpers: analyse a module and pick out its records.

Imported as `helpers`: tests/ is not a package, and pytest's default import mode puts this directory on
sys.path while it imports each test module.
"""

from __future__ import annotations

import torch

from flopcount import analyze


def analyze_meta(module: torch.nn.Module, *input_sizes, **kwargs):
    """Analyse a module built on CPU, on meta, with the given input sizes."""
    sizes = list(input_sizes) if len(input_sizes) > 1 else input_sizes[0]
    return analyze(module, sizes, device="meta", **kwargs)


def only_record(report):
    assert len(report.records) == 1, [r.name for r in report.records]
    return report.records[0]
