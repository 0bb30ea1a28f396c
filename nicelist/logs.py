"""``nicelist logs``: the writer's and the API's log lines, merged in time order.

On a deployed stage they come from CloudWatch Logs, ``FilterLogEvents`` on
``/aws/lambda/nicelist-<stage>-writer`` and ``-api`` (every page, by ``nextToken``). The local stack
has no CloudWatch Logs (moto's is empty: nothing ships there), so on ``--stage local`` they come from
the files ``nicelist up`` writes in its run directory: ``writer.log`` (the executions' stderr, as
Lambda would send it to CloudWatch) and ``api.log`` (gunicorn's output). Everything after the source
(parsing, the time window, ``--filter``, merging, printing, ``--follow``) is one code path.

Component ``alarms`` (asked for with ``--component alarms``; the default stays the writer and the API)
shows the alarms' state changes: locally the notifications the stage's topic delivered to the stack's
inbox, ``notifications.log`` in the run directory (``nicelist/local/notifications.py``); on a deployed
stage CloudWatch's alarm history (``DescribeAlarmHistory``, state updates of the stage's alarms; moto
does not implement it, so the tests stub it). Each is one line: the new state as its level, then
``<alarm> (was <state>): <reason>``.

Lines are parsed as what each component writes: the writer's Powertools JSON lines, Lambda's text
format (``[LEVEL]\\t<time>\\t<request id>\\t<message>``), gunicorn's (``[<time>] [pid] [LEVEL] ...``),
or plain text. EMF metric documents and Lambda's START/END lines are skipped: they are metrics and
framing, not log lines. A text line without a time of its own (a traceback's continuation, a warning
the API printed bare) takes the time of the line before it in its file, or the file's modification
time; it is marked ``~`` (``time_inferred`` in ``--json``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import click
from botocore.exceptions import ClientError

from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import aws_errors, error_code, is_loopback
from nicelist.local.notifications import LOG_NAME as NOTIFICATIONS_LOG
from nicelist.options import AwsTarget, aws_options

COMPONENTS = ("writer", "api", "alarms")
DEFAULT_COMPONENTS = ("writer", "api")
FOLLOW_LAG_SECONDS = 120  # CloudWatch ingests late: each poll looks back this far, deduplicated by event id
_STANDARD_KEYS = frozenset(
    {
        "level", "levelname", "location", "message", "msg", "timestamp", "service", "cold_start", "function_name",
        "function_memory_size", "function_arn", "function_request_id", "xray_trace_id", "sampling_rate",
    }
)  # fmt: skip
_LAMBDA_TEXT = re.compile(r"^\[(?P<level>[A-Z]+)\]\t(?P<time>\S+)\t(?P<request>\S+)\t(?P<message>.*)$", re.S)
_GUNICORN = re.compile(r"^\[(?P<time>[^\]]+)\] \[\d+\] \[(?P<level>[A-Z]+)\] (?P<message>.*)$", re.S)
_FRAMING = ("START RequestId:", "END RequestId:", "INIT_START ")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of one component, with the time it happened (UTC)."""

    at: dt.datetime
    component: str
    level: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] | str = ""
    time_inferred: bool = False

    def as_json(self) -> dict[str, Any]:
        data = {
            "time": _iso(self.at),
            "component": self.component,
            "level": self.level,
            "message": self.message,
            "record": self.record,
        }
        return data | ({"time_inferred": True} if self.time_inferred else {})


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: Any) -> dt.datetime | None:
    """Powertools' ``2026-12-23 18:04:05,123+0000``, ISO 8601, gunicorn's ``2026-12-23 18:04:05 +0000``."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace(",", ".").replace(" +", "+").replace(" -", "-"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _json_record(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def parse_line(text: str, component: str, at: dt.datetime | None = None) -> LogLine | None:
    """One line as a ``LogLine`` (``at``: the time CloudWatch gives it), or None for what is not a log line."""
    text = text.rstrip("\n")
    if not text.strip() or text.startswith(_FRAMING):
        return None
    if component == "alarms":  # JSON lines of alarm state changes, nothing else
        record = _json_record(text.strip())
        return None if record is None else _alarm_line(record, at)
    level, message, raw = "-", text, text
    lambda_text = _LAMBDA_TEXT.match(text) or _GUNICORN.match(text)
    if lambda_text:
        level, message = lambda_text["level"], lambda_text["message"]
        at = at or parse_time(lambda_text["time"])
    record = _json_record(message.strip())
    if record is not None:
        if "_aws" in record:  # an EMF metrics document
            return None
        level = str(record.get("level") or record.get("levelname") or level)
        message = str(record.get("message", record.get("msg", "")))
        at = at or parse_time(record.get("timestamp"))
        fields = {k: v for k, v in record.items() if k not in _STANDARD_KEYS}
        return LogLine(at or _EPOCH, component, level.upper(), message, fields, record, time_inferred=at is None)
    return LogLine(at or _EPOCH, component, level.upper(), message, {}, raw, time_inferred=at is None)


_EPOCH = dt.datetime.fromtimestamp(0, dt.UTC)


def _alarm_line(record: dict[str, Any], at: dt.datetime | None) -> LogLine | None:
    """A state change of an alarm (a notifications.log line, or an alarm history item made into one)."""
    if not all(isinstance(record.get(key), str) for key in ("alarm", "state", "previous", "reason")):
        return None
    at = at or parse_time(record.get("time"))
    message = f"{record['alarm']} (was {record['previous']}): {record['reason']}"
    return LogLine(at or _EPOCH, "alarms", record["state"], message, {}, record, time_inferred=at is None)


class AlarmHistorySource:
    """The state updates of a stage's alarms from CloudWatch's alarm history (``DescribeAlarmHistory``)."""

    component = "alarms"

    def __init__(self, cloudwatch: Any, alarm_names: Sequence[str]) -> None:
        self.cloudwatch, self.alarm_names = cloudwatch, list(alarm_names)
        self.group = "CloudWatch alarm history"
        self._seen: set[tuple[str, str]] = set()

    def read(self, since: dt.datetime) -> list[LogLine]:
        lines = []
        for name in self.alarm_names:
            pages = self.cloudwatch.get_paginator("describe_alarm_history").paginate(
                AlarmName=name, HistoryItemType="StateUpdate", StartDate=since, EndDate=dt.datetime.now(dt.UTC)
            )
            for item in (item for page in pages for item in page.get("AlarmHistoryItems", [])):
                key = (name, str(item.get("Timestamp")))
                line = _history_line(name, item)
                if key not in self._seen and line is not None:
                    self._seen.add(key)
                    lines.append(line)
        return lines


def _history_line(name: str, item: dict[str, Any]) -> LogLine | None:
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        return None
    new, old = data.get("newState", {}) if isinstance(data, dict) else {}, data.get("oldState", {})
    record = {
        "alarm": name,
        "state": new.get("stateValue"),
        "previous": old.get("stateValue"),
        "reason": new.get("stateReason"),
    }
    at = item.get("Timestamp")
    return _alarm_line(record, at if isinstance(at, dt.datetime) else None)


class Source(Protocol):
    component: str

    def read(self, since: dt.datetime) -> list[LogLine]:
        """Lines from ``since`` on (the first call), then only lines not returned before."""
        ...


class FileSource:
    """A log file of the local stack, read from ``since`` and then followed from where it was left."""

    def __init__(self, path: Path, component: str) -> None:
        self.path, self.component = path, component
        self._offset = 0
        self._last_time: dt.datetime | None = None

    def read(self, since: dt.datetime) -> list[LogLine]:
        if not self.path.exists():
            return []
        if self.path.stat().st_size < self._offset:  # truncated or replaced: start again
            self._offset, self._last_time = 0, None
        with self.path.open("rb") as stream:
            stream.seek(self._offset)
            data = stream.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next read
        self._offset += len(complete)
        fallback = dt.datetime.fromtimestamp(self.path.stat().st_mtime, dt.UTC)
        lines = []
        for text in complete.decode("utf-8", "replace").splitlines():
            line = parse_line(text, self.component)
            if line is None:
                continue
            if line.time_inferred:
                line = _with_time(line, self._last_time or fallback)
            else:
                self._last_time = line.at
            if line.at >= since:
                lines.append(line)
        return lines


def _with_time(line: LogLine, at: dt.datetime) -> LogLine:
    return LogLine(at, line.component, line.level, line.message, line.fields, line.record, time_inferred=True)


class CloudWatchSource:
    """One Lambda function's log group; each read pages through ``FilterLogEvents`` to the end."""

    def __init__(
        self,
        logs: Any,
        group: str,
        component: str,
        page_size: int | None = None,
        *,
        pattern: str | None = None,
        max_pages: int | None = None,
    ) -> None:
        """``pattern``: a CloudWatch Logs filter pattern, applied by the service, so only matching events
        are downloaded; ``max_pages``: stop paging after this many pages of one read (a bound on the
        time and the ``FilterLogEvents`` quota a read may spend, for callers that only need a sample)."""
        self.logs, self.group, self.component, self.page_size = logs, group, component, page_size
        self.pattern, self.max_pages = pattern, max_pages
        self.missing = False
        self._seen: dict[str, int] = {}  # event id -> timestamp (ms), for the follow window
        self._newest_ms: int | None = None

    def read(self, since: dt.datetime) -> list[LogLine]:
        start_ms = int(since.timestamp() * 1000)
        if self._newest_ms is not None:
            start_ms = max(start_ms, self._newest_ms - FOLLOW_LAG_SECONDS * 1000)
        lines = []
        try:
            for event in self._events(start_ms):
                if event["eventId"] in self._seen:
                    continue
                self._seen[event["eventId"]] = event["timestamp"]
                self._newest_ms = max(self._newest_ms or 0, event["timestamp"])
                at = dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC)
                line = parse_line(event["message"], self.component, at)
                if line is not None:
                    lines.append(line)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            self.missing = True
        self._forget_before(start_ms)
        return lines

    def _events(self, start_ms: int) -> Iterable[dict[str, Any]]:
        arguments: dict[str, Any] = {"logGroupName": self.group, "startTime": start_ms}
        if self.page_size is not None:
            arguments["limit"] = self.page_size
        if self.pattern is not None:
            arguments["filterPattern"] = self.pattern
        pages = 0
        while self.max_pages is None or pages < self.max_pages:
            pages += 1
            page = self.logs.filter_log_events(**arguments)
            yield from page.get("events", [])
            token = page.get("nextToken")
            if not token or token == arguments.get("nextToken"):
                return
            arguments["nextToken"] = token

    def _forget_before(self, start_ms: int) -> None:
        self._seen = {k: v for k, v in self._seen.items() if v >= start_ms}


