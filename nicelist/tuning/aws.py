"""A deployed stage as ``nicelist tune`` sees it: the writer function's reserved concurrency, its SQS
mapping, the two SSM parameters the writers read, the table and the queue.

Reading and writing go through the same clients moto and AWS answer, so tests fake a deployed stage
with moto (tests/functional/test_deploy.py shows how)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from contract.names import StageNames
from nicelist.console import error_code
from nicelist.mapping import find_mappings, reserved_concurrency
from nicelist.options import AwsTarget
from nicelist.rate import table_write_capacity
from nicelist.resources import find_queue_url
from nicelist.tuning.model import LiveStage, Pollers, StageFacts, StageTuning, StageUnavailable
from nicelist.tuning.order import Step
from nicelist.writerate import parameter_text, read_write_rate, table_throughput
from writer.autorate import TableThroughput
from writer.settings import WriterSettings

# How long a writer keeps W and C before re-reading them, unless its environment says otherwise.
DEFAULT_CACHE_SECONDS = float(WriterSettings.model_fields["write_rate_cache_seconds"].default)
# What the writers divide W by when neither the parameter nor NICELIST_CONCURRENCY is set.
DEFAULT_WRITER_CONCURRENCY = int(WriterSettings.model_fields["concurrency"].default)
BACKLOG_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")


def parameter(ssm: Any, name: str) -> str | None:
    """An SSM parameter's value, or None when it does not exist."""
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
        return None


