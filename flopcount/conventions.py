"""What each FLOP counter counts, per op family: the one place the reason column of `compare` comes from.

Three counters are compared: flopcount, fvcore's ``FlopCountAnalysis`` (a jit trace with a table of op
handles) and torch's ``FlopCounterMode`` (a dispatch mode with formulas for a few aten ops, 2 FLOPs per
multiply-add; compare halves it). For every op family the map says whether a counter counts it, treats
it as free, or cannot count it, and how. The texts are short phrases meant for a table cell.

A difference in a ``strict`` family (conv, linear, matmul) is never "explained" away: those are the
counts every tool must agree on exactly, and `compare` fails when they do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Mapping

FLOPCOUNT, FVCORE, FCM = "flopcount", "fvcore", "fcm"
REFERENCES = (FVCORE, FCM)
LABELS = {FLOPCOUNT: "flopcount", FVCORE: "fvcore", FCM: "FlopCounterMode"}


class Status(str, Enum):
    COUNTS = "counts"
    IGNORES = "ignores"  # free by the counter's own convention, said nowhere
    CANNOT = "cannot"  # no handle / formula: fvcore reports the op as unsupported, FlopCounterMode skips it


@dataclass(frozen=True)
class Rule:
    status: Status
    how: str  # the formula, or why the counter does not count the family


@dataclass(frozen=True)
class Family:
    name: str
    paper: bool  # part of the paper total (conv + linear + matmul + attention)
    strict: bool  # counts must agree exactly with every reference
    ops: frozenset[str]  # base names of the aten / torch ops of the family (see `base_op_name`)
    rules: Mapping[str, Rule]  # counter -> rule


def _family(name: str, paper: bool, strict: bool, ops: str, flopcount: Rule, fvcore: Rule, fcm: Rule) -> Family:
    return Family(name, paper, strict, frozenset(ops.split()), {FLOPCOUNT: flopcount, FVCORE: fvcore, FCM: fcm})


COUNTS, IGNORES, CANNOT = Status.COUNTS, Status.IGNORES, Status.CANNOT

FAMILIES: dict[str, Family] = {f.name: f for f in (
    _family(
        "conv", True, True,
        "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d convolution _convolution conv "
        "mkldnn_convolution cudnn_convolution",
        Rule(COUNTS, "k·k·c_in/g per output element (transposed: per input element); bias adds free"),
        Rule(COUNTS, "aten::_convolution, the same formula"),
        Rule(COUNTS, "aten.convolution, 2 per multiply-add (halved here)"),
    ),
    _family(
        "linear", True, True, "linear bilinear _trilinear",
        Rule(COUNTS, "c_in per output element, every leading dim a row; bias adds free"),
        Rule(COUNTS, "aten::linear / aten::addmm; no handle for aten::bilinear"),
        Rule(COUNTS, "aten.addmm / aten.mm, 2 per multiply-add (halved here); no formula for nn.Bilinear's kernel"),
    ),
    _family(
        "matmul", True, True, "matmul mm bmm addmm baddbmm einsum __matmul__ __rmatmul__",
        Rule(COUNTS, "output elements x contraction length"),
        Rule(COUNTS, "aten::matmul / mm / bmm / einsum"),
        Rule(COUNTS, "aten.mm / bmm / baddbmm (einsum lowers to bmm), 2 per multiply-add (halved here)"),
    ),
    _family(
        "attention", True, False,
        "scaled_dot_product_attention _native_multi_head_attention multi_head_attention_forward "
        "_scaled_dot_product_flash_attention _scaled_dot_product_flash_attention_for_cpu "
        "_scaled_dot_product_efficient_attention",
        Rule(COUNTS, "Q·Kᵀ and weights·V (+ nn.MultiheadAttention's projections); softmax left out"),
        Rule(CANNOT, "has no handle for scaled_dot_product_attention or the fused nn.MultiheadAttention kernel"),
        Rule(CANNOT, "has no formula for the fused CPU attention kernels (counts flash/efficient SDPA on GPU)"),
    ),
    _family(
        "norm", False, False, "batch_norm layer_norm group_norm instance_norm native_batch_norm native_layer_norm",
        Rule(COUNTS, "eval BatchNorm 1 per element (+1 affine); Layer/Group/InstanceNorm 4 (+1 affine); all-ops only"),
        Rule(COUNTS, "eval batch_norm 1 per element (+1 affine); layer/group_norm 4 (+1 affine)"),
        Rule(CANNOT, "has no formula for norms"),
    ),
    _family(
        "activation", False, False,
        "relu relu6 hardtanh leaky_relu prelu hardswish hardsigmoid silu gelu sigmoid tanh elu mish softplus celu "
        "selu clamp clip exp softmax log_softmax _softmax",
        Rule(COUNTS, "1 per element (softmax 3); all-ops only"),
        Rule(IGNORES, "treats relu and clamp as free and has no handle for other activations"),
        Rule(CANNOT, "has no formula for activations"),
    ),
    _family(
        "pool", False, False,
        "max_pool1d max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
        "adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d "
        "max_pool2d_with_indices mean_pool",
        Rule(COUNTS, "window pools k·k per output element; adaptive pools 1 per input element"),
        Rule(COUNTS, "adaptive_avg_pool2d 1 per input element; no handle for max/avg_pool2d"),
        Rule(CANNOT, "has no formula for pooling"),
    ),
    _family(
        "resample", False, False,
        "interpolate upsample_nearest1d upsample_nearest2d upsample_nearest3d upsample_bilinear2d upsample_linear1d "
        "upsample_trilinear3d upsample_bicubic2d grid_sampler",
        Rule(COUNTS, "per output element, the points blended (1 nearest, 4 bilinear, 16 bicubic)"),
        Rule(COUNTS, "upsample_nearest2d 1, upsample_bilinear2d 4 per output element; no handle for the others"),
        Rule(CANNOT, "has no formula for resampling"),
    ),
    _family(
        "elementwise", False, False,
        "add sub mul div true_divide rsub maximum minimum pow remainder fmod addcmul addcdiv lerp where neg abs "
        "sqrt rsqrt log reciprocal square erf sin cos masked_fill",
        Rule(COUNTS, "1 per output element; all-ops only"),
        Rule(CANNOT, "has no handle for element-wise arithmetic"),
        Rule(CANNOT, "has no formula for element-wise ops"),
    ),
    _family(
        "reduction", False, False, "mean sum amax amin var std norm logsumexp max min prod argmax argmin cumsum",
        Rule(COUNTS, "1 per input element"),
        Rule(CANNOT, "has no handle for reductions (treats max as free)"),
        Rule(CANNOT, "has no formula for reductions"),
    ),
    _family(
        "embedding", False, False, "embedding embedding_bag",
        Rule(COUNTS, "0 FLOPs (a lookup); MAC only"),
        Rule(CANNOT, "has no handle for embedding"),
        Rule(IGNORES, "treats a lookup as free"),
    ),
    _family(
        "movement", False, False,
        "view view_as reshape reshape_as flatten unflatten transpose permute t squeeze unsqueeze expand expand_as "
        "narrow select chunk split unbind contiguous movedim swapaxes __getitem__ getitem unfold as_strided detach "
        "tensor_split type_as to float half double bfloat16 cat concat concatenate stack hstack vstack clone repeat "
        "roll flip tile gather index_select masked_select pad constant_pad_nd copy dropout feature_dropout "
        "channel_shuffle pixel_shuffle slice split_with_sizes _unsafe_view alias",
        Rule(COUNTS, "0 FLOPs; MAC where data moves"),
        Rule(IGNORES, "treats data movement as free"),
        Rule(IGNORES, "treats data movement as free"),
    ),
    _family(
        "other", False, False, "",
        Rule(CANNOT, "has no formula for ops outside this map"),
        Rule(CANNOT, "has no handle for it"),
        Rule(CANNOT, "has no formula for it"),
    ),
)}

# flopcount's own categories that are not op families of their own.
_CATEGORY_FAMILY = {"none": "movement", "uncounted": "other"}


def base_op_name(name: str) -> str:
    """'aten::hardtanh_' -> 'hardtanh', 'aten.convolution.default' -> 'convolution', '__iadd__' -> 'add'."""
    name = str(name)
    for prefix in ("aten::", "aten.", "prim::PythonOp.", "torch."):
        name = name.removeprefix(prefix)
    name = name.split(".")[0]
    if name.startswith("__") and name.endswith("__"):
        inner = name[2:-2]
        # __iadd__ / __radd__ -> add; but keep __matmul__ / __rmatmul__ and __getitem__ as they are
        if f"__{inner}__" in _DUNDER_KEEP:
            return name
        for prefix in ("i", "r"):
            if inner.startswith(prefix) and inner[1:] in FAMILIES["elementwise"].ops | {"truediv", "mod"}:
                inner = inner[1:]
        return {"truediv": "div", "mod": "remainder"}.get(inner, inner)
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]
    return name


_DUNDER_KEEP = frozenset({"__matmul__", "__rmatmul__", "__getitem__"})


def family_of_op(name: str) -> str:
    """The family an op belongs to, by its (aten or torch) name; 'other' when the map does not know it."""
    base = base_op_name(name)
    for family in FAMILIES.values():
        if base in family.ops:
            return family.name
    return "other"


def family_of_category(category: str, op: str) -> str:
    """The family of one flopcount record: its category, or the op's family when it had no formula."""
    if category == "uncounted":
        return family_of_op(op)
    return _CATEGORY_FAMILY.get(category, category if category in FAMILIES else "other")