def merged(sources: Sequence[Source], since: dt.datetime, text: str | None) -> list[LogLine]:
    """One read of every source, filtered (case-insensitive substring) and in time order."""
    lines = [line for source in sources for line in source.read(since)]
    if text:
        needle = text.lower()
        lines = [line for line in lines if needle in _raw(line).lower()]
    return sorted(lines, key=lambda line: line.at)  # stable: a file's own order survives equal times


def _raw(line: LogLine) -> str:
    return line.record if isinstance(line.record, str) else json.dumps(line.record)


_LEVEL_COLOURS = {"WARNING": "yellow", "WARN": "yellow", "ERROR": "red", "CRITICAL": "red", "EXCEPTION": "red"}


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def pretty(line: LogLine) -> str:
    """``time component level message key=value ...`` for people."""
    when = line.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    mark = "~" if line.time_inferred else " "
    level = click.style(f"{line.level:<7}", fg=_LEVEL_COLOURS.get(line.level))
    extra = "  ".join(f"{k}={_value(v)}" for k, v in line.fields.items())
    return f"{when}{mark} {line.component:<6} {level} {line.message}" + (f"  {extra}" if extra else "")


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """``30s``, ``10m``, ``2h``, ``1d`` ago, or an ISO 8601 time."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip())
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        return now - dt.timedelta(seconds=float(match[1]) * unit)
    moment = parse_time(text.strip())
    if moment is None:
        raise click.BadParameter("expected a duration like 10m, 2h, 1d, or an ISO 8601 time", param_hint="--since")
    return moment


def local_run(target: AwsTarget, run_dir: Path | None) -> bool:
    """Read the local stack's files: asked to, or on stage local against this machine."""
    if run_dir is not None:
        return True
    return target.stage == "local" and (target.is_local or is_loopback(target.endpoint_url))


