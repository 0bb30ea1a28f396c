"""The write-rate parameter as operator commands read, show and write it: a number (W, WCU/s) or
``auto[:F]`` (``writer.autorate``: the writers derive W from the table), one grammar for the writer,
``nicelist tune``, ``nicelist up``/``demo`` and ``nicelist status``."""

from __future__ import annotations

from typing import Any

import click
from botocore.exceptions import ClientError

from nicelist.console import error_code
from nicelist.resources import format_rate
from writer.autorate import (
    AutoRate,
    FixedRate,
    InvalidWriteRate,
    RateSpec,
    TableThroughput,
    auto_rate,
    parse_write_rate,
)


class WriteRateType(click.ParamType[RateSpec]):
    """``--write-rate N`` or ``--write-rate auto[:F]``, parsed with the writer's own grammar."""

    name = "WCU|auto[:F]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> RateSpec:
        if isinstance(value, FixedRate | AutoRate):
            return value
        try:
            return parse_write_rate(str(value))
        except InvalidWriteRate as error:
            self.fail(str(error), param, ctx)


WRITE_RATE = WriteRateType()


def table_throughput(dynamodb: Any, table: str) -> TableThroughput | None:
    """The table's write throughput as the writers read it in auto mode; None when the table is missing."""
    try:
        return TableThroughput.from_description(dynamodb.describe_table(TableName=table)["Table"])
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return None


def read_write_rate(text: str | None, throughput: TableThroughput | None) -> tuple[float | None, float | None]:
    """``(W, F)`` from the parameter's text: W in WCU/s as the writers compute it (None: unknown or
    no parameter), F the auto fraction (None: W is a number). A value the writers refuse reads as absent."""
    if text is None:
        return None, None
    try:
        spec = parse_write_rate(text)
    except InvalidWriteRate:
        return None, None
    if isinstance(spec, FixedRate):
        return spec.wcu, None
    return (None if throughput is None else auto_rate(spec, throughput)), spec.fraction


def parameter_text(value: Any) -> str:
    """What a write-rate step writes: ``auto[:F]`` as given, a number as an operator would type it."""
    return value if isinstance(value, str) else format_rate(float(value))


def shown(rate: float | None, fraction: float | None) -> str:
    """``380`` or ``auto (0.95 x 400 WCU = 380)``."""
    if fraction is None:
        return "none" if rate is None else format_rate(rate)
    if rate is None:
        return f"auto ({fraction:g} x the table's capacity, unknown)"
    return f"auto ({fraction:g} x {round(rate / fraction)} WCU = {format_rate(rate)})"


def auto_text(fraction: float) -> str:
    return str(AutoRate(fraction))
