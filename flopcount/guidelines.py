"""The ShuffleNet V2 guidelines (seed section 5.2), checked on a report, each finding with its cost.

All costs are in MAC elements (memory access cost: elements read + written), so findings of different
guidelines can be ranked together by their share of the model's total MAC. FLOPs are multiply-adds.
Notation: a conv with ``c1`` input and ``c2`` output channels, ``g`` groups, a k x k kernel, batch ``N``
and output size ``h x w``; ``A = N h w`` output positions; ``B`` its FLOPs.

G1 (equal channel widths minimise MAC), every 1x1 conv with c1 != c2:
    MAC = A (c1 + c2) + c1 c2 / g                     (the seed's hw(c1 + c2) + c1 c2, batch and groups added)
    B   = A c1 c2 / g
    MAC >= 2 sqrt(g A B) + B / A                      (AM-GM; equality iff c1 = c2; the seed's bound at N = g = 1)
    excess = MAC - bound. MAC here is the seed's formula on the output size, which is the recorded MAC
    of a stride-1 conv without bias.

G2 (many groups raise MAC), every group conv with 1 < g < c1 (depthwise convs are listed under G4, as
the paper does): a g = 1 conv with the same FLOPs, input and kernel has c2 / g output channels, so
    MAC(g) - MAC(1) = A c2 (1 - 1/g)                  (the seed's B g / c1 term for 1x1: B (g - 1) / c1)
i.e. the output it writes beyond the dense conv's.

G3 (fragmentation), per block. A *block* is a module path of ``block_depth`` components (with the
default, the depth at which the most blocks have more than one branch). The block's records and the
dataflow between them (``LayerRecord.input_from``) make a graph; its *branches* are the distinct paths
from the block's input to its output (a plain chain has 1; a ShuffleNet V2 unit 2, its identity half
included; an Inception block one per tower; a residual block 2). Cost: the MAC of the join ops (the
cat/add that merge branches), and the block's kernel count (records that read or write memory).

G4 (element-wise ops): activations, element-wise arithmetic (residual adds, SE multiplies), norms
(BatchNorm in eval is a per-channel multiply-add) and data movement that copies (cat, contiguous of a
shuffle; views cost nothing and are left out). Pooling and reductions are not included: they shrink
data. Their share of total MAC (and of measured time, when times are given) by op type. Depthwise
convs, which the paper also calls element-wise (high MAC/FLOPs), get an informative row outside the sum.

Shares can overlap: an ``add`` that joins two branches is G3's join cost and a G4 element-wise op.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

from flopcount.records import FROM_INPUT, FROM_STATE, LayerRecord
from flopcount.report import Report

G4_CATEGORIES = ("activation", "elementwise", "norm", "movement")


@dataclass(frozen=True)
class G1Finding:
    index: int
    name: str
    n: int
    h: int
    w: int
    c1: int
    c2: int
    groups: int
    flops: int  # B
    mac: int  # A (c1 + c2) + c1 c2 / g
    bound: float  # 2 sqrt(g A B) + B / A
    excess: float  # mac - bound
    share: float  # excess / total MAC


@dataclass(frozen=True)
class G2Finding:
    index: int
    name: str
    c1: int
    c2: int
    groups: int
    kernel: tuple[int, ...]
    outputs: int  # A c2
    flops: int
    mac: int  # recorded MAC
    extra: float  # A c2 (1 - 1/g)
    share: float


@dataclass(frozen=True)
class G3Block:
    path: str
    type: str
    branches: int
    kernels: int  # records that move memory (views excluded)
    join_mac: int
    mac: int
    flops: int
    share: float  # join_mac / total MAC
    # The other guidelines' costs summed over the block's records, for the per-block view.
    g1_excess: float = 0.0
    g2_extra: float = 0.0
    g4_mac: int = 0


@dataclass(frozen=True)
class G4Row:
    op: str
    category: str
    calls: int
    flops: int
    mac: int
    share_mac: float
    share_flops: float
    time: float | None = None  # seconds, summed medians, when measured
    share_time: float | None = None


@dataclass(frozen=True)
class Finding:
    """One line of the summary: which guideline, where, and the MAC it costs."""

    guideline: str
    where: str
    mac: float
    share: float
    detail: str


@dataclass
class Guidelines:
    model: str
    total_mac: int
    total_flops: int
    g1: list[G1Finding]
    g2: list[G2Finding]
    g3: list[G3Block]  # every block, chains included
    g3_depth: int
    g4: list[G4Row]
    depthwise: G4Row | None
    total_time: float | None = None
    summary: list[Finding] = field(default_factory=list)

    @property
    def g4_mac(self) -> int:
        return sum(r.mac for r in self.g4)

    @property
    def g4_share(self) -> float:
        return _share(self.g4_mac, self.total_mac)

    @property
    def g4_time_share(self) -> float | None:
        if self.total_time is None:
            return None
        return _share(sum(r.time or 0.0 for r in self.g4), self.total_time)

    def to_dict(self) -> dict:
        """JSON-serialisable: every finding, the per-guideline totals and shares of total MAC."""
        data = asdict(self)
        data["totals"] = self.totals()
        data["shares"] = {g: _share(mac, self.total_mac) for g, mac in self.totals().items()}
        data["g4_share"], data["g4_time_share"] = self.g4_share, self.g4_time_share
        return data

    def totals(self) -> dict[str, float]:
        """MAC each guideline accounts for (G3: join ops of multi-branch blocks)."""
        return {
            "G1": sum(f.excess for f in self.g1),
            "G2": sum(f.extra for f in self.g2),
            "G3": sum(b.join_mac for b in self.g3 if b.branches > 1),
            "G4": self.g4_mac,
        }


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


# -- G1 ----------------------------------------------------------------------------------------------

def g1_bound(positions: int, flops: int, groups: int = 1) -> float:
    """Lowest MAC of a 1x1 conv with ``flops`` multiply-adds over ``positions`` = N h w outputs."""
    return 2 * math.sqrt(groups * positions * flops) + flops / positions


def _conv_shape(r: LayerRecord) -> tuple[int, int, int, tuple[int, ...]] | None:
    """(c1, c2, groups, output spatial dims) of a conv record, or None if it is not an N C ... conv."""
    if r.category != "conv" or "kernel" not in r.attrs or not r.inputs or not r.outputs:
        return None
    if "transpose" in r.op.lower():  # its FLOPs follow the input size: the seed's algebra does not apply
        return None
    x, y = r.inputs[0].shape, r.outputs[0].shape
    if len(x) < 3 or len(y) != len(x):
        return None
    return x[1], y[1], int(r.attrs.get("groups", 1)), tuple(y[2:])


def _g1(records: list[LayerRecord], total_mac: int) -> list[G1Finding]:
    found = []
    for r in records:
        shape = _conv_shape(r)
        if shape is None or any(k != 1 for k in r.attrs["kernel"]):
            continue
        c1, c2, g, spatial = shape
        if c1 == c2:
            continue
        n = r.outputs[0].shape[0]
        positions = n * math.prod(spatial)
        mac = positions * (c1 + c2) + c1 * c2 // g
        bound = g1_bound(positions, r.flops, g)
        h, w = spatial[-2:] if len(spatial) >= 2 else (spatial[0] if spatial else 1, 1)
        found.append(G1Finding(r.index, r.name, n, h, w, c1, c2, g, r.flops, mac, bound, mac - bound,
                               _share(mac - bound, total_mac)))
    return found


# -- G2 ----------------------------------------------------------------------------------------------

def g2_extra(outputs: int, groups: int) -> float:
    """MAC a g-group conv spends beyond the g = 1 conv with the same FLOPs, input and kernel."""
    return outputs * (1 - 1 / groups)


def _g2(records: list[LayerRecord], total_mac: int) -> list[G2Finding]:
    found = []
    for r in records:
        shape = _conv_shape(r)
        if shape is None:
            continue
        c1, c2, g, _ = shape
        if not 1 < g < c1:
            continue
        outputs = r.outputs[0].numel
        extra = g2_extra(outputs, g)
        found.append(G2Finding(r.index, r.name, c1, c2, g, tuple(r.attrs["kernel"]), outputs, r.flops, r.mac, extra,
                               _share(extra, total_mac)))
    return found


def _is_depthwise(r: LayerRecord) -> bool:
    shape = _conv_shape(r)
    return shape is not None and shape[2] > 1 and shape[2] == shape[0]


# -- G3 ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockGraph:
    branches: int
    kernels: int
    join_mac: int


def block_graph(records: Sequence[LayerRecord], consumers: dict[int, set[int]]) -> BlockGraph:
    """Branches (input-to-output paths), kernels and join MAC of the records of one block.

    ``consumers`` maps each record index to the indices of the records that read its outputs (over the
    whole report), so that a record feeding something outside the block is seen as an output.
    """
    inside = {r.index for r in records}
    paths: dict[int, int] = {}
    branches = kernels = join_mac = 0
    for r in sorted(records, key=lambda r: r.index):  # record order is execution order: producers first
        preds = {p for p in r.input_from if p in inside}
        from_outside = any(p >= 0 and p not in inside for p in r.input_from)
        # A model input starts a path; a parameter read by a function (a layer scale) only when nothing
        # in the block feeds the record at all.
        entry = from_outside or FROM_INPUT in r.input_from or (not preds and FROM_STATE in r.input_from)
        paths[r.index] = int(entry) + sum(paths[p] for p in preds)
        if len(preds) + int(entry) > 1:
            join_mac += r.mac
        if r.mac or r.flops:
            kernels += 1
        outs = consumers.get(r.index, set())
        if not outs or any(c not in inside for c in outs):
            branches += paths[r.index]
    return BlockGraph(branches, kernels, join_mac)


def consumers_of(records: Sequence[LayerRecord]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for r in records:
        for p in r.input_from:
            if p >= 0:
                out.setdefault(p, set()).add(r.index)
    return out


def _blocks_at(report: Report, depth: int) -> dict[str, list[LayerRecord]]:
    blocks: dict[str, list[LayerRecord]] = {}
    for r in report.records:
        parts = r.path.split(".") if r.path else []
        if len(parts) >= depth:
            blocks.setdefault(".".join(parts[:depth]), []).append(r)
    return blocks


def _g3(report: Report, depth: int | None, total_mac: int) -> tuple[list[G3Block], int]:
    consumers = consumers_of(report.records)
    max_depth = max((len(r.path.split(".")) for r in report.records if r.path), default=0)

    def at(d: int) -> list[G3Block]:
        out = []
        for path, records in _blocks_at(report, d).items():
            graph = block_graph(records, consumers)
            typ = report.module_types.get(path, records[0].op)
            out.append(G3Block(path or "(root)", typ, graph.branches, graph.kernels, graph.join_mac,
                               sum(r.mac for r in records), sum(r.flops for r in records),
                               _share(graph.join_mac, total_mac)))
        return out

    if depth is not None:
        return at(depth), depth
    # Auto: the depth whose blocks most often branch (ties: the shallower); the whole model if none do.
    best_depth, best, best_count = 0, at(0), 0
    for d in range(1, max_depth + 1):
        blocks = at(d)
        count = sum(b.branches > 1 for b in blocks)
        if count > best_count:
            best_depth, best, best_count = d, blocks, count
    return best, best_depth


# -- G4 ----------------------------------------------------------------------------------------------

def _g4(records: list[LayerRecord], total_mac: int, total_flops: int,
        times: Sequence[float] | None) -> tuple[list[G4Row], G4Row | None]:
    total_time = sum(times) if times is not None else None

    def row(op: str, category: str, group: list[LayerRecord]) -> G4Row:
        t = sum(times[r.index] for r in group) if times is not None else None
        mac, flops = sum(r.mac for r in group), sum(r.flops for r in group)
        return G4Row(op, category, len(group), flops, mac, _share(mac, total_mac), _share(flops, total_flops),
                     t, _share(t, total_time) if t is not None else None)

    groups: dict[str, list[LayerRecord]] = {}
    for r in records:
        if r.counted and r.category in G4_CATEGORIES and r.mac > 0:
            groups.setdefault(r.op, []).append(r)
    rows = sorted((row(op, g[0].category, g) for op, g in groups.items()), key=lambda x: x.mac, reverse=True)
    depthwise = [r for r in records if _is_depthwise(r)]
    return rows, (row("depthwise conv", "conv", depthwise) if depthwise else None)


# -- all ---------------------------------------------------------------------------------------------

def guidelines(report: Report, *, times: Sequence[float] | None = None, block_depth: int | None = None) -> Guidelines:
    """Check the four ShuffleNet V2 guidelines on ``report``.

    ``times``: measured seconds per record (aligned with ``report.records``), e.g. from
    :func:`flopcount.bench.measure_layers`; adds G4's share of measured time.
    """
    if times is not None and len(times) != len(report.records):
        from flopcount.errors import UsageError

        raise UsageError(f"times has {len(times)} entries for {len(report.records)} records")
    total_mac, total_flops = report.totals.mac, report.totals.flops
    g1 = _g1(report.records, total_mac)
    g2 = _g2(report.records, total_mac)
    g3, depth = _g3(report, block_depth, total_mac)
    g4, depthwise = _g4(report.records, total_mac, total_flops, times)
    g3 = _with_other_costs(g3, depth, report.records, g1, g2)
    result = Guidelines(report.model, total_mac, total_flops, g1, g2, g3, depth, g4, depthwise,
                        sum(times) if times is not None else None)
    result.summary = _summary(result)
    return result


def _with_other_costs(blocks: list[G3Block], depth: int, records: list[LayerRecord], g1: list[G1Finding],
                      g2: list[G2Finding]) -> list[G3Block]:
    def block_of(r: LayerRecord) -> str | None:
        parts = r.path.split(".") if r.path else []
        return (".".join(parts[:depth]) or "(root)") if len(parts) >= depth else None

    where = {r.index: block_of(r) for r in records}
    g1_by, g2_by, g4_by = {}, {}, {}
    for f in g1:
        g1_by[where[f.index]] = g1_by.get(where[f.index], 0.0) + f.excess
    for f in g2:
        g2_by[where[f.index]] = g2_by.get(where[f.index], 0.0) + f.extra
    for r in records:
        if r.counted and r.category in G4_CATEGORIES and r.mac > 0:
            g4_by[where[r.index]] = g4_by.get(where[r.index], 0) + r.mac
    return [replace(b, g1_excess=g1_by.get(b.path, 0.0), g2_extra=g2_by.get(b.path, 0.0), g4_mac=g4_by.get(b.path, 0))
            for b in blocks]


def _summary(g: Guidelines) -> list[Finding]:
    items = [Finding("G1", f.name, f.excess, f.share,
                     f"1x1 conv {f.c1}->{f.c2}" + (f" g={f.groups}" if f.groups > 1 else "")
                     + f" on {f.n}x{f.h}x{f.w}: MAC {f.mac:,} vs bound {f.bound:,.0f} at {f.flops:,} FLOPs")
             for f in g.g1]
    items += [Finding("G2", f.name, f.extra, f.share,
                      f"g={f.groups} conv {f.c1}->{f.c2}: writes {f.extra:,.0f} more elements than g=1 at equal FLOPs")
              for f in g.g2]
    items += [Finding("G3", b.path, b.join_mac, b.share,
                      f"{b.branches} branches, {b.kernels} kernels; joins cost {b.join_mac:,} MAC")
              for b in g.g3 if b.branches > 1]
    items += [Finding("G4", r.op, r.mac, r.share_mac,
                      f"{r.category} x{r.calls}: {r.share_mac:.1%} of MAC for {r.share_flops:.1%} of FLOPs"
                      + (f", {r.share_time:.1%} of measured time" if r.share_time is not None else ""))
              for r in g.g4]
    return sorted(items, key=lambda f: f.share, reverse=True)
