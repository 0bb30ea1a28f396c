"""Configuration limits mirror what AWS accepts; effective concurrency is min(reserved, maximum)."""

from __future__ import annotations

from typing import Any

import pytest

from nicelist.local.config import ConfigError, RuntimeConfig, Tuning


@pytest.mark.parametrize(
    "settings",
    [
        {"batch_size": 0},
        {"batch_size": 10_001},
        {"batch_size": 11, "batching_window_seconds": 0},
        {"batching_window_seconds": 301},
        {"maximum_concurrency": 0},
        {"reserved_concurrency": -1},
        {"batch_size": 2.5},
        {"maximum_concurrency": True},
        {"batching_window_seconds": "1"},
    ],
)
def test_tuning_rejects_what_aws_rejects(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Tuning(**settings)


def test_large_batches_need_a_window() -> None:
    assert Tuning(batch_size=10_000, batching_window_seconds=1).batch_size == 10_000


@pytest.mark.parametrize(("reserved", "maximum", "effective"), [(None, 5, 5), (3, 5, 3), (8, 5, 5), (0, 5, 0)])
def test_effective_concurrency(reserved: int | None, maximum: int, effective: int) -> None:
    assert Tuning(reserved_concurrency=reserved, maximum_concurrency=maximum).effective_concurrency == effective


def test_changes_are_validated_and_unknown_names_refused() -> None:
    tuning = Tuning()

    assert tuning.with_changes({"maximum_concurrency": 7}).maximum_concurrency == 7
    with pytest.raises(ConfigError, match="unknown"):
        tuning.with_changes({"max_concurency": 7})
    with pytest.raises(ConfigError):
        tuning.with_changes({"batch_size": "ten"})
    with pytest.raises(ConfigError):
        tuning.with_changes({"batch_size": 20})


@pytest.mark.parametrize(
    "settings",
    [
        {"wait_time_seconds": 21},
        {"timeout_seconds": 0},
        {"timeout_seconds": 901},
        {"memory_mb": 64},
        {"handler": "x"},
    ],
)
def test_runtime_config_rejects_what_lambda_rejects(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RuntimeConfig(queue_url="http://q", **settings)
