"""One finding of ``nicelist doctor`` (and of ``tune``'s refusals): what is wrong, where, and the fix.

A finding always carries its fix, a command to run or a setting to change, so an operator never
has to look up what a problem means in the middle of a peak. ``check`` is a stable identifier
(for ``--json`` and tests); ``problem`` and ``fix`` are sentences for people."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    where: str
    problem: str
    fix: str

    def line(self) -> str:
        """The one line a person reads: place, problem, then the fix."""
        return f"{self.where}: {self.problem}  FIX: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def checks_of(findings: list[Finding]) -> list[str]:
    """The identifiers, in order: what tests and scripts compare."""
    return [finding.check for finding in findings]
