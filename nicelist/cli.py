"""The operator CLI, ``nicelist``. Each command lives in the module named for what it does;
this file only assembles them, in the order ``--help`` lists them."""

from __future__ import annotations

import click

from nicelist.bench.command import bench
from nicelist.demo.command import demo, up
from nicelist.deploy import deploy_group
from nicelist.dlq import dlq_group
from nicelist.doctor import doctor_command
from nicelist.get import get_command
from nicelist.logs import logs_command
from nicelist.plan import plan_command
from nicelist.provision import provision_command
from nicelist.rate import rate_command
from nicelist.send import send
from nicelist.status import status_command
from nicelist.tuning.command import tune_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nicelist")
def main() -> None:
    """nicelist: SQS in front of DynamoDB, so a spike becomes a delay, never a loss."""


for _command in (
    up,
    demo,
    provision_command,
    status_command,
    doctor_command,
    plan_command,
    bench,
    tune_command,
    rate_command,
    dlq_group,
    get_command,
    logs_command,
    deploy_group,
    send,
):
    main.add_command(_command)
