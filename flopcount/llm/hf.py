"""Build a Hugging Face transformers model from its config alone, on ``meta``: no weights are read.

A name resolves, in order, to a bundled config (``flopcount/data/hf/<name>.json``: well-known models
whose ``config.json`` ships with flopcount), a local ``config.json`` or model directory, or a hub id
whose ``config.json`` is fetched through huggingface_hub (the cache first; the network only when the
file is not cached). transformers is the optional extra ``flopcount[hf]``: imported here, lazily.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flopcount.errors import ModelBuildError, ModelLoadError, UsageError

HF_EXTRA_HINT = 'pip install "flopcount[hf]"'
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "hf"


def require_transformers():
    try:
        import transformers
    except ImportError:
        raise UsageError(f"hf: models need transformers: {HF_EXTRA_HINT}") from None
    return transformers


def bundled_configs() -> list[str]:
    """Names of the configs that ship with flopcount (``hf:llama-2-7b``)."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.json"))


def config_file(name: str) -> Path:
    """The ``config.json`` that ``name`` stands for: bundled, local, or from the hub cache."""
    bundled = BUNDLED_DIR / f"{name}.json"
    if bundled.is_file():
        return bundled
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"directory {name} has no config.json")
        return path / "config.json"
    if path.is_file():
        return path
    if name.count("/") != 1 or name.endswith(".json"):
        known = ", ".join(bundled_configs())
        raise ModelLoadError(f"'{name}' is no bundled config ({known}), local config.json or hub id (owner/name)")
    return _hub_config(name)


def _hub_config(repo_id: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise UsageError(f"hub ids need huggingface_hub: {HF_EXTRA_HINT}") from None
    try:  # the cache first: no network when the config was fetched before
        return Path(hf_hub_download(repo_id, "config.json", local_files_only=True))
    except Exception:
        pass
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)  # its retry warnings would add lines to our one-line error
    try:
        return Path(hf_hub_download(repo_id, "config.json"))
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"cannot get config.json of '{repo_id}' from the hub (offline and not cached?): "
                             f"{reason}") from None
    finally:
        hub_logger.setLevel(level)


def load_config(name: str):
    """The transformers config of ``name`` (see ``config_file``)."""
    transformers = require_transformers()
    path = config_file(name)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{path}: not a readable config.json: {error}") from None
    if not isinstance(data, dict) or "model_type" not in data:
        raise ModelLoadError(f"{path}: config.json has no model_type")
    data = {k: v for k, v in data.items() if not k.startswith("_")}
    try:
        return transformers.AutoConfig.for_model(**data)
    except Exception as error:
        raise ModelLoadError(f"{path}: transformers cannot read this config: {type(error).__name__}: {error}") from None


@dataclass
class HFModel:
    model: Any  # torch.nn.Module on meta, eval mode
    config: Any  # transformers.PretrainedConfig
    name: str
    architecture: str


def build_model(config, architecture: str | None = None):
    """The model class the config names (``architectures[0]``), else AutoModel, built on meta.

    Attention runs through ``scaled_dot_product_attention`` (counted by its formula); mixture-of-experts
    layers use transformers' ``batched_mm`` experts, whose work is the top-k experts of every token
    whatever the routing (a shape-only pass has no routing to follow).
    """
    import torch

    transformers = require_transformers()
    names = [architecture] if architecture else list(getattr(config, "architectures", None) or [])
    cls = next((getattr(transformers, n) for n in names if hasattr(transformers, n)), None)
    if cls is None:
        cls = transformers.AutoModel
        builder = lambda **kw: cls.from_config(config, **kw)  # noqa: E731
    else:
        builder = lambda **kw: cls._from_config(config, **kw)  # noqa: E731
    options: dict[str, Any] = {"attn_implementation": "sdpa"}
    if experts_of(config) is not None:
        options["experts_implementation"] = "batched_mm"
    try:
        with torch.device("meta"):
            try:
                model = builder(**options)
            except (ValueError, TypeError):  # a model without sdpa / experts choices
                model = builder()
    except Exception as error:
        raise ModelBuildError(f"building {cls.__name__} from its config failed: {type(error).__name__}: {error}") from error
    return model.eval()


def load_hf(name: str) -> HFModel:
    """Resolve ``name`` and build its model on meta from the config alone."""
    config = load_config(name)
    model = build_model(config)
    return HFModel(model, config, name, type(model).__name__)


def experts_of(config) -> tuple[int, int] | None:
    """(experts used per token, experts per layer) of a mixture-of-experts config, else None."""
    used = getattr(config, "num_experts_per_tok", None)
    total = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
    if used and total:
        return int(used), int(total)
    return None