def sources_for(
    target: AwsTarget,
    run_dir: Path | None,
    components: Sequence[str],
    *,
    pattern: str | None = None,
    max_pages: int | None = None,
) -> list[Source]:
    """The log files of the local stack, or the functions' log groups (``pattern``, ``max_pages``: see
    ``CloudWatchSource``; a file is read whole, the caller filters)."""
    if local_run(target, run_dir):
        folder = run_dir or Path("runs/local")
        files = {"alarms": NOTIFICATIONS_LOG}  # written by the stack's inbox
        return [FileSource(folder / files.get(component, f"{component}.log"), component) for component in components]
    names = StageNames(target.stage)
    functions = {"writer": names.writer_function, "api": names.api_function}
    logs = target.client("logs")
    sources: list[Source] = [
        CloudWatchSource(logs, f"/aws/lambda/{functions[c]}", c, pattern=pattern, max_pages=max_pages)
        for c in components
        if c != "alarms"
    ]
    if "alarms" in components:
        alarm_names = [spec["AlarmName"] for spec in alarm_specs(names, "", AlarmThresholds())]
        sources.append(AlarmHistorySource(target.client("cloudwatch"), alarm_names))
    return sources


def where(sources: Sequence[Source]) -> str:
    return ", ".join(str(getattr(s, "path", getattr(s, "group", ""))) for s in sources)


