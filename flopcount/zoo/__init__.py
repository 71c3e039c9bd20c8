"""Bundled reference networks: the lightweight CNNs of the seed tutorial and their baselines."""

from flopcount.zoo._registry import ModelSpec, get_model, get_spec, list_models, register_family, register_model

# Importing a family module registers its variants.
from flopcount.zoo import (  # noqa: E402,F401
    alexnet,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    resnet,
    shufflenet_v1,
    shufflenet_v2,
    squeezenet,
    vgg,
    vit,
    xception,
)

__all__ = ["ModelSpec", "get_model", "get_spec", "list_models", "register_family", "register_model"]
