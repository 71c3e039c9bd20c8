"""`flopcount analyze hf:...`: named inputs, --seq-len, --phase prefill/decode against device profiles, the
condensed per-layer table, and one-line errors. Tiny configs written here: no hub, no network, no weights."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from flopcount.cli import app

pytest.importorskip("transformers")

runner = CliRunner()

# 2 layers, hidden 32, 4 heads of 8, 2 KV heads (GQA), MLP 48, vocab 64, lm_head untied
TINY_LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": 32,
              "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "tie_word_embeddings": False}
TINY_BERT = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 64, "hidden_size": 32,
             "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}
# Linear weights one token goes through: per layer q 32x32 + k 32x16 + v 32x16 + o 32x32 + MLP 3 x 32x48
# = 1,024 + 512 + 512 + 1,024 + 4,608 = 7,680; 2 layers = 15,360; lm_head 32 x 64 = 2,048 -> 17,408
LINEAR_PER_TOKEN = 2 * (32 * 32 + 2 * 32 * 16 + 32 * 32 + 3 * 32 * 48) + 32 * 64


def attention(tokens: int, keys: int) -> int:
    """QK^T and AV over every key: 2 x 2 layers x 4 heads x tokens x keys x head dim 8."""
    return 2 * 2 * 4 * tokens * keys * 8


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    path = tmp_path_factory.mktemp("llama") / "config.json"
    path.write_text(json.dumps(TINY_LLAMA))
    return f"hf:{path}"


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")  # a model directory holding config.json
    (folder / "config.json").write_text(json.dumps(TINY_BERT))
    return f"hf:{folder}"


def invoke(*args: str):
    return runner.invoke(app, list(args))


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flopcount: error: "), result.output
    return lines[0]


def analyze_json(*args: str) -> dict:
    result = invoke("analyze", *args, "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_named_inputs_alone_and_beside_positional_ones(llama):
    named = analyze_json(llama, "--input", "input_ids=1x16:int64", "--input", "position_ids=1x16:int64")
    mixed = analyze_json(llama, "--input-size", "1x16:int64", "--input", "position_ids=1x16:int64")
    # 16 tokens x 17,408 + attention 2 x 2 x 4 x 16 x 16 x 8 = 278,528 + 32,768 = 311,296
    assert LINEAR_PER_TOKEN * 16 + attention(16, 16) == 311_296
    for data in (named, mixed):
        assert data["totals"]["paper_flops"] == 311_296
        assert [i["shape"] for i in data["inputs"]] == [[1, 16], [1, 16]]


@pytest.mark.parametrize("command", ["roofline", "guidelines"])
def test_other_commands_take_named_inputs_through_the_shared_loader(llama, command):
    result = invoke(command, llama, "--input", "input_ids=1x16:int64", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == llama


def test_seq_len_sets_the_default_input_ids(llama):
    data = analyze_json(llama, "--seq-len", "16")
    assert data["inputs"] == [{"shape": [1, 16], "dtype": "int64"}]
    assert data["totals"]["paper_flops"] == 311_296


@pytest.mark.parametrize("args, words", [
    (("--input", "input_ids"), "malformed named input 'input_ids'"),
    (("--input", "input_ids=1xx2"), "malformed input size"),
    (("--input", "input_ids=1x4:int64", "--input", "input_ids=1x8:int64"), "given twice"),
    (("--input-size", "1x4:int64", "--input", "input_ids=1x4:int64"), "multiple values for argument 'input_ids'"),
    (("--seq-len", "8", "--input-size", "1x8:int64"), "--seq-len sets the default inputs"),
    (("--context", "8",), "--context applies with --phase"),
    (("--phase", "prefill", "--context", "8"), "--context applies to --phase decode"),
    (("--phase", "decode", "--top", "3"), "--top applies to the per-layer table"),
])
def test_input_and_option_errors_are_one_line(llama, args, words):
    assert words in one_line_error(invoke("analyze", llama, *args))


def test_an_input_whose_values_the_forward_reads_is_refused_in_one_line(llama):
    # transformers reads an attention_mask's values (does it mask anything?): a meta tensor has none, and
    # an hf: model is never materialised with weights to run it with data
    line = one_line_error(invoke("analyze", llama, "--input", "input_ids=1x16:int64", "--input",
                                 "attention_mask=1x16:int64"), code=1)
    assert "on meta only, and its forward reads the values of an input" in line


def test_seq_len_on_a_zoo_model_is_refused():
    assert "--seq-len applies to hf: models" in one_line_error(invoke("analyze", "squeezenet1_1", "--seq-len", "8"))


def test_phase_needs_an_hf_model():
    assert "--phase needs an hf: model" in one_line_error(invoke("analyze", "squeezenet1_1", "--phase", "prefill"))


def test_decode_on_bert_is_refused_in_one_line(bert):
    line = one_line_error(invoke("analyze", bert, "--phase", "decode", "--context", "8"))
    assert "keeps no KV cache" in line and "decode does not apply" in line


def test_missing_transformers_is_one_line(llama, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` raises ImportError
    line = one_line_error(invoke("analyze", llama))
    assert line == 'flopcount: error: hf: models need transformers: pip install "flopcount[hf]"'


def test_offline_hub_id_not_cached_is_one_line(monkeypatch, tmp_path):
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    line = one_line_error(invoke("analyze", "hf:nobody-here/no-such-model"))
    assert "cannot get config.json of 'nobody-here/no-such-model' from the hub (offline and not cached?)" in line


def test_decode_json_keys_and_numbers(llama):
    data = analyze_json(llama, "--phase", "decode", "--context", "8", "--profile", "h100", "--profile", "phone")
    assert data["kind"] == "phase" and data["schema_version"] == "1"
    (decode,) = data["phases"]
    assert {"phase", "tokens", "context", "dtype", "attention", "flops_per_token", "weights_bytes",
            "cache_read_bytes", "cache_written_bytes", "traffic_bytes", "kv_cache_bytes", "memory_bytes",
            "devices"} <= set(decode)
    assert (decode["phase"], decode["tokens"], decode["context"], decode["dtype"]) == ("decode", 1, 8, "float16")
    assert decode["attention"] == {"layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 8, "sliding_window": None}
    # KV cache read: 2 (K, V) x 2 layers x 2 KV heads x 8 x 8 tokens x 2 bytes = 1,024; written: 1 token = 128
    assert (decode["kv_cache_bytes"], decode["cache_read_bytes"], decode["cache_written_bytes"]) == (1_024, 1_024, 128)
    # one token: linear 17,408 + attention over 9 keys 2 x 2 x 4 x 1 x 9 x 8 = 1,152
    assert decode["paper_flops"] == LINEAR_PER_TOKEN + attention(1, 9) == 18_560
    assert [d["device"] for d in decode["devices"]] == ["h100", "phone"]
    h100 = decode["devices"][0]
    assert h100["bound"] == "memory" and h100["fits"] is True
    assert h100["tokens_per_second"] == pytest.approx(1 / h100["seconds"])


def test_prefill_on_given_inputs(llama):
    for given in (("--input-size", "2x16:int64"), ("--input", "input_ids=2x16:int64")):
        (prefill,) = analyze_json(llama, "--phase", "prefill", *given)["phases"]
        assert (prefill["tokens"], prefill["batch"]) == (16, 2)
        # a batch of 2 prompts of 16 tokens: 2 x 311,296 multiply-adds
        assert prefill["paper_flops"] == 2 * 311_296
        # the cache it writes: 2 (K, V) x 2 layers x 2 KV heads x 8 x 16 tokens x 2 prompts x 2 bytes = 4,096
        assert prefill["cache_written_bytes"] == prefill["kv_cache_bytes"] == 4_096


def test_prefill_and_decode_markdown_rows(llama):
    result = invoke("analyze", llama, "--phase", "prefill", "--phase", "decode", "--seq-len", "16", "--profile", "h100",
                    "-f", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("| model | phase | tokens |") and "h100 bound" in lines[0]
    # decode's context defaults to --seq-len: the cache the prefill left
    assert "| prefill | 16 |" in lines[2] and "| decode @16 | 1 |" in lines[3]


@pytest.mark.parametrize("width", [80, 120])
def test_phase_table_fits_the_terminal(llama, width):
    result = invoke("analyze", llama, "--phase", "prefill", "--phase", "decode", "--seq-len", "16", "--profile", "h100",
                    "--profile", "phone", "--width", str(width))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    text = result.stdout
    for words in ("prefill 16", "decode @16", "KV cache", "h100 bound", "phone fits", "tok/s", "(GQA)"):
        assert words in text, words
    # the bundled profiles' peaks are float32 ones, the phase is float16: the notes say so
    assert "Peak FLOP/s of another dtype: h100 (float32), phone (float32)" in " ".join(text.split())


def test_mixture_of_experts_reads_top_k_experts(tmp_path):
    config = {**TINY_LLAMA, "model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "num_local_experts": 4,
              "num_experts_per_tok": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (decode,) = analyze_json(f"hf:{tmp_path}", "--phase", "decode", "--context", "8")["phases"]
    assert decode["experts"] == {"per_token": 2, "per_layer": 4}
    # per layer: attention 1,024 + 512 + 512 + 1,024 = 3,072, router 32 x 4 = 128, experts 4 x 3 x 32 x 48 = 18,432,
    # norms 64 -> 21,696; x 2 layers + embedding 2,048 + final norm 32 + lm_head 2,048 = 47,520
    assert decode["params"] == 2 * (3_072 + 128 + 18_432 + 64) + 2_048 + 32 + 2_048 == 47_520
    # one token reads 2 of 4 experts (2 layers x 9,216 not read) and one of 64 embedding rows (63 x 32 not read)
    assert decode["params_read"] == 47_520 - 2 * 9_216 - 63 * 32 == 27_072
    assert decode["weights_read_bytes"] == 2 * 27_072  # float16
    table = invoke("analyze", f"hf:{tmp_path}", "--phase", "decode", "--context", "8", "--width", "120").stdout
    assert "2 of 4 experts per token (MoE)" in " ".join(table.split())


def test_sliding_window_figure_beside_the_full_one(tmp_path):
    config = {**TINY_LLAMA, "model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": 4}
    (tmp_path / "config.json").write_text(json.dumps(config))
    data = analyze_json(f"hf:{tmp_path}", "--phase", "decode", "--context", "8")
    (decode,) = data["phases"]
    assert decode["attention"]["sliding_window"] == 4
    # full: 2 x 2 layers x 2 KV heads x 8 x 8 tokens x 2 bytes = 1,024; a 4-token window keeps half: 512
    assert (decode["kv_cache_bytes"], decode["kv_cache_bytes_windowed"]) == (1_024, 512)
    # attention over 9 keys 2 x 2 x 4 x 9 x 8 = 1,152; a window of 4 keys: 1,152 x 4 // 9 = 512
    assert (decode["attention_flops"], decode["attention_flops_windowed"]) == (1_152, 512)
    table = invoke("analyze", f"hf:{tmp_path}", "--phase", "decode", "--context", "8", "--width", "80").stdout
    assert "1.00 KiB (window: 512 B)" in table and "sliding window 4" in table


@pytest.mark.parametrize("width", [80, 120])
def test_layer_table_shows_a_repeated_block_once(llama, width):
    result = invoke("analyze", llama, "--seq-len", "16", "--width", str(width))
    assert result.exit_code == 0, result.output
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= width
    table_rows = [line for line in result.stdout.splitlines() if line.startswith("│ ")]
    assert any("model.layers.0 ×2" in row for row in table_rows)
    assert not any(row.startswith("│ model.layers.1") for row in table_rows)  # the second layer is folded
    assert "Repeated blocks shown once: model.layers.0 ×2" in " ".join(result.stdout.split())
    assert "from ops" in result.stdout  # RMSNorm, SiLU, rotary: one line, not one per module
    expanded = invoke("analyze", llama, "--seq-len", "16", "--width", str(width), "--expand")
    assert "model.layers.1.self_attn.q_proj" in expanded.stdout and "×2" not in expanded.stdout
    # json keeps every record: 2 identical layers
    data = analyze_json(llama, "--seq-len", "16")
    paths = {r["path"] for r in data["records"]}
    assert "model.layers.0.self_attn.q_proj" in paths and "model.layers.1.self_attn.q_proj" in paths


def test_zoo_tables_fold_only_runs_of_identical_blocks():
    # squeezenet: no two consecutive fire modules alike -> every row, as before
    plain = invoke("analyze", "squeezenet1_0", "--width", "200")
    assert plain.exit_code == 0 and "×" not in plain.stdout and "features.12.expand3x3" in plain.stdout
    # resnet50 layer3: blocks 1-5 are identical bottlenecks (1024 -> 256 -> 1024 at 14x14) -> one, x5
    resnet = invoke("analyze", "resnet50", "--width", "200")
    assert "layer3.1 ×5" in resnet.stdout and "layer3.2.conv1" not in resnet.stdout
    assert "layer3.0.conv1" in resnet.stdout  # the first block (stride 2, downsample) differs


def test_llama_2_7b_decode_kv_cache_at_2048():
    data = analyze_json("hf:llama-2-7b", "--phase", "decode", "--context", "2048", "--dtype", "float16")
    (decode,) = data["phases"]
    # 2 (K, V) x 32 layers x 32 KV heads x 128 head dim x 2048 tokens x 2 bytes = 1,073,741,824
    assert decode["kv_cache_bytes"] == 2 * 32 * 32 * 128 * 2048 * 2 == 1_073_741_824
    assert decode["params"] == 6_738_415_616


def test_llama_2_7b_prompt_of_2048_tokens():
    data = analyze_json("hf:llama-2-7b", "--input-size", "1x2048:int64")
    assert data["totals"]["params"] == 6_738_415_616
    # 2048 x 6,607,077,376 linear weights (32 layers + lm_head) + 2 x 32 x 2048^2 x 4096 attention
    assert 2048 * 6_607_077_376 + 2 * 32 * 2048**2 * 4096 == 14_630_806_093_824
    assert data["totals"]["paper_flops"] == 14_630_806_093_824


LEAN_RUN = """
import gc, json, sys
from typer.testing import CliRunner
from flopcount.cli import app
result = CliRunner().invoke(app, ["analyze", sys.argv[1], "--seq-len", "4", "-f", "json"])
assert result.exit_code == 0, result.output
unused = ("flopcount.render.html", "flopcount.llm.phases", "rich")
print(json.dumps({"params": json.loads(result.stdout)["totals"]["params"], "collector_on": gc.isenabled(),
                  "frozen": gc.get_freeze_count(), "loaded": [m for m in unused if m in sys.modules]}))
"""


def test_hf_analysis_to_json_loads_only_what_it_uses_and_freezes_its_imports(llama):
    """A fresh process: -f json needs neither the HTML page, the phase analysis nor rich; the first load's
    imports (torch, transformers) are frozen out of the cyclic collector, which is on again afterwards."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", LEAN_RUN, llama], check=True, capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    # embeddings 64 x 32 + 2 layers x (7,680 linear + 2 norms of 32) + final norm 32 + lm_head 2,048 = 19,616
    assert data["params"] == 64 * 32 + 2 * (7_680 + 2 * 32) + 32 + 32 * 64 == 19_616
    assert data["loaded"] == []
    assert data["collector_on"] is True
    assert data["frozen"] > 100_000  # torch alone leaves ~160,000 objects
