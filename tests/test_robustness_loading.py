"""Meta by default, and the fall back to a real device when a forward needs data; loading user code."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from torch import nn

from flopcount import analyze
from flopcount.errors import ForwardError, ModelLoadError
from flopcount.loading import load_factory, load_model


class _RowsByData(nn.Module):
    """Keeps the rows whose first value is positive: how many depends on the data (an item() call)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        kept = int((x[:, 0] > 0).sum())
        return self.fc(x[:kept])


def _three_positive_rows() -> torch.Tensor:
    x = -torch.ones(5, 4)
    x[:3] = 1.0
    return x


def test_cpu_model_analyses_on_meta_by_default():
    report = analyze(nn.Linear(4, 2), (3, 4))
    assert report.device == "meta" and report.notes == []
    assert report.totals.paper_flops == 3 * 4 * 2  # 24


def test_data_dependent_forward_falls_back_to_the_models_own_device_with_a_note():
    model = _RowsByData()
    report = analyze(model, inputs=_three_positive_rows())
    assert report.device == "cpu"
    [note] = report.notes
    assert "needs data" in note and "on cpu instead of meta" in note
    assert report.totals.paper_flops == 3 * 4 * 2  # 3 rows kept x 4 x 2 = 24


def test_meta_model_is_built_on_cpu_by_the_loader_for_a_data_dependent_forward(tmp_path):
    path = tmp_path / "rows.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Rows(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(x[x[:, 0] > 0])  # a boolean mask: nonzero has no meta kernel

        def make():
            return Rows()
    """))
    loaded = load_model(f"{path}:make")
    assert loaded.device == "meta" and loaded.model.fc.weight.is_meta
    report = loaded.analyze(inputs=_three_positive_rows())
    assert report.device == "cpu" and "model built on cpu" in report.notes[0]
    assert report.totals.paper_flops == 24  # 3 masked rows x 4 x 2
    assert loaded.model.fc.weight.is_meta  # the loaded model itself is untouched


def test_meta_model_without_a_builder_runs_on_an_initialised_cpu_copy():
    with torch.device("meta"):
        model = _RowsByData()
    report = analyze(model, inputs=_three_positive_rows())
    assert report.device == "cpu" and "freshly initialised" in report.notes[0]
    assert report.totals.paper_flops == 24 and report.totals.params == 4 * 2 + 2
    assert model.fc.weight.is_meta


def test_asking_for_meta_explicitly_names_the_flag_instead_of_falling_back():
    with pytest.raises(ForwardError, match=r"needs data.*--device cpu"):
        analyze(_RowsByData(), inputs=_three_positive_rows(), device="meta")


def test_a_huge_factory_builds_and_analyses_on_meta(tmp_path):
    path = tmp_path / "huge.py"
    path.write_text(textwrap.dedent("""
        from torch import nn

        def make():  # 65,536 x 65,536 float32 = 16 GiB on a real device
            return nn.Sequential(nn.Linear(65_536, 65_536), nn.ReLU())
    """))
    loaded = load_model(f"{path}:make")
    report = loaded.analyze((2, 65_536))
    assert report.device == "meta"
    assert report.totals.paper_flops == 2 * 65_536 * 65_536  # 8,589,934,592
    assert report.totals.params == 65_536 * 65_536 + 65_536


@pytest.fixture
def package_in_cwd(tmp_path, monkeypatch):
    package = tmp_path / "mypkg_flopcount_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("from torch import nn\n\ndef make_mlp():\n    return nn.Linear(3, 3)\n")
    (package / "broken.py").write_text("import torch\nraise ValueError('config file missing\\nsecond line')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield "mypkg_flopcount_test"
    for name in [m for m in sys.modules if m.startswith("mypkg_flopcount_test")]:
        del sys.modules[name]


def test_package_module_factory_imports_from_the_current_directory(package_in_cwd):
    path_before = list(sys.path)
    factory = load_factory(f"{package_in_cwd}.models:make_mlp")
    assert isinstance(factory(), nn.Linear)
    assert sys.path == path_before  # the directory was on the path only for the import


def test_package_whose_import_raises_names_the_module_and_the_error(package_in_cwd):
    with pytest.raises(ModelLoadError, match=rf"importing module '{package_in_cwd}.broken' failed: "
                                             r"ValueError: config file missing$"):
        load_factory(f"{package_in_cwd}.broken:make")


def test_missing_module_is_named(package_in_cwd):
    with pytest.raises(ModelLoadError, match="cannot import module 'nosuchpkg_xyz.models': no module named 'nosuchpkg_xyz'"):
        load_factory("nosuchpkg_xyz.models:make")
