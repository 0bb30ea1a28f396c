"""Least-privilege IAM policies for a stage's two functions, from the templates in ``deploy/policies``.

The templates carry ``<partition> <region> <account> <stage> <dns_suffix>`` placeholders rather
than CloudFormation's ``${AWS::Partition}``: they are filled here, from STS's answer about the
caller, so the same files serve aws, aws-cn and aws-us-gov."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parents[1] / "deploy" / "policies"
_DNS_SUFFIX = {"aws-cn": "amazonaws.com.cn"}


class PolicyError(ValueError):
    """A template left a placeholder unfilled or is not valid JSON."""


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    stage: str
    account: str
    region: str
    partition: str

    @property
    def dns_suffix(self) -> str:
        return _DNS_SUFFIX.get(self.partition, "amazonaws.com")

    @classmethod
    def from_caller(cls, sts: Any, stage: str, region: str) -> PolicyTarget:
        """Account and partition from ``GetCallerIdentity``'s ARN, never assumed."""
        identity = sts.get_caller_identity()
        return cls(stage, str(identity["Account"]), region, str(identity["Arn"]).split(":")[1])


def render(template: str, target: PolicyTarget) -> dict[str, Any]:
    text = template
    for key in ("partition", "region", "account", "stage", "dns_suffix"):
        text = text.replace(f"<{key}>", str(getattr(target, key)))
    if "<" in text or "${" in text:
        raise PolicyError("unfilled placeholder in policy template")
    document: dict[str, Any] = json.loads(text)
    return document


def render_policies(target: PolicyTarget, directory: Path = TEMPLATES) -> dict[str, dict[str, Any]]:
    """``{"writer": {...}, "api": {...}}``: role name (as zappa_settings.json names it), trust and policy."""
    trust = render((directory / "trust.json").read_text(), target)
    return {
        role: {
            "role_name": f"nicelist-{target.stage}-{role}-role",
            "assume_role_policy": trust,
            "policy": render((directory / f"{role}.json").read_text(), target),
        }
        for role in ("writer", "api")
    }


POLICY_NAME = "nicelist-least-privilege"


def apply_roles(iam: Any, policies: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Create each role if absent and (re)write its inline policy; return ``{role: created|updated}``.

    zappa_settings.json sets ``manage_roles: false``, so these roles must exist before ``zappa deploy``."""
    outcome = {}
    for entry in policies.values():
        role, trust = entry["role_name"], json.dumps(entry["assume_role_policy"])
        try:
            iam.get_role(RoleName=role)
            iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust)
            outcome[role] = "updated"
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Description="nicelist (least privilege)")
            outcome[role] = "created"
        iam.put_role_policy(RoleName=role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(entry["policy"]))
    return outcome
