"""The writer's EMF documents as CloudWatch reads them (docs/design.md, "The local stack").

On AWS, CloudWatch Logs extracts metrics from every log event that is an Embedded Metric Format
document (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html);
locally the writer's Powertools documents land in ``writer.log`` and ``parse_document`` turns each into
``put_metric_data`` entries. The input is a log line, so hostile: strict JSON (``contract.jsonio``),
bounded in size, and a document breaking the specification's rules yields no metric at all, as
CloudWatch rejects it:

- ``_aws.Timestamp``: epoch milliseconds (an integer); ``_aws.CloudWatchMetrics``: a list of directives,
  each with a ``Namespace`` (1-255 characters), ``Dimensions`` (a list of dimension sets, each a list of
  at most 30 member names whose root values are strings of 1-1024 characters) and ``Metrics`` (at most
  100, each a ``Name`` of 1-255 characters, optional ``Unit`` and ``StorageResolution`` 1 or 60);
- each metric's value is the root member of its name: a number, or a list of at most 100 numbers.

Values that are not finite numbers are dropped, and so is a unit CloudWatch does not know. The
timestamp is floored to the second: the local CloudWatch's resolution (``nicelist.local.alarm_eval``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from contract.jsonio import BadJson, loads

MAX_LINE_CHARS = 256 * 1024
MAX_METRICS = 100
MAX_DIMENSIONS = 30
MAX_VALUES = 100
_UNITS = frozenset(
    [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ]
)
Datum = dict[str, Any]


class InvalidDocument(ValueError):
    """Not an EMF document CloudWatch would accept (the message never quotes the line)."""


def parse_line(text: str) -> list[tuple[str, Datum]]:
    """``[(namespace, put_metric_data entry), ...]`` of one log line; [] for a line that is no EMF document."""
    text = text.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        return parse_document(text)
    except InvalidDocument:
        return []


def parse_document(text: str) -> list[tuple[str, Datum]]:
    if len(text) > MAX_LINE_CHARS:
        raise InvalidDocument("document too long")
    try:
        root = loads(text)
    except BadJson as error:
        raise InvalidDocument("not strict JSON") from error
    if not isinstance(root, dict) or not isinstance(root.get("_aws"), dict):
        raise InvalidDocument("no _aws object")
    meta = root["_aws"]
    stamp = meta.get("Timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 <= stamp < 253402300800000:
        raise InvalidDocument("_aws.Timestamp must be epoch milliseconds")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        raise InvalidDocument("_aws.CloudWatchMetrics must be a non-empty list")
    at = dt.datetime.fromtimestamp(stamp // 1000, dt.UTC)
    data = []
    for directive in directives:
        data += _directive(root, directive, at)
    return data


def _name(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= limit and value.isprintable()


def _directive(root: dict[str, Any], directive: Any, at: dt.datetime) -> list[tuple[str, Datum]]:
    if not isinstance(directive, dict) or not _name(directive.get("Namespace"), 255):
        raise InvalidDocument("a directive needs a Namespace")
    namespace = directive["Namespace"]
    if namespace.startswith("AWS/"):
        raise InvalidDocument("namespaces starting AWS/ are reserved")
    sets, metrics = directive.get("Dimensions"), directive.get("Metrics")
    if not isinstance(sets, list) or not isinstance(metrics, list) or len(metrics) > MAX_METRICS:
        raise InvalidDocument("Dimensions and Metrics must be lists, at most 100 metrics")
    dimension_sets = [_dimensions(root, names) for names in sets] or [[]]
    data = []
    for metric in metrics:
        if not isinstance(metric, dict) or not _name(metric.get("Name"), 255):
            raise InvalidDocument("a metric needs a Name")
        values = _values(root.get(metric["Name"]))
        if not values:
            continue
        datum: Datum = {"MetricName": metric["Name"], "Timestamp": at, "Values": values}
        if metric.get("Unit") in _UNITS:
            datum["Unit"] = metric["Unit"]
        datum["StorageResolution"] = 1 if metric.get("StorageResolution") == 1 else 60
        data += [(namespace, {**datum, "Dimensions": dimensions}) for dimensions in dimension_sets]
    return data


def _dimensions(root: dict[str, Any], names: Any) -> list[dict[str, str]]:
    if not isinstance(names, list) or len(names) > MAX_DIMENSIONS or len(set(map(str, names))) != len(names):
        raise InvalidDocument("a dimension set is a list of at most 30 distinct names")
    dimensions = []
    for name in names:
        value = root.get(name) if isinstance(name, str) else None
        if not _name(name, 255) or not _name(value, 1024):
            raise InvalidDocument("a dimension must name a string member")
        dimensions.append({"Name": name, "Value": value})
    return dimensions


def _values(value: Any) -> list[float]:
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_VALUES:
        raise InvalidDocument("at most 100 values per metric")
    return [
        float(v)
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 2**360 and math.isfinite(v)
    ]
