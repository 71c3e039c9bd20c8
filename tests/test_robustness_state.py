"""The caller sees no difference: threads, nesting, state, RNG, inputs, hook tables, odd module kinds."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.nn.modules import module as torch_module

from flopcount import analyze
from flopcount.errors import ForwardError, UsageError
from flopcount.loading import resolve_device
from flopcount.zoo import get_spec


def _small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4))


def _run_concurrently(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded():
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - the test inspects every failure
            errors.append(error)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_another_thread_running_the_model_is_neither_recorded_nor_disturbed(device):
    model = _small_cnn().eval()
    reference = analyze(model, (1, 3, 16, 16), device=device)
    # conv 3*3*3*8*16*16 = 55,296 multiply-adds + linear 8*4 = 32 -> paper 55,328
    assert reference.totals.paper_flops == 55_328
    stop = threading.Event()
    outputs = []

    def run_forever():
        while not stop.is_set():
            with torch.no_grad():
                outputs.append(model(torch.ones(2, 3, 16, 16)).shape)

    runner = threading.Thread(target=run_forever)
    runner.start()
    try:
        reports = [analyze(model, (1, 3, 16, 16), device=device) for _ in range(5)]
    finally:
        stop.set()
        runner.join()
    assert outputs and all(shape == (2, 4) for shape in outputs)
    for report in reports:
        assert [r.to_dict() for r in report.records] == [r.to_dict() for r in reference.records]


def test_concurrent_analyses_of_one_model_agree():
    spec = get_spec("shufflenet_v2_x0_5")
    model = spec.build().eval()  # on CPU: each analysis watches its own meta copy
    reference = analyze(model, spec.input_size, device="meta")
    results = []
    errors = _run_concurrently(lambda: results.append(analyze(model, spec.input_size, device="meta")), 3)
    assert not errors
    assert [r.totals for r in results] == [reference.totals] * 3


def test_another_threads_forward_survives_a_hook_seen_half_registered():
    # torch registers a global hook and its with_kwargs flag in two dicts, one after the other, so a
    # forward in another thread can find our hook without the flag and call it without kwargs. Put torch
    # in that state deterministically while an analysis is paused inside its forward.
    inside, release = threading.Event(), threading.Event()

    class Paused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            inside.set()
            release.wait(10)
            return self.fc(x)

    before = set(torch_module._global_forward_hooks)
    results, errors = [], []
    analysis = threading.Thread(target=lambda: results.append(analyze(Paused(), (2, 4), device="meta")))
    analysis.start()
    assert inside.wait(10)
    ours = [i for i in torch_module._global_forward_hooks if i not in before]
    flags = {i: torch_module._global_forward_hooks_with_kwargs.pop(i) for i in ours
             if i in torch_module._global_forward_hooks_with_kwargs}
    try:
        other = _small_cnn().eval()
        with torch.no_grad():
            other(torch.zeros(1, 3, 8, 8))  # calls the half-registered hook without kwargs
    except BaseException as error:  # noqa: BLE001 - the test inspects every failure
        errors.append(error)
    finally:
        torch_module._global_forward_hooks_with_kwargs.update(flags)
        release.set()
        analysis.join()
    assert flags and not errors
    assert results[0].totals.paper_flops == 2 * 4 * 4  # the analysis itself is undisturbed: 32


def test_no_hook_entry_leaks_per_analysis():
    model = _small_cnn()
    tables = (torch_module._global_forward_hooks, torch_module._global_forward_pre_hooks,
              torch_module._global_forward_hooks_with_kwargs, torch_module._global_forward_hooks_always_called)
    before = [len(t) for t in tables]
    for device in ("cpu", "meta"):
        analyze(model, (1, 3, 8, 8), device=device)
    assert [len(t) for t in tables] == before


class _MutatingForward(nn.Module):
    """Mutates a parameter and its input in place, and draws random numbers (dropout in training)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        with torch.no_grad():
            self.fc.weight.mul_(2)
        x.add_(1)
        return self.drop(self.fc(x))


