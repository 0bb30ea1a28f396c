"""The comparison logic of ``python -m loadtests.model_check`` (the local runs themselves are a load
test, not CI): what counts as within 10 %, and that a replay fails beyond it."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests import model_check
from loadtests.model_check import CONFIGS, Calibration, Measured, compare, scenario_for, within
from nicelist.model import simulate


def test_within_ten_percent_of_the_measured_figure() -> None:
    assert within(109.9, 100.0) and within(90.1, 100.0)
    assert not within(110.5, 100.0) and not within(89.0, 100.0)
    assert within(0.004, 0.0, share=True)  # shares agree within half a point
    assert not within(0.02, 0.0, share=True) and not within(0.02, 0.0)
    assert not within(float("inf"), 100.0)


def _measured_from_the_model(tmp_path: Path, stretch: float) -> Measured:
    """A run whose meter shows what the model predicts, the drain stretched by ``stretch``."""
    config = CONFIGS[0]
    started, spike = 1_000_000.0, 1_000_012
    per_second = {1_000_000 + s: 30 for s in range(12)} | {spike + s: 640 for s in range(5)}
    per_second |= {spike + 5 + s: 33 for s in range(12)}
    probe = Measured(config, per_second, started, spike, [])
    calibration = Calibration(0.2, 60.0, 10)
    result = simulate(scenario_for(probe, calibration))
    meter = [
        {"second": 1_000_000 + i, "units": round(w), "throttled_units": round(t)}
        for i, (w, t) in enumerate(zip(result.series.written, result.series.throttled, strict=True))
    ]
    last = max(row["second"] for row in meter if row["units"] > 0)
    extra = round((last - spike + 1) * (stretch - 1))
    meter += [{"second": last + 1 + i, "units": 0, "throttled_units": 0} for i in range(extra)]
    if extra:
        meter[-1]["units"] = 1
    measured = Measured(config, per_second, started, spike, meter)
    (tmp_path / config.name).mkdir()
    measured.save(tmp_path / config.name / model_check.MEASURED)
    return measured


def test_a_replay_of_what_the_model_predicts_passes_and_a_stretched_drain_fails(tmp_path: Path) -> None:
    calibration = Calibration(0.2, 60.0, 10)
    assert compare(_measured_from_the_model(tmp_path, 1.0), calibration).ok
    args = ["--replay", "--run-dir", str(tmp_path), "--only", CONFIGS[0].name, "--overhead", "0.2"]
    assert model_check.main([*args, "--execution-wcu", "60"]) == 0
    assert model_check.main([*args, "--execution-wcu", "inf"]) in (0, 1)  # no limit seen is a calibration too
    late = tmp_path / "late"
    late.mkdir()
    comparison = compare(_measured_from_the_model(late, 1.15), calibration)
    assert not comparison.ok
    assert [label for label, *_, ok in comparison.rows() if not ok] == ["drain time (s)"]
    args[2] = str(late)
    assert model_check.main([*args, "--execution-wcu", "60"]) == 1


def test_measured_figures_come_from_the_meters_series() -> None:
    meter = [{"second": 10 + s, "units": 100, "throttled_units": 10 if s == 3 else 0} for s in range(20)]
    figures = Measured(CONFIGS[0], {}, 0.0, 15, meter).figures()
    assert figures.drain_seconds == 15
    assert figures.throttled_share == pytest.approx(10 / 2010)
    assert figures.peak_ratio == pytest.approx(1.0)
