"""Each AWS rule of the model (nicelist.model), one test each, against the documented numbers and,
where the local stack implements the same rule, against its code."""

from __future__ import annotations

import random

import pytest

from contract.updates import parse_update
from nicelist.local.meter.limiter import CapacityLimiter
from nicelist.local.ramp import concurrency_after, parse_ramp
from nicelist.model.arrivals import december_23, from_counts
from nicelist.model.dynamodb import AutoScaling, Table, TableSpec
from nicelist.model.mapping import Mapping
from nicelist.model.sqs import Cohort, Queue, return_backoff
from nicelist.model.writer import WriterSpec, aimd_second, coalesced_units, execution_rate
from producers.synthetic import generate
from writer.pacing import AIMD_DECREASE, AIMD_INCREASE_PER_SECOND
from writer.ratelimit import AimdController
from writer.returns import return_delay


def test_december_23_holds_its_total_over_one_day() -> None:
    day = december_23()
    assert day.total == pytest.approx(1.8e9)
    assert day.end == 86400
    assert day.peak_rate == pytest.approx(max(day.rates)) and day.rates.index(day.peak_rate) == 18
    assert day.scaled(2).total == pytest.approx(3.6e9)


def test_counts_per_second_become_a_profile_from_the_start() -> None:
    profile = from_counts({100: 5, 102: 7}, start=99)
    assert profile.total == 12
    assert profile.arrived_before(2) == 5 and profile.end == 4


def test_return_backoff_is_the_middle_of_the_writers_jittered_range() -> None:
    for receives in (1, 2, 5, 12):
        low = return_delay(receives, random.Random(0), 2.0, 300.0)
        draws = [return_delay(receives, random.Random(seed), 2.0, 300.0) for seed in range(200)]
        ceiling = min(300.0, 2.0 * 2 ** (receives - 1))
        assert min(draws) >= ceiling / 2 - 1 and max(draws) <= ceiling + 1
        assert return_backoff(receives, 2.0, 300.0) == pytest.approx(0.75 * ceiling)
        assert low <= ceiling


def test_the_queue_hands_out_the_oldest_first_and_splits_a_cohort() -> None:
    queue = Queue()
    queue.arrive(0.0, messages=10, updates=100)
    queue.arrive(5.0, messages=10, updates=50)
    batch = queue.take(15)
    assert batch is not None and batch.born == 0.0
    assert (batch.messages, batch.updates, batch.receives) == (15, 125, 1)
    assert queue.updates == pytest.approx(25) and queue.oldest() == 5.0


def test_redrive_moves_a_cohort_received_max_receive_count_times() -> None:
    queue = Queue(max_receive_count=5)
    queue.put_back(Cohort(0.0, 1, 10, receives=5), visible_at=1.0)
    queue.put_back(Cohort(0.0, 1, 10, receives=4), visible_at=1.0)
    assert queue.redriven_updates == 10
    queue.release(0.5)
    assert not queue.visible
    queue.release(1.0)
    assert queue.visible_messages == 1


def _ramped(mapping: Mapping, seconds: float) -> int:
    state = mapping.advance(mapping.start(0.0), 0.0, received=10)  # messages appear at 0
    return mapping.running(mapping.advance(state, seconds, received=None))


def test_standard_mapping_starts_at_five_and_adds_300_a_minute_up_to_its_maximum() -> None:
    mapping = Mapping(maximum_concurrency=1000)
    assert [_ramped(mapping, s) for s in (0, 0.2, 30, 60, 120, 180, 240)] == [5, 6, 155, 305, 605, 905, 1000]
    assert _ramped(Mapping(maximum_concurrency=3), 0) == 3
    assert Mapping(maximum_concurrency=50, reserved_concurrency=20).ceiling == 20
    assert Mapping(maximum_concurrency=5000).ceiling == 1250
    state = mapping.advance(mapping.advance(mapping.start(0.0), 0.0, received=10), 60.0, received=0)
    assert mapping.running(state) == 304  # an empty receive: one fewer


