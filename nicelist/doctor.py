"""``nicelist doctor``: one command that checks a stage against every trap in docs/design.md ("Known
traps"): zappa_settings.json first, then, where it can reach them, the live resources, and the drift
between the two (a later ``zappa update`` re-applies the file). One line per finding, with its fix.

The settings checks live here as product code (tests/unit/test_zappa_settings.py calls them); the
live checks in ``nicelist.deploy_check`` and ``nicelist.tuning.rules``. Without a reachable AWS (no
endpoint, no credentials) the settings file is checked alone, and the report says so."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from contract.names import StageNames
from nicelist.console import aws_errors, emit, error_code
from nicelist.deploy_check import LiveClients, alarm_findings, check_stage, queue_findings, table_findings
from nicelist.findings import Finding
from nicelist.local.control import DEFAULT_CONTROL_URL
from nicelist.local.tune import LocalStage
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY
from nicelist.options import AwsTarget, aws_options
from nicelist.provision import ProvisionOptions
from nicelist.settings_file import DEFAULT_SETTINGS, SettingsFileError, drift_findings, load
from nicelist.tuning.aws import AwsStage
from nicelist.tuning.model import StageUnavailable
from nicelist.tuning.rules import tuning_findings

WRITER_HANDLER = "writer.handler.lambda_handler"
API_APP = "producers.api.app"
MEMORY_MB = 256
API_GATEWAY_TIMEOUT = 29  # seconds; API Gateway gives up after this
# The doctor fails fast when AWS is out of reach instead of retrying for a minute.
PROBE_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
)
_REJECTED = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"}


def zappa_lambda_name(project: str, stage: str) -> str:
    """What zappa/cli.py does: ``slugify(project_name + "-" + api_stage)`` (``_`` becomes ``-``)."""
    return re.sub(r"[^a-z0-9]+", "-", f"{project}-{stage}".lower()).strip("-")


def _count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _common_rules(name: str, config: dict[str, Any]) -> list[tuple[str, bool, str, str]]:
    env = name.rpartition("_")[0]
    environment = config.get("aws_environment_variables", {})
    levels = [environment.get(v) for v in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL")]
    reserved = config.get("lambda_concurrency")
    return [
        ("stage-name", not re.fullmatch(r"[a-zA-Z0-9_]+", name), "stage name: API Gateway allows only a-zA-Z0-9_",
         "rename the stage with letters, digits and _ only"),
        ("log-level", config.get("log_level", "DEBUG") != "INFO", "log_level: zappa defaults to DEBUG and logs whole "
         "events", 'set "log_level": "INFO"'),
        ("keep-warm", config.get("keep_warm", True) is not False, "keep_warm: on by default", 'set "keep_warm": false'),
        ("debug", config.get("debug", True) is not False, "debug: on by default", 'set "debug": false'),
        ("s3-bucket", not config.get("s3_bucket"), "s3_bucket: zappa invents a random bucket",
         'set "s3_bucket" to a bucket of yours'),
        ("lambda-concurrency", isinstance(reserved, bool) or not isinstance(reserved, int) or reserved < 1,
         "lambda_concurrency: unset, zappa update deletes reserved concurrency", 'set "lambda_concurrency": N'),
        ("roles", config.get("manage_roles", True) is not False or not config.get("role_name"),
         "roles: zappa's managed role is far from least privilege",
         f'set "manage_roles": false and "role_name" (created by nicelist deploy policy --stage {env} --apply)'),
        ("partition", "arn:aws:" in json.dumps(config), "hard-coded aws partition (breaks aws-cn)",
         "take ARNs from AWS: remove the arn:aws: value"),
        ("memory-size", config.get("memory_size") != MEMORY_MB, f"memory_size is not {MEMORY_MB}",
         f'set "memory_size": {MEMORY_MB} (BENCHMARKS.md measured the writer in it)'),
        ("environment-variables", "environment_variables" in config,
         "environment_variables only reach code run through zappa's handler",
         "move them into aws_environment_variables"),
        ("stage-variables", environment.get("NICELIST_STAGE") != env or levels != ["INFO", "INFO"],
         "aws_environment_variables: NICELIST_STAGE, LOG_LEVEL and POWERTOOLS_LOG_LEVEL",
         f'set "NICELIST_STAGE": "{env}", "LOG_LEVEL": "INFO", "POWERTOOLS_LOG_LEVEL": "INFO"'),
        ("string-values", not all(isinstance(v, str) for v in environment.values()),
         "environment values must be strings", "quote every value of aws_environment_variables"),
        ("future-bound", not _positive(environment.get("NICELIST_MAX_FUTURE_SECONDS")),
         "NICELIST_MAX_FUTURE_SECONDS unset: one observation dated far ahead pins a register for good",
         'set "NICELIST_MAX_FUTURE_SECONDS": "3600" in aws_environment_variables'),
    ]  # fmt: skip


def _positive(value: Any) -> bool:
    """A positive, finite number written as a string (as zappa passes environment values)."""
    try:
        return isinstance(value, str) and 0 < float(value) < float("inf")
    except ValueError:
        return False


def _writer_rules(env: str, config: dict[str, Any]) -> list[tuple[str, bool, str, str]]:
    environment = config.get("aws_environment_variables", {})
    shared_by, reserved = _count(environment.get("NICELIST_CONCURRENCY")), _count(config.get("lambda_concurrency"))
    timeout = ProvisionOptions().writer_timeout
    return [
        ("function-name", zappa_lambda_name(config.get("project_name", ""), f"{env}_writer")
         != StageNames(env).writer_function, "function name differs from StageNames.writer_function",
         'set "project_name": "nicelist"'),
        ("api-gateway", config.get("apigateway_enabled", True) is not False,
         "apigateway_enabled: the writer needs no API Gateway", 'set "apigateway_enabled": false'),
        ("lambda-handler", config.get("lambda_handler") != WRITER_HANDLER,
         "lambda_handler: zappa's handler drops unmatched SQS events and retries on TypeError",
         f'set "lambda_handler": "{WRITER_HANDLER}"'),
        ("events", bool(config.get("events")), "events: the SQS mapping belongs to `nicelist deploy configure`",
         f'remove "events", then nicelist deploy configure --stage {env}'),
        ("writer-concurrency", not MIN_MAXIMUM_CONCURRENCY <= shared_by <= reserved,
         "NICELIST_CONCURRENCY (the mapping's maximum concurrency) must be 2..lambda_concurrency",
         'set "NICELIST_CONCURRENCY" to the maximum concurrency, as a string'),
        ("writer-timeout", config.get("timeout_seconds") != timeout,
         f"timeout_seconds must be {timeout}: provisioning sets the queue's visibility to 6 x it",
         f'set "timeout_seconds": {timeout} (or provision with --writer-timeout)'),
    ]  # fmt: skip


def _api_rules(env: str, config: dict[str, Any]) -> list[tuple[str, bool, str, str]]:
    keys = StageNames(env).api_keys_parameter
    return [
        ("function-name", zappa_lambda_name(config.get("project_name", ""), f"{env}_api")
         != StageNames(env).api_function, "function name differs from StageNames.api_function",
         'set "project_name": "nicelist"'),
        ("app-function", config.get("app_function") != API_APP, "app_function", f'set "app_function": "{API_APP}"'),
        ("api-timeout", _count(config.get("timeout_seconds", 30)) > API_GATEWAY_TIMEOUT,
         f"timeout_seconds: API Gateway gives up after {API_GATEWAY_TIMEOUT} s",
         f'set "timeout_seconds": {API_GATEWAY_TIMEOUT}'),
        ("api-keys-parameter", config.get("aws_environment_variables", {}).get("NICELIST_API_KEYS_PARAMETER") != keys,
         "NICELIST_API_KEYS_PARAMETER", f'set "NICELIST_API_KEYS_PARAMETER": "{keys}"'),
    ]  # fmt: skip


def trap_violations(name: str, config: dict[str, Any]) -> list[Finding]:
    """Every zappa trap one stage of zappa_settings.json falls into."""
    env, _, role = name.rpartition("_")
    rules = _common_rules(name, config)
    if role == "writer":
        rules += _writer_rules(env, config)
    elif role == "api":
        rules += _api_rules(env, config)
    else:
        rules.append(
            ("stage-role", True, "stage name must end in _api or _writer", "rename it <env>_api or <env>_writer")
        )
    where = f"zappa_settings.json {name}"
    return [Finding(check, where, problem, fix) for check, broken, problem, fix in rules if broken]


def settings_findings(document: dict[str, Any], stage: str) -> list[Finding]:
    """The stage's two zappa stages, each present, explicit and sound."""
    findings = []
    for name in (f"{stage}_api", f"{stage}_writer"):
        config = document.get(name)
        if not isinstance(config, dict):
            findings.append(Finding("stage-missing", "zappa_settings.json", f"no {name} stage", f"add {name}"))
        elif "extends" in config:
            findings.append(Finding("extends", f"zappa_settings.json {name}", "extends hides what zappa deploys",
                                    "write the stage out in full"))  # fmt: skip
        else:
            findings += trap_violations(name, config)
    return findings


