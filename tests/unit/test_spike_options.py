"""The spike runner's options reach the plan, the thresholds and the stack (``loadtests/spike.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.shapes import BurstPlan, SawtoothPlan, SurgePlan
from loadtests.spike import plan_of, spike_offset, stack_config, thresholds_of
from loadtests.spike_args import parse_args
from loadtests.verdict import Thresholds


def test_the_defaults_push_a_small_table_and_judge_strictly() -> None:
    args = parse_args([])
    config = stack_config(args)

    assert plan_of(args) == SurgePlan()
    assert thresholds_of(args) == Thresholds(max_failure_ratio=0.0, max_p95_ms=None, max_peak_ratio=1.0)
    assert (config.capacity, config.budget, config.burst_seconds) == (100, 97.0, 300.0)
    assert (config.moto_port, config.control_port, config.run_dir) == (4700, 4703, Path("runs/spike"))


def test_every_threshold_and_stack_knob_is_wired() -> None:
    args = parse_args(
        [
            "--max-failure-ratio", "0.01", "--max-p95-ms", "800", "--max-peak-ratio", "1.1",
            "--max-drain-ratio", "1.5", "--write-rate", "100000", "--writer-env", "A=b=c",
            "--moto-port", "4930", "--capacity", "50", "--burst-seconds", "0",
        ]
    )  # fmt: skip
    config = stack_config(args)

    assert thresholds_of(args) == Thresholds(0.01, 800.0, 1.1, 1.5)
    assert (config.write_rate, config.writer_environment, config.moto_port) == (100000.0, (("A", "b=c"),), 4930)
    assert (config.capacity, config.burst_seconds) == (50, 0.0)


@pytest.mark.parametrize(
    ("argv", "plan"),
    [
        (["--shape", "burst", "--burst-updates", "200", "--burst-users", "2"], BurstPlan(200, 2)),
        (["--shape", "sawtooth", "--saw-teeth", "1", "--saw-peak-users", "3"], SawtoothPlan(3, 12.0, 1)),
        (["--quiet", "5", "--spike", "6", "--after", "0", "--factor", "3"], SurgePlan(1, 3.0, 5.0, 6.0, 0.0)),
    ],
)
def test_each_shape_is_sized_from_its_options(argv: list[str], plan: object) -> None:
    assert plan_of(parse_args(argv)) == plan


def test_the_drain_of_a_surge_is_timed_from_its_spike_and_of_the_others_from_the_start() -> None:
    assert spike_offset(SurgePlan(quiet_seconds=7)) == 7
    assert spike_offset(BurstPlan()) == spike_offset(SawtoothPlan()) == 0


@pytest.mark.parametrize("bad", [["--shape", "square"], ["--writer-env", "novalue"], ["--writer-env", "=x"]])
def test_nonsense_options_are_refused(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(bad)