def is_paper(family: str) -> bool:
    return FAMILIES[family].paper


def is_strict(family: str) -> bool:
    return FAMILIES[family].strict


@dataclass(frozen=True)
class Observation:
    """What one counter reported for one (module path, family) row."""

    value: float | None  # FLOPs as multiply-adds; None: the counter is unavailable
    ops: tuple[str, ...] = ()  # ops it counted (flopcount: every op of the row)
    unsupported: tuple[str, ...] = ()  # ops it saw but had no handle for (fvcore), or no formula (flopcount)
    outside_modules: tuple[str, ...] = ()  # flopcount: counted ops called outside any leaf module


def _names(ops: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(ops))


def explain(family: str, ours: Observation, references: Mapping[str, Observation],
            agree: Mapping[str, bool]) -> tuple[list[str], bool]:
    """The reasons for one row's differences, and whether every difference has a known reason.

    ``agree[counter]`` says whether that reference matches ours (within the tolerance). Differences in a
    strict family are reported with the best reason known but never count as explained.
    """
    fam = FAMILIES[family]
    reasons: list[str] = []
    explained = True
    if ours.unsupported:
        reasons.append(f"flopcount has no formula for {_names(ours.unsupported)}")
    for counter, seen in references.items():
        if seen.value is None or agree.get(counter, True):
            continue
        label, rule = LABELS[counter], fam.rules[counter]
        if seen.unsupported:
            reasons.append(f"{label} has no handle for {_names(seen.unsupported)}")
        elif seen.value == 0 and rule.status is Status.IGNORES:
            reasons.append(f"{label} treats {_names(ours.ops) or family} as free")
        elif seen.value == 0 and rule.status is Status.CANNOT:
            reasons.append(f"{label} {rule.how}")
        elif ours.unsupported:
            pass  # the flopcount reason above covers it
        elif seen.value == 0:
            reasons.append(f"unexplained: {label} counts 0 here ({rule.how})")
            explained = False
        else:
            reasons.append(f"unexplained: {label} counts {_names(seen.ops) or family} differently ({rule.how})")
            explained = False
        if fam.strict:
            explained = False
    fv = references.get(FVCORE)
    if not fam.paper and fv is not None and fv.value:
        reasons.append(f"fvcore counts {_names(fv.ops)}; paper total does not")
    if ours.outside_modules:
        reasons.append(f"a hook-only count would miss {_names(ours.outside_modules)}")
    return reasons, explained


def convention_table() -> list[dict[str, str]]:
    """The map as rows (family, paper, and each counter's status and rule), for docs and `--format json`."""
    return [
        {
            "family": f.name,
            "paper_total": "yes" if f.paper else "no",
            **{LABELS[c]: f"{r.status.value}: {r.how}" for c, r in f.rules.items()},
        }
        for f in FAMILIES.values()
    ]
