"""Roofline: intensity, bound and time of layers with known costs; device profiles; the chart."""

from __future__ import annotations

import os
import sys

import pytest
from torch import nn

from flopcount import analyze
from flopcount.errors import ConfigError, FlopcountError
from flopcount.roofline import (DeviceProfile, bound_of, device_toml, list_devices, load_device, measure_device,
                                plot_roofline, roofline)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ridge = 100e9 / 10e9 = 10 FLOP per byte
TOY = DeviceProfile(name="toy", peak_flops=100e9, bandwidth=10e9, source="made up for the test")


def test_linear_at_batch_one_is_memory_bound():
    report = analyze(nn.Linear(1000, 1000, bias=False), (1, 1000), device="meta")
    (p,) = roofline(report, TOY).points
    # 1e6 multiply-adds = 2e6 FLOP; MAC = 1,000 in + 1e6 weights + 1,000 out = 1,002,000 elements * 4 bytes
    assert (p.flop, p.bytes) == (2_000_000, 4_008_000)
    assert p.intensity == pytest.approx(2e6 / 4.008e6)  # ~0.5 FLOP/B, far below the ridge of 10
    assert p.bound == "memory"
    assert p.time == pytest.approx(4.008e6 / 10e9)  # bytes / bandwidth = 400.8 us


def test_3x3_conv_is_compute_bound():
    report = analyze(nn.Conv2d(64, 64, 3, padding=1, bias=False), (1, 64, 56, 56), device="meta")
    (p,) = roofline(report, TOY).points
    # 9 * 64 * 64 * 3136 = 115,605,504 multiply-adds; MAC = 200,704 + 36,864 + 200,704 = 438,272 elements
    assert (p.flop, p.bytes) == (2 * 115_605_504, 4 * 438_272)
    assert p.intensity == pytest.approx(231_211_008 / 1_753_088)  # ~131.9 FLOP/B
    assert p.bound == "compute"
    assert p.time == pytest.approx(231_211_008 / 100e9)


def test_bound_at_the_ridge_and_totals():
    assert bound_of(1000, 100, TOY) == (10.0, "compute", pytest.approx(1e-8))
    assert bound_of(999, 100, TOY)[1] == "memory"
    model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU())
    result = roofline(analyze(model, (1, 64, 56, 56), device="meta"), TOY)
    relu = result.points[1]
    # ReLU: 200,704 FLOPs (1 per element, 2x here) over 2 * 200,704 * 4 bytes = 0.25 FLOP/B: memory bound
    assert relu.intensity == pytest.approx(0.25) and relu.bound == "memory"
    assert result.total_time == pytest.approx(231_211_008 / 100e9 + 1_605_632 / 10e9)
    assert result.time_by_bound()["memory"] == pytest.approx(1_605_632 / 10e9)


def test_measured_times_ride_along():
    model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU())
    report = analyze(model, (1, 64, 56, 56), device="meta")
    result = roofline(report, TOY, times=[0.004, 0.001])
    assert [p.measured for p in result.points] == [0.004, 0.001]
    assert result.measured_time == pytest.approx(0.005)
    assert roofline(report, TOY).measured_time is None


def test_plot_with_measured_points_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    report = analyze(nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU()), (1, 8, 16, 16), device="meta")
    path = plot_roofline(roofline(report, TOY, times=[1e-4, 2e-5]), tmp_path / "measured.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_views_are_skipped():
    class Flat(nn.Module):
        def forward(self, x):
            return x.view(1, -1)

    result = roofline(analyze(Flat(), (1, 4, 4), device="meta"), TOY)
    assert result.points == [] and result.skipped == 1


def test_shipped_profiles_load_with_their_sources():
    assert {"cpu_measured", "phone", "h100"} <= set(list_devices())
    h100 = load_device("h100")
    # the data sheet: 67 TFLOPS FP32 and 3.35 TB/s HBM3 -> ridge ~20 FLOP/B
    assert h100.peak_flops == pytest.approx(66.9e12) and h100.bandwidth == pytest.approx(3.35e12)
    assert h100.ridge == pytest.approx(66.9 / 3.35)
    phone = load_device("phone")
    assert phone.peak_flops == pytest.approx(16 * (2.84 + 3 * 2.42) * 1e9)  # 16 FP32 FLOP/cycle/core
    assert phone.bandwidth == pytest.approx(8 * 4266e6)  # 64-bit LPDDR4X-4266
    for name in ("cpu_measured", "phone", "h100"):
        assert load_device(name).source


def test_shipped_profiles_carry_their_memory_size():
    assert load_device("h100").memory_bytes == 80 * 2**30  # 85,899,345,920: five 16 GiB HBM3 stacks
    assert load_device("phone").memory_bytes == 8 * 2**30  # 8,589,934,592
    assert load_device("cpu_measured").memory_bytes == 25_276_510_208  # `free -b` total of the measured machine


def test_user_profiles_come_first_and_measured_ones_go_there(tmp_path, monkeypatch):
    from flopcount.roofline import measured_profile_path, user_devices_dir, write_device

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_devices_dir() == tmp_path / "flopcount" / "devices"
    mine = DeviceProfile("h100", 1e12, 1e11, "my own measurement", memory_bytes=2**30)
    target = measured_profile_path("h100")
    assert write_device(mine, target) == tmp_path / "flopcount" / "devices" / "h100.toml"
    assert load_device("h100").peak_flops == 1e12  # the user's h100 shadows the shipped one
    assert load_device("h100").memory_bytes == 2**30
    assert "phone" in list_devices() and load_device("phone").peak_flops == pytest.approx(161.6e9)  # shipped
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_devices_dir() == tmp_path / "home" / ".config" / "flopcount" / "devices"


def test_bad_profiles_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown device profile"):
        load_device("no_such_device")
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\npeak_flops = 1e9\n')
    with pytest.raises(ConfigError, match="lacks bandwidth, source"):
        load_device(str(broken))
    broken.write_text('name = "x"\npeak_flops = -1\nbandwidth = 1\nsource = "s"\n')
    with pytest.raises(ConfigError, match="> 0"):
        load_device(str(broken))
    broken.write_text('name = "x"\npeak_flops = 1\nbandwidth = 1\nsource = "s"\nmemory_bytes = "8GB"\n')
    with pytest.raises(ConfigError, match="memory_bytes must be a positive integer number of bytes, got '8GB'"):
        load_device(str(broken))
    with pytest.raises(ConfigError, match="cannot read device profile"):
        load_device(str(tmp_path / "absent.toml"))


def test_measure_device_writes_a_profile_that_loads(tmp_path):
    profile = measure_device("here", matmul_n=64, copy_mib=1, repeats=1, threads=1)
    assert profile.peak_flops > 0 and profile.bandwidth > 0 and "measured" in profile.source
    path = tmp_path / "here.toml"
    path.write_text(device_toml(profile))
    loaded = load_device(str(path))
    assert loaded.name == "here" and loaded.peak_flops == pytest.approx(profile.peak_flops, rel=1e-5)
    assert loaded.memory_bytes == profile.memory_bytes == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def test_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    report = analyze(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10)),
                     (1, 3, 32, 32), device="meta")
    path = plot_roofline(roofline(report, TOY), tmp_path / "roof.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_plot_without_matplotlib_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    report = analyze(nn.Linear(4, 4), (1, 4), device="meta")
    with pytest.raises(FlopcountError, match="needs matplotlib"):
        plot_roofline(roofline(report, TOY), tmp_path / "x.png")
