"""DynamoDB auto scaling, emulated: target tracking on consumed write capacity, as Application Auto
Scaling applies it to a table, so a local table scales the way a deployed one does.

The rules, as AWS documents them:

- The metric ("DynamoDB Metrics and dimensions", Developer Guide): DynamoDB reports consumed
  capacity per one-minute period; utilisation is ``ConsumedWriteCapacityUnits`` (the minute's sum,
  per second) over the provisioned WCU, in percent.
- Scale out ("Managing throughput capacity automatically with DynamoDB auto scaling", and the
  knowledge-centre article on DynamoDB auto scaling): when utilisation exceeds the target for 2
  consecutive minutes (the ``AlarmHigh`` alarm target tracking creates: 2 datapoints of 60 s).
- Scale in: when utilisation is 20 percentage points or more below the target for 15 consecutive
  minutes (the ``AlarmLow`` alarm: 15 datapoints of 60 s).
- The new capacity (Application Auto Scaling, "Target tracking scaling policies"): proportional, the
  capacity that would put the latest minute's consumption at the target,
  ``ceil(consumed / (target / 100))``, kept within the scalable target's minimum and maximum.
- Cooldowns (``TargetTrackingScalingPolicyConfiguration``): no scale out within ``ScaleOutCooldown``
  seconds of the last scale out, no scale in within ``ScaleInCooldown`` of the last scale in; "if
  another alarm triggers a scale out policy during the cooldown period after a scale-in, application
  auto scaling scales out your scalable target immediately". ``DisableScaleIn`` turns scale in off.
  The alarms keep evaluating the recent datapoints against the threshold of the capacity in force
  (Application Auto Scaling re-sets the alarms' thresholds when the capacity changes).

Not emulated: CloudWatch's few minutes of delay before an alarm fires, the minutes an UpdateTable
takes (here the new capacity holds at once), and DynamoDB's daily quota of decreases.

``time_factor`` compresses time for the auto scaling rules only (one emulated minute is
``60 / time_factor`` real seconds, cooldowns shrink alike); the meter's per-second enforcement is
never compressed. ``TargetTracking`` is the pure rule set (emulated seconds, no I/O);
``AutoScaler`` is the thread in the meter process that reads each scalable target and policy from
Application Auto Scaling (moto), feeds the meter's consumed units to the rules and sends the
UpdateTable, which the meter then enforces.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from nicelist.local.meter.core import Meter
from nicelist.local.meter.tables import TableSpec

MINUTE = 60.0
SCALE_OUT_DATAPOINTS = 2  # AlarmHigh: above the target for 2 consecutive minutes
SCALE_IN_DATAPOINTS = 15  # AlarmLow: 20 points or more below the target for 15 consecutive minutes
SCALE_IN_MARGIN = 20.0  # percentage points below the target
NAMESPACE = "dynamodb"
DIMENSION = "dynamodb:table:WriteCapacityUnits"
METRIC = "DynamoDBWriteCapacityUtilization"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """A scalable target's bounds and its target tracking policy (seconds are emulated seconds)."""

    min_capacity: int
    max_capacity: int
    target: float  # utilisation in percent, e.g. 70.0
    scale_out_cooldown: float = 0.0
    scale_in_cooldown: float = 0.0
    disable_scale_in: bool = False

    def desired(self, consumed_per_second: float) -> int:
        """The capacity that puts ``consumed_per_second`` at the target, within min and max."""
        wanted = math.ceil(consumed_per_second * 100.0 / self.target)  # not / (target / 100): 855 / 0.57 > 1500
        return max(self.min_capacity, min(self.max_capacity, wanted))


@dataclass(frozen=True, slots=True)
class Decision:
    """A scaling activity: the capacity from and to, why, at an emulated time."""

    at: float
    before: int
    after: int
    cause: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "from": self.before, "to": self.after, "cause": self.cause}


class TargetTracking:
    """One table's target tracking: feed it one datapoint per minute, it answers when to scale."""

    def __init__(self) -> None:
        self._datapoints: deque[float] = deque(maxlen=SCALE_IN_DATAPOINTS)  # consumed WCU/s per minute
        self._last_out = -math.inf
        self._last_in = -math.inf

    def observe(self, at: float, consumed_per_second: float, capacity: int, policy: ScalingPolicy) -> Decision | None:
        """The minute ending at ``at`` (emulated seconds) consumed this much per second; ``capacity`` is
        what the table is provisioned with now. Returns the scaling activity, if any."""
        self._datapoints.append(max(0.0, consumed_per_second))
        high = capacity * policy.target / 100.0
        low = capacity * (policy.target - SCALE_IN_MARGIN) / 100.0
        recent = list(self._datapoints)
        if len(recent) >= SCALE_OUT_DATAPOINTS and all(d > high for d in recent[-SCALE_OUT_DATAPOINTS:]):
            wanted = policy.desired(recent[-1])
            if wanted > capacity and at - self._last_out >= policy.scale_out_cooldown:
                self._last_out = at
                return Decision(at, capacity, wanted, f"utilisation above {policy.target:g} % for 2 minutes")
            return None
        if policy.disable_scale_in or len(recent) < SCALE_IN_DATAPOINTS or not all(d < low for d in recent):
            return None
        wanted = policy.desired(recent[-1])
        if wanted < capacity and at - self._last_in >= policy.scale_in_cooldown:
            self._last_in = at
            cause = f"utilisation below {policy.target - SCALE_IN_MARGIN:g} % for 15 minutes"
            return Decision(at, capacity, wanted, cause)
        return None


