"""Bundled reference networks: the lightweight CNNs of the seed tutorial and their baselines."""

from flopcount.zoo._registry import ModelSpec, get_model, get_spec, list_models, register_model

# Importing a family module registers its variants.
from flopcount.zoo import mobilenet_v2  # noqa: E402,F401

__all__ = ["ModelSpec", "get_model", "get_spec", "list_models", "register_model"]
