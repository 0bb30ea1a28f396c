"""The latest alarm notifications: the run directory's ``notifications.log``, one JSON object a line
(``time, alarm, state, previous, reason``), as the local stack's alarm evaluation writes them.

The file is input like any other: it may be missing, empty, cut mid-line, or hold lines that are not
JSON or not objects. Those are skipped; each field kept is turned into a short string, so nothing the
file holds reaches the page as anything but text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOTIFICATIONS_FILE = "notifications.log"
FIELDS = ("time", "alarm", "state", "previous", "reason")
TAIL_BYTES = 64 * 1024  # only the end of the file is read: the newest lines
LATEST = 20
FIELD_CHARS = 500


def _field(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:FIELD_CHARS]


def parse_line(line: str) -> dict[str, str | None] | None:
    """One notification, or None for a line that is not one."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not any(key in entry for key in ("alarm", "state")):
        return None
    return {key: _field(entry.get(key)) for key in FIELDS}


def latest_notifications(run_dir: Path | None, count: int = LATEST) -> list[dict[str, str | None]]:
    """The newest ``count`` notifications, newest first; [] when there is no file."""
    if run_dir is None:
        return []
    path = run_dir / NOTIFICATIONS_FILE
    try:
        with path.open("rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - TAIL_BYTES))
            data = log.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first line read is probably cut
    found = [entry for line in lines if (entry := parse_line(line)) is not None]
    return found[::-1][:count]
