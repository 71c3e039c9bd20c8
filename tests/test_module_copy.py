"""deepcopy_modules gives what copy.deepcopy gives, module by module, with the same memo semantics."""

import copy

import torch
from torch import nn

from flopcount.module_copy import deepcopy_modules


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # tied: one parameter under two paths
        self.block = nn.Conv2d(3, 4, 3, padding=1)  # _ConvNd defines its own __setstate__
        self.again = self.block  # one module under two names
        self.scale = torch.ones(3)  # a plain tensor attribute, not a buffer
        self.sizes = [1, 2]
        self.register_buffer("count", torch.zeros(()), persistent=False)


class OwnCopy(nn.Linear):
    def __deepcopy__(self, memo):
        clone = nn.Linear(self.in_features, self.out_features)
        clone.made_by_own_copy = True
        return clone


def _describe(model):
    return [(name, type(m).__name__, {k: v for k, v in vars(m).items() if isinstance(v, (int, float, str, tuple))})
            for name, m in model.named_modules(remove_duplicate=False)]


def test_same_structure_and_sharing_as_deepcopy():
    model = Tied()
    ours, theirs = deepcopy_modules(model, {}), copy.deepcopy(model)
    assert _describe(ours) == _describe(theirs)
    assert ours.head.weight is ours.embed.weight and ours.embed.weight is not model.embed.weight
    assert ours.again is ours.block and ours.block is not model.block
    assert ours._non_persistent_buffers_set == {"count"}
    ours.sizes.append(3)
    ours.scale.add_(1)
    ours.block.register_forward_hook(lambda *a: None)
    assert model.sizes == [1, 2] and model.scale.tolist() == [1.0, 1.0, 1.0]  # nothing shared with the caller
    assert not model.block._forward_hooks
    x = torch.ones(1, 3, 5, 5)
    assert torch.equal(ours.block(x), model.block(x))


def test_memo_stand_ins_replace_parameters():
    model = Tied()
    stand_in = nn.Parameter(torch.empty(10, 4, device="meta"))
    ours = deepcopy_modules(model, {id(model.embed.weight): stand_in})
    assert ours.embed.weight is stand_in and ours.head.weight is stand_in
    assert ours.block.weight.device.type == "cpu"  # not in the memo: copied, as deepcopy does


def test_custom_deepcopy_is_honoured():
    model = nn.Sequential(OwnCopy(2, 3))
    assert deepcopy_modules(model, {})[0].made_by_own_copy
