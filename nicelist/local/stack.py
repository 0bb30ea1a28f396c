"""The local stack (docs/design.md, "The local stack"): embedded AWS, the meter, the enqueue API and the writer runtime.

Start order is dependency order, stop order its reverse, and every child process is stopped
even when start-up fails half-way or the user presses Ctrl-C. Nothing here needs Docker or an
AWS account: moto server is the AWS, and every boto3 client of the stack is pointed at it with
fixed dummy credentials, so real credentials in the shell are never sent anywhere.

A health watcher (``nicelist/local/health.py``) probes the paths the processes use and reports
when one goes away and comes back. For the fault suite the API can reach SQS through a line that
can be cut (``cut_sqs_line``, ``nicelist/local/cutline.py``), and the meter takes injected faults
(``inject``). moto keeps everything in memory: if moto itself dies, the queues and the table are
gone; nothing here pretends otherwise.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import urllib3
from botocore.config import Config

from contract.delivery import min_visibility_timeout
from contract.names import StageNames
from nicelist.alarms import AlarmThresholds
from nicelist.autoscaling import AutoScaling
from nicelist.local.alarm_eval import AlarmEvaluator
from nicelist.local.cloudwatch import MetricSink, StackMetrics, WatchedQueue
from nicelist.local.config import RuntimeConfig, Tuning
from nicelist.local.control import DEFAULT_CONTROL_PORT
from nicelist.local.cutline import CutLine
from nicelist.local.emulator import CloudWatchEmulator
from nicelist.local.health import HealthEvent, HealthWatcher, Probe, aws_check, http_check
from nicelist.local.meter.core import DEFAULT_BURST_SECONDS
from nicelist.local.notifications import LOG_NAME, Notification, NotificationInbox
from nicelist.local.processes import (
    ChildProcess,
    StartupError,
    claim_run_dir,
    port_is_free,
    python_module,
    release_run_dir,
    rotate_logs,
)
from nicelist.local.queue_age import QueueAgeTracker
from nicelist.local.ramp import parse_ramp
from nicelist.local.runtime import WriterRuntime
from nicelist.options import LOCAL_CREDENTIALS, LOCAL_REGION, local_session
from nicelist.provision import Clients, ProvisionOptions, ProvisionResult, provision_stage
from writer.autorate import AutoRate

REGION = LOCAL_REGION
# The writers' default budget as a share of the table's capacity: 3 % headroom for the jitter of
# requests arriving at the table (measured: 0.97 keeps throttles to ~1.5 % of units, see README).
BUDGET_SHARE = 0.97
# Probes must answer quickly and say what failed, not retry it away.
PROBE_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1})
RETURN_CAP_SECONDS = 300  # the writer's own default cap on how long a returned message waits
MOTO_HINT = "moto keeps its state in memory: if it restarted, the queues and the table are gone"


@dataclass(frozen=True, slots=True)
class StackConfig:
    """What ``nicelist up`` and ``nicelist demo`` may change. Defaults fit this 2-core machine."""

    stage: str = "local"
    host: str = "127.0.0.1"
    moto_port: int = 4566
    meter_port: int = 4567
    api_port: int = 8080
    control_port: int = DEFAULT_CONTROL_PORT  # the writer runtime's tuning endpoint (`nicelist tune`)
    api_key: str = "local-dev-key"
    api_workers: int = 2
    api_threads: int = 8
    capacity: int = 100  # the table's provisioned WCU, enforced by the meter
    write_rate: float | None = None  # the writers' budget W; None: 0.97 x capacity (see README)
    enforce: bool = True
    burst_seconds: float = DEFAULT_BURST_SECONDS  # the meter's burst credit: DynamoDB's 300 s; 0 is strict
    concurrency: int = 2  # reserved concurrency = the mapping's maximum concurrency
    batch_size: int = 10
    batching_window: float = 0.0
    writer_timeout: int = 30
    run_dir: Path = field(default_factory=lambda: Path("runs/local"))
    watch_health: bool = True  # probe moto, DynamoDB (through the meter) and SQS (as the API reaches it)
    cut_sqs_line: bool = False  # the API reaches SQS through a CutLine the fault suite can cut
    writer_environment: tuple[tuple[str, str], ...] = ()  # extra variables for the writer executions
    # Local CloudWatch (nicelist/local/emulator.py): AWS's metrics, alarm evaluation, notifications.
    cloudwatch: bool = True
    alarm_period: int = 10  # every alarm's Period: AWS's 60 s compressed (nicelist/alarms.py)
    queue_age_alarm: int = 900  # the queue-age alarm's threshold, seconds (AWS's default)
    # Lambda's poller scaling, emulated (nicelist/local/ramp.py): off | aws | provisioned:MIN:MAX |
    # INITIAL:PER_MINUTE, each "minute" lasting poller_ramp_minute seconds (the time factor).
    poller_ramp: str = "off"
    poller_ramp_minute: float = 60.0
    # -- auto scaling (docs/design.md, "The local stack"): the table scales, the writers follow --
    autoscale: AutoScaling | None = None  # DynamoDB auto scaling of the stage's table, emulated by the meter
    time_factor: float = 1.0  # the meter's auto scaling runs this much faster than real time
    auto_write_rate: AutoRate | None = None  # the write-rate parameter says auto[:F] (W follows the table)

    @property
    def budget(self) -> float:
        return self.write_rate if self.write_rate is not None else round(self.capacity * BUDGET_SHARE, 1)


class LocalStack:
    """Everything of one stage on this machine; a context manager that always cleans up."""

    def __init__(
        self,
        config: StackConfig,
        extra_stages: Sequence[str] = (),
        *,
        on_health: Callable[[HealthEvent], None] | None = None,
        observe_runtime_sqs: Callable[[Any], None] | None = None,
        on_notification: Callable[[Notification], None] | None = None,
    ) -> None:
        """``extra_stages``: more stages on the same embedded AWS (the demo's direct-write table).

        ``on_health`` gets every health event (``nicelist up`` prints them); ``observe_runtime_sqs``
        gets the writer runtime's SQS client before it starts (the fault suite hooks its calls to
        time redeliveries); ``on_notification`` every alarm notification (``nicelist up`` prints them).
        """
        self.config = config
        self.extra_stages = list(extra_stages)
        self.names = StageNames(config.stage)
        self.provisioned: ProvisionResult | None = None
        self.runtime: WriterRuntime | None = None
        self.health: HealthWatcher | None = None
        self.sqs_line: CutLine | None = None
        self._on_health = on_health
        self._observe_runtime_sqs = observe_runtime_sqs
        self._children: list[ChildProcess] = []
        self.cloudwatch: CloudWatchEmulator | None = None
        self._on_notification = on_notification
        self._stages: list[ProvisionResult] = []

    # -- where things are -------------------------------------------------------------------
    @property
    def aws_url(self) -> str:
        return f"http://{self.config.host}:{self.config.moto_port}"

    @property
    def dynamodb_url(self) -> str:
        """DynamoDB as the writers see it: through the meter."""
        return f"http://{self.config.host}:{self.config.meter_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.config.host}:{self.config.api_port}"

    def session(self) -> boto3.Session:
        return local_session(REGION)

    def client(self, service: str, *, metered: bool = False, config: Config | None = None) -> Any:
        url = self.dynamodb_url if metered and service == "dynamodb" else self.aws_url
        return self.session().client(service, endpoint_url=url, config=config)  # type: ignore[call-overload]

    def aws_env(self) -> dict[str, str]:
        """Environment for a process of the stack: moto for everything, the meter for DynamoDB."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "NICELIST_STAGE": self.config.stage,
        }

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._check_ports()
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        claim_run_dir(self.config.run_dir)
        rotate_logs(self.config.run_dir)  # one run per log: the last run's are kept as *.previous.log
        self._start_child(
            "moto",
            python_module("nicelist.local.moto_server", "-H", self.config.host, "-p", str(self.config.moto_port)),
            self.config.moto_port,
        )
        self._start_child("meter", self._meter_argv(), self.config.meter_port)
        clients = Clients.create(self.session(), endpoint_url=self.aws_url)
        options = ProvisionOptions(
            write_capacity=self.config.capacity,
            write_rate=self.config.budget,
            writer_timeout=self.config.writer_timeout,
            thresholds=AlarmThresholds(self.config.queue_age_alarm, self.config.alarm_period),
        )
        self.provisioned = provision_stage(
            self.config.stage, clients, replace(options, autoscale=self.config.autoscale)
        )
        self._stages = [self.provisioned, *(provision_stage(stage, clients, options) for stage in self.extra_stages)]
        if self.config.auto_write_rate is not None:  # write rate auto: the writers derive W from the table
            clients.ssm.put_parameter(
                Name=self.names.write_rate_parameter,
                Value=str(self.config.auto_write_rate),
                Type="String",
                Overwrite=True,
            )
        if self.config.cut_sqs_line:
            self.sqs_line = CutLine(self.config.host, self.config.moto_port, host=self.config.host).start()
        self._start_child("api", self._api_argv(), self.config.api_port, env=self._api_env())
        self._share_concurrency(self.config.concurrency)
        runtime_sqs = self.client("sqs")
        if self._observe_runtime_sqs is not None:
            self._observe_runtime_sqs(runtime_sqs)
        tracker = QueueAgeTracker(time.time(), forget_after=min_visibility_timeout(self.config.writer_timeout) + 30)
        if self.config.cloudwatch:
            tracker.attach(runtime_sqs, time.time)
        self.runtime = WriterRuntime(
            self._runtime_config(),
            sqs_client=runtime_sqs,
            on_tune=lambda tuning: self._share_concurrency(tuning.effective_concurrency),
        )
        self.runtime.start()
        if self.config.cloudwatch:
            self.cloudwatch = self._cloudwatch(tracker).start()
        if self.config.watch_health:
            self.health = HealthWatcher(self._probes(), on_event=self._on_health).start()

    def _probes(self) -> list[Probe]:
        """Each dependency as the stack's processes reach it."""
        assert self.provisioned is not None
        provisioned = self.provisioned
        sqs = self.client("sqs", config=PROBE_CONFIG)
        dynamodb = self.client("dynamodb", metered=True, config=PROBE_CONFIG)
        return [
            Probe(
                "embedded AWS (moto)",
                aws_check(
                    lambda: sqs.get_queue_attributes(QueueUrl=provisioned.queue_url, AttributeNames=["QueueArn"])
                ),
                hint=MOTO_HINT,
            ),
            Probe("DynamoDB (meter)", aws_check(lambda: dynamodb.describe_table(TableName=provisioned.table_name))),
            Probe("SQS from the enqueue API", http_check(f"{self.api_url}/v1/health")),
        ]

    def inject(self, **faults: Any) -> dict[str, Any]:
        """Set the meter's injected faults (``PUT /_meter/faults``); returns what is now in force."""
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(5))
        response = http.request("PUT", f"{self.dynamodb_url}/_meter/faults", body=json.dumps(faults).encode())
        answer: dict[str, Any] = json.loads(response.data)
        if response.status != 200:
            raise ValueError(answer.get("message", f"meter answered {response.status}"))
        return answer

    def _share_concurrency(self, executions: int) -> None:
        """Tell the writers how many of them share the budget (they read it beside the write rate)."""
        self.client("ssm").put_parameter(
            Name=self.names.writer_concurrency_parameter, Value=str(max(1, executions)), Type="String", Overwrite=True
        )

    def _cloudwatch(self, tracker: QueueAgeTracker) -> CloudWatchEmulator:
        """Metrics of every stage's queues, the meter's tables and the writer; alarms; the inbox."""
        sqs = self.client("sqs")
        runtime = self.runtime
        queues = [WatchedQueue(self.names.queue, self.provisioned.queue_url, tracker)] if self.provisioned else []
        queues += [WatchedQueue(StageNames(r.stage).dlq, r.dlq_url) for r in self._stages]
        queues += [WatchedQueue(StageNames(r.stage).queue, r.queue_url) for r in self._stages[1:]]
        metrics = StackMetrics(
            MetricSink(self.client("cloudwatch")),
            sqs,
            queues,
            meter_url=self.dynamodb_url,
            function_name=self.names.writer_function,
            runtime_stats=None if runtime is None else runtime.stats,
            emf_log=self.config.run_dir / "writer.log",
        )
        inbox = NotificationInbox(sqs, self.client("sns"), self.config.run_dir / LOG_NAME, self._on_notification)
        for result in self._stages:
            inbox.subscribe(result.stage, result.topic_arn)
        evaluator = AlarmEvaluator(self.client("cloudwatch"), self.client("sns"), REGION)
        return CloudWatchEmulator(metrics, evaluator, inbox)

    def stop(self) -> None:
        release_run_dir(self.config.run_dir)
        cloudwatch, self.cloudwatch = self.cloudwatch, None
        if cloudwatch is not None:
            cloudwatch.stop()
        health, self.health = self.health, None
        if health is not None:
            health.stop()
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.stop()
        while self._children:
            self._children.pop().stop()
        line, self.sqs_line = self.sqs_line, None
        if line is not None:
            line.stop()

    def _check_ports(self) -> None:
        config = self.config
        ports = (config.moto_port, config.meter_port, config.api_port, config.control_port)
        busy = [p for p in ports if not port_is_free(config.host, p)]
        if busy:
            raise StartupError(
                f"port(s) {', '.join(map(str, busy))} on {config.host} are in use "
                "(another `nicelist up`?); stop it or pass other ports"
            )

    def _start_child(self, name: str, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        child = ChildProcess(name, argv, self.config.run_dir, env={**os.environ, **self.aws_env(), **(env or {})})
        self._children.append(child)
        child.start(port=port, host=self.config.host)

    def _meter_argv(self) -> list[str]:
        config = self.config
        args = [
            "--upstream", self.aws_url, "--host", config.host, "--port", str(config.meter_port),
            "--burst-seconds", f"{config.burst_seconds:g}",
        ]  # fmt: skip
        for stage in [config.stage, *self.extra_stages]:
            if stage == config.stage and config.autoscale is not None:
                continue  # auto-scaled: the meter enforces what the table states, as auto scaling changes it
            args += ["--capacity", f"{StageNames(stage).table}={config.capacity}"]
        if config.autoscale is not None:
            args += ["--autoscaling", "--time-factor", f"{config.time_factor:g}"]
        if not config.enforce:
            args.append("--no-enforce")
        return python_module("nicelist.local.meter", *args)

    def _api_argv(self) -> list[str]:
        config = self.config
        return python_module(
            "producers.serve",
            "--host", config.host, "--port", str(config.api_port),
            "--workers", str(config.api_workers), "--threads", str(config.api_threads),
        )  # fmt: skip

    def _api_env(self) -> dict[str, str]:
        assert self.provisioned is not None
        env = {
            "NICELIST_API_KEYS": self.config.api_key,
            "NICELIST_QUEUE_URL": self.provisioned.queue_url,
        }
        if self.sqs_line is not None:
            env["AWS_ENDPOINT_URL_SQS"] = self.sqs_line.url
        return env

    def _runtime_config(self) -> RuntimeConfig:
        assert self.provisioned is not None
        config = self.config
        return_cap = min(RETURN_CAP_SECONDS, min_visibility_timeout(config.writer_timeout))
        environment = {
            **self.aws_env(),
            "NICELIST_CONCURRENCY": str(config.concurrency),
            "NICELIST_DLQ_URL": self.provisioned.dlq_url,
            "NICELIST_QUEUE_URL": self.provisioned.queue_url,
            "POWERTOOLS_METRICS_NAMESPACE": "nicelist",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # The writer's guidance: returned messages wait at most the queue's visibility timeout (its
            # default cap of 300 s exceeds the 6 x 30 s of this stack, and far exceeds the fault suite's).
            "NICELIST_RETURN_BACKOFF_CAP_SECONDS": str(return_cap),
            **dict(config.writer_environment),
        }
        return RuntimeConfig(
            queue_url=self.provisioned.queue_url,
            tuning=Tuning(
                reserved_concurrency=config.concurrency,
                maximum_concurrency=config.concurrency,
                batch_size=config.batch_size,
                batching_window_seconds=config.batching_window,
            ),
            timeout_seconds=float(config.writer_timeout),
            memory_mb=256,
            environment=environment,
            endpoint_url=self.aws_url,
            region=REGION,
            function_name=self.names.writer_function,
            control_port=config.control_port,
            log_path=config.run_dir / "writer.log",
            poller_ramp=parse_ramp(config.poller_ramp, config.poller_ramp_minute),  # issue 13: the ramp
        )
