"""The 2017 way, for comparison: every producer writes straight to the table.

One unconditional PutItem per update (plus a track point per GPS fix), with the SDK's default
retries. When the table throttles beyond those retries the write is simply gone, and when
updates arrive out of order an older one overwrites a newer one. Nothing here is wrong by the
standards of the code it imitates; the point is what it does under a spike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.updates import InvalidUpdate, LocationUpdate, parse_update
from contract.updates import format_timestamp as stamp
from nicelist.demo.sender import TICK, SendCounts
from nicelist.demo.workload import Phase
from writer.items import state_item, track_item

# Enough concurrent producers to push the spike's rate even while every call sits in SDK retries
# (in 2017 these were thousands of independent devices, each with its own connection).
THREADS = 96


class DirectSender:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="direct")
        self.counts = SendCounts()

    def run(self, phases: Sequence[Phase], updates: Sequence[dict[str, Any]]) -> None:
        cursor = 0
        start = time.monotonic()
        for phase in phases:
            chunk = updates[cursor : cursor + phase.updates]
            cursor += phase.updates
            done = 0
            while done < len(chunk):
                due = min(len(chunk), int((time.monotonic() - start) * phase.rate) + 1)
                for update in chunk[done:due]:
                    self._pool.submit(self._put, update)
                done = due
                time.sleep(TICK)
            start += phase.seconds
        self._pool.shutdown(wait=True)

    def _put(self, raw: dict[str, Any]) -> None:
        try:
            update = parse_update(raw)
        except InvalidUpdate:
            self.counts.record(int(time.time()), [raw], 400)
            return
        written_at = stamp(datetime.now(UTC))
        items = [state_item(update, written_at)]
        if isinstance(update, LocationUpdate):
            items.append(track_item(update, written_at, 30))
        try:
            for item in items:
                self._dynamodb.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError):
            # The producer got an error and, like the 2017 code, has nowhere to keep the update.
            self.counts.record(int(time.time()), [raw], 503)
            return
        self.counts.record(int(time.time()), [raw], 202)