@dataclass(slots=True)
class Report:
    stage: str
    settings: str  # what was checked, or why not
    live: str
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "ok": not self.findings,
            "settings": self.settings,
            "live": self.live,
            "findings": [f.as_dict() for f in self.findings],
        }

    def lines(self) -> list[str]:
        lines = [f"stage {self.stage}", f"  settings: {self.settings}", f"  live:     {self.live}"]
        lines += [f"PROBLEM {finding.line()}" for finding in self.findings]
        count = len(self.findings)
        return [*lines, f"{count} problem{'s' * (count != 1)}" if count else "no problems found"]


def _roles(document: dict[str, Any], stage: str) -> dict[str, str]:
    return {
        kind: str((document.get(f"{stage}_{kind}") or {}).get("role_name") or f"nicelist-{stage}-{kind}-role")
        for kind in ("writer", "api")
    }


def _probe_clients(target: AwsTarget) -> Callable[[str], Any]:
    """A client factory for the target that gives up quickly when AWS does not answer."""
    session = target.session()

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=target.endpoint, config=PROBE_CONFIG)  # type: ignore[call-overload]

    return client


def _deployed_live(target: AwsTarget, document: dict[str, Any], report: Report) -> None:
    client = _probe_clients(target)
    backend = AwsStage(target, client)
    try:
        live = backend.read()
    except StageUnavailable:
        live = None
    region = target.region or target.session().region_name or ""
    clients = LiveClients(
        client("lambda"), client("sqs"), client("cloudwatch"), client("sns"), client("dynamodb"), client("iam"), region
    )
    report.findings += check_stage(clients, target.stage, _roles(document, target.stage), live)
    if live is not None:
        report.findings += drift_findings(document, target.stage, live.tuning)
    where = ", ".join(filter(None, [region or "default region", target.endpoint]))
    report.live = f"checked ({where})"


