"""``torchvision:NAME`` and ``timm:NAME``: build a model through that library's own registry, on meta.

Both libraries are optional and imported only here; when one is absent the error says how to get it.
"""

from __future__ import annotations

from typing import Any

from flopcount.errors import ModelBuildError, UnknownModelError, UsageError

PREFIXES = ("hf:", "torchvision:", "timm:")


def _import(library: str):
    try:
        return __import__(library)
    except ImportError:
        raise UsageError(f"{library}: models need {library}: pip install {library}") from None
    except Exception as error:  # a wheel that does not match the installed torch fails at import
        raise UsageError(f"{library} is installed but cannot be imported: {type(error).__name__}: "
                         f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}") from None


def build_registered(prefix: str, name: str, kwargs: dict[str, Any] | None = None):
    """Build ``name`` from torchvision's or timm's registry on meta, without weights."""
    import torch

    kwargs = dict(kwargs or {})
    if prefix == "torchvision":
        models = _import("torchvision").models
        known = models.list_models()
        build = lambda: models.get_model(name, weights=None, **kwargs)  # noqa: E731
    elif prefix == "timm":
        timm = _import("timm")
        known = timm.list_models()
        build = lambda: timm.create_model(name, pretrained=False, **kwargs)  # noqa: E731
    else:
        raise UsageError(f"unknown model registry '{prefix}': use one of {', '.join(PREFIXES)}")
    if name not in known:
        import difflib

        raise UnknownModelError(f"{prefix}:{name}", difflib.get_close_matches(name, known, n=3))
    try:
        with torch.device("meta"):
            model = build()
    except Exception as error:
        raise ModelBuildError(f"building {prefix}:{name} failed: {type(error).__name__}: {error}") from error
    return model.eval()
