"""The rules every tuning must keep: the doctor's checks of the live mapping, concurrency, budget and
batching. ``nicelist tune`` refuses any target that breaks one, so a tune never creates what the doctor
would flag (docs/design.md, "Known traps"; docs/tuning.md)."""

from __future__ import annotations

import math

from contract.delivery import min_visibility_timeout
from contract.names import StageNames
from nicelist.findings import Finding
from nicelist.local.stack import BUDGET_SHARE
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY
from nicelist.resources import format_rate
from nicelist.tuning.model import StageFacts, StageTuning

MAX_MAXIMUM_CONCURRENCY = 1000  # AWS's ceiling for ScalingConfig.MaximumConcurrency
MIN_POLLERS = 2  # AWS: an SQS mapping in provisioned mode keeps at least 2 pollers
MAX_MINIMUM_POLLERS = 200
MAX_POLLERS = 10_000
# AWS documents that one SQS event poller drives up to 10 concurrent invokes: the poller mode's
# counterpart of MaximumConcurrency when checking it against reserved concurrency.
INVOKES_PER_POLLER = 10
MAX_BATCH_SIZE = 10_000
# An SQS mapping with a batch size above this needs a batching window of at least one second.
UNWINDOWED_BATCH_LIMIT = 10
MAX_BATCHING_WINDOW = 300


def _tune(facts: StageFacts, flags: str) -> str:
    return f"nicelist tune --stage {facts.stage} {flags}"


def tuning_findings(tuning: StageTuning, facts: StageFacts, *, force: bool = False) -> list[Finding]:
    """Every rule the tuning breaks; empty when it is sound. ``force`` allows W above the table's WCU."""
    if facts.deployed and not facts.mapping_ids:
        return [_no_mapping(facts), *_reserved(tuning, facts)]
    findings = _mapping_count(facts)
    findings += _reserved(tuning, facts)
    if tuning.pollers is not None:
        findings += _poller_mode(tuning, facts)
    else:
        findings += _maximum_mode(tuning, facts)
    findings += _writer_concurrency(tuning, facts)
    findings += _write_rate(tuning, facts, force)
    findings += _batching(tuning, facts)
    return findings


def _no_mapping(facts: StageFacts) -> Finding:
    names = StageNames(facts.stage)
    return Finding(
        "mapping-missing",
        f"queue {names.queue}",
        f"no event source mapping from the queue to {names.writer_function}",
        f"nicelist deploy configure --stage {facts.stage}",
    )


def _mapping_count(facts: StageFacts) -> list[Finding]:
    if len(facts.mapping_ids) <= 1:
        return []
    return [
        Finding(
            "mapping-several",
            f"queue {StageNames(facts.stage).queue}",
            f"{len(facts.mapping_ids)} mappings feed the writer: their maximum concurrencies add up, and the "
            "writers split W by one of them",
            f"keep one: aws lambda delete-event-source-mapping --uuid {facts.mapping_ids[-1]}",
        )
    ]


def _reserved(tuning: StageTuning, facts: StageFacts) -> list[Finding]:
    function = StageNames(facts.stage).writer_function
    if tuning.reserved is None and facts.deployed:
        return [
            Finding(
                "reserved-missing",
                f"function {function}",
                "no reserved concurrency (a `zappa update` without lambda_concurrency deletes it)",
                _tune(facts, f"--concurrency {tuning.maximum or MIN_MAXIMUM_CONCURRENCY}")
                + " (and keep lambda_concurrency in zappa_settings.json)",
            )
        ]
    return []


def _maximum_mode(tuning: StageTuning, facts: StageFacts) -> list[Finding]:
    where = f"mapping {facts.mapping_ids[0]}" if facts.mapping_ids else "writer runtime"
    maximum, reserved = tuning.maximum, tuning.reserved
    if maximum is None:
        return [
            Finding(
                "maximum-missing",
                where,
                "no MaximumConcurrency: the poller outruns reserved concurrency and throttled receives climb "
                "towards the DLQ",
                _tune(facts, f"--concurrency {reserved or MIN_MAXIMUM_CONCURRENCY}"),
            )
        ]
    if not MIN_MAXIMUM_CONCURRENCY <= maximum <= MAX_MAXIMUM_CONCURRENCY:
        return [
            Finding(
                "maximum-out-of-range",
                where,
                f"maximum concurrency {maximum} is outside {MIN_MAXIMUM_CONCURRENCY}..{MAX_MAXIMUM_CONCURRENCY} "
                "(AWS's range)",
                _tune(facts, f"--concurrency {MIN_MAXIMUM_CONCURRENCY}"),
            )
        ]
    if reserved is not None and maximum > reserved:
        return [
            Finding(
                "maximum-above-reserved",
                where,
                f"maximum concurrency {maximum} is above the reserved concurrency {reserved}: Lambda throttles "
                "the poller and throttled receives climb towards the DLQ",
                _tune(facts, f"--concurrency {reserved}") + f" (or --reserved-concurrency {maximum})",
            )
        ]
    return []