def _local_live(target: AwsTarget, control_url: str, report: Report) -> None:
    client = _probe_clients(target)

    report.findings += queue_findings(client("sqs"), target.stage, None)
    report.findings += table_findings(client("dynamodb"), target.stage)
    # The local CloudWatch evaluates the alarms and the stack subscribes its inbox: the same checks as on AWS.
    report.findings += alarm_findings(client("cloudwatch"), client("sns"), target.stage)
    try:
        live = LocalStage(target, control_url, client).read()
    except StageUnavailable as error:
        report.findings.append(Finding("runtime-unreachable", "writer runtime", str(error), "nicelist up"))
    else:
        report.findings += tuning_findings(live.tuning, live.facts)
    report.live = f"checked (embedded AWS {target.endpoint}, writer runtime {control_url})"


def run_doctor(target: AwsTarget, settings_path: Path, control_url: str = DEFAULT_CONTROL_URL) -> Report:
    report = Report(target.stage, "not checked", "not checked")
    document: dict[str, Any] = {}
    if target.stage == "local":
        report.settings = "not checked: stage local is not deployed with zappa"
    else:
        try:
            document = load(settings_path)
        except SettingsFileError as error:
            report.findings.append(
                Finding("settings-unreadable", str(settings_path), str(error), "pass --settings PATH")
            )
            report.settings = f"not checked: {error}"
        else:
            report.findings += settings_findings(document, target.stage)
            report.settings = f"{settings_path}: {target.stage}_api, {target.stage}_writer checked"
    settings_only = len(report.findings)
    try:
        if target.stage == "local":
            _local_live(target, control_url, report)
        else:
            _deployed_live(target, document, report)
    except _UNREACHABLE as error:
        _unreachable(report, target, str(error), settings_only)
    except ClientError as error:
        if error_code(error) not in _REJECTED:
            raise
        _unreachable(report, target, f"credentials rejected ({error_code(error)})", settings_only)
    return report


def _unreachable(report: Report, target: AwsTarget, reason: str, settings_only: int) -> None:
    """The settings alone were checked (a half-read stage proves nothing, so its findings are dropped);
    locally there is nothing else to check, so that is itself a finding."""
    report.live = f"NOT CHECKED, AWS unreachable: {reason}; only the settings file was checked"
    report.findings = report.findings[:settings_only]
    if target.stage == "local":
        report.live = f"NOT CHECKED, the embedded AWS is unreachable: {reason}"
        report.findings.append(Finding("local-unreachable", "embedded AWS", reason, "nicelist up"))


def doctor_options(function: Any) -> Any:
    function = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(function)
    function = click.option(
        "--control-url", default=DEFAULT_CONTROL_URL, show_default=True, envvar="NICELIST_CONTROL_URL",
        help="--stage local: the writer runtime's control endpoint.",
    )(function)  # fmt: skip
    function = click.option(
        "--settings", "settings_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_SETTINGS,
        show_default=True, help="zappa's settings file.",
    )(function)  # fmt: skip
    return aws_options(function)


@click.command("doctor")
@doctor_options
def doctor_command(target: AwsTarget, settings_path: Path, control_url: str, as_json: bool) -> None:
    """Check zappa_settings.json and the live stage against every known trap; one line per finding with
    its fix. Exit 1 when anything is wrong, 0 when clean (without a reachable AWS: the settings alone)."""
    doctor(target, settings_path, control_url, as_json)


def doctor(target: AwsTarget, settings_path: Path, control_url: str, as_json: bool) -> None:
    """``nicelist doctor`` and its alias ``nicelist deploy check``."""
    with aws_errors():
        report = run_doctor(target, settings_path, control_url)
    emit(report.as_dict(), as_json=as_json, lines=report.lines())
    if report.findings:
        raise SystemExit(1)
