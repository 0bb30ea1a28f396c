"""The local writer runtime: Lambda's SQS event source mapping on one machine, against moto server.

Pollers (one per unit of the mapping's maximum concurrency, of which the poller ramp lets the first
``target`` poll: ``nicelist/local/ramp.py``, Lambda's documented scaling, off by default) gather
batches from the queue, invoke the handler in isolated execution processes
(``python -m nicelist.local.execution --name writer-exec-N``), and apply ``ReportBatchItemFailures``:
successes are deleted, reported failures and every message of a failed invocation (exception,
invalid response, timeout, dead process) are left alone and reappear when their visibility timeout
expires, one receive count higher, so the queue's own redrive policy moves them to the DLQ.
Invocations beyond the reserved concurrency are throttled: their batch is left invisible and comes
back later, the trap described in docs/design.md ("Known traps").

What it does NOT emulate:

- Lambda's backing off of its poller scaling on throttles and errors; the scaling itself is emulated
  when ``poller_ramp`` is set (``nicelist/local/ramp.py``), else the pollers are ``maximum_concurrency``
  from the start.
- Duplicate deliveries beyond those moto produces (SQS standard queues are at-least-once).
- The 6 MB synchronous invoke payload limit (Lambda cuts batches at 6 MB; here only the batch size
  and window do) and the 256 KiB event-size checks.
- Init duration and cold-start billing, SnapStart, provisioned concurrency, the 10 s init limit being
  retried inside the invocation, memory limits (``memory_mb`` is only reported), CPU scaling with memory,
  the /tmp size limit, and the account-level concurrency limit and burst limits.
- FIFO queues (message groups, ordering, ``MessageGroupId``/``SequenceNumber``), ``AWSTraceHeader``,
  event filtering, ``maximumRetryAttempts``/on-failure destinations (not supported for SQS anyway).
- Lambda's retry of a throttled invoke inside the poller before giving the batch back; here a
  throttled batch goes straight back to the queue (its messages still count a receive).
- CloudWatch metrics and logs: execution output goes to stderr or ``log_path``, stats stay local.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from nicelist.local.config import RuntimeConfig, Tuning
from nicelist.local.control import ControlServer
from nicelist.local.environment import ExecutionEnvironment, Outcome
from nicelist.local.events import InvalidBatchResponse, failed_message_ids, sqs_event
from nicelist.local.poller import Message, SqsQueue, gather
from nicelist.local.pool import ExecutionPool
from nicelist.local.ramp import RampTracker
from nicelist.local.stats import RuntimeStats, StatsSnapshot

LOG = logging.getLogger(__name__)
_RETRY_AFTER_SQS_ERROR = 1.0


def function_arn(queue_arn: str, function_name: str) -> str:
    """The function's ARN in the queue's partition, region and account (aws-cn works too)."""
    _, partition, _, region, account, _ = queue_arn.split(":", 5)
    return f"arn:{partition}:lambda:{region}:{account}:function:{function_name}"


def execution_env(config: RuntimeConfig, name: str, region: str) -> dict[str, str]:
    """The environment Lambda gives an execution, pointed at the configured endpoint."""
    env = dict(os.environ)
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=config.function_name,
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(config.memory_mb),
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{config.function_name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"{day}/[$LATEST]{name}",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.11",
        _HANDLER=config.handler,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
    )
    if config.endpoint_url:
        env["AWS_ENDPOINT_URL"] = config.endpoint_url
    paths = [*config.python_path, os.getcwd(), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    env.update(config.environment)
    return env


class WriterRuntime:
    """Start with ``start()`` or ``with WriterRuntime(config) as runtime:``; ``run()`` blocks until
    ``stop()`` (or Ctrl-C). ``stats()`` and ``tune()`` are safe from any thread."""

    def __init__(
        self,
        config: RuntimeConfig,
        *,
        sqs_client: Any | None = None,
        on_tune: Callable[[Tuning], None] | None = None,
    ) -> None:
        """``on_tune`` is called with every new tuning (the stack tells the writers their new share)."""
        self.config = config
        self._on_tune = on_tune
        self._client = sqs_client or boto3.client(
            "sqs",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            config=Config(max_pool_connections=64, retries={"mode": "standard"}),
        )
        self._region: str = config.region or self._client.meta.region_name
        self._queue = SqsQueue(self._client, config.queue_url)
        self._tuning = config.tuning
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._stats = RuntimeStats()
        self._log: IO[str] | None = None
        self._pollers: list[threading.Thread] = []
        self._pool = ExecutionPool(self._spawn, self._tuning.reserved_concurrency)
        self._control: ControlServer | None = None
        self._queue_arn = ""
        self._function_arn = ""
        self._ramp = RampTracker(config.poller_ramp, self._tuning.maximum_concurrency, time.time())

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._queue_arn = self._queue.arn()
        self._function_arn = function_arn(self._queue_arn, self.config.function_name)
        if self.config.log_path is not None:
            self._log = self.config.log_path.open("a", encoding="utf-8")
        if self.config.control_port is not None:
            self._control = ControlServer(self, self.config.control_port)
            self._control.start()
        self._add_pollers(self._tuning.maximum_concurrency)
        threading.Thread(target=self._sample, name="ramp-sampler", daemon=True).start()
        LOG.info(
            "writer runtime polling %s with %s, poller ramp %s",
            self.config.queue_url,
            self._tuning,
            self.config.poller_ramp.describe(),
        )

    def run(self) -> None:
        """Start (if needed) and block until ``stop()``; Ctrl-C stops gracefully."""
        if not self._pollers:
            self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            LOG.info("interrupted: letting in-flight invocations finish")
        finally:
            self.stop()

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling, let in-flight invocations finish (up to the function timeout), end executions."""
        self._stopping.set()
        if self._stopped.is_set():
            return
        try:
            self._pool.close(self.config.timeout_seconds + 1 if timeout is None else timeout)
        finally:
            self._stopped.set()
            if self._control is not None:
                self._control.stop()
            if self._log is not None:
                self._log.close()

    def __enter__(self) -> WriterRuntime:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- observation and control -----------------------------------------------------------------

    @property
    def tuning(self) -> Tuning:
        with self._lock:
            return self._tuning

    @property
    def control_url(self) -> str | None:
        return None if self._control is None else self._control.url

    def execution_pids(self) -> list[int]:
        return self._pool.pids()

    def stats(self) -> StatsSnapshot:
        tuning = self.tuning
        return self._stats.snapshot(
            concurrency=tuning.effective_concurrency,
            in_flight=self._pool.in_flight,
            executions=self._pool.size,
            replaced=self._pool.replaced,
            pollers=self._ramp.target(tuning.maximum_concurrency, time.time()),
        )

    def timeline(self) -> list[dict[str, int]]:
        """Per second: the pollers the ramp allowed and the peak of invocations in flight
        (``second`` is the epoch second, the meter's seconds; the ramp runs on the same clock)."""
        return self._ramp.timeline()

    def tune(self, **changes: Any) -> Tuning:
        """Change tuning live; scaling down lets in-flight invocations finish. ConfigError if invalid."""
        with self._lock:
            self._tuning = tuning = self._tuning.with_changes(changes)
        self._pool.resize(tuning.reserved_concurrency, keep=tuning.effective_concurrency)
        if self._pollers and not self._stopping.is_set():
            self._add_pollers(tuning.maximum_concurrency)
        LOG.info("writer runtime tuned: %s", tuning)
        if self._on_tune is not None:
            self._on_tune(tuning)
        return tuning

    # -- polling and invoking --------------------------------------------------------------------

    def _spawn(self, name: str) -> ExecutionEnvironment:
        env = execution_env(self.config, name, self._region)
        return ExecutionEnvironment(
            name, self.config.handler, env, log=self._log, init_timeout=self.config.init_timeout_seconds
        )

    def _add_pollers(self, count: int) -> None:
        with self._lock:
            for index in range(len(self._pollers), count):
                poller = threading.Thread(target=self._poll, args=(index,), name=f"poller-{index}", daemon=True)
                self._pollers.append(poller)
                poller.start()

    def _sample(self) -> None:
        while not self._stopping.wait(self.config.sample_seconds):
            self._ramp.sample(self.tuning.maximum_concurrency, self._pool.in_flight, time.time())

    def _poll(self, index: int) -> None:
        """One poller: idle while its index is beyond what the ramp allows (at most the maximum concurrency)."""
        while not self._stopping.is_set():
            tuning = self.tuning
            if index >= self._ramp.target(tuning.maximum_concurrency, time.time()):
                self._stopping.wait(0.2)
                continue
            try:
                batch = gather(
                    self._queue.receive,
                    batch_size=tuning.batch_size,
                    window_seconds=tuning.batching_window_seconds,
                    wait_time_seconds=self.config.wait_time_seconds,
                    should_stop=self._stopping.is_set,
                )
            except (BotoCoreError, ClientError) as error:
                # Nothing was received, so nothing can be lost; messages of a partial batch reappear.
                if not self._stopping.is_set():  # the endpoint going away during shutdown is expected
                    LOG.warning("%s: receive failed: %s", threading.current_thread().name, error)
                self._stopping.wait(_RETRY_AFTER_SQS_ERROR)
                continue
            self._ramp.observe(len(batch), tuning.maximum_concurrency, time.time())
            if batch:
                self._dispatch(batch)

    def _dispatch(self, batch: list[Message]) -> None:
        self._stats.add(records_received=len(batch))
        environment = self._pool.acquire()
        if environment is None:
            if self._stopping.is_set():
                return  # shutting down: the batch reappears after its visibility timeout
            self._stats.add(throttled_invocations=1, throttled_records=len(batch))
            self._stopping.wait(self.config.throttle_backoff_seconds)
            return
        try:
            event = sqs_event(batch, self._queue_arn, self._region)
            outcome = environment.invoke(event, self.config.timeout_seconds, str(uuid.uuid4()), self._function_arn)
            self._settle(batch, outcome)
        finally:
            # Released after the deletes, so a graceful stop also waits for them.
            self._pool.release(environment)

    def _settle(self, batch: list[Message], outcome: Outcome) -> None:
        """ReportBatchItemFailures: delete the successes, leave everything else to reappear."""
        self._stats.add(invocations=1)
        failed: set[str] | None = None
        if outcome.kind == "ok":
            try:
                failed = failed_message_ids(outcome.response, [m["MessageId"] for m in batch])
            except InvalidBatchResponse as error:
                outcome = Outcome("error", error=f"invalid batch response: {error}")
        if failed is None:
            LOG.warning(
                "invocation failed (%s), batch of %d left on the queue: %s",
                outcome.kind,
                len(batch),
                outcome.error,
            )
            self._stats.add(batch_failures=1, records_failed=len(batch), timeouts=int(outcome.kind == "timeout"))
            return
        succeeded = [message for message in batch if message["MessageId"] not in failed]
        self._stats.add(records_failed=len(batch) - len(succeeded))
        self._delete(succeeded)

    def _delete(self, messages: list[Message]) -> None:
        try:
            failures = self._queue.delete(messages)
        except (BotoCoreError, ClientError) as error:
            # Not a loss: undeleted messages are delivered again (at-least-once, as on AWS).
            LOG.warning("delete of %d messages failed, they will be delivered again: %s", len(messages), error)
            failures = len(messages)
        self._stats.add(records_deleted=len(messages) - failures, delete_failures=failures)
