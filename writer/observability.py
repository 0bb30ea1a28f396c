"""Powertools Logger (JSON) and Metrics (EMF) for the writer: what ``zappa tail`` and CloudWatch show.

Logs carry counts, message ids and reasons, never update bodies or coordinates (at any level
the writer uses). Metrics go out as EMF in the function's log stream, one document per invocation.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "nicelist-writer"
NAMESPACE = "nicelist"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics"]