def test_parameters_inputs_and_rng_are_as_before_a_cpu_analysis():
    model = _MutatingForward().train()
    weights = model.fc.weight.detach().clone()
    x = torch.zeros(3, 4)
    torch.manual_seed(0)
    expected_draw = torch.rand(5)
    torch.manual_seed(0)
    analyze(model, inputs=x, device="cpu")
    assert torch.equal(model.fc.weight, weights)
    assert torch.equal(x, torch.zeros(3, 4))
    assert torch.equal(torch.rand(5), expected_draw)  # the generator did not advance


def test_nested_analyze_leaves_the_outer_report_clean():
    inner_reports = []

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(6, 5), nn.ReLU())
            self.head = nn.Linear(5, 2)

        def forward(self, x):
            inner_reports.append(analyze(self.block, (1, 6)))
            return self.head(self.block(x))

    outer_model = Outer()
    plain = analyze(Outer(), (2, 6))
    report = analyze(outer_model, (2, 6))
    assert [r.name for r in report.records] == [r.name for r in plain.records] == ["block.0", "block.1", "head"]
    assert report.complete and report.uncounted == {}
    # linear 6*5 = 30 params + 5 bias = 35, trainable even inside the outer analysis
    assert inner_reports[-1].totals.trainable_params == 35
    assert inner_reports[-1].totals.paper_flops == 30  # 1 row x 6 x 5


@pytest.mark.parametrize("scripting", [torch.jit.script, lambda m: torch.jit.trace(m, torch.ones(1, 3, 8, 8))])
def test_torchscript_is_refused_in_one_line(scripting):
    scripted = scripting(_small_cnn().eval())
    with pytest.raises(UsageError, match="the model is a TorchScript module.*eager"):
        analyze(scripted, (1, 3, 8, 8))
    wrapper = nn.Sequential(nn.Identity(), scripted)
    with pytest.raises(UsageError, match="submodule '1' is a TorchScript module"):
        analyze(wrapper, (1, 3, 8, 8))


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_deeply_nested_sequentials_analyse(device):
    model = nn.Linear(4, 4)
    for _ in range(300):
        model = nn.Sequential(model)
    report = analyze(model, (1, 4), device=device)
    assert report.totals.paper_flops == 16  # 4 x 4, one row


def test_compiled_model_counts_as_its_eager_original():
    eager = _small_cnn().eval()
    compiled = torch.compile(eager)
    assert analyze(compiled, (1, 3, 16, 16), device="meta").totals == analyze(eager, (1, 3, 16, 16), device="meta").totals


@pytest.mark.parametrize("text, message", [
    ("nosuch", "unknown device 'nosuch'"),
    ("cuda:x", "unknown device 'cuda:x'"),
    pytest.param("cuda", "no CUDA device is available", marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")),
])
def test_bad_devices_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        resolve_device(text)
    with pytest.raises(UsageError, match=message):
        analyze(nn.Linear(2, 2), (1, 2), device=text)


def test_forward_error_keeps_the_useful_line_of_a_wrapped_message():
    class Wrapped(nn.Module):
        def forward(self, x):
            raise RuntimeError("backend='inductor' raised:\nRuntimeError: the real reason\n\nmore detail")

    with pytest.raises(ForwardError, match="RuntimeError: RuntimeError: the real reason$"):
        analyze(Wrapped(), (1, 2))


def test_a_model_that_cannot_be_copied_runs_on_its_own_device_with_a_note():
    class HoldsALock(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.lock = threading.Lock()  # deepcopy refuses locks

        def forward(self, x):
            with self.lock:
                return self.fc(x)

    report = analyze(HoldsALock(), (4, 3))
    assert report.device == "cpu" and "cannot be copied onto meta" in report.notes[0]
    assert report.totals.paper_flops == 4 * 3 * 2  # 24
