"""The operator CLI, ``nicelist``. Each command lives in the module named for what it does;
this file only assembles them, so adding a command is one line in ``_COMMANDS``."""

from __future__ import annotations

import importlib

import click

# "module:attribute" of each click command or group, in the order --help lists them.
_COMMANDS: list[str] = [
    "nicelist.demo.command:up",
    "nicelist.demo.command:demo",
    "nicelist.local.tune:tune",
    "nicelist.provision:provision_command",
    "nicelist.status:status_command",
    "nicelist.rate:rate_command",
    "nicelist.dlq:dlq_group",
    "nicelist.deploy:deploy_group",
    "producers.sendfile:send",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nicelist")
def main() -> None:
    """nicelist: SQS in front of DynamoDB, so a spike becomes a delay, never a loss."""


for _path in _COMMANDS:
    _module, _attribute = _path.split(":")
    main.add_command(getattr(importlib.import_module(_module), _attribute))