def test_provisioned_mapping_keeps_its_pollers_ready_and_adds_1000_a_minute() -> None:
    mapping = Mapping(maximum_concurrency=5000, ramp=parse_ramp("provisioned:4:200"))
    assert _ramped(mapping, 0) == 40
    assert _ramped(mapping, 60) == 1040
    assert mapping.ceiling == 2000  # 200 pollers x 10


def test_the_mapping_ramps_as_the_local_runtime_does() -> None:
    ramp = parse_ramp("1:12", minute_seconds=60)
    mapping = Mapping(maximum_concurrency=8, ramp=ramp)
    for seconds in (0, 4.9, 5, 12, 60):
        assert _ramped(mapping, seconds) == concurrency_after(ramp, seconds, 8)


def test_provisioned_table_matches_the_meter_second_by_second() -> None:
    rng = random.Random(7)
    now = [0.0]
    meter = CapacityLimiter(100, 300.0, clock=lambda: now[0])
    model = Table(TableSpec(100, burst_seconds=300.0))
    for second in range(900):
        now[0] = float(second)
        offered = rng.choice([0, 20, 100, 150, 400, 3000])
        available = meter.available()
        assert available is not None
        taken = min(offered, available)
        assert meter.try_acquire(taken)
        assert model.admit(float(offered), float(second), 1.0) == pytest.approx(taken)


def test_burst_credit_is_capped_at_300_seconds_of_capacity() -> None:
    table = Table(TableSpec(10, initial_credit=1e9))
    assert table.credit == 3000
    assert table.admit(800, 0.0, 1.0) == 800
    assert table.credit == 3000 - 790
    assert table.admit(1e6, 1.0, 1.0) == 1000  # burst or not, one partition takes 1,000 WCU/s


def test_a_hot_key_is_throttled_at_its_partitions_1000_wcu() -> None:
    even = Table(TableSpec(4000))
    hot = Table(TableSpec(4000, hot_key_share=0.5))
    assert even.admit(4000, 0.0, 1.0) == 4000
    assert hot.admit(4000, 0.0, 1.0) == 2000  # half the writes on one partition of 1,000 WCU/s


def test_on_demand_serves_double_the_previous_peak_once_it_is_30_minutes_old() -> None:
    table = Table(TableSpec(on_demand=True))
    assert table.admit(10_000, 0.0, 1.0) == 4000
    for second in range(1, 1800):
        table.admit(4000, float(second), 1.0)
    assert table.limit(1.0) == 4000
    table.admit(4000, 1800.0, 1.0)
    assert table.limit(1.0) == 8000
    capped = Table(TableSpec(on_demand=True, max_units=1500))
    assert capped.admit(10_000, 0.0, 1.0) == 1500
    assert Table(TableSpec(on_demand=True, warm_units=20_000)).limit(1.0) == 20_000


def test_auto_scaling_scales_out_after_two_minutes_above_target_and_in_after_fifteen_below() -> None:
    spec = TableSpec(100, burst_seconds=0, autoscaling=AutoScaling(100, 1000))
    table = Table(spec)
    seconds = [table.admit(1000, float(s), 1.0) for s in range(300)]
    assert seconds[0] == 100 and seconds[119] == 100  # two minutes at 100 % of 100 WCU
    assert seconds[120] == 143  # ceil(100 / 0.7), at once as the meter does
    assert seconds[240] == 205  # two more minutes above 70 %
    quiet = [table.admit(10, 300.0 + s, 1.0) for s in range(16 * 60)]
    assert quiet[-1] == 10 and table.capacity == 100  # 15 minutes below 50 %: back to the minimum


def test_an_auto_scaling_update_can_take_time() -> None:
    table = Table(TableSpec(100, burst_seconds=0, autoscaling=AutoScaling(100, 1000, update_seconds=90)))
    seconds = [table.admit(1000, float(s), 1.0) for s in range(240)]
    assert seconds[209] == 100 and seconds[210] == 143


