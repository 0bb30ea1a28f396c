"""The demo's live view refreshes while the spike is being sent, not only once it drains."""

from __future__ import annotations

import threading
import time

from nicelist.demo.run import watch


def test_the_view_ticks_while_the_senders_run() -> None:
    ticks: list[float] = []
    senders = [threading.Thread(target=time.sleep, args=(0.45,)) for _ in range(2)]
    watch(senders, lambda: ticks.append(time.monotonic()), timeout=5, interval=0.1)
    assert len(ticks) >= 3
    assert not any(t.is_alive() for t in senders)
