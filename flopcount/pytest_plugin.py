"""pytest plugin: hold a model to a FLOPs / params / MAC budget inside your own test suite.

    def test_mynet_budget(flopcount_budget):
        flopcount_budget(MyNet(), (1, 3, 224, 224), max_flops="300M", max_params="3.5M",
                         baseline="tests/flops_baseline.json")

    @pytest.mark.flops_budget(max_flops="300M", layers={"head.*": {"max_params": "1.3M"}})
    def test_mynet_marked(flopcount_budget):
        flopcount_budget(MyNet(), "1x3x224x224")  # the marker gives the limits

``pytest --flopcount-update-baseline`` writes the measured counts into the baseline files instead of
comparing. pytest loads this module in every run of every project where flopcount is installed (entry
point ``pytest11``), so it imports nothing but pytest until a test asks for the fixture.
"""

from __future__ import annotations

import pytest

_MARKER = "flops_budget"
_FIXTURE = "flopcount_budget"
_OPTIONS = {"max_params", "max_flops", "max_mac", "max_latency_ms", "layers", "max_regression_pct", "kwargs", "device"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flopcount")
    group.addoption("--flopcount-update-baseline", action="store_true", default=False,
                    help="flopcount_budget: write measured counts into the baseline files instead of comparing.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(max_params=None, max_flops=None, max_mac=None, max_latency_ms=None, layers=None, baseline=None, "
        "max_regression_pct=None): limits for the flopcount_budget fixture in this test. flops = paper total "
        "(multiply-adds of conv + linear + matmul + attention); mac = memory access cost in elements.",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(_MARKER) is not None and _FIXTURE not in getattr(item, "fixturenames", ()):
        pytest.fail(f"@pytest.mark.{_MARKER} on {item.name} needs the {_FIXTURE} fixture: take it as an argument "
                    f"and call {_FIXTURE}(model, input_size)", pytrace=False)


@pytest.fixture
def flopcount_budget(request: pytest.FixtureRequest):
    """Call it as ``flopcount_budget(model, input_size, max_flops="300M", ...)``; fails the test when over.

    ``model`` is an ``nn.Module`` (analysed on meta by default: nothing is allocated) or a bundled model
    name. Limits: max_params, max_flops (paper total), max_mac, max_latency_ms (a real CPU forward),
    layers={"pattern": {"max_flops": ...}}, baseline="file.json" (relative to the rootdir) with
    max_regression_pct (default 0 with a baseline: any growth fails), name (the baseline key; default: the
    test's name), device. Returns the result (its ``.measurement.totals`` hold the counts).
    """
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None and marker.args:
        pytest.fail(f"@pytest.mark.{_MARKER} takes keyword arguments only, e.g. max_flops=\"300M\"", pytrace=False)
    defaults = dict(marker.kwargs) if marker is not None else {}
    calls = []

    def check(model, input_size=None, **limits):
        import warnings
        from pathlib import Path

        from flopcount.budget import check_model
        from flopcount.render.budget import failure_message
        from flopcount.errors import FlopcountError

        options = {**defaults, **limits}
        name = options.pop("name", None) or request.node.name
        baseline = options.pop("baseline", None)
        if baseline is not None and not Path(baseline).is_absolute():
            baseline = request.config.rootpath / baseline
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            pytest.fail(f"{_FIXTURE}: unknown argument {', '.join(unknown)}; expected {', '.join(sorted(_OPTIONS))}",
                        pytrace=False)
        failure = None
        try:
            result = check_model(
                model, input_size, name=name, baseline=baseline,
                update_baseline=request.config.getoption("flopcount_update_baseline"),
                where=_FIXTURE, warn=lambda message: warnings.warn(message, stacklevel=3), **options,
            )
        except FlopcountError as error:
            failure = str(error) if str(error).startswith(_FIXTURE) else f"{_FIXTURE}: {error}"
        if failure is not None:  # outside the except: a one-line failure, without the chained traceback
            pytest.fail(failure, pytrace=False)
        calls.append(result)
        if not result.passed:
            pytest.fail(failure_message(result), pytrace=False)
        return result

    yield check
    if marker is not None and not calls:
        pytest.fail(f"@pytest.mark.{_MARKER} on {request.node.name}, but the test never called {_FIXTURE}(model, "
                    f"input_size)", pytrace=False)
