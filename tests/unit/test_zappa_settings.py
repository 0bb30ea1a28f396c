"""zappa_settings.json avoids every zappa trap listed in docs/design.md ("Known traps").

Each check is a line in ``trap_violations``; the last test feeds it zappa's own defaults to
prove that every check can fail."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from contract.names import StageNames
from nicelist.provision import ProvisionOptions

SETTINGS = json.loads((Path(__file__).parents[2] / "zappa_settings.json").read_text())


def zappa_lambda_name(project: str, stage: str) -> str:
    """What zappa/cli.py does: ``slugify(project_name + "-" + api_stage)`` (``_`` becomes ``-``)."""
    return re.sub(r"[^a-z0-9]+", "-", f"{project}-{stage}".lower()).strip("-")


def trap_violations(name: str, config: dict[str, Any]) -> list[str]:
    env, _, role = name.rpartition("_")
    problems = []
    if not re.fullmatch(r"[a-zA-Z0-9_]+", name):
        problems.append("stage name: API Gateway allows only a-zA-Z0-9_")
    if config.get("log_level", "DEBUG") != "INFO":
        problems.append("log_level: zappa defaults to DEBUG and logs whole events")
    if config.get("keep_warm", True) is not False:
        problems.append("keep_warm: on by default")
    if config.get("debug", True) is not False:
        problems.append("debug: on by default")
    if not config.get("s3_bucket"):
        problems.append("s3_bucket: zappa invents a random bucket")
    if not isinstance(config.get("lambda_concurrency"), int) or config["lambda_concurrency"] < 1:
        problems.append("lambda_concurrency: unset deletes reserved concurrency on update")
    if config.get("manage_roles", True) is not False or not config.get("role_name"):
        problems.append("roles: zappa's managed role is far from least privilege")
    if "arn:aws:" in json.dumps(config):
        problems.append("hard-coded aws partition")
    if config.get("memory_size") != 256:
        problems.append("memory_size")
    if "environment_variables" in config:
        problems.append("environment_variables only reach code run through zappa's handler")
    environment = config.get("aws_environment_variables", {})
    if environment.get("NICELIST_STAGE") != env or environment.get("LOG_LEVEL") != "INFO":
        problems.append("aws_environment_variables: NICELIST_STAGE and LOG_LEVEL=INFO")
    if not all(isinstance(v, str) for v in environment.values()):
        problems.append("environment values must be strings")
    if not _positive(environment.get("NICELIST_MAX_FUTURE_SECONDS")):
        problems.append("NICELIST_MAX_FUTURE_SECONDS: a deployed stage bounds how far ahead observed_at may be")
    if role == "writer":
        problems += writer_violations(env, config)
    elif role == "api":
        problems += api_violations(env, config)
    else:
        problems.append("stage name must end in _api or _writer")
    return problems


def _positive(value: Any) -> bool:
    try:
        return isinstance(value, str) and 0 < float(value) < float("inf")
    except ValueError:
        return False


def writer_violations(env: str, config: dict[str, Any]) -> list[str]:
    problems = []
    names = StageNames(env)
    if zappa_lambda_name(config.get("project_name", ""), f"{env}_writer") != names.writer_function:
        problems.append("function name differs from StageNames.writer_function")
    if config.get("apigateway_enabled", True) is not False:
        problems.append("apigateway_enabled: the writer needs no API Gateway")
    if config.get("lambda_handler") != "writer.handler.lambda_handler":
        problems.append("lambda_handler: zappa's handler drops unmatched SQS events and retries on TypeError")
    if config.get("events"):
        problems.append("events: the SQS mapping belongs to `nicelist deploy configure`")
    concurrency = int(config.get("aws_environment_variables", {}).get("NICELIST_CONCURRENCY", "0"))
    if not 2 <= concurrency <= int(config.get("lambda_concurrency") or 0):
        problems.append("NICELIST_CONCURRENCY (the mapping's maximum concurrency) must be 2..reserved")
    if config.get("timeout_seconds") != ProvisionOptions().writer_timeout:
        problems.append("timeout_seconds must match the visibility timeout provisioning sets (6 x it)")
    return problems


def api_violations(env: str, config: dict[str, Any]) -> list[str]:
    problems = []
    if zappa_lambda_name(config.get("project_name", ""), f"{env}_api") != StageNames(env).api_function:
        problems.append("function name differs from StageNames.api_function")
    if config.get("app_function") != "producers.api.app":
        problems.append("app_function")
    if config.get("timeout_seconds", 30) > 29:
        problems.append("timeout_seconds: API Gateway gives up after 29 s")
    if config.get("aws_environment_variables", {}).get("NICELIST_API_KEYS_PARAMETER") != (
        StageNames(env).api_keys_parameter
    ):
        problems.append("NICELIST_API_KEYS_PARAMETER")
    return problems


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_stage_avoids_every_trap(name: str) -> None:
    assert "extends" not in SETTINGS[name], "keep stages explicit so this test sees what zappa sees"
    assert trap_violations(name, SETTINGS[name]) == []


def test_each_environment_has_an_api_and_a_writer() -> None:
    environments = {name.rpartition("_")[0] for name in SETTINGS}
    assert {"dev", "prod"} <= environments
    for env in environments:
        assert {f"{env}_api", f"{env}_writer"} <= set(SETTINGS)
        # The API and the writer refuse the same updates: the same bound on the future on both sides.
        bounds = {SETTINGS[f"{env}_{role}"]["aws_environment_variables"]["NICELIST_MAX_FUTURE_SECONDS"]
                  for role in ("api", "writer")}  # fmt: skip
        assert len(bounds) == 1, (env, bounds)


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
    assert len(writer) == 16, writer
    assert len(api) == 14, api
    assert trap_violations("dev-writer", SETTINGS["dev_writer"])[0] == (
        "stage name: API Gateway allows only a-zA-Z0-9_"
    )
