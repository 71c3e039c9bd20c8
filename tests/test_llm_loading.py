"""hf:, torchvision:, timm: names: dispatch from load_model, bundled/local/hub configs, one-line errors
when an optional library or the network is missing. No network: the hub client is replaced."""

from __future__ import annotations

import json
import sys

import pytest

from flopcount.errors import ModelLoadError, UnknownModelError, UsageError
from flopcount.inputs import InputSpec
from flopcount.llm.registries import build_registered
from flopcount.loading import load_model


@pytest.mark.parametrize("library", ["torchvision", "timm"])
def test_missing_registry_library_is_a_one_line_usage_error(monkeypatch, library):
    monkeypatch.setitem(sys.modules, library, None)  # import of `library` raises ImportError
    with pytest.raises(UsageError, match=f"need {library}: pip install {library}$"):
        load_model(f"{library}:resnet18")


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(UsageError) as error:
        load_model("hf:gpt2")
    assert str(error.value) == 'hf: models need transformers: pip install "flopcount[hf]"'


def test_empty_name_after_prefix():
    with pytest.raises(UsageError, match="names no model"):
        load_model("hf:")


def test_unknown_registry_name_suggests(monkeypatch):
    class FakeModels:
        @staticmethod
        def list_models():
            return ["resnet18", "resnet34"]

    monkeypatch.setitem(sys.modules, "torchvision", type(sys)("torchvision"))
    sys.modules["torchvision"].models = FakeModels
    with pytest.raises(UnknownModelError, match="did you mean resnet18"):
        build_registered("torchvision", "resnet19")


transformers = pytest.importorskip("transformers")


def test_hf_bundled_name_loads_on_meta_with_its_default_input():
    loaded = load_model("hf:gpt2")
    assert loaded.device == "meta" and type(loaded.model).__name__ == "GPT2LMHeadModel"
    assert next(loaded.model.parameters()).device.type == "meta"
    assert loaded.default_inputs == [InputSpec((1, 128), "int64")]
    # an encoder-decoder needs two named inputs: no positional default
    assert load_model("hf:t5-small").default_inputs is None
    with pytest.raises(UsageError, match="only be analysed on meta"):
        load_model("hf:gpt2", device="cpu")


def test_hf_local_config_file_and_directory(tmp_path):
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 16, "n_head": 2,
              "n_layer": 1, "vocab_size": 10, "n_positions": 8}
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in (str(tmp_path), str(tmp_path / "config.json")):
        model = load_model(f"hf:{name}").model
        # wte 10 x 16 = 160, wpe 8 x 16 = 128; the layer: 2 norms of 32, c_attn 16 x 48 + 48 = 816,
        # attention c_proj 16 x 16 + 16 = 272, c_fc 16 x 64 + 64 = 1,088, mlp c_proj 64 x 16 + 16 = 1,040
        # -> 3,280; final norm 32: 3,600 (lm_head tied to wte)
        assert sum(p.numel() for p in model.parameters()) == 3_600
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no model_type"):
        load_model(f"hf:{tmp_path / 'bad.json'}")


def test_hf_hub_id_uses_the_cache_first_then_fails_in_one_line(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    cached = tmp_path / "config.json"
    cached.write_text(json.dumps({"model_type": "gpt2", "n_embd": 16, "n_head": 2, "n_layer": 1, "vocab_size": 10}))

    def cache_only(repo_id, filename, local_files_only=False, **kwargs):
        calls.append((repo_id, filename, local_files_only))
        if local_files_only:
            return str(cached)
        raise AssertionError("the network must not be asked when the cache has the file")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", cache_only)
    assert load_model("hf:someone/tiny-gpt2").model is not None
    assert calls == [("someone/tiny-gpt2", "config.json", True)]

    def offline(repo_id, filename, local_files_only=False, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nmore detail")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(ModelLoadError) as error:
        load_model("hf:someone/not-cached")
    assert "offline and not cached" in str(error.value) and "\n" not in str(error.value)


def test_hf_unknown_plain_name_lists_the_bundled_configs():
    with pytest.raises(ModelLoadError, match="llama-2-7b"):
        load_model("hf:llama-9-1b")