def _poller_mode(tuning: StageTuning, facts: StageFacts) -> list[Finding]:
    assert tuning.pollers is not None
    low, high = tuning.pollers.minimum, tuning.pollers.maximum
    where = f"mapping {facts.mapping_ids[0]}" if facts.mapping_ids else "mapping"
    findings = []
    if tuning.maximum is not None:
        findings.append(
            Finding(
                "scaling-modes-both",
                where,
                "both MaximumConcurrency and ProvisionedPollerConfig are set (AWS treats them as exclusive)",
                _tune(facts, f"--pollers off --concurrency {tuning.maximum}"),
            )
        )
    if not (MIN_POLLERS <= low <= MAX_MINIMUM_POLLERS and low <= high <= MAX_POLLERS):
        findings.append(
            Finding(
                "pollers-out-of-range",
                where,
                f"pollers {tuning.pollers}: AWS needs {MIN_POLLERS} <= MIN <= {MAX_MINIMUM_POLLERS} and "
                f"MIN <= MAX <= {MAX_POLLERS}",
                _tune(facts, f"--pollers {MIN_POLLERS}:{max(MIN_POLLERS, high)}"),
            )
        )
    invokes = INVOKES_PER_POLLER * high
    if tuning.reserved is not None and tuning.reserved < invokes:
        findings.append(
            Finding(
                "pollers-above-reserved",
                where,
                f"{high} pollers drive up to {invokes} invokes but the reserved concurrency is {tuning.reserved}: "
                "Lambda throttles them and throttled receives climb towards the DLQ",
                _tune(facts, f"--reserved-concurrency {invokes}")
                + f" (or --pollers {low}:{max(low, tuning.reserved // INVOKES_PER_POLLER)})",
            )
        )
    return findings


def _writer_concurrency(tuning: StageTuning, facts: StageFacts) -> list[Finding]:
    executions, shared_by = tuning.executions, tuning.writer_concurrency
    if executions is None or shared_by == executions:
        return []
    where = f"parameter {StageNames(facts.stage).writer_concurrency_parameter}"
    again = f"--reserved-concurrency {tuning.reserved}" if tuning.pollers else f"--concurrency {tuning.maximum}"
    if shared_by is None or shared_by < executions:
        problem = (
            f"the writers split W by {shared_by} but up to {executions} executions may run: together they "
            f"spend up to {executions}/{shared_by} x W and overspend the table"
        )
    else:
        problem = f"the writers split W by {shared_by} but at most {executions} executions run: the drain is slower"
    return [Finding("writer-concurrency", where, problem, _tune(facts, again) + " (it sets the parameter)")]


def _write_rate(tuning: StageTuning, facts: StageFacts, force: bool) -> list[Finding]:
    names = StageNames(facts.stage)
    rate, capacity = tuning.write_rate, facts.table_capacity
    if tuning.write_rate_auto is not None:  # auto: a fraction (at most 1) of what the table states
        return []
    if rate is None:
        return [
            Finding(
                "write-rate-missing",
                f"parameter {names.write_rate_parameter}",
                "the write-rate parameter is missing: the writers use their NICELIST_WRITE_RATE fallback",
                f"nicelist provision --stage {facts.stage}",
            )
        ]
    if capacity is not None and rate > capacity and not force:
        return [
            Finding(
                "write-rate-above-capacity",
                f"parameter {names.write_rate_parameter}",
                f"W = {format_rate(rate)} WCU/s is above the table's {capacity} provisioned WCU: writes throttle",
                _tune(facts, f"--write-rate {format_rate(math.floor(capacity * BUDGET_SHARE))}")
                + " (or raise the table's capacity first)",
            )
        ]
    return []


def _batching(tuning: StageTuning, facts: StageFacts) -> list[Finding]:
    size, window = tuning.batch_size, tuning.batching_window
    if size is None or window is None:
        return []
    where = f"mapping {facts.mapping_ids[0]}" if facts.mapping_ids else "writer runtime"
    findings = []
    if not 1 <= size <= MAX_BATCH_SIZE or not 0 <= window <= MAX_BATCHING_WINDOW:
        findings.append(
            Finding(
                "batching-out-of-range",
                where,
                f"batch size {size} / window {window:g} s outside 1..{MAX_BATCH_SIZE} / 0..{MAX_BATCHING_WINDOW}",
                _tune(facts, "--batch-size 10 --batching-window 0"),
            )
        )
    elif size > UNWINDOWED_BATCH_LIMIT and window < 1:
        findings.append(
            Finding(
                "batching-window-zero",
                where,
                f"batch size {size} with a batching window of {window:g} s (AWS needs >= 1 s above "
                f"{UNWINDOWED_BATCH_LIMIT})",
                _tune(facts, "--batching-window 1"),
            )
        )
    elif facts.deployed and window != int(window):
        findings.append(
            Finding(
                "batching-window-fraction", where, f"batching window {window:g} s", _tune(facts, "--batching-window 1")
            )
        )
    return findings + _visibility(window, facts)


def _visibility(window: float, facts: StageFacts) -> list[Finding]:
    """AWS's rule for an SQS event source: visibility >= 6 x the function's timeout + the batching window."""
    visibility = facts.visibility_timeout
    needed = min_visibility_timeout(facts.writer_timeout) + math.ceil(window)
    if visibility is None or visibility >= needed:
        return []
    return [
        Finding(
            "visibility-short",
            f"queue {StageNames(facts.stage).queue}",
            f"visibility timeout {visibility} s < {needed} s (6 x the writer's {facts.writer_timeout} s timeout "
            f"+ the {window:g} s batching window): messages in flight are redelivered",
            f"nicelist provision --stage {facts.stage} --writer-timeout {math.ceil(needed / 6)}"
            + (" (or a shorter batching window)" if window else ""),
        )
    ]
