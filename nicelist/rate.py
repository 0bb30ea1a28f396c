"""``nicelist rate``: read or set the table-wide drain rate (SSM ``/nicelist/<stage>/write-rate``).

Writers re-read the parameter every few seconds, so an operator can speed the drain up or
slow it down during a peak without a redeploy."""

from __future__ import annotations

from typing import Any

import click
from botocore.exceptions import ClientError

from contract.names import StageNames
from nicelist.console import aws_errors, emit, error_code
from nicelist.options import AwsTarget, aws_options
from nicelist.resources import format_rate


def _parse(value: str) -> float | None:
    if value == "get":
        return None
    try:
        rate = float(value)
    except ValueError:
        raise click.BadParameter("expected 'get' or a number of WCU/s", param_hint="VALUE") from None
    if not rate > 0 or rate == float("inf"):
        raise click.BadParameter("the rate must be a positive number", param_hint="VALUE")
    return rate


def table_write_capacity(dynamodb: Any, table: str) -> int | None:
    """Provisioned WCU of the table, or None when on-demand."""
    description = dynamodb.describe_table(TableName=table)["Table"]
    if description.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST":
        return None
    return int(description["ProvisionedThroughput"]["WriteCapacityUnits"])


@click.command("rate")
@aws_options
@click.argument("value", default="get", metavar="[get|WCU_PER_SECOND]")
@click.option("--force", is_flag=True, help="Allow a rate above the table's provisioned WCU.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rate_command(target: AwsTarget, value: str, force: bool, as_json: bool) -> None:
    """Show the drain rate (`nicelist rate`) or set it (`nicelist rate 250`), in WCU/s."""
    rate = _parse(value)
    names = StageNames(target.stage)
    ssm = target.client("ssm")
    with aws_errors():
        try:
            previous: str | None = ssm.get_parameter(Name=names.write_rate_parameter)["Parameter"]["Value"]
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
            previous = None
        if rate is None:
            if previous is None:
                raise click.ClickException(f"{names.write_rate_parameter} is missing: run `nicelist provision`")
            if previous.startswith("auto"):  # write rate auto (nicelist.writerate): W follows the table
                emit({"parameter": names.write_rate_parameter, "rate": previous}, as_json=as_json, lines=[previous])
                return
            emit(
                {"parameter": names.write_rate_parameter, "rate": float(previous)},
                as_json=as_json,
                lines=[f"{previous} WCU/s"],
            )
            return
        capacity = table_write_capacity(target.client("dynamodb"), names.table)
        if capacity is not None and rate > capacity and not force:
            raise click.ClickException(
                f"{format_rate(rate)} WCU/s exceeds the table's {capacity} WCU: writes would throttle "
                "(raise the table's capacity first, or pass --force)"
            )
        ssm.put_parameter(Name=names.write_rate_parameter, Value=format_rate(rate), Type="String", Overwrite=True)
    emit(
        {"parameter": names.write_rate_parameter, "rate": rate, "previous": previous},
        as_json=as_json,
        lines=[f"{previous} -> {format_rate(rate)} WCU/s (writers pick it up within seconds)"],
    )
