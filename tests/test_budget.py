"""Budgets, the pure part: schema validation, unit parsing, evaluation against limits and baselines.

Measurements are built by hand here (no torch), so every expected number is arithmetic in the test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flopcount.budget import (
    BaselineEntry,
    Measurement,
    baseline_entry,
    dump_baseline,
    evaluate,
    explain,
    load_baseline,
    locate,
    measure_latency,
    parse_budget,
    write_baseline,
)
from flopcount.errors import ConfigError

PATH = Path("budgets.toml")


def budget(spec: dict, **top):
    return parse_budget({**top, "models": {"net": spec}}, PATH).models[0]


# A two-layer "model": conv 3->8 3x3 on 32x32 and linear 8->10.
#   conv: params 3*8*9 + 8 = 224, flops 3*8*9*32*32 = 221_184
#   fc:   params 8*10 + 10 = 90, flops 8*10 = 80
def two_layers(conv_out: int = 8) -> Measurement:
    conv = {"params": 3 * conv_out * 9 + conv_out, "flops": 3 * conv_out * 9 * 32 * 32, "mac": 1000 * conv_out}
    fc = {"params": conv_out * 10 + 10, "flops": conv_out * 10, "mac": 500}
    layers = {"body.conv": conv, "head.fc": fc}
    totals = {m: conv[m] + fc[m] for m in ("params", "flops", "mac")}
    totals["all_ops_flops"] = totals["flops"]
    return Measurement(totals, layers, types={"body.conv": "Conv2d", "head.fc": "Linear"})


# ------------------------------------------------------------------------------------------ units


@pytest.mark.parametrize(("text", "expected"), [
    ("300M", 300_000_000), ("3.5M", 3_500_000), ("2G", 2_000_000_000), ("1.5K", 1_500), ("20k", 20_000),
    (1500, 1500), ("1500", 1500), ("0", 0), (2.5e6, 2_500_000),
])
def test_limits_accept_units_and_plain_ints(text, expected):
    assert budget({"max_flops": text}).limits == {"flops": expected}


@pytest.mark.parametrize(("value", "message"), [
    ("-5M", "must not be negative"), (-1, "must not be negative"), ("12Q", "not a count: '12Q'"),
    ("", "not a count"), (True, "must be a count"), ([1], "must be a count"), (math.inf, "not a count: inf"),
    ("inf", "not a count"),
])
def test_bad_limits_name_the_key(value, message):
    with pytest.raises(ConfigError) as info:
        budget({"max_params": value})
    assert str(info.value).startswith("budgets.toml: models.net.max_params: ")
    assert message in str(info.value)


def test_a_byte_unit_on_a_count_is_refused_not_read_as_a_count():
    # "3 MB" of max_flops used to be read as 3M multiply-adds; a count takes no byte unit
    text = '[models.net]\nmax_flops = "3 MB"\n'
    with pytest.raises(ConfigError) as info:
        parse_budget({"models": {"net": {"max_flops": "3 MB"}}}, PATH, text)
    assert str(info.value) == ("budgets.toml:2: models.net.max_flops: not a count: '3 MB' is a byte size; counts "
                               "take K, M, G, T without B (e.g. \"3M\")")


def test_latency_and_percent_must_be_positive_numbers():
    with pytest.raises(ConfigError, match=r"models\.net\.max_latency_ms: must be a positive number"):
        budget({"max_latency_ms": 0})
    with pytest.raises(ConfigError, match=r"models\.net\.max_latency_ms: must be a positive number"):
        budget({"max_latency_ms": "50ms"})
    with pytest.raises(ConfigError, match=r"models\.net\.max_regression_pct: must be a percentage >= 0"):
        budget({"max_regression_pct": -1}, baseline="b.json")


# ----------------------------------------------------------------------------------------- schema


def test_schema_fields_and_defaults():
    b = parse_budget({
        "baseline": "base.json",
        "max_regression_pct": 2,
        "models": {
            "small": {"model": "mobilenet_v2", "input_size": ["1x3x160x160"], "kwargs": {"width_mult": 0.5},
                      "max_params": "2M", "max_latency_ms": 12.5, "layers": {"features.*": {"max_mac": "5M"}}},
            "big": {"max_flops": 10, "max_regression_pct": 0},
        },
    }, Path("configs/budgets.toml"))
    small, big = b.models
    assert b.baseline == Path("configs/base.json")  # relative to the budget file, not the working directory
    assert (small.id, small.model, small.input_size, small.kwargs) == ("small", "mobilenet_v2", ("1x3x160x160",),
                                                                      {"width_mult": 0.5})
    assert small.max_latency_ms == 12.5 and small.max_regression_pct == 2.0  # the file-wide default
    assert [(layer.pattern, layer.limits) for layer in small.layers] == [("features.*", {"mac": 5_000_000})]
    assert (big.model, big.device, big.input_size, big.max_regression_pct) == ("big", "meta", None, 0.0)


@pytest.mark.parametrize(("data", "message"), [
    ({"models": {"net": {"max_flop": 1}}}, "models.net.max_flop: unknown key; did you mean max_flops?"),
    ({"modles": {}}, "modles: unknown key; did you mean models?"),
    ({"models": {"net": {"layers": {"a.*": {"max_flops": 1, "flops": 2}}}}},
     'models.net.layers."a.*".flops: unknown key; did you mean max_flops?'),
    ({"models": {}}, "models: missing"),
    ({"models": {"net": {}}}, "models.net: no limit"),
    ({"models": {"net": "mobilenet_v2"}}, "models.net: must be a table"),
    ({"models": {"net": {"max_flops": 1, "input_size": "1x3xabc"}}}, "models.net.input_size: malformed input size"),
    ({"models": {"net": {"max_flops": 1, "kwargs": [1]}}}, "models.net.kwargs: must be a table"),
    ({"models": {"net": {"max_flops": 1, "max_regression_pct": 1}}}, "baseline: max_regression_pct needs a baseline"),
    ({"models": {"net": {"layers": {"x": {}}}}}, "models.net.layers.x: no limit"),
])
def test_schema_errors_are_one_line_with_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        parse_budget(data, PATH)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_errors_carry_the_line_of_the_key():
    text = 'baseline = "b.json"\n\n[models.mobilenet_v2]\nmax_flops = "300M"\nmax_flop = 2\n'
    with pytest.raises(ConfigError) as info:
        parse_budget({"baseline": "b.json", "models": {"mobilenet_v2": {"max_flops": "300M", "max_flop": 2}}},
                     PATH, text)
    assert str(info.value).startswith("budgets.toml:5: models.mobilenet_v2.max_flop: unknown key")


def test_locate_finds_headers_keys_quoted_tables_and_inline_tables():
    text = "\n".join([
        "max_regression_pct = 1",                         # 1
        '[models."mobilenet_v2_w0.5"]',                   # 2
        "max_flops = 1  # comment",                       # 3
        "[models.b]",                                     # 4
        'layers = { "x.*" = { max_mac = 2 } }',           # 5
        "[tool.flopcount.models.c.layers]",               # 6
        "'features.[0-3]' = { max_flops = 1 }",           # 7
    ])
    assert locate(text, (), "max_regression_pct") == 1
    assert locate(text, ("models", "mobilenet_v2_w0.5"), None) == 2
    assert locate(text, ("models", "mobilenet_v2_w0.5"), "max_flops") == 3
    assert locate(text, ("models", "b", "layers"), "x.*") == 5  # inside an inline table: its parent's line
    assert locate(text, ("tool", "flopcount", "models", "c", "layers"), "features.[0-3]") == 7
    assert locate(text, ("models", "zzz"), "max_flops") is None


# --------------------------------------------------------------------------------------- evaluate


def statuses(checks):
    return {c.metric: c.status for c in checks}


@pytest.mark.parametrize("metric", ["params", "flops", "mac"])
def test_every_count_metric_passes_at_the_limit_and_fails_one_above(metric):
    m = two_layers()
    value = m.totals[metric]  # params 314, flops 221_264, mac 8_500
    assert value == {"params": 224 + 90, "flops": 221_184 + 80, "mac": 8_000 + 500}[metric]
    at = evaluate(budget({f"max_{metric}": value}), m)
    below = evaluate(budget({f"max_{metric}": value - 1}), m)
    assert statuses(at) == {metric: "pass"} and at[0].headroom_pct == 0.0
    assert statuses(below) == {metric: "fail"}
    assert below[0].value == value and below[0].limit == value - 1


def test_failure_detail_says_by_how_much_and_names_the_largest_layers():
    (check,) = evaluate(budget({"max_flops": "200K"}), two_layers())
    # 221,264 / 200,000 - 1 = 10.6%; 21,264 over
    assert check.detail.startswith("221.26K is 10.6% over the budget 200.00K (+21.26K)")
    assert "largest layers: body.conv (Conv2d) 221.18K, head.fc (Linear) 80" in check.detail
    assert check.headroom_pct == pytest.approx((200_000 - 221_264) / 200_000 * 100)


def test_latency_passes_fails_and_skips_when_not_measured():
    m = two_layers()
    m.latency_ms = 12.0
    assert statuses(evaluate(budget({"max_latency_ms": 12.0}), m)) == {"latency_ms": "pass"}
    (fail,) = evaluate(budget({"max_latency_ms": 10}), m)
    assert fail.status == "fail" and "12.00 ms is 20.0% over 10 ms" in fail.detail  # 12 / 10 - 1
    m.latency_ms = None
    assert statuses(evaluate(budget({"max_latency_ms": 10}), m)) == {"latency_ms": "skip"}


def test_measure_latency_is_the_median_of_the_timed_repeats_after_warmup():
    import torch

    calls = []

    class Counted(torch.nn.Linear):
        def forward(self, x):
            calls.append(torch.get_num_threads())
            return super().forward(x)

    # the clock is read only around the timed forwards: the two warm-ups are run, not timed
    ticks = iter([0, 0.003, 0, 0.001, 0, 0.002, 0, 0.050, 0, 0.004])  # timed: 3, 1, 2, 50, 4 ms
    ms = measure_latency(Counted(4, 2), (1, 4), warmup=2, repeats=5, timer=lambda: next(ticks))
    assert ms == pytest.approx(3.0)  # median of 1, 2, 3, 4, 50
    assert len(calls) == 2 + 5  # warm-up + timed
    assert set(calls) == {1}  # one intra-op thread, as flopcount bench: not torch's default pool


def test_layer_limits_match_module_subtrees_and_op_names():
    m = two_layers()
    m.ops = {"(root):cat": {"params": 0, "flops": 0, "mac": 700}}
    checks = evaluate(budget({"layers": {
        "body": {"max_flops": 221_184},           # the subtree of body = body.conv
        "*.conv": {"max_params": 223},            # 224 > 223
        "*": {"max_mac": 8_000},                  # body, body.conv (8,000) pass; nothing larger matches
        "*:cat": {"max_mac": 699},                # a function-level op: 700 > 699
        "decoder.*": {"max_flops": 1},            # matches nothing: a renamed module must not pass silently
    }}), m)
    assert statuses(checks) == {"flops[body]": "pass", "params[*.conv]": "fail", "mac[*]": "pass",
                                "mac[*:cat]": "fail", "flops[decoder.*]": "fail"}
    by = {c.metric: c for c in checks}
    assert by["params[*.conv]"].detail == "1 of 1 matching layers over 223: body.conv (Conv2d) 224"
    assert by["mac[*]"].value == 8_000  # the largest of body, body.conv, head, head.fc, (root):cat
    assert "matches no layer" in by["flops[decoder.*]"].detail


def base_of(m: Measurement) -> BaselineEntry:
    return BaselineEntry("net", ("1x3x32x32",), {}, dict(m.totals), {k: dict(v) for k, v in m.layers.items()})


def test_regression_within_the_allowed_percent_passes_and_beyond_fails_naming_grown_layers():
    base = base_of(two_layers(8))
    grown = two_layers(12)
    grown.layers["head.extra"] = {"params": 50, "flops": 5_000, "mac": 10}
    grown.totals = {k: grown.totals[k] + grown.layers["head.extra"].get(k, 0) for k in grown.totals}
    checks = evaluate(budget({"max_regression_pct": 2}, baseline="b.json"), grown, base)
    by = {c.metric: c for c in checks}
    assert statuses(checks) == {"params vs baseline": "fail", "flops vs baseline": "fail", "mac vs baseline": "fail"}
    # flops: baseline 221,264; allowed floor(221,264 * 1.02) = 225,689
    # now: conv 3*12*9*1024 = 331,776, fc 120, extra 5,000 -> 336,896 = +52.3%
    assert by["flops vs baseline"].limit == 225_689 and by["flops vs baseline"].value == 336_896
    assert by["flops vs baseline"].detail.startswith("+52.3% vs baseline 221.26K (allowed +2%); grew most: "
                                                     "body.conv (Conv2d) +110.59K (+50.0%), head.extra +5.00K (new), "
                                                     "head.fc (Linear) +40 (+50.0%)")


def test_regression_allowance_is_exact_and_inclusive():
    base = base_of(two_layers())
    assert base.totals["params"] == 314
    grown = two_layers()
    grown.totals = {**grown.totals, "params": 314 + 3}  # 314 * 1.01 = 317.14: 317 allowed, 318 not
    assert statuses(evaluate(budget({"max_regression_pct": 1}, baseline="b"), grown, base))["params vs baseline"] == "pass"
    grown.totals["params"] = 318
    assert statuses(evaluate(budget({"max_regression_pct": 1}, baseline="b"), grown, base))["params vs baseline"] == "fail"


def test_regression_without_a_baseline_entry_is_skipped_not_passed():
    checks = evaluate(budget({"max_regression_pct": 0}, baseline="b"), two_layers(), None)
    assert [(c.metric, c.status) for c in checks] == [("baseline", "skip")]
    assert "--update-baseline" in checks[0].detail


def test_explain_lists_shrunk_layers_count_and_falls_back_when_nothing_grew():
    base = base_of(two_layers(8))
    smaller = two_layers(4)
    assert explain(smaller, base, "flops").startswith("no layer grew against the baseline; largest layers: ")
    mixed = two_layers(4)
    mixed.layers["head.fc"] = {"params": 999, "flops": 999, "mac": 999}
    assert explain(mixed, base, "params") == "grew most: head.fc (Linear) +909 (+1010.0%); 1 shrank"  # 999 - 90


# --------------------------------------------------------------------------------------- baseline


def test_baseline_round_trip_is_one_line_per_layer_and_drops_empty_layers(tmp_path):
    m = two_layers()
    m.layers["drop"] = {"params": 0, "flops": 0, "mac": 0}
    path = tmp_path / "b.json"
    write_baseline(path, {"net": baseline_entry("net", ["1x3x32x32"], {"w": 1}, m)})
    text = path.read_text()
    assert '    "body.conv": {"params": 224, "flops": 221184, "mac": 8000},\n' in text
    assert '"drop"' not in text
    loaded = load_baseline(path)["net"]
    # the all-ops total rides along (diff compares it); the checks read params, flops and mac
    assert loaded.totals == {"params": 314, "flops": 221_264, "all_ops_flops": 221_264, "mac": 8_500}
    assert loaded.layers["head.fc"] == {"params": 90, "flops": 80, "mac": 500}
    assert (loaded.input_size, loaded.kwargs) == (("1x3x32x32",), {"w": 1})
    # a second write merges: the first entry stays
    write_baseline(path, {"other": baseline_entry("other", ["1x4"], {}, m)})
    assert sorted(load_baseline(path)) == ["net", "other"]
    assert json.loads(dump_baseline({"a": {"b": [1, 2]}})) == {"a": {"b": [1, 2]}}


def test_broken_baselines_are_config_errors_with_position(tmp_path):
    path = tmp_path / "b.json"
    with pytest.raises(ConfigError, match=r"b\.json: baseline file not found \(write it with: flopcount check "
                                          r"--update-baseline\)"):
        load_baseline(path)
    path.write_text('{\n "format": 1,\n "models": {,}\n}')
    with pytest.raises(ConfigError, match=r"b\.json:3:13: baseline is not valid JSON"):
        load_baseline(path)
    path.write_text('{"format": 1, "models": {"net": {"model": "net"}}}')
    with pytest.raises(ConfigError, match=r"models\.net: malformed baseline entry"):
        load_baseline(path)
    path.write_text('{"models": {}}')
    with pytest.raises(ConfigError, match="not a flopcount baseline"):
        load_baseline(path)
