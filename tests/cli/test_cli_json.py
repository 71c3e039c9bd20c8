"""Every command's `-f json` document carries schema_version and validates against the shipped JSON Schema."""

from __future__ import annotations

import json
import textwrap

import jsonschema
import pytest
from typer.testing import CliRunner

from flopcount.cli import app
from flopcount.render.common import SCHEMA_VERSION, output_schema

runner = CliRunner()
TINY = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny_json.py"
    path.write_text(TINY)
    return f"{path}:build"


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory):
    """A 2-layer LLaMA config.json (no hub, no weights): hf:<path> builds it on meta."""
    pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("hf") / "config.json"
    path.write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64,
                                "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                                "num_attention_heads": 4, "num_key_value_heads": 2}))
    return f"hf:{path}"


@pytest.fixture(scope="module")
def budget(tmp_path_factory, tiny):
    path = tmp_path_factory.mktemp("budgets") / "budgets.toml"
    path.write_text(textwrap.dedent(f"""
        [models.tiny]
        model = "{tiny}"
        input_size = "1x3x8x8"
        max_flops = "20K"
    """))
    return path


def commands(tiny: str, budget, tiny_llm: str = "") -> dict[str, list[str]]:
    return {
        "phase": ["analyze", tiny_llm, "--phase", "prefill", "--phase", "decode", "--seq-len", "8", "--profile", "h100",
                  "--profile", "phone"],
        "analyze": ["analyze", "mobilenet_v2", "--depth", "1", "--sort", "flops", "--top", "3"],
        "list": ["list", "squeezenet*"],
        "compare": ["compare", "mobilenet_v2", "-i", "1x3x32x32"],
        "check": ["check", str(budget)],
        "guidelines": ["guidelines", "shufflenet_v2_x0_5"],
        "roofline": ["roofline", "mobilenet_v2", "--profile", "h100", "--top", "3"],
        "bench": ["bench", tiny, "-i", "1x3x8x8", "--repeats", "2", "--warmup", "0"],
        "bench_zoo": ["bench", "--zoo", "--models", "squeezenet1_1", "--repeats", "1", "--warmup", "0", "--no-layers",
                      "--profile", "h100"],
        "diff": ["diff", tiny, tiny, "-i", "1x3x8x8"],
        "analyze_samples": ["analyze", tiny, "-i", "1x3x8x8", "--samples", "2"],
        "memory": ["memory", "mobilenet_v2", "-i", "1x3x32x32"],
        "predict": ["predict", "mobilenet_v2", "--profile", "cpu_measured", "-i", "1x3x32x32"],
    }


@pytest.mark.parametrize("kind", ["analyze", "list", "compare", "check", "guidelines", "roofline", "bench", "bench_zoo",
                                  "diff", "analyze_samples", "phase", "memory", "predict"])
def test_every_json_document_validates(kind, tiny, budget, request):
    tiny_llm = request.getfixturevalue("tiny_llm") if kind == "phase" else ""
    result = runner.invoke(app, [*commands(tiny, budget, tiny_llm)[kind], "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["schema_version"], document["kind"]) == (SCHEMA_VERSION, kind)
    assert_valid(document, kind)


def assert_valid(document: dict, kind: str) -> None:
    schema = output_schema()
    # against this kind's definition alone first, for an error message that names the field
    own = jsonschema.Draft202012Validator({**schema, "oneOf": [{"$ref": f"#/$defs/{kind}"}]})
    error = jsonschema.exceptions.best_match(own.iter_errors(document))
    assert error is None, f"{error.message[:200]} at {list(error.absolute_path)}"
    jsonschema.validate(document, schema)


def test_the_schema_refuses_a_document_without_its_version_or_with_a_wrong_type():
    schema = output_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "list", "models": []}, schema)
    bad_row = {"name": "m", "family": "f", "input_size": "1x3", "params": "many", "paper_flops": 1, "mac": 1,
               "params_vs_impl": None, "flops_vs_impl": None, "params_vs_paper": None, "flops_vs_paper": None,
               "within_tolerance": None}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": SCHEMA_VERSION, "kind": "list", "models": [bad_row]}, schema)


def test_analyze_json_honours_depth_sort_and_top():
    data = json.loads(runner.invoke(app, ["analyze", "mobilenet_v2", "-f", "json", "--depth", "1", "--sort", "flops",
                                          "--top", "2"]).stdout)
    assert data["selection"] == {"depth": 1, "sort": "flops", "top": 2}
    assert [r["name"] for r in data["rows"]] == ["features", "classifier"]
    # the depth-1 rows sum to the whole model: 320,515,392 all-ops FLOPs minus the functional pool's
    # 1280 * 7 * 7 = 62,720 (recorded at the root path, outside any depth-1 module) minus classifier
    features, classifier = data["rows"]
    assert classifier["flops"] == 1280 * 1000  # Linear(1280, 1000) on one token; dropout counts nothing
    assert features["flops"] + classifier["flops"] + 1280 * 7 * 7 == data["totals"]["flops"] == 320_515_392
    assert len(data["records"]) > 2  # the whole report is still there


@pytest.mark.parametrize("command", ["analyze", "memory"])
def test_train_json_validates_and_carries_the_step(command, tiny):
    result = runner.invoke(app, [command, tiny, "-i", "1x3x8x8", "--train", "--optimizer", "sgd", "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert_valid(document, command)
    # forward: conv 3*3*3*8 * 64 = 13,824 + ReLU 8*64 = 512 -> 14,336. Backward: the conv's weight gradient
    # 13,824 (its input needs none) + the ReLU's input gradient 512 = 14,336; train = 28,672.
    assert (document["backward_flops"], document["train_flops"]) == (14_336, 28_672)
    # saved: the ReLU's output 8*64*4 = 2,048 B (the conv saves the input and weight, which exist anyway)
    assert document["training"]["saved_activation_bytes"] == 2_048


def test_analyze_json_carries_the_inference_peak(tiny):
    document = json.loads(runner.invoke(app, ["analyze", tiny, "-i", "1x3x8x8", "-f", "json"]).stdout)
    # conv output 8*8*8*4 = 2,048 B and the ReLU's 2,048 B live together: peak activations 4,096 B;
    # + params (3*3*3*8 + 8) * 4 = 896 B -> 4,992 B
    assert (document["peak_activation_bytes"], document["peak_memory_bytes"]) == (4_096, 4_992)
