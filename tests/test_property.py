"""Property: for random conv/linear layers, our FLOPs equal torch's FlopCounterMode / 2 and fvcore's.

Two independent counters: FlopCounterMode counts 2 per multiply-add at the aten level; fvcore traces
with torch.jit and counts 1. Both ignore bias adds, as we do.
"""

from __future__ import annotations

import logging

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from flopcount import analyze

logging.getLogger("fvcore").setLevel(logging.ERROR)


@st.composite
def conv_layers(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    groups = draw(st.sampled_from([1, 2, 4]))
    c_in = groups * draw(st.integers(1, 4))
    c_out = groups * draw(st.integers(1, 4))
    kernel = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 2))
    transposed = draw(st.booleans())
    size = draw(st.integers(dilation * (kernel - 1) + 1, 9 if dims < 3 else 6))
    batch = draw(st.integers(1, 3))
    if transposed:
        cls = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[dims - 1]
        padding = min(padding, (dilation * (kernel - 1)) // 2)
        layer = cls(c_in, c_out, kernel, stride, padding, groups=groups, dilation=dilation, bias=draw(st.booleans()))
    else:
        cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1]
        layer = cls(c_in, c_out, kernel, stride, padding, dilation, groups, bias=draw(st.booleans()))
    return layer, (batch, c_in, *([size] * dims))


@st.composite
def linear_layers(draw):
    leading = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    in_f, out_f = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    return nn.Linear(in_f, out_f, bias=draw(st.booleans())), (*leading, in_f)


def reference_counts(layer, shape):
    x = torch.randn(shape)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            layer(x)
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(layer, (x,))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return counter.get_total_flops(), analysis.total()


@settings(max_examples=30, deadline=None)
@given(st.one_of(conv_layers(), linear_layers()))
def test_conv_and_linear_flops_match_flop_counter_mode_and_fvcore(case):
    layer, shape = case
    ours = analyze(layer, shape, device="meta").totals.paper_flops
    fcm, fvcore = reference_counts(layer, shape)
    assert fcm == 2 * ours
    assert fvcore == ours