def test_share_is_w_over_c_or_over_the_running_ones_never_more_than_w() -> None:
    spec = WriterSpec(write_rate=100, concurrency=10, share_mode="static")
    assert execution_rate(spec, running=2, fraction=1.0) == 10
    running = WriterSpec(write_rate=100, concurrency=10, share_mode="live")
    assert execution_rate(running, running=2, fraction=1.0) == 50
    for n in range(1, 13):
        assert min(n, 10) * execution_rate(running, running=n, fraction=1.0) <= 100 + 1e-9
    assert execution_rate(WriterSpec(1000, 1, execution_wcu=300), 1, 1.0) == 300


def test_aimd_grows_three_tenths_a_second_and_cuts_a_tenth_when_the_second_is_full() -> None:
    assert aimd_second(0.5, 100, 100)[1] == pytest.approx(0.8)  # clean: +0.3
    assert aimd_second(0.5, 100, 100)[0] == pytest.approx(0.65)  # written at the mean
    assert aimd_second(0.9, 10, 100) == (pytest.approx(0.9833, abs=1e-4), 1.0)  # capped at 1
    # 130 wanted, 100 taken: full 0.77 s in, cut to 0.9, grown back by 0.3 x 0.23 s
    mean, end = aimd_second(1.0, 130, 100)
    assert end == pytest.approx(0.9 + 0.3 * (1 - 100 / 130))
    assert 0.9 < mean < 1.0
    assert aimd_second(0.05, 1000, 1)[1] >= 0.05  # never below the floor


@pytest.mark.parametrize(
    ("demand", "allowed", "start"), [(130, 100, 1.0), (300, 100, 1.0), (130, 100, 0.6), (90, 100, 0.4), (110, 100, 1.0)]
)
def test_the_model_s_aimd_is_the_writer_s_controller(demand: float, allowed: float, start: float) -> None:
    """Drive writer.ratelimit.AimdController (the writer's own) on a fake clock through 30 seconds in
    which the table fills after ``allowed`` units of the writers' offer; the model's closed form writes
    at the same mean fraction. (Second by second they may differ: the controller's 1 s cooldown skips
    a cut when the table fills a little earlier in the next second; the mean is what the figures use.)"""
    clock = [0.0]
    controller = AimdController(lambda: clock[0], decrease=AIMD_DECREASE, increase_per_second=AIMD_INCREASE_PER_SECOND)
    controller._fraction = start  # type: ignore[attr-defined]
    steps, seconds = 1000, 30
    written = 0.0
    for second in range(seconds):
        offered, cut = 0.0, False
        for k in range(steps):
            clock[0] = second + k / steps
            offered += demand * controller.fraction / steps
            if offered > allowed * (1 + 1e-9) and not cut:
                controller.on_throttle()
                cut = True
        written += offered
    fraction, modelled = start, 0.0
    for _ in range(seconds):
        mean, fraction = aimd_second(fraction, demand, allowed)
        modelled += demand * mean
    assert modelled == pytest.approx(written, rel=0.02)


def test_coalescing_counts_fewer_units_for_bigger_batches_of_a_repetitive_workload() -> None:
    updates = [parse_update(u) for u in generate(2000, children=50, seed=3)]
    messages = [updates[i : i + 20] for i in range(0, len(updates), 20)]
    one, ten = coalesced_units(messages, 1), coalesced_units(messages, 10)
    assert 1.0 <= ten < one


def test_usable_seconds_leave_the_deadline_margin() -> None:
    assert WriterSpec(100, 2, timeout=30).usable_seconds == 30 - 9.5  # the writer's deadline_margin_ms
    assert WriterSpec(100, 2, timeout=10).usable_seconds == 5  # a short timeout keeps half, at least 4 s
    assert WriterSpec(100, 2, timeout=5).usable_seconds == 1


def test_auto_scaling_counts_a_long_tick_in_each_minute_it_spans() -> None:
    minute = Table(TableSpec(100, burst_seconds=0, autoscaling=AutoScaling(100, 1000)))
    ticks = Table(TableSpec(100, burst_seconds=0, autoscaling=AutoScaling(100, 1000)))
    for second in range(0, 600, 60):
        minute.admit(1e9, float(second), 60.0)
    for second in range(0, 600, 120):
        ticks.admit(1e9, float(second), 120.0)
    assert ticks.capacity == minute.capacity > 400
