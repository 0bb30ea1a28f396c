"""``nicelist get CHILD``: what the table holds about one child, read back with ``ChildReader``.

Children's data is private; this is an explicit read by an operator who names the child, so it prints
the data (status, reason, position). Nothing else in the CLI prints it without being asked.
Exit code 1 when the table holds nothing about the child.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from contract.names import StageNames
from nicelist.console import aws_errors, emit
from nicelist.options import AwsTarget, aws_options
from nicelist.reader import DEFAULT_TRACK_LIMIT, ChildReader, ChildState, LocationRecord, TrackPoint


def _accuracy(fix: LocationRecord | TrackPoint) -> str:
    return "" if fix.accuracy_m is None else f"  ±{fix.accuracy_m:g} m"


def _lines(state: ChildState, track: bool) -> list[str]:
    lines = [f"child      {state.child_id}"]
    if state.status is None:
        lines.append("status     (none)")
    else:
        status = state.status
        reason = f'  "{status.reason}"' if status.reason else ""
        lines.append(f"status     {status.status}{reason}")
        lines.append(f"           observed {status.observed_at}, written {status.written_at or '?'}")
    if state.location is None:
        lines.append("location   (none)")
    else:
        fix = state.location
        lines.append(f"location   {fix.lat:.6f}, {fix.lon:.6f}{_accuracy(fix)}")
        lines.append(f"           observed {fix.observed_at}, written {fix.written_at or '?'}")
    if track:
        lines.append(f"track      {len(state.track)} point{'s' if len(state.track) != 1 else ''}, oldest first")
        lines += [f"  {p.observed_at}  {p.lat:.6f}, {p.lon:.6f}{_accuracy(p)}" for p in state.track]
    return lines


def as_json(state: ChildState, track: bool) -> dict[str, Any]:
    """Numbers as JSON numbers; ``track`` is null when it was not read (not: an empty track)."""
    data = asdict(state)
    if not track:
        data["track"] = None
    return data


@click.command("get")
@click.argument("child_id", metavar="CHILD")
@aws_options
@click.option("--track", is_flag=True, help="Also read the track (every fix), oldest first.")
@click.option(
    "--track-limit",
    type=click.IntRange(min=1),
    default=DEFAULT_TRACK_LIMIT,
    show_default=True,
    help="With --track: at most this many of the newest points.",
)
@click.option("--consistent", is_flag=True, help="Strongly consistent read (twice the read units).")
@click.option("--json", "as_json_", is_flag=True, help="Print the child as JSON.")
def get_command(
    target: AwsTarget, child_id: str, track: bool, track_limit: int, consistent: bool, as_json_: bool
) -> None:
    """Show what the table holds about CHILD: status, location (and --track). Exit 1 if unknown."""
    reader = ChildReader(target.client("dynamodb"), StageNames(target.stage).table)
    with aws_errors():
        state = reader.get(child_id, track=track, track_limit=track_limit, consistent=consistent)
    if state is None:
        raise click.ClickException(f"no child {child_id!r} in {StageNames(target.stage).table}")
    emit(as_json(state, track), as_json=as_json_, lines=_lines(state, track))
