"""zappa_settings.json avoids every zappa trap listed in docs/design.md ("Known traps").

The checks are product code, ``nicelist.doctor.trap_violations`` (what ``nicelist doctor`` runs on the
settings file); the last test feeds them zappa's own defaults to prove that every check can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nicelist.doctor import settings_findings, trap_violations, zappa_lambda_name
from nicelist.findings import checks_of

SETTINGS = json.loads((Path(__file__).parents[2] / "zappa_settings.json").read_text())


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_stage_avoids_every_trap(name: str) -> None:
    assert "extends" not in SETTINGS[name], "keep stages explicit so this test sees what zappa sees"
    assert trap_violations(name, SETTINGS[name]) == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_doctor_finds_each_environment_sound(env: str) -> None:
    assert settings_findings(SETTINGS, env) == []


def test_each_environment_has_an_api_and_a_writer() -> None:
    environments = {name.rpartition("_")[0] for name in SETTINGS}
    assert {"dev", "prod"} <= environments
    for env in environments:
        assert {f"{env}_api", f"{env}_writer"} <= set(SETTINGS)


def test_names_agree_with_zappas_own_slugify() -> None:
    slugify = pytest.importorskip("slugify", reason="zappa (deploy extra) not installed").slugify
    for name, config in SETTINGS.items():
        assert slugify(config["project_name"] + "-" + name) == zappa_lambda_name(config["project_name"], name)


def test_the_writer_entry_point_exists() -> None:
    module, _, attribute = SETTINGS["prod_writer"]["lambda_handler"].rpartition(".")
    handler = getattr(__import__(module, fromlist=[attribute]), attribute)
    assert callable(handler)


def test_zappas_defaults_trip_every_check() -> None:
    defaults: dict[str, Any] = {
        "project_name": "nicelist",
        "environment_variables": {"NICELIST_STAGE": "dev"},
        "role_arn": "arn:aws:iam::123456789012:role/nicelist",
    }
    sqs_event = {"function": "writer.handler.lambda_handler", "event_source": {"arn": "x"}}
    writer = trap_violations("dev_writer", {**defaults, "events": [sqs_event]})
    api = trap_violations("dev_api", {**defaults, "timeout_seconds": 30})
    common = [
        "log-level", "keep-warm", "debug", "s3-bucket", "lambda-concurrency", "roles", "partition",
        "memory-size", "environment-variables", "stage-variables", "future-bound",
    ]  # fmt: skip
    # project_name "nicelist" is right, so the function-name checks hold (15 and 13 findings, as before)
    writer_only = ["api-gateway", "lambda-handler", "events", "writer-concurrency", "writer-timeout"]
    api_only = ["app-function", "api-timeout", "api-keys-parameter"]
    assert checks_of(writer) == common + writer_only
    assert checks_of(api) == common + api_only
    assert all(finding.fix for finding in writer + api), "every finding says how to fix it"
    renamed = trap_violations("dev-writer", SETTINGS["dev_writer"])
    assert renamed[0].problem == "stage name: API Gateway allows only a-zA-Z0-9_"
    assert checks_of(renamed) == ["stage-name", "stage-variables", "stage-role"]  # env "" != "dev"


def test_each_settings_check_fails_alone() -> None:
    """Spring one trap at a time on a sound stage: exactly that check fires."""
    sound = SETTINGS["dev_writer"]
    environment = sound["aws_environment_variables"]
    springs = {
        "log-level": {"log_level": "DEBUG"},
        "keep-warm": {"keep_warm": True},
        "debug": {"debug": True},
        "s3-bucket": {"s3_bucket": ""},
        "lambda-concurrency": {"lambda_concurrency": None},
        "roles": {"manage_roles": True},
        "partition": {"role_arn": "arn:aws:iam::123456789012:role/x"},
        "memory-size": {"memory_size": 512},
        "environment-variables": {"environment_variables": {}},
        "stage-variables": {"aws_environment_variables": {**environment, "POWERTOOLS_LOG_LEVEL": "DEBUG"}},
        "string-values": {"aws_environment_variables": {**environment, "NICELIST_WRITE_RATE": 100}},
        "future-bound": {"aws_environment_variables": {**environment, "NICELIST_MAX_FUTURE_SECONDS": "never"}},
        "function-name": {"project_name": "nice-list"},
        "api-gateway": {"apigateway_enabled": True},
        "lambda-handler": {"lambda_handler": "handler.lambda_handler"},
        "events": {"events": [{"function": "x"}]},
        "writer-concurrency": {"aws_environment_variables": {**environment, "NICELIST_CONCURRENCY": "3"}},
        "writer-timeout": {"timeout_seconds": 120},
    }
    follows = {"lambda-concurrency": ["writer-concurrency"]}  # no reserved concurrency: NICELIST_CONCURRENCY > it
    for check, change in springs.items():
        expected = [check, *follows.get(check, [])]
        assert checks_of(trap_violations("dev_writer", {**sound, **change})) == expected, check


def test_a_missing_or_extended_stage_is_a_finding() -> None:
    findings = settings_findings({"dev_api": {"extends": "base"}}, "dev")
    assert checks_of(findings) == ["extends", "stage-missing"]