def policies_from(autoscaling: Any) -> dict[str, ScalingPolicy]:
    """Every table with a write-capacity scalable target and a target tracking policy on
    ``DynamoDBWriteCapacityUtilization``, from Application Auto Scaling: ``{table: policy}``."""
    targets = autoscaling.describe_scalable_targets(ServiceNamespace=NAMESPACE, ScalableDimension=DIMENSION)
    policies = autoscaling.describe_scaling_policies(ServiceNamespace=NAMESPACE, ScalableDimension=DIMENSION)
    tracking: dict[str, dict[str, Any]] = {}
    for policy in policies.get("ScalingPolicies", []):
        config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
        metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        if policy.get("PolicyType") == "TargetTrackingScaling" and metric == METRIC:
            tracking[str(policy["ResourceId"])] = config
    found = {}
    for target in targets.get("ScalableTargets", []):
        resource = str(target["ResourceId"])
        config = tracking.get(resource)
        suspended = (target.get("SuspendedState") or {}).get("DynamicScalingInSuspended", False)
        if config is None or not resource.startswith("table/"):
            continue
        found[resource.removeprefix("table/")] = ScalingPolicy(
            min_capacity=int(target["MinCapacity"]),
            max_capacity=int(target["MaxCapacity"]),
            target=float(config["TargetValue"]),
            scale_out_cooldown=float(config.get("ScaleOutCooldown", 0)),
            scale_in_cooldown=float(config.get("ScaleInCooldown", 0)),
            disable_scale_in=bool(config.get("DisableScaleIn", False)) or bool(suspended),
        )
    return found


class AutoScaler:
    """The thread in the meter process that scales each auto-scaled table once per emulated minute.

    ``autoscaling`` and ``dynamodb`` are boto3 clients of the embedded AWS (moto); the UpdateTable
    answer is handed to the meter (``Meter.rescale``), which enforces the new capacity from then on.
    """

    def __init__(
        self,
        meter: Meter,
        autoscaling: Any,
        dynamodb: Any,
        *,
        time_factor: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not time_factor > 0 or not math.isfinite(time_factor):
            raise ValueError("time_factor must be a positive number")
        self.meter = meter
        self.time_factor = time_factor
        self._autoscaling = autoscaling
        self._dynamodb = dynamodb
        self._clock = clock
        self._rules: dict[str, TargetTracking] = {}
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def minute_seconds(self) -> float:
        """Real seconds in one emulated minute."""
        return MINUTE / self.time_factor

    def emulated(self, real: float) -> float:
        return (real - self._started) * self.time_factor

    def tick(self, now: float | None = None) -> list[Decision]:
        """Evaluate the minute that just ended for every auto-scaled table; apply what the rules decide."""
        now = self._clock() if now is None else now
        decisions = []
        for table, policy in policies_from(self._autoscaling).items():
            if self.meter.spec(table) is None:  # known from the first minute, not from the first write
                self.meter.learn(TableSpec.from_description(self._dynamodb.describe_table(TableName=table)["Table"]))
            capacity = self.meter.capacity(table)
            if capacity is None:  # on-demand or unknown: nothing to scale
                continue
            consumed = self.meter.consumed(table, now - self.minute_seconds, now)
            rules = self._rules.setdefault(table, TargetTracking())
            decision = rules.observe(self.emulated(now), consumed, capacity, policy)
            if decision is not None:
                self._apply(table, decision, now)
                decisions.append(decision)
        return decisions

    def _apply(self, table: str, decision: Decision, now: float) -> None:
        description = self._dynamodb.describe_table(TableName=table)["Table"]
        reads = int((description.get("ProvisionedThroughput") or {}).get("ReadCapacityUnits") or 1)
        answer = self._dynamodb.update_table(
            TableName=table, ProvisionedThroughput={"ReadCapacityUnits": reads, "WriteCapacityUnits": decision.after}
        )
        self.meter.rescale(TableSpec.from_description(answer["TableDescription"]), decision.as_dict() | {"real": now})
        log.info("auto scaling %s: %d -> %d WCU (%s)", table, decision.before, decision.after, decision.cause)

    def start(self) -> AutoScaler:
        self._thread = threading.Thread(target=self._run, name="meter-autoscaling", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        next_tick = self._started + self.minute_seconds
        while not self._stop.wait(max(0.0, next_tick - self._clock())):
            try:
                self.tick(next_tick)
            except (BotoCoreError, ClientError, KeyError, TypeError, ValueError) as error:  # the next minute retries
                log.warning("auto scaling skipped a minute: %s: %s", type(error).__name__, error)
            next_tick += self.minute_seconds
