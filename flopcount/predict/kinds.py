"""The kernel kinds a latency profile fits, and how each kind is described to its predictor.

Kinds split where the CPU kernel (and so its efficiency) differs: dense, 1x1, depthwise and grouped
convs; linear and batched matmul; per activation function; views (dispatch overhead only); copies. A
kind's *terms* and *features* are functions of a config (the shape of one call): configs taken from
analysis records (:mod:`flopcount.predict.kernels`) and configs sampled for calibration share them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

FALLBACK = "fallback"
VIEW = "view"

# Activation records (module class names and function names) -> the activation kind they run.
# Activations torch can run in place (nn.GELU and F.gelu cannot).
IN_PLACE_ACTIVATIONS = ("relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "tanh")
ACTIVATIONS = {
    "relu": ("ReLU", "relu", "relu_"),
    "relu6": ("ReLU6", "relu6", "hardtanh", "hardtanh_", "Hardtanh"),
    "hardswish": ("Hardswish", "hardswish"),
    "hardsigmoid": ("Hardsigmoid", "hardsigmoid"),
    "sigmoid": ("Sigmoid", "sigmoid", "sigmoid_"),
    "silu": ("SiLU", "silu"),
    "gelu": ("GELU", "gelu"),
    "gelu_tanh": (),  # GELU(approximate="tanh"): the records of "gelu" that say so (kernels.py)
    "tanh": ("Tanh", "tanh", "tanh_"),
}
@dataclass(frozen=True)
class KindSpec:
    """How a kind is described to a predictor.

    ``terms`` are physical quantities the time grows linearly with (a constant 1 for the per-call
    overhead, FLOPs, elements read and written): the base of the fit, which extrapolates sensibly.
    ``features`` (logs of shape quantities) let the fit bend the base where efficiency changes with
    shape: thin layers, few channels per group, small spatial sizes.
    """

    name: str
    description: str
    terms: Callable[[dict], list[float]]
    features: Callable[[dict], list[float]]
    term_names: tuple[str, ...]
    feature_names: tuple[str, ...]


def _lg(x: float) -> float:
    return math.log2(max(float(x), 1.0))


# -- convolutions --------------------------------------------------------------------------------

def conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_shapes(c: dict) -> tuple[int, int, int, int, int]:
    """(flops, elements in, elements out, weight elements, output pixels) of a conv config."""
    oh = conv_out(c["h"], c["kh"], c["s"], c["ph"], c.get("d", 1))
    ow = conv_out(c["w"], c["kw"], c["s"], c["pw"], c.get("d", 1))
    cin_g = c["cin"] // c["g"]
    weights = c["cout"] * cin_g * c["kh"] * c["kw"] + (c["cout"] if c.get("bias") else 0)
    flops = c["n"] * c["cout"] * oh * ow * cin_g * c["kh"] * c["kw"]
    return flops, c["n"] * c["cin"] * c["h"] * c["w"], c["n"] * c["cout"] * oh * ow, weights, oh * ow


def _conv_terms(c: dict) -> list[float]:
    flops, xin, xout, weights, _ = conv_shapes(c)
    # im2col's column buffer (c_in/g x k x k per output pixel, every group) and one gemm call per group and
    # image: grouped convs' cross-validated error fell from 11.4% to 8.9% (torch's kernel) and from 15.2%
    # to 10.6% (oneDNN) with them, on the samples of 2026-11-28.
    columns = flops // max(c["cout"] // c["g"], 1)
    return [1.0, flops, xin, xout, weights, columns, c["g"] * c["n"]]


def _alignment(channels: int) -> float:
    """Largest of 16, 8, 4 dividing ``channels`` (0 if none): CPU conv kernels block channels by 8 or 16
    and run measurably slower on the remainder."""
    return next((float(b) for b in (16, 8, 4) if channels % b == 0), 0.0)


def _conv_features(c: dict) -> list[float]:
    flops, xin, xout, weights, pixels = conv_shapes(c)
    return [_lg(c["cin"]), _lg(c["cout"]), _lg(c["cin"] // c["g"]), _lg(c["cout"] // c["g"]), _lg(pixels),
            _lg(c["kh"] * c["kw"]), float(c["s"]), _lg(flops), _lg(xin + xout + weights), _lg(c["n"]),
            _alignment(c["cin"]), _alignment(c["cout"]), _lg(c["h"] * c["w"]), _alignment(c["cin"] // c["g"]),
            _alignment(c["cout"] // c["g"]), _lg(c["g"])]


_CONV_TERMS = ("call", "flops", "elements_in", "elements_out", "weights", "im2col_elements", "gemm_calls")
_CONV_FEATURES = ("log_cin", "log_cout", "log_cin_per_group", "log_cout_per_group", "log_out_pixels", "log_kernel",
                  "stride", "log_flops", "log_elements", "log_batch", "cin_alignment", "cout_alignment",
                  "log_in_pixels", "cin_per_group_alignment", "cout_per_group_alignment", "log_groups")


# -- others ----------------------------------------------------------------------------------------

def _linear_terms(c: dict) -> list[float]:
    rows, cin, cout = c["rows"], c["cin"], c["cout"]
    return [1.0, rows * cin * cout, rows * cin, rows * cout, cin * cout]


def _linear_features(c: dict) -> list[float]:
    return [_lg(c["rows"]), _lg(c["cin"]), _lg(c["cout"]), _lg(c["rows"] * c["cin"] * c["cout"]),
            _alignment(c["cin"]), _alignment(c["cout"])]


def _matmul_terms(c: dict) -> list[float]:
    b, m, k, n = c["b"], c["m"], c["k"], c["n"]
    return [1.0, b * m * k * n, b * (m * k + k * n), b * m * n]


def _matmul_features(c: dict) -> list[float]:
    return [_lg(c["b"]), _lg(c["m"]), _lg(c["k"]), _lg(c["n"]), _lg(c["b"] * c["m"] * c["k"] * c["n"])]


def _numel_terms(c: dict) -> list[float]:
    return [1.0, c["numel"]]


def _numel_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), float(c.get("module", 0)), float(c.get("inplace", 0))]


def _bn_terms(c: dict) -> list[float]:
    return [1.0, c["n"] * c["c"] * c["hw"], c["c"]]


def _bn_features(c: dict) -> list[float]:
    return [_lg(c["c"]), _lg(c["hw"]), _lg(c["n"] * c["c"] * c["hw"])]


def _groupnorm_terms(c: dict) -> list[float]:
    return [1.0, c["n"] * c["c"] * c["hw"], c["n"] * c["g"], c["c"]]


def _groupnorm_features(c: dict) -> list[float]:
    return [_lg(c["c"]), _lg(c["hw"]), _lg(c["g"]), _lg(c["n"] * c["c"] * c["hw"])]


def _rows_terms(c: dict) -> list[float]:
    return [1.0, c["rows"] * c["d"], c["rows"]]


def _rows_features(c: dict) -> list[float]:
    return [_lg(c["rows"]), _lg(c["d"])]


def _binary_terms(c: dict) -> list[float]:
    return [1.0, c["numel"], c["other"]]


def _binary_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), _lg(c["other"]), float(c.get("inplace", 0))]


def _pool_shapes(c: dict) -> tuple[int, int, int, int]:
    """(elements in, window reads, elements out, window area): reads cut at the padded edge, as the FLOPs
    formula cuts them."""
    from flopcount.formulas.pooling import pool_output_size, window_reads

    ceil = bool(c.get("ceil", 0))
    reads = outputs = 1
    for size in (c["h"], c["w"]):
        out = pool_output_size(size, c["k"], c["s"], c["p"], 1, ceil)
        reads *= window_reads(size, c["k"], c["s"], c["p"], 1, out)
        outputs *= out
    plane = c["n"] * c["c"]
    return plane * c["h"] * c["w"], plane * reads, plane * outputs, c["k"] * c["k"]


def _pool_terms(c: dict) -> list[float]:
    # Per output as well as per read: torch's max pool costs ~10 ns per output and ~1.1-1.3 ns per window
    # read once out of L1 (3x3, 5x5 and 2x2 windows at strides 1 and 2, 2026-11-29). With reads alone, 2x2
    # windows and stride-1 3x3 ones were off by 30-40% in opposite directions.
    xin, reads, xout, _ = _pool_shapes(c)
    return [1.0, xin, reads, xout]


def _pool_features(c: dict) -> list[float]:
    xin, _, _, window = _pool_shapes(c)
    return [_lg(c["c"]), _lg(c["h"] * c["w"]), _lg(window), float(c["s"]), _lg(xin)]


def _adaptive_terms(c: dict) -> list[float]:
    return [1.0, c["n"] * c["c"] * c["h"] * c["w"], c["n"] * c["c"] * c["oh"] * c["ow"]]


def _adaptive_features(c: dict) -> list[float]:
    return [_lg(c["c"]), _lg(c["h"] * c["w"]), _lg(c["oh"] * c["ow"]), float(c.get("module", 0))]


def _cat_terms(c: dict) -> list[float]:
    return [1.0, c["numel"], c["parts"], c["numel"] / max(c["inner"], 1)]


def _cat_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), float(c["parts"]), _lg(c["inner"])]


def _reduce_terms(c: dict) -> list[float]:
    return [1.0, c["outer"] * c["reduced"] * c["inner"], c["outer"] * c["inner"]]


def _reduce_features(c: dict) -> list[float]:
    return [_lg(c["outer"]), _lg(c["reduced"]), _lg(c["inner"]), _lg(c["outer"] * c["reduced"] * c["inner"]),
            float(c["op"])]


def _unary_features(c: dict) -> list[float]:
    return [_lg(c["numel"]), float(c["op"])]


def _copy_terms(c: dict) -> list[float]:
    return [1.0, c["numel"], c["numel"] / max(c["inner"], 1)]


def _copy_features(c: dict) -> list[float]:
    # The jump decides how the reads walk memory: a shuffle's two far-apart streams of long runs, or a
    # transpose's stride of c elements between single ones (channels-last to NCHW: 0.4-1.3 ns an element
    # over 100k-800k elements, where a shuffle's runs copy at memory speed).
    # Power-of-two jumps (256 or 512 channels between a transpose's reads) alias in the cache: (3136, 256)
    # -> (256, 3136) copies at 1.3 ns an element, (3136, 248) at ~0.5.
    jump = c["jump"]
    return [_lg(c["numel"]), _lg(c["inner"]), _lg(jump), _lg(jump // max(c["inner"], 1)), min(_lg(jump & -jump), 12.0)]


def _pad_terms(c: dict) -> list[float]:
    return [1.0, c["c"] * c["h"] * c["w"], c["c"] * c["oh"] * c["ow"], c["c"] * c["oh"]]


def _pad_features(c: dict) -> list[float]:
    return [_lg(c["c"] * c["h"] * c["w"]), _lg(c["c"] * c["oh"] * c["ow"]), _lg(c["ow"])]


def _mha_terms(c: dict) -> list[float]:
    # l queries over s keys (s = l for self-attention, and for configs stored before s was): projections of
    # (2 l + 2 s) e^2 multiply-adds, written per unit of self-attention's 4 l e^2 so one fit serves both
    b, length, keys, e = c["b"], c["l"], c.get("s", c["l"]), c["e"]
    return [1.0, b * (length + keys) / 2 * e * e, b * length * keys * e, b * length * keys * c["heads"]]


def _mha_features(c: dict) -> list[float]:
    return [_lg(c["b"]), _lg((c["l"] + c.get("s", c["l"])) / 2), _lg(c["e"]), _lg(c["heads"])]


def _sdpa_terms(c: dict) -> list[float]:
    return [1.0, c["b"] * c["l"] * c["s"] * c["d"], c["b"] * c["l"] * c["s"]]


def _sdpa_features(c: dict) -> list[float]:
    # Configs without the flags were timed as 3-D, unmasked, non-causal calls (profiles before 2026-11-29 14:00 UTC).
    return [_lg(c["b"]), _lg(c["l"]), _lg(c["s"]), _lg(c["d"]), float(c.get("rank", 3) == 4), float(c.get("causal", 0)),
            float(c.get("masked", 0))]


def _view_terms(c: dict) -> list[float]:
    return [1.0]


def _view_features(c: dict) -> list[float]:
    return [float(c.get("module", 0))]


def _spec(name, description, terms, features, term_names, feature_names) -> KindSpec:
    return KindSpec(name, description, terms, features, tuple(term_names), tuple(feature_names))


KINDS: dict[str, KindSpec] = {}


def _add(spec: KindSpec) -> None:
    KINDS[spec.name] = spec


CONV_FAMILIES = {"conv": "dense conv, kernel > 1x1", "conv1x1": "pointwise (1x1) conv, one group",
                 "conv_dw": "depthwise conv (groups = input channels)",
                 "conv_group": "grouped conv (1 < groups < input channels)"}
MKLDNN = "_mkldnn"
for _family, _text in CONV_FAMILIES.items():
    _add(_spec(_family, f"{_text}, torch's own kernel (im2col + gemm, 'Slow2d')", _conv_terms, _conv_features,
               _CONV_TERMS, _CONV_FEATURES))
    _add(_spec(_family + MKLDNN, f"{_text}, run by oneDNN (mkldnn)", _conv_terms, _conv_features, _CONV_TERMS,
               _CONV_FEATURES))
_add(_spec("linear", "fully connected (nn.Linear / F.linear), rows x c_in -> c_out", _linear_terms, _linear_features,
           ("call", "flops", "elements_in", "elements_out", "weights"),
           ("log_rows", "log_cin", "log_cout", "log_flops", "cin_alignment", "cout_alignment")))
_add(_spec("matmul", "batched matrix product b x (m x k) @ (k x n)", _matmul_terms, _matmul_features,
           ("call", "flops", "elements_in", "elements_out"), ("log_b", "log_m", "log_k", "log_n", "log_flops")))
_add(_spec("batchnorm", "BatchNorm in eval (running statistics)", _bn_terms, _bn_features,
           ("call", "elements", "channels"), ("log_channels", "log_spatial", "log_elements")))
_add(_spec("batchnorm_stats", "BatchNorm from the input's own statistics (training mode, or no running "
           "statistics: the weight standardisation of BiT's convs)", _bn_terms, _bn_features,
           ("call", "elements", "channels"), ("log_channels", "log_spatial", "log_elements")))
_add(_spec("groupnorm", "GroupNorm: n x c x hw in g groups, statistics per group", _groupnorm_terms,
           _groupnorm_features, ("call", "elements", "groups", "channels"),
           ("log_channels", "log_spatial", "log_groups", "log_elements")))
_add(_spec("layernorm", "LayerNorm over the last dim", _rows_terms, _rows_features, ("call", "elements", "rows"),
           ("log_rows", "log_dim")))
_add(_spec("softmax", "softmax over the last dim", _rows_terms, _rows_features, ("call", "elements", "rows"),
           ("log_rows", "log_dim")))
for _act in ACTIVATIONS:
    _add(_spec(f"act_{_act}", f"{_act} activation, element-wise", _numel_terms, _numel_features,
               ("call", "elements"), ("log_elements", "module_call", "in_place")))
_add(_spec("reduce", "sum/mean, norm, var/std or amax/amin (op 0-3) of (outer, reduced, inner) over the middle dim",
           _reduce_terms, _reduce_features, ("call", "elements_in", "elements_out"),
           ("log_outer", "log_reduced", "log_inner", "log_elements", "op")))
_add(_spec("unary", "element-wise function of one tensor: abs, sqrt, rsqrt, pow by a scalar, clamp... (op 0) or "
           "exp, log, erf (op 1)", _numel_terms, _unary_features, ("call", "elements"), ("log_elements", "op")))
_add(_spec("binary", "element-wise add/sub/mul/div of two tensors (second may broadcast)", _binary_terms,
           _binary_features, ("call", "elements_out", "elements_other"), ("log_elements", "log_other", "in_place")))
for _pool, _text in (("maxpool", "max"), ("avgpool", "average")):
    _add(_spec(_pool, f"2-D {_text} pooling with a window", _pool_terms, _pool_features,
               ("call", "elements_in", "window_reads", "elements_out"),
               ("log_channels", "log_pixels", "log_window", "stride", "log_elements")))
_add(_spec("adaptive_avgpool", "2-D adaptive average pooling (global pooling included)", _adaptive_terms,
           _adaptive_features, ("call", "elements_in", "elements_out"),
           ("log_channels", "log_pixels_in", "log_pixels_out", "module_call")))
_add(_spec("cat", "concatenation (copies every input)", _cat_terms, _cat_features,
           ("call", "elements", "parts", "blocks"), ("log_elements", "parts", "log_inner_block")))
_add(_spec("copy", "copy of a strided view into contiguous memory: a channel shuffle's contiguous, a channels-last "
           "or token-major view a conv or LayerNorm copies first; of a whole contiguous tensor (clone, a zero "
           "F.pad) when the inner block is every element", _copy_terms, _copy_features, ("call", "elements", "blocks"),
           ("log_elements", "log_inner_block", "log_jump", "log_runs_between", "log_jump_power_of_two")))
_add(_spec("pad", "constant padding of the last two dims (F.pad), c x h x w -> c x oh x ow", _pad_terms, _pad_features,
           ("call", "elements_in", "elements_out", "rows_out"), ("log_elements_in", "log_elements_out", "log_width_out")))
_add(_spec("mha", "nn.MultiheadAttention in eval, b x l queries over s keys x e (self-attention: the fused fast path)",
           _mha_terms, _mha_features, ("call", "projection_flops", "score_flops", "score_elements"),
           ("log_b", "log_mean_length", "log_e", "log_heads")))
_add(_spec("sdpa", "F.scaled_dot_product_attention, b x l x s x d; 4-D (flash) or 3-D (math), causal, masked",
           _sdpa_terms, _sdpa_features, ("call", "flops", "scores"),
           ("log_b", "log_l", "log_s", "log_d", "four_d", "causal", "masked")))
_add(_spec(VIEW, "a view or an eval-mode identity (Dropout, Flatten): dispatch overhead only", _view_terms,
           _view_features, ("call",), ("module_call",)))


def conv_family(config: dict) -> str:
    if config["g"] == 1:
        return "conv1x1" if config["kh"] == config["kw"] == 1 else "conv"
    if config["g"] == config["cin"]:
        return "conv_dw"
    return "conv_group"


def conv_kind(config: dict) -> str:
    """The conv's family, suffixed ``_mkldnn`` when torch hands it to oneDNN (see ``runs_on_mkldnn``)."""
    return conv_family(config) + (MKLDNN if runs_on_mkldnn(config) else "")


