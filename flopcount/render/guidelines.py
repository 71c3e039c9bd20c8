"""ShuffleNet V2's guidelines G1-G4 rendered: tables of MAC costs (rich), JSON, CSV of the ranked findings."""

from __future__ import annotations

from flopcount.render.common import csv_text, json_document, markdown_table, num, pct, simple_table
from flopcount.units import human

MAC_NOTE = ("MAC = memory access cost in elements read + written (ShuffleNet V2); FLOPs = multiply-adds. "
            "Costs are MAC elements; shares are of the model's total MAC.")


def renderables(g, top: int, show_all: bool, width: int = 200) -> list:
    from rich.text import Text

    def cut(rows: list) -> list:
        return rows if show_all else rows[:top]

    out: list = [Text(f"{g.model}: total MAC {g.total_mac:,} elements, all-ops FLOPs {g.total_flops:,}. {MAC_NOTE}")]
    totals = g.totals()

    def share(mac: float) -> str:
        return pct(mac / g.total_mac if g.total_mac else 0)

    n_branching = sum(b.branches > 1 for b in g.g3)
    time_note = f" ({pct(g.g4_time_share)} of time)" if g.g4_time_share is not None else ""
    out.append(simple_table(
        "Guidelines, MAC each accounts for (shares overlap: an add that joins branches is G3 and G4)",
        ["guideline", "what is counted", "MAC", "% of MAC"], "llrr",
        [["G1 equal widths", f"{len(g.g1)} 1x1 convs with c1 != c2: MAC above the bound at equal FLOPs",
          num(totals["G1"]), share(totals["G1"])],
         ["G2 groups", f"{len(g.g2)} group convs (1 < g < c1): outputs beyond g=1 at equal FLOPs",
          num(totals["G2"]), share(totals["G2"])],
         ["G3 fragmentation", f"{n_branching} of {len(g.g3)} blocks (depth {g.g3_depth}) branch: join ops",
          num(totals["G3"]), share(totals["G3"])],
         ["G4 element-wise", "activations, element-wise, norms, copies", num(totals["G4"]),
          share(totals["G4"]) + time_note]],
        width, text=("what is counted",),
    ))
    out.append(simple_table(
        f"Summary: findings ranked by share of total MAC (top {min(top, len(g.summary))} of {len(g.summary)})",
        ["#", "G", "where", "MAC cost", "% MAC", "detail"], "rllrrl",
        [[str(i), f.guideline, f.where, num(f.mac), f"{f.share:.2%}", f.detail] for i, f in enumerate(g.summary[:top], 1)],
        width, text=("detail",), drops={"G": 1},
    ))
    if g.g1:
        rows = sorted(g.g1, key=lambda f: f.excess, reverse=True)
        out.append(simple_table(
            f"G1: 1x1 convs with unequal widths ({len(g.g1)}{'' if show_all or len(g.g1) <= top else f', top {top}'})",
            ["layer", "N*h*w = A", "c1", "c2", "g", "FLOPs B", "MAC A(c1+c2)+c1c2/g", "bound 2sqrt(gAB)+B/A", "excess", "% MAC"],
            "lrrrrrrrrr",
            [[f.name, f"{f.n}*{f.h}*{f.w} = {f.n * f.h * f.w:,}", str(f.c1), str(f.c2), str(f.groups), num(f.flops),
              num(f.mac), num(f.bound), num(f.excess), f"{f.share:.2%}"] for f in cut(rows)],
            width, drops={"N*h*w = A": 4, "g": 3, "FLOPs B": 2, "bound 2sqrt(gAB)+B/A": 1},
        ))
    if g.g2:
        rows = sorted(g.g2, key=lambda f: f.extra, reverse=True)
        out.append(simple_table(
            f"G2: group convs ({len(g.g2)}{'' if show_all or len(g.g2) <= top else f', top {top}'})",
            ["layer", "c1->c2", "g", "kernel", "outputs A*c2", "extra A*c2*(1-1/g)", "layer MAC", "% MAC"], "llrlrrrr",
            [[f.name, f"{f.c1}->{f.c2}", str(f.groups), "x".join(map(str, f.kernel)), num(f.outputs), num(f.extra),
              num(f.mac), f"{f.share:.2%}"] for f in cut(rows)],
            width, drops={"kernel": 3, "outputs A*c2": 2, "layer MAC": 1},
        ))
    branching = [b for b in g.g3 if b.branches > 1]
    blocks = branching if branching else g.g3
    out.append(simple_table(
        f"G3 per block (block = module path of depth {g.g3_depth}; {len(branching)} of {len(g.g3)} branch; "
        f"branches = input-to-output paths in the dataflow"
        + (f"; first {top} of {len(blocks)} shown)" if not show_all and len(blocks) > top else ")"),
        ["block", "type", "branches", "kernels", "join MAC", "% MAC", "G1 excess", "G2 extra", "G4 MAC", "block MAC"],
        "llrrrrrrrr",
        [[b.path, b.type, str(b.branches), str(b.kernels), num(b.join_mac), f"{b.share:.2%}", num(b.g1_excess),
          num(b.g2_extra), num(b.g4_mac), num(b.mac)] for b in cut(blocks)],
        width, drops={"type": 6, "kernels": 5, "G1 excess": 4, "G2 extra": 3, "G4 MAC": 2, "block MAC": 1},
    ))
    timed = g.total_time is not None
    rows = [[r.op, r.category, str(r.calls), human(r.flops), pct(r.share_flops), num(r.mac), pct(r.share_mac)]
            + ([f"{r.time * 1e3:.3f}", pct(r.share_time)] if timed else []) for r in g.g4]
    if g.depthwise is not None:
        d = g.depthwise
        rows.append([f"({d.op}: not in the sum)", d.category, str(d.calls), human(d.flops), pct(d.share_flops),
                     num(d.mac), pct(d.share_mac)] + ([f"{d.time * 1e3:.3f}", pct(d.share_time)] if timed else []))
    out.append(simple_table(
        f"G4 element-wise ops by type: {pct(g.g4_share)} of MAC"
        + (f", {pct(g.g4_time_share)} of measured time ({g.total_time * 1e3:.2f} ms over all layers)" if timed else ""),
        ["op", "category", "calls", "FLOPs", "% FLOPs", "MAC", "% MAC"] + (["ms", "% time"] if timed else []),
        "llrrrrr" + ("rr" if timed else ""), rows,
        width, drops={"category": 3, "FLOPs": 2, "% FLOPs": 1},
    ))
    return [item for renderable in out for item in (renderable, "")]  # a blank line after each


def to_json(g) -> str:
    return json_document("guidelines", g.to_dict())


SUMMARY_COLUMNS = ("rank", "guideline", "where", "mac", "share", "detail")


def _summary_rows(g) -> list[dict]:
    return [{"rank": i, "guideline": f.guideline, "where": f.where, "mac": f.mac, "share": f.share, "detail": f.detail}
            for i, f in enumerate(g.summary, 1)]


def to_csv(g) -> str:
    """Every finding, ranked by share of the model's MAC."""
    return csv_text(_summary_rows(g), SUMMARY_COLUMNS)


def to_markdown(g, top: int, show_all: bool) -> str:
    rows = _summary_rows(g) if show_all else _summary_rows(g)[:top]
    body = [[str(r["rank"]), r["guideline"], r["where"], num(r["mac"]), f"{r['share']:.2%}", r["detail"]] for r in rows]
    return (f"**{g.model}**: total MAC {g.total_mac:,} elements, all-ops FLOPs {g.total_flops:,}. {MAC_NOTE}\n\n"
            + markdown_table(["#", "G", "where", "MAC cost", "% MAC", "detail"], body, "rllrrl") + "\n")
