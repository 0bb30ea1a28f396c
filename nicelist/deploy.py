"""``nicelist deploy``: the steps around ``zappa deploy/update`` that zappa does not do.

Order on AWS: ``nicelist provision`` → ``nicelist deploy policy`` (create the two roles) →
``zappa deploy <env>_api`` and ``<env>_writer`` → ``nicelist deploy configure`` →
``nicelist doctor`` (``deploy check`` is its alias). Re-run ``configure`` and the doctor after every
``zappa update``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nicelist.console import aws_errors, emit
from nicelist.doctor import doctor, doctor_options
from nicelist.mapping import DeployError, MappingSettings, configure_mapping
from nicelist.options import AwsTarget, aws_options
from nicelist.policies import PolicyTarget, apply_roles, render_policies


@click.group("deploy")
def deploy_group() -> None:
    """Post-deploy configuration, checks and IAM policies for a zappa-deployed stage."""


@deploy_group.command("configure")
@aws_options
@click.option("--batch-size", type=click.IntRange(1, 10000), default=MappingSettings().batch_size, show_default=True)
@click.option(
    "--batching-window",
    type=click.IntRange(0, 300),
    default=MappingSettings().batching_window,
    show_default=True,
    help="MaximumBatchingWindowInSeconds (>= 1 when batch size > 10; the queue's visibility must then "
    "be >= 6 x the writer's timeout + it).",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(min=2),
    default=None,
    help="Mapping's MaximumConcurrency (default: the writer's NICELIST_CONCURRENCY).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def configure_command(
    target: AwsTarget, batch_size: int, batching_window: int, max_concurrency: int | None, as_json: bool
) -> None:
    """Create or fix the writer's SQS mapping: ReportBatchItemFailures, MaximumConcurrency, batching."""
    if batch_size > 10 and batching_window < 1:
        raise click.UsageError("--batching-window must be >= 1 when --batch-size > 10 (an AWS rule)")
    settings = MappingSettings(batch_size, batching_window, max_concurrency)
    with aws_errors():
        try:
            result = configure_mapping(
                target.client("lambda"), target.client("sqs"), target.client("ssm"), target.stage, settings
            )
        except DeployError as error:
            raise click.ClickException(str(error)) from error
    line = f"{result['action']} mapping {result['uuid']} (maximum concurrency {result['maximum_concurrency']})"
    emit(result, as_json=as_json, lines=[line])


@deploy_group.command("check")
@doctor_options
def check_command(target: AwsTarget, settings_path: Path, control_url: str, as_json: bool) -> None:
    """Alias of `nicelist doctor`: the settings file and the live stage against every known trap."""
    doctor(target, settings_path, control_url, as_json)


@deploy_group.command("policy")
@aws_options
@click.option("--account", default=None, help="Account id (default: from STS).")
@click.option("--partition", default=None, help="aws, aws-cn, aws-us-gov (default: from STS).")
@click.option("--apply", is_flag=True, help="Also create the two roles and write their inline policies.")
def policy_command(target: AwsTarget, account: str | None, partition: str | None, apply: bool) -> None:
    """Print the writer's and the API's least-privilege IAM roles and policies as JSON (--apply: create them)."""
    region = target.region or target.session().region_name
    if not region:
        raise click.UsageError("no region: pass --region or configure one")
    if account is None or partition is None:
        with aws_errors():
            caller = PolicyTarget.from_caller(target.client("sts"), target.stage, region)
        account, partition = account or caller.account, partition or caller.partition
    policies = render_policies(PolicyTarget(target.stage, account, region, partition))
    if apply:
        with aws_errors():
            applied = apply_roles(target.client("iam"), policies)
        policies = {**policies, "applied": applied}
    click.echo(json.dumps(policies, indent=2))
