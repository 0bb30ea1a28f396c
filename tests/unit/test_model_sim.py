"""The simulation loop (nicelist.model.sim): what the rules add up to, and that its tick does not
change the answer."""

from __future__ import annotations

import pytest

from nicelist.local.ramp import OFF, parse_ramp
from nicelist.model import Mapping, Scenario, TableSpec, WriterSpec, december_23, simulate
from nicelist.model.arrivals import Profile
from nicelist.model.sim import _Loop
from nicelist.model.sqs import Queue


def _scenario(profile: Profile, **changes: object) -> Scenario:
    writer = WriterSpec(write_rate=97, concurrency=2, units_per_update=1.5, updates_per_message=50)
    values: dict[str, object] = {
        "mapping": Mapping(batch_size=10, maximum_concurrency=2, ramp=OFF),
        "writer": writer,
        "table": TableSpec(100),
    }
    values.update(changes)
    return Scenario(profile, **values)  # type: ignore[arg-type]


def test_a_backlog_drains_at_w_plus_the_invocations_overhead() -> None:
    result = simulate(_scenario(Profile(backlog=9700)))
    ideal = 9700 * 1.5 / 97
    batches = 9700 / 50 / 10
    assert result.units == pytest.approx(9700 * 1.5)
    assert ideal < result.drain_seconds <= ideal + batches * 0.1 / 2 + 2
    assert result.peak_offered == pytest.approx(97)
    assert result.throttled_share == 0


def test_a_budget_above_the_table_is_throttled_and_cut_by_aimd() -> None:
    strict = TableSpec(100, burst_seconds=0)
    writer = WriterSpec(write_rate=150, concurrency=2, units_per_update=1.5, updates_per_message=50)
    result = simulate(_scenario(Profile(backlog=20_000), table=strict, writer=writer))
    assert max(result.series.written) <= 100 + 1e-9
    # the writer's AIMD cuts once a second, late in it (the table is full 2/3 in), and grows back 0.3 a
    # second: the excess is trimmed, not removed; a little below 1 - 100 / 150, what no cut would give
    assert 0.25 < result.throttled_share < 1 - 100 / 150
    assert result.drain_seconds == pytest.approx(20_000 * 1.5 / 100, rel=0.1)


def test_a_batch_longer_than_the_deadline_is_deferred_not_lost() -> None:
    writer = WriterSpec(write_rate=20, concurrency=1, timeout=10, units_per_update=1, updates_per_message=100)
    mapping = Mapping(batch_size=10, maximum_concurrency=1, ramp=OFF)
    result = simulate(_scenario(Profile(backlog=3000), writer=writer, mapping=mapping))
    assert result.deferred_updates > 0
    assert result.units == pytest.approx(3000)
    assert result.redriven_updates == 0


def test_a_table_that_takes_nothing_returns_batches_until_the_horizon() -> None:
    result = simulate(_scenario(Profile(backlog=1000), table=TableSpec(0, burst_seconds=0), horizon=600))
    assert not result.drained
    assert result.units == 0
    assert result.series.backlog[-1] == pytest.approx(1000)


def test_the_tick_does_not_change_a_days_answer() -> None:
    day = december_23(1.8e8)
    writer = WriterSpec(write_rate=6000, concurrency=12, units_per_update=1.375, updates_per_message=20)
    mapping = Mapping(batch_size=10, maximum_concurrency=12)
    fine = simulate(Scenario(day, mapping, writer, TableSpec(6200), dt=10))
    coarse = simulate(Scenario(day, mapping, writer, TableSpec(6200), dt=120))
    assert coarse.last_write == pytest.approx(fine.last_write, rel=0.02)
    assert coarse.peak_age == pytest.approx(fine.peak_age, rel=0.05)
    assert coarse.units == pytest.approx(fine.units, rel=1e-6)


def test_a_spike_of_1_8_billion_updates_is_aggregated_not_counted_one_by_one() -> None:
    day = december_23()
    writer = WriterSpec(write_rate=60_000, concurrency=120, timeout=60, units_per_update=1.375, updates_per_message=20)
    result = simulate(Scenario(day, Mapping(batch_size=10, maximum_concurrency=120), writer, TableSpec(62_000), dt=120))
    assert result.units == pytest.approx(1.8e9 * 1.375, rel=1e-6)
    assert result.drained and result.batches > 8_000_000
    assert len(result.series.time) < 1000


def test_the_live_share_uses_what_the_ramp_leaves_idle() -> None:
    ramp = parse_ramp("1:4")  # one execution at first, one more every 15 s
    mapping = Mapping(batch_size=10, maximum_concurrency=4, ramp=ramp)
    results = {}
    for mode in ("static", "live"):
        writer = WriterSpec(write_rate=97, concurrency=4, units_per_update=1.5, updates_per_message=50, share_mode=mode)
        results[mode] = simulate(_scenario(Profile(backlog=5000), mapping=mapping, writer=writer))
    assert results["live"].drain_seconds < 0.9 * results["static"].drain_seconds
    assert results["live"].peak_offered <= 97 + 1e-9
    assert results["static"].series.written[5] == pytest.approx(97 / 4)


def test_a_lane_takes_heavy_messages_behind_light_ones_a_batch_at_a_time() -> None:
    # light 3-update messages at the head, 67-update ones behind: a lane's batches must be sized by what
    # it takes, not by the head (it took 240 messages, the whole spike, when it was)
    writer = WriterSpec(write_rate=96, concurrency=4, units_per_update=1.5, timeout=60, share_mode="static")
    loop = _Loop(_scenario(Profile(), writer=writer, mapping=Mapping(batch_size=10, maximum_concurrency=4, ramp=OFF)))
    loop.queue.arrive(0.0, messages=30, updates=90)
    loop.queue.arrive(1.0, messages=50, updates=3350)
    batch, count = loop._super_batch(10, 24.0, 0.45, part=1000)
    assert batch is not None
    seconds = batch.updates * 1.5 / 24 + 0.45 * count
    assert seconds <= writer.usable_seconds + 45  # at most one heavy batch (42 s) past the light ones
    assert loop.queue.visible_messages >= 30


def test_a_batch_given_back_is_as_it_was() -> None:
    queue = Queue()
    queue.arrive(0.0, messages=10, updates=100)
    batch = queue.take(4)
    assert batch is not None
    queue.give_back(batch)
    assert queue.visible_messages == 10 and queue.updates == 100
    again = queue.take(10)
    assert again is not None and again.receives == 1 and again.updates == 100
