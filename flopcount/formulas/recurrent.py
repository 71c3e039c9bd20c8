"""Recurrent layers: every time step of every layer and direction runs the gate matrix products.

Per step, a layer with input size i and hidden size h computes its gates from W_ih x + W_hh h:
gates x (i h + h h) multiply-adds, with 4 gates for LSTM, 3 for GRU and 1 for a plain RNN; an LSTM
with ``proj_size`` r reads the projected state (gates x (i h + r h)) and projects (h r). The sequence
length multiplies everything (torchinfo and onnx-tool have got this wrong). The element-wise gate
arithmetic is small next to the products and is left out, as for the bias adds of Linear.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.rnn import PackedSequence

from flopcount.formulas.registry import formula
from flopcount.records import Cost

GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


def recurrent_flops(tokens: int, input_size: int, hidden: int, layers: int, directions: int, gates: int,
                    proj_size: int = 0) -> int:
    state = proj_size or hidden
    total = 0
    for layer in range(layers):
        layer_input = input_size if layer == 0 else state * directions
        per_step = gates * (layer_input * hidden + state * hidden) + (hidden * proj_size if proj_size else 0)
        total += per_step * directions
    return tokens * total


@formula(nn.LSTM, nn.GRU, nn.RNN)
def recurrent_module(module: nn.RNNBase, inputs: tuple, output) -> Cost:
    x = inputs[0]
    if isinstance(x, PackedSequence):
        tokens = x.data.shape[0]  # packed: only the real time steps run
    else:
        tokens = x.shape[0] * x.shape[1] if x.dim() == 3 else x.shape[0]
    gates = next(g for cls, g in GATES.items() if isinstance(module, cls))
    flops = recurrent_flops(tokens, module.input_size, module.hidden_size, module.num_layers,
                            2 if module.bidirectional else 1, gates, getattr(module, "proj_size", 0))
    return Cost(flops, "linear", attrs={"layers": module.num_layers})