def put_parameter(ssm: Any, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def queue_attributes(sqs: Any, name: str) -> dict[str, str]:
    """All attributes of the queue, or {} when there is no such queue."""
    url = find_queue_url(sqs, name)
    if url is None:
        return {}
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def backlog(attributes: dict[str, str]) -> int | None:
    if not attributes:
        return None
    return sum(int(attributes.get(key, 0)) for key in BACKLOG_ATTRIBUTES)


def table_capacity(dynamodb: Any, table: str) -> int | None:
    """Provisioned WCU, or None when on-demand or when the table is missing (the doctor reports that)."""
    try:
        return table_write_capacity(dynamodb, table)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return None


def _number(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _pollers(mapping: dict[str, Any]) -> Pollers | None:
    config = mapping.get("ProvisionedPollerConfig") or {}
    if not config:
        return None
    return Pollers(int(config.get("MinimumPollers", 2)), int(config.get("MaximumPollers", 200)))


class AwsStage:
    """The backend of ``nicelist tune`` (and the doctor's tuning checks) for a zappa-deployed stage."""

    def __init__(self, target: AwsTarget, client: Callable[[str], Any] | None = None) -> None:
        """``client``: makes a client for a service name (default: the target's own)."""
        client = client or target.client
        self.stage = target.stage
        self.names = StageNames(target.stage)
        self._lambda = client("lambda")
        self._sqs = client("sqs")
        self._ssm = client("ssm")
        self._dynamodb = client("dynamodb")
        self._mapping_id: str | None = None

    def _writer(self) -> dict[str, Any]:
        try:
            configuration: dict[str, Any] = self._lambda.get_function_configuration(
                FunctionName=self.names.writer_function
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise StageUnavailable(
                    f"{self.names.writer_function} does not exist: `zappa deploy {self.stage}_writer` first"
                ) from error
            raise
        return configuration

    def read(self) -> LiveStage:
        configuration = self._writer()
        variables = configuration.get("Environment", {}).get("Variables", {})
        queue = queue_attributes(self._sqs, self.names.queue)
        mappings = find_mappings(self._lambda, self.names.writer_function, queue["QueueArn"]) if queue else []
        mapping = mappings[0] if mappings else {}
        self._mapping_id = mapping.get("UUID")
        tuning = StageTuning(
            reserved=reserved_concurrency(self._lambda, self.names.writer_function),
            maximum=(mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            pollers=_pollers(mapping),
            writer_concurrency=self._writer_concurrency(variables),
            batch_size=mapping.get("BatchSize"),
            batching_window=mapping.get("MaximumBatchingWindowInSeconds", 0) if mapping else None,
        )
        throughput = table_throughput(self._dynamodb, self.names.table)
        tuning = with_write_rate(tuning, parameter(self._ssm, self.names.write_rate_parameter), throughput)
        cache = _number(variables.get("NICELIST_WRITE_RATE_CACHE_SECONDS"))
        facts = StageFacts(
            stage=self.stage,
            deployed=True,
            writer_timeout=int(configuration["Timeout"]),
            cache_seconds=DEFAULT_CACHE_SECONDS if cache is None else cache,
            table_capacity=table_capacity(self._dynamodb, self.names.table),
            table_ceiling=None if throughput is None else throughput.ceiling,
            visibility_timeout=int(queue["VisibilityTimeout"]) if queue else None,
            backlog=backlog(queue),
            mapping_ids=tuple(m["UUID"] for m in mappings),
        )
        return LiveStage(tuning, facts)

    def _writer_concurrency(self, variables: dict[str, str]) -> int | None:
        """What the writers divide W by: the parameter, else their NICELIST_CONCURRENCY, else 1."""
        value = parameter(self._ssm, self.names.writer_concurrency_parameter)
        value = value or variables.get("NICELIST_CONCURRENCY") or str(DEFAULT_WRITER_CONCURRENCY)
        number = _number(value)
        return None if number is None else int(number)

    def prepare(self, steps: list[Step]) -> list[Step]:
        return steps

    def apply(self, step: Step) -> None:
        if step.action == "write-rate":
            put_parameter(self._ssm, self.names.write_rate_parameter, parameter_text(step.after))
        elif step.action == "writer-concurrency":
            put_parameter(self._ssm, self.names.writer_concurrency_parameter, str(step.after))
        elif step.action == "reserved":
            self._lambda.put_function_concurrency(
                FunctionName=self.names.writer_function, ReservedConcurrentExecutions=int(step.after)
            )
        elif step.action == "mapping":
            if self._mapping_id is None:
                raise StageUnavailable("no mapping to update: run `nicelist deploy configure` first")
            self._lambda.update_event_source_mapping(UUID=self._mapping_id, **mapping_arguments(step.after))
        else:
            raise ValueError(f"unknown step {step.action!r}")


def with_write_rate(tuning: StageTuning, text: str | None, throughput: TableThroughput | None) -> StageTuning:
    """The tuning with W (and the auto fraction) as the parameter's text gives them (``nicelist.writerate``)."""
    rate, fraction = read_write_rate(text, throughput)
    return dataclasses.replace(tuning, write_rate=rate, write_rate_auto=fraction)


def mapping_arguments(after: dict[str, Any]) -> dict[str, Any]:
    """UpdateEventSourceMapping arguments for the fields that change. Switching modes clears the other
    one in the same call (an empty ScalingConfig is AWS's documented removal; an empty
    ProvisionedPollerConfig is assumed to be the same, see docs/tuning.md)."""
    arguments: dict[str, Any] = {}
    if "batch_size" in after:
        arguments["BatchSize"] = int(after["batch_size"])
    if "batching_window" in after:
        arguments["MaximumBatchingWindowInSeconds"] = int(after["batching_window"])
    if "maximum" in after:
        maximum = after["maximum"]
        arguments["ScalingConfig"] = {} if maximum is None else {"MaximumConcurrency": int(maximum)}
    if "pollers" in after:
        pollers = after["pollers"]
        if pollers is None:
            arguments["ProvisionedPollerConfig"] = {}
        else:
            parsed = Pollers.parse(str(pollers))
            arguments["ProvisionedPollerConfig"] = {
                "MinimumPollers": parsed.minimum,
                "MaximumPollers": parsed.maximum,
            }
    return arguments
