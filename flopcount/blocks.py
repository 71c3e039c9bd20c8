"""Repeated blocks of a Report: the 32 identical layers of an LLM shown once, with their repeat count.

A container is a module path whose children are numbered (``model.layers.0``, ``model.layers.1``: a
ModuleList or nn.Sequential). Two children are the same block when their records match one for one:
same relative path, op, category, FLOPs, MAC, params and shapes. A run of matching children that follow
one another (indices i, i+1, ...) keeps its first member, in detail; the others are folded into its
repeat count. Only runs fold, so a table still reads in the order the model runs: the two ReLUs of a
VGG stage, with a convolution between them, stay two rows. Outer containers fold first, so a
block's own inner lists stay in detail. Nothing is lost: a block's totals times its count are the
records it stands for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from flopcount.records import LayerRecord
from flopcount.report import Report



@dataclass(frozen=True)
class RepeatedBlock:
    container: str  # "model.layers"
    first: str  # path of the block shown: "model.layers.0"
    members: tuple[str, ...]  # every path it stands for, the first included
    records: tuple[LayerRecord, ...]  # the first member's records

    @property
    def repeat(self) -> int:
        return len(self.members)

    @property
    def flops(self) -> int:
        return sum(r.flops for r in self.records)

    @property
    def paper_flops(self) -> int:
        return sum(r.flops for r in self.records if r.is_paper)

    @property
    def mac_bytes(self) -> int:
        return sum(r.mac_bytes for r in self.records)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.records)


@dataclass(frozen=True)
class CondensedRow:
    record: LayerRecord
    repeat: int  # 1 outside repeated blocks; the block's count for a record of a block's first member
    block: str | None  # the block's first path, or None


def _members(path: str) -> list[tuple[str, str]]:
    """Every (container, child) that ``path`` lies under: 'a.layers.3.mlp' -> [('a.layers', 'a.layers.3')]."""
    parts = path.split(".") if path else []
    out = []
    for i, part in enumerate(parts):
        if part.isdigit():  # the root's own numbered children (nn.Sequential) have container ""
            out.append((".".join(parts[:i]), ".".join(parts[: i + 1])))
    return out


def _signature(records: list[LayerRecord], prefix: str) -> tuple:
    cut = len(prefix)
    return tuple((r.path[cut:], r.op, r.category, r.flops, r.mac, r.params,
                  tuple(t.shape for t in r.inputs), tuple(t.shape for t in r.outputs)) for r in records)


def find_repeated_blocks(report: Report, min_repeat: int = 2) -> list[RepeatedBlock]:
    """Groups of identical numbered children, outermost containers first, in the order they ran."""
    by_child: dict[tuple[str, str], list[LayerRecord]] = {}
    for record in report.records:
        for container, child in _members(record.path):
            by_child.setdefault((container, child), []).append(record)
    containers: dict[str, list[str]] = {}
    for container, child in by_child:
        containers.setdefault(container, []).append(child)

    blocks: list[RepeatedBlock] = []
    folded: list[str] = []  # members already folded: their inner containers are not looked at
    for container in sorted(containers, key=lambda c: c.count(".") + bool(c)):
        if any(_under(container, f) for f in folded):
            continue
        runs: list[list[str]] = []
        previous = None  # (index, signature) of the last child
        for child in sorted(containers[container], key=lambda c: int(c.rsplit(".", 1)[-1])):
            index, signature = int(child.rsplit(".", 1)[-1]), _signature(by_child[(container, child)], child)
            if previous is not None and previous == (index - 1, signature):
                runs[-1].append(child)
            else:
                runs.append([child])
            previous = (index, signature)
        for members in runs:
            if len(members) >= min_repeat:
                blocks.append(RepeatedBlock(container, members[0], tuple(members),
                                            tuple(by_child[(container, members[0])])))
                folded.extend(members)
    order = {r.index: i for i, r in enumerate(report.records)}
    return sorted(blocks, key=lambda b: order[b.records[0].index])


def condensed_rows(report: Report, min_repeat: int = 2) -> list[CondensedRow]:
    """The report's records with every repeated block shown once (its first member) and its count."""
    blocks = find_repeated_blocks(report, min_repeat)
    shown = {r.index: b for b in blocks for r in b.records}
    hidden = {m for b in blocks for m in b.members[1:]}
    rows = []
    for record in report.records:
        if any(_under(record.path, m) for m in hidden):
            continue
        block = shown.get(record.index)
        rows.append(CondensedRow(record, block.repeat if block else 1, block.first if block else None))
    return rows


def counted_from_ops_line(report: Report) -> str | None:
    """One line for every module without a formula whose cost was counted from the ops it ran."""
    if not report.counted_from_ops:
        return None
    types = Counter(report.counted_from_ops.values())
    listed = ", ".join(f"{name} x{n}" for name, n in types.most_common())
    return f"counted from their ops (no module formula): {sum(types.values())} modules: {listed}"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")
