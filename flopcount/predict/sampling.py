"""Kernel configurations to measure: a space-covering first pass, then refinement where error is largest.

Each kind has a sampler that draws configs the way networks use them (log-uniform channels and spatial
sizes, the kernel sizes, strides and group counts that architectures use), rejecting configs too large to
time within a budget, and a neighbour function that perturbs one config a little. Refinement (nn-Meter's
adaptive sampling) draws neighbours of the samples whose cross-validated error is largest, so the next
round of measurements lands where the predictor is least sure.
"""

from __future__ import annotations

import math
import random
from typing import Any, Sequence

from flopcount.predict.kernels import clone_config
from flopcount.predict.kinds import ACTIVATIONS, IN_PLACE_ACTIVATIONS, MKLDNN, VIEW, conv_kind, conv_shapes

MAX_FLOPS = 3e9  # multiply-adds in one sampled kernel: about 60 ms at 1 thread, a 3x3 conv of VGG's size
MAX_ELEMENTS = 2.5e7  # elements read + written by one sampled kernel (100 MB of fp32)


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _channels(rng: random.Random, low: int = 3, high: int = 2048) -> int:
    c = int(round(log_uniform(rng, low, high)))
    if c >= 16 and rng.random() < 0.6:
        c = max(8, c // 8 * 8)  # most networks round widths to multiples of 8
    return max(low, c)


# Widths per group of real grouped convs: ResNeXt's 4-32 (32 groups), RegNet's 8-256, ShuffleNet V1's 60-480
# (3 groups). oneDNN runs aligned widths per group on other code paths than ragged ones, so they are drawn
# as often as networks use them rather than as the remainder of a total width divided by the groups.
_GROUP_WIDTHS = (2, 4, 8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 240, 256, 320, 480)


# Convs with a window mostly keep their width (ResNet's and VGG's 3x3, ResNeXt's and RegNet's grouped 3x3);
# drawn with independent widths, 1 in 20 grouped samples had c_in = c_out, and RegNet-Y's grouped 3x3 convs
# (64 channels a group, c_in = c_out) were over-predicted by 8-15% (2026-11-29).
SAME_WIDTH_SHARE = 0.4


def _group_width(rng: random.Random, groups: int) -> int:
    if rng.random() < 0.6:
        return max(1, min(rng.choice(_GROUP_WIDTHS), 4096 // groups))
    return max(1, _channels(rng, 8, 2048) // groups)


def _spatial(rng: random.Random, low: int = 2, high: int = 224) -> int:
    return max(low, int(round(log_uniform(rng, low, high))))


def _conv(rng: random.Random, kind: str) -> dict[str, Any]:
    kind = kind.removesuffix(MKLDNN)  # the family: which backend torch picks is checked by ``affordable``
    h = _spatial(rng, 3, 224)
    if kind == "conv1x1":
        k = 1
    elif kind == "conv_group":  # ShuffleNet V1's 1x1 group convs as well as ResNeXt's 3x3 ones
        k = rng.choice((1, 1, 3, 3, 3, 5))
    else:
        k = rng.choice((3, 3, 3, 5, 7) if kind != "conv" else (3, 3, 3, 5, 7, 11))
    s = rng.choice((1, 1, 1, 2)) if kind != "conv" or k < 7 else rng.choice((1, 2, 4))
    if kind == "conv_dw":
        c = _channels(rng, 8, 2048)
        cin, cout, g = c, c * rng.choice((1, 1, 1, 1, 2)), c
    elif kind == "conv_group":
        g = rng.choice((2, 3, 4, 8, 16, 32, 64))
        cin, cout = g * _group_width(rng, g), g * _group_width(rng, g)
        if cin == g:
            cin = 2 * g
    else:
        cin = 3 if kind == "conv" and rng.random() < 0.12 else _channels(rng, 3, 2048)
        cout, g = _channels(rng, 8, 2048), 1
    if kind != "conv_dw" and k > 1 and cin > 3 and rng.random() < SAME_WIDTH_SHARE:
        cout = cin
    pad = k // 2 if rng.random() < 0.9 else 0
    return {"n": 1, "cin": cin, "cout": cout, "h": h, "w": h, "kh": k, "kw": k, "s": s, "ph": pad, "pw": pad, "g": g,
            "bias": int(rng.random() < 0.25)}


def _numel(rng: random.Random, low: float = 64, high: float = 6e6) -> int:
    return int(log_uniform(rng, low, high))


def _sample(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind.startswith("conv"):
        return _conv(rng, kind)
    if kind == "linear":
        rows = 1 if rng.random() < 0.5 else int(log_uniform(rng, 1, 1024))
        return {"rows": rows, "cin": _channels(rng, 8, 26000), "cout": _channels(rng, 8, 8192), "bias": 1}
    if kind == "matmul":
        return {"b": int(log_uniform(rng, 1, 64)), "m": _channels(rng, 1, 1024), "k": _channels(rng, 8, 1024),
                "n": _channels(rng, 1, 1024)}
    if kind == "batchnorm":
        return {"n": 1, "c": _channels(rng, 3, 2048), "hw": _spatial(rng, 1, 224) ** 2, "module": 1}
    if kind == "batchnorm_stats":  # activations in training mode, and conv weights standardised (c_out x c_in k k)
        return {"n": 1, "c": _channels(rng, 3, 2048), "hw": int(log_uniform(rng, 2, 224 ** 2))}
    if kind == "groupnorm":
        g = rng.choice((1, 1, 8, 16, 32, 32))
        return {"n": 1, "c": g * max(1, _channels(rng, 8, 2048) // g), "hw": _spatial(rng, 1, 112) ** 2, "g": g}
    if kind in ("layernorm", "softmax"):
        return {"rows": int(log_uniform(rng, 1, 4096)), "d": _channels(rng, 8, 4096),
                "module": int(kind == "layernorm")}
    if kind.startswith("act_"):
        inplace = kind[4:] in IN_PLACE_ACTIVATIONS and rng.random() < 0.5
        return {"numel": _numel(rng), "module": int(rng.random() < 0.8), "inplace": int(inplace)}
    if kind == "reduce":
        shape = rng.random()
        if shape < 0.35:  # over the last dim (rows of tokens)
            outer, reduced, inner = int(log_uniform(rng, 1, 4096)), _channels(rng, 8, 4096), 1
        elif shape < 0.7:  # over channels of NCHW, or over h x w of NHWC (ConvNeXt V2's GRN)
            outer, reduced, inner = 1, _channels(rng, 8, 1024), _spatial(rng, 1, 112) ** 2
            if rng.random() < 0.5:
                reduced, inner = _spatial(rng, 2, 112) ** 2, _channels(rng, 8, 1024)
        else:  # over h x w of NCHW
            outer, reduced, inner = _channels(rng, 8, 2048), _spatial(rng, 2, 112) ** 2, 1
        return {"outer": outer, "reduced": reduced, "inner": inner, "op": rng.randrange(4)}
    if kind == "unary":
        return {"numel": _numel(rng), "op": int(rng.random() < 0.35)}
    if kind == "binary":
        numel = _numel(rng)
        other = numel if rng.random() < 0.7 else max(1, numel // _spatial(rng, 2, 112) ** 2)
        return {"numel": numel, "other": other, "inplace": int(rng.random() < 0.3)}
    if kind in ("maxpool", "avgpool"):
        # Stride 1 as often as 2 (3x3 stride-1 pools of SPP/PoolFormer/Inception run at ~2x the time per
        # read of stride-2 ones out of L1: too few of them and the fit followed the stride-2 majority)
        k = rng.choice((2, 3, 3, 5))
        return {"n": 1, "c": _channels(rng, 3, 1024), "h": (h := _spatial(rng, 4, 224)), "w": h, "k": k,
                "s": rng.choice((1, 2)) if k > 2 else 2, "p": k // 2 if rng.random() < 0.5 else 0, "module": 1}
    if kind == "adaptive_avgpool":
        h = _spatial(rng, 1, 112)
        out = 1 if rng.random() < 0.8 else rng.choice((2, 4, 7))
        return {"n": 1, "c": _channels(rng, 8, 4096), "h": h, "w": h, "oh": min(out, h), "ow": min(out, h),
                "module": int(rng.random() < 0.7)}
    if kind == "cat":
        parts = rng.choice((2, 2, 2, 3, 4))
        inner = _spatial(rng, 1, 112) ** 2 * _channels(rng, 4, 512)
        numel = parts * max(1, int(log_uniform(rng, 64, 6e6)) // (parts * inner)) * inner
        return {"numel": max(numel, parts * inner), "parts": parts, "inner": inner}
    if kind == "copy":
        shape = rng.random()
        if shape < 0.25:  # a clone (or a zero F.pad): one contiguous block
            return clone_config(_numel(rng))
        if shape < 0.6:  # a channel shuffle: (groups, channels per group, h x w) swapped in the first two
            a, b, inner = rng.choice((2, 2, 3, 4, 8)), _channels(rng, 2, 512), _spatial(rng, 1, 112) ** 2
        else:  # a transpose: channels-last <-> NCHW (runs of 1), or a head split's permute (runs of d)
            a, b, inner = int(log_uniform(rng, 4, 12544)), _channels(rng, 2, 1024), rng.choice((1, 1, 1, 16, 32, 64))
            if rng.random() < 0.4:  # the square images and power-of-two widths networks use, which alias in cache
                a, b = rng.choice((7, 14, 28, 56, 112)) ** 2, 2 ** rng.randint(3, 10)
        return _copy_config(a, b, inner)
    if kind == "pad":
        h = _spatial(rng, 2, 224)
        pads = rng.choice(((0, 1), (1, 1), (1, 2), (2, 2), (3, 3)))
        return {"c": _channels(rng, 3, 2048), "h": h, "w": h, "oh": h + sum(pads), "ow": h + sum(pads)}
    if kind == "mha":
        heads = rng.choice((1, 2, 4, 8, 12, 16))
        e = heads * rng.choice((16, 32, 64, 64, 96))
        keys = int(log_uniform(rng, 4, 600))
        # one call in five a cross-attention (a decoder's queries, a pooling head's one query over the tokens)
        queries = int(log_uniform(rng, 1, 100)) if rng.random() < 0.2 else keys
        return {"b": 1, "l": queries, "s": keys, "e": e, "heads": heads}
    if kind == "sdpa":
        # mostly 4-D, as models call it (transformers' sdpa attention, a ViT's fused heads); some causal or masked
        form = rng.random()
        return {"b": int(log_uniform(rng, 1, 32)), "l": (l := int(log_uniform(rng, 4, 1024))), "s": l,
                "d": rng.choice((16, 32, 64, 128)), "rank": 4 if rng.random() < 0.8 else 3,
                "causal": int(form < 0.15), "masked": int(0.15 <= form < 0.3)}
    if kind == VIEW:
        return {"op": "view", "module": int(rng.random() < 0.5)}
    raise ValueError(f"no sampler for kernel kind {kind!r}")


def _copy_config(a: int, b: int, inner: int) -> dict[str, Any]:
    """(a, b, inner) copied as (b, a, inner): runs of ``inner``, adjacent ones b x inner apart in the source."""
    return {"numel": a * b * inner, "inner": inner, "jump": b * inner}


def affordable(kind: str, config: dict[str, Any]) -> bool:
    """True when a config is valid and small enough to time within the budget."""
    if kind.startswith("conv"):
        if config["h"] + 2 * config["ph"] < config["kh"] or config["w"] + 2 * config["pw"] < config["kw"]:
            return False
        flops, xin, xout, weights, _ = conv_shapes(config)
        return flops <= MAX_FLOPS and xin + xout + weights <= MAX_ELEMENTS and conv_kind(config) == kind
    if kind == "linear":
        return config["rows"] * config["cin"] * config["cout"] <= MAX_FLOPS and config["cin"] * config["cout"] <= 1.1e8
    if kind == "matmul":
        return config["b"] * config["m"] * config["k"] * config["n"] <= MAX_FLOPS
    if kind == "mha":
        length, keys, e = config["l"], config.get("s", config["l"]), config["e"]
        return 2 * (length + keys) * e * e + 2 * length * keys * e <= MAX_FLOPS
    if kind == "sdpa":
        return config["b"] * config["l"] * config["s"] * config["d"] * 2 <= MAX_FLOPS
    if kind in ("maxpool", "avgpool"):
        return config["h"] + 2 * config["p"] >= config["k"] and config["p"] <= config["k"] // 2
    if kind == "pad":
        return config["c"] * config["oh"] * config["ow"] <= MAX_ELEMENTS
    if kind == "copy":
        return 2 * config["numel"] <= MAX_ELEMENTS
    if kind == "reduce":
        return config["outer"] * config["reduced"] * config["inner"] <= MAX_ELEMENTS / 2 and config["reduced"] > 1
    if kind in ("batchnorm", "batchnorm_stats", "groupnorm"):
        # statistics need 2+ values per channel (torch raises on one), and per group
        values = config["n"] * config["hw"] * (config["c"] // config["g"] if kind == "groupnorm" else 1)
        return 2 * config["n"] * config["c"] * config["hw"] <= MAX_ELEMENTS and (kind == "batchnorm" or values > 1)
    return True


def sample(kind: str, rng: random.Random, tries: int = 200) -> dict[str, Any]:
    """One affordable config of ``kind``, drawn to cover the space networks use."""
    for _ in range(tries):
        config = _sample(kind, rng)
        if affordable(kind, config):
            return config
    raise RuntimeError(f"could not draw an affordable {kind} config")


_INT_KEYS = ("cin", "cout", "h", "rows", "c", "hw", "numel", "other", "m", "k", "n", "b", "l", "d", "inner", "outer",
             "reduced")


def realizable(kind: str, seed: int = 0) -> bool:
    """Whether configs of ``kind`` can be drawn at torch's current thread count (which backend runs a
    conv depends on it: at one thread no grouped conv with a window runs on torch's own kernel)."""
    try:
        sample(kind, random.Random(seed), tries=1000)
    except RuntimeError:
        return False
    return True


def neighbour(kind: str, config: dict[str, Any], rng: random.Random, tries: int = 50) -> dict[str, Any]:
    """A config near ``config``: one or two sizes scaled by up to 1.5x either way, the rest unchanged."""
    for _ in range(tries):
        c = dict(config)
        keys = [k for k in _INT_KEYS if k in c and not (k == "cin" and kind.startswith("conv_dw"))]
        for key in rng.sample(keys, min(len(keys), rng.choice((1, 2)))):
            c[key] = max(1, int(round(c[key] * log_uniform(rng, 1 / 1.5, 1.5))))
        if kind.startswith("conv"):
            c["w"] = c["h"]
            if kind.startswith("conv_dw"):
                multiplier = max(1, config["cout"] // config["cin"])
                c["cin"] = c["g"] = max(1, c["cout"] // multiplier)
                c["cout"] = c["cin"] * multiplier
            if kind.startswith("conv_group"):
                for key in ("cin", "cout"):
                    width = max(1, c[key] // c["g"])
                    if config[key] // config["g"] in _GROUP_WIDTHS:  # an aligned width stays aligned
                        width = min(_GROUP_WIDTHS, key=lambda w: abs(math.log(w / width)))
                    c[key] = width * c["g"]
                c["cin"] = max(c["cin"], 2 * c["g"])
        if kind == "cat":
            c["numel"] = max(c["parts"], c["numel"] // (c["parts"] * c["inner"])) * c["parts"] * c["inner"]
        if kind == "copy":
            if config["inner"] >= config["numel"]:  # a clone stays a clone
                c["inner"] = c["jump"] = c["numel"]
            else:  # the same transpose, each of its three sizes scaled by up to 1.5x (runs of 1 stay 1)
                inner, jump = config["inner"], config["jump"]

                def scaled(v: int, low: int) -> int:
                    return max(low, round(v * log_uniform(rng, 1 / 1.5, 1.5)))

                runs = inner if inner == 1 else scaled(inner, 1)
                c = {**c, **_copy_config(scaled(config["numel"] // jump, 2), scaled(jump // inner, 2), runs)}
        if kind == "binary":
            c["other"] = min(c["other"], c["numel"])
        if kind == "adaptive_avgpool":
            c["w"] = c["h"]
            c["oh"] = c["ow"] = min(c["oh"], c["h"])
        if kind in ("maxpool", "avgpool"):
            c["w"] = c["h"]
        if kind == "groupnorm":
            c["c"] = max(1, c["c"] // c["g"]) * c["g"]
        if kind == "sdpa":
            c["s"] = c["l"]
        if kind == "pad":
            c["w"] = c["h"]
            c["oh"] = c["ow"] = c["h"] + config["oh"] - config["h"]  # the same padding around a new size
        if affordable(kind, c):
            return c
    return sample(kind, rng)


def refine(kind: str, configs: Sequence[dict[str, Any]], errors: Sequence[float], count: int,
           rng: random.Random, explore: float = 0.25) -> list[dict[str, Any]]:
    """``count`` new configs: neighbours of the configs with the largest |error| (weighted by it), plus a
    share ``explore`` of fresh draws so that no region is left unsampled."""
    ranked = sorted(range(len(configs)), key=lambda i: -abs(errors[i]))
    worst = ranked[: max(1, len(ranked) // 4)]
    out = []
    for _ in range(count):
        if not worst or rng.random() < explore:
            out.append(sample(kind, rng))
        else:
            weights = [abs(errors[i]) + 1e-3 for i in worst]
            out.append(neighbour(kind, configs[rng.choices(worst, weights)[0]], rng))
    return out


# How much of the budget each kind gets, relative: convs carry most of a CNN's time and vary most.
DEFAULT_WEIGHTS: dict[str, float] = {
    # A family's two backends split its weight by how often networks at batch 1 and one thread use them
    # (depthwise convs with a window always go to oneDNN: its torch-kernel kind is rare, 1x1 depthwise).
    "conv": 1.5, "conv_mkldnn": 3, "conv1x1": 3, "conv1x1_mkldnn": 1.5, "conv_dw_mkldnn": 4, "conv_group": 1.5,
    "conv_group_mkldnn": 2, "linear": 1.5, "matmul": 0.5, "batchnorm": 1.5,
    "batchnorm_stats": 0.3, "groupnorm": 0.3, "reduce": 0.4, "unary": 0.3, "layernorm": 0.3, "softmax": 0.3, "binary": 1, "maxpool": 0.6, "avgpool": 0.5, "adaptive_avgpool": 0.6,
    # copies at 2 (were 0.8, which a first-pass round rounds to one): a 1500 s calibration gave them 378
    # samples, 4.9% cross-validated, and PVT-v2-b0's transposing copies were predicted 7-11% low; at 2 one on
    # 2026-11-29 gave them 790, 4.0%.
    "cat": 1, "copy": 2, "pad": 0.4, "mha": 0.5, "sdpa": 0.3, VIEW: 0.3,
    **{f"act_{a}": 0.6 if a in ("relu", "relu6") else 0.3 for a in ACTIVATIONS},
}


def sampler_kinds() -> list[str]:
    return list(DEFAULT_WEIGHTS)



def network_pool(count: int = 40, seeds: Sequence[int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Kernel configs of ``count`` generated calibration networks, by kind (duplicates dropped).

    Networks tie channels, spatial sizes, strides and kernel sizes together in ways independent
    draws rarely hit (wide layers at small resolutions, 1x1 convs of equal widths around a depthwise
    one); drawing part of each round from here puts samples densely where real layers are.
    """
    import torch

    from flopcount.analysis import analyze
    from flopcount.predict import archgen
    from flopcount.predict.kernels import kernels_of

    seeds = list(seeds if seeds is not None else archgen.CALIBRATION_SEEDS[:count])
    pool: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple] = set()
    for seed in seeds:
        arch = archgen.generate(seed)
        with torch.device("meta"):
            model = arch.build()
        for kernel in kernels_of(analyze(model, arch.input_size, device="meta").records):
            key = (kernel.kind, tuple(sorted(kernel.config.items())))
            if key in seen or kernel.kind == VIEW or not affordable(kernel.kind, kernel.config):
                continue
            seen.add(key)
            pool.setdefault(kernel.kind, []).append(dict(kernel.config))
    return pool


def draw(kind: str, rng: random.Random, pool: dict[str, list[dict[str, Any]]] | None = None,
         from_pool: float = 0.5) -> dict[str, Any]:
    """A first-pass config: with probability ``from_pool`` a network's config (half the time nudged to a
    neighbour), else an independent draw over the whole space."""
    configs = (pool or {}).get(kind)
    if configs and rng.random() < from_pool:
        config = rng.choice(configs)
        return neighbour(kind, config, rng) if rng.random() < 0.5 else dict(config)
    return sample(kind, rng)
