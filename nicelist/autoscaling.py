"""DynamoDB auto scaling of a stage's table: Application Auto Scaling's scalable target on the table's
write capacity and a target tracking policy on ``DynamoDBWriteCapacityUtilization``, registered
idempotently by ``nicelist provision --autoscale MIN:MAX[:TARGET]`` (and by the local stack, whose
meter then applies the policy: ``nicelist/local/meter/autoscaling.py``).

With auto scaling the table's WCU is auto scaling's to change: provisioning keeps the current WCU
(within MIN..MAX) instead of resetting it, and the writers follow it with ``--write-rate auto``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nicelist.resources import Outcome

NAMESPACE = "dynamodb"
DIMENSION = "dynamodb:table:WriteCapacityUnits"
METRIC = "DynamoDBWriteCapacityUtilization"
DEFAULT_TARGET = 70.0  # the DynamoDB console's default target utilisation
# Ours, stated on the policy: scale out again after a minute, scale in at most every 5 minutes.
DEFAULT_SCALE_OUT_COOLDOWN = 60
DEFAULT_SCALE_IN_COOLDOWN = 300
# DynamoDB auto scaling accepts a target utilisation of 20 to 90 percent (Developer Guide, "Managing
# throughput capacity automatically with DynamoDB auto scaling").
MIN_TARGET, MAX_TARGET = 20.0, 90.0
MAX_WCU = 40_000  # the default per-table quota on write capacity
_SPEC = re.compile(r"(?P<low>[0-9]{1,6}):(?P<high>[0-9]{1,6})(?::(?P<target>[0-9]{1,2}(?:\.[0-9]{1,2})?))?")


class AutoScalingError(ValueError):
    """MIN:MAX[:TARGET] that DynamoDB auto scaling would refuse."""


@dataclass(frozen=True, slots=True)
class AutoScaling:
    minimum: int
    maximum: int
    target: float = DEFAULT_TARGET
    scale_out_cooldown: int = DEFAULT_SCALE_OUT_COOLDOWN
    scale_in_cooldown: int = DEFAULT_SCALE_IN_COOLDOWN

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum <= MAX_WCU:
            raise AutoScalingError(f"--autoscale needs 1 <= MIN <= MAX <= {MAX_WCU}, got {self}")
        if not MIN_TARGET <= self.target <= MAX_TARGET:
            bounds = f"{MIN_TARGET:g}..{MAX_TARGET:g} %"
            raise AutoScalingError(f"the target utilisation must be {bounds}, got {self.target:g}")

    @classmethod
    def parse(cls, text: str) -> AutoScaling:
        match = _SPEC.fullmatch(text)
        if match is None:
            raise AutoScalingError(f"--autoscale takes MIN:MAX[:TARGET] (e.g. 100:1000:70), not {text[:40]!r}")
        target = float(match["target"]) if match["target"] else DEFAULT_TARGET
        return cls(int(match["low"]), int(match["high"]), target)

    def __str__(self) -> str:
        return f"{self.minimum}:{self.maximum}:{self.target:g}"

    def clamp(self, wcu: int) -> int:
        return max(self.minimum, min(self.maximum, wcu))

    def policy_configuration(self) -> dict[str, Any]:
        return {
            "TargetValue": self.target,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleOutCooldown": self.scale_out_cooldown,
            "ScaleInCooldown": self.scale_in_cooldown,
            "DisableScaleIn": False,
        }


def resource_id(table: str) -> str:
    return f"table/{table}"


def policy_name(table: str) -> str:
    return f"{table}-write-utilisation"


def scalable_target(autoscaling: Any, table: str) -> dict[str, Any] | None:
    """The table's write-capacity scalable target, or None."""
    found = autoscaling.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(table)], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    return dict(found[0]) if found else None


def ensure_autoscaling(autoscaling: Any, table: str, spec: AutoScaling) -> list[Outcome]:
    """Register the scalable target and put the policy, each only when it differs (a new policy
    object would make Application Auto Scaling replace its CloudWatch alarms)."""
    outcomes = []
    current = scalable_target(autoscaling, table)
    if current is not None and (current["MinCapacity"], current["MaxCapacity"]) == (spec.minimum, spec.maximum):
        outcomes.append(Outcome("autoscaling", resource_id(table), "unchanged", f"{spec.minimum}..{spec.maximum} WCU"))
    else:
        autoscaling.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=resource_id(table),
            ScalableDimension=DIMENSION,
            MinCapacity=spec.minimum,
            MaxCapacity=spec.maximum,
        )  # no RoleARN: DynamoDB's service-linked role
        action = "created" if current is None else "updated"
        outcomes.append(Outcome("autoscaling", resource_id(table), action, f"{spec.minimum}..{spec.maximum} WCU"))
    outcomes.append(_ensure_policy(autoscaling, table, spec))
    return outcomes


def _ensure_policy(autoscaling: Any, table: str, spec: AutoScaling) -> Outcome:
    name = policy_name(table)
    existing = autoscaling.describe_scaling_policies(
        ServiceNamespace=NAMESPACE, ResourceId=resource_id(table), ScalableDimension=DIMENSION, PolicyNames=[name]
    )["ScalingPolicies"]
    wanted = spec.policy_configuration()
    detail = f"target {spec.target:g} % of WCU"
    if existing and _same(existing[0].get("TargetTrackingScalingPolicyConfiguration") or {}, wanted):
        return Outcome("scaling-policy", name, "unchanged", detail)
    autoscaling.put_scaling_policy(
        PolicyName=name,
        ServiceNamespace=NAMESPACE,
        ResourceId=resource_id(table),
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=wanted,
    )
    return Outcome("scaling-policy", name, "updated" if existing else "created", detail)


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(current.get(key) == value for key, value in wanted.items())