def _nothing_there(sources: Sequence[Source]) -> bool:
    return all(
        (isinstance(s, FileSource) and not s.path.exists()) or (isinstance(s, CloudWatchSource) and s.missing)
        for s in sources
    )


def _print(lines: Iterable[LogLine], as_json: bool) -> None:
    for line in lines:
        click.echo(json.dumps(line.as_json(), default=str) if as_json else pretty(line))


# Where ``nicelist up`` wrote its logs; ``logs`` and ``status`` read the writers' there.
run_dir_option = click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The local stack's run directory (default for --stage local: runs/local).",
)


@click.command("logs")
@aws_options
@click.option("--since", default="10m", show_default=True, help="How far back: 30s, 10m, 2h, 1d, or an ISO time.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--filter", "text", default=None, metavar="TEXT", help="Only lines containing TEXT (any case).")
@click.option(
    "--component", type=click.Choice(COMPONENTS), multiple=True,
    help="Only these (default: writer and api; alarms: the alarms' state changes).",
)  # fmt: skip
@click.option("--limit", type=click.IntRange(min=0), default=2000, show_default=True, help="Newest N lines; 0: all.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="--follow polling.")
@run_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, with the raw record.")
def logs_command(
    target: AwsTarget,
    since: str,
    follow: bool,
    text: str | None,
    component: tuple[str, ...],
    limit: int,
    interval: float,
    run_dir: Path | None,
    as_json: bool,
) -> None:
    """The writer's and the API's logs merged in time order. Exit 1 when there are no logs at all."""
    sources = sources_for(target, run_dir, component or DEFAULT_COMPONENTS)
    start = parse_since(since, dt.datetime.now(dt.UTC))
    with aws_errors():
        lines = merged(sources, start, text)
    if _nothing_there(sources):
        hint = " (is `nicelist up` running from this directory? see --run-dir)" if local_run(target, run_dir) else ""
        raise click.ClickException(f"no logs at {where(sources)}{hint}")
    _print(lines[-limit:] if limit else lines, as_json)
    while follow:
        try:
            time.sleep(interval)
            with aws_errors():
                _print(merged(sources, start, text), as_json)
        except KeyboardInterrupt:
            return