def runs_on_mkldnn(config: dict) -> bool:
    """Whether eager torch on CPU runs this fp32 conv with oneDNN rather than its own im2col + gemm.

    torch decides per call from the shapes and the intra-op thread count (at batch 1 and one thread a
    3x3 conv over 256x7x7 runs its own kernel, over 512x7x7 oneDNN), and the two differ in speed by more
    than any smooth fit of the shape can follow. So the kind asks torch itself
    (``torch._C._select_conv_backend``), at torch's current thread setting: callers run under the
    profile's thread count (``measure.num_threads``).
    """
    import torch

    return _select_mkldnn(tuple(sorted(config.items())), torch.get_num_threads())


@functools.lru_cache(maxsize=None)
def _select_mkldnn(items: tuple, threads: int) -> bool:
    """torch's choice for the config ``items`` at ``threads`` (a key only: torch reads its own setting)."""
    import torch

    c = dict(items)
    select = getattr(torch._C, "_select_conv_backend", None)
    if select is None:  # an older torch: one kind per family, as before the split
        return False
    # CPU tensors even under a torch.device("meta") context (the choice is made per device); torch.empty
    # reserves address space only, so large shapes cost nothing here.
    x = torch.empty(c["n"], c["cin"], c["h"], c["w"], device="cpu")
    w = torch.empty(c["cout"], c["cin"] // c["g"], c["kh"], c["kw"], device="cpu")
    d = c.get("d", 1)
    backend = select(x, w, None, [c["s"], c["s"]], [c["ph"], c["pw"]], [d, d], False, [0, 0], c["g"], None)
    return str(backend).rsplit(".", 1)[-1] == "Mkldnn"
