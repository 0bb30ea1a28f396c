"""The fault suite's text report: per scenario its figures, then its checks, then one verdict line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadtests.faults.harness import Result


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


def render(results: Sequence[Result], context: Mapping[str, str]) -> str:
    lines = [f"fault suite, {context['date']}, commit {context['commit']}, {context['machine']}", ""]
    for result in results:
        size = "quick" if result.quick else "long"
        lines.append(f"== {result.scenario} ({size}, {result.seconds:.0f} s) ==")
        width = max((len(label) for label in result.figures), default=0)
        lines += [f"  {label:<{width}}  {_value(value)}" for label, value in result.figures.items()]
        lines += [
            f"  [{'ok' if c.ok else 'FAIL'}] {c.name}" + (f": {c.detail}" if c.detail else "") for c in result.checks
        ]
        lines += [f"  note: {note}" for note in result.notes]
        lines.append("")
    failed = [r.scenario for r in results if not r.ok]
    lines.append(
        "verdict: " + (f"FAILED: {', '.join(failed)}" if failed else "OK: nothing lost, nothing valid dead-lettered")
    )
    return "\n".join(lines)
