"""The demo's backlog is counted in updates from the writers' own counts, not in messages.

Deferral turns one partly written message into a new one, so a message count can rise after the
spike has ended while the updates left to write only fall.
"""

from __future__ import annotations

import json
from pathlib import Path

from nicelist.demo.monitor import WriterProgress, settled_in


def batch_done(updates: int, deferred: int = 0, returned_updates: int = 0) -> str:
    entry = {"message": "batch done", "updates": updates, "deferred": deferred, "returned_updates": returned_updates}
    return json.dumps(entry) + "\n"


def test_a_batch_settles_what_it_neither_deferred_nor_returned() -> None:
    assert settled_in(batch_done(1000, deferred=400, returned_updates=100).encode()) == 500
    assert settled_in(b'{"message": "remainder deferred", "updates": 400}') == 0
    assert settled_in(b'not json but says "batch done"') == 0


def test_deferral_does_not_grow_the_backlog(tmp_path: Path) -> None:
    # GIVEN 1,000 accepted updates in one message
    log = tmp_path / "writer.log"
    log.write_text("")
    progress = WriterProgress(log)
    accepted = 1000
    # WHEN a batch writes 600 and defers 400 as a new message, and the next batch writes those
    with log.open("a") as out:
        out.write(batch_done(1000, deferred=400))
    first = accepted - (progress.read() or 0)
    with log.open("a") as out:
        out.write(batch_done(400))
    second = accepted - (progress.read() or 0)
    # THEN the backlog goes 400 then 0, though the queue held one message, then one new message
    assert (first, second) == (400, 0)


def test_a_line_written_in_two_parts_is_counted_once(tmp_path: Path) -> None:
    log = tmp_path / "writer.log"
    log.write_text("")
    progress = WriterProgress(log)
    line = batch_done(10)
    log.write_text(line[:15])
    assert progress.read() == 0
    with log.open("a") as out:
        out.write(line[15:])
    assert progress.read() == 10
