"""The live share (writer/share.py): under any sequence of joins, leaves, pauses, lapsed leases and
failed lease calls, the shares of the executions that may grant units never sum above W; alone, an
execution takes all of W at once; a newcomer waits until every other reader has counted it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from writer.ratelimit import SecondBudget, TooFarAhead
from writer.share import Lease, LiveShare, ShareRule, divisor, live_leases

W = 120.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Board:
    """The lease items, as DynamoDB keeps them; ``fail`` makes the next calls raise."""

    items: dict[str, Lease] = field(default_factory=dict)
    fail: int = 0

    def _maybe_fail(self) -> None:
        if self.fail:
            self.fail -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

    def put(self, lease: Lease) -> None:
        self._maybe_fail()
        self.items[lease.owner] = lease

    def read(self) -> list[Lease]:
        self._maybe_fail()
        return list(self.items.values())

    def delete(self, lease: Lease) -> None:
        self._maybe_fail()
        if self.items.get(lease.owner) == lease:
            del self.items[lease.owner]


def test_alone_an_execution_takes_all_of_w_at_once() -> None:
    clock, board = Clock(), Board()
    share = LiveShare(board, clock, owner="a")  # type: ignore[arg-type]
    standing = share.prepare(4)
    assert (standing.active_at, standing.divisor) == (clock.now, 1)
    assert share.take_writes() == 0  # the join write is in no budget


def test_a_newcomer_waits_until_the_others_have_counted_it() -> None:
    clock, board, rule = Clock(), Board(), ShareRule()
    first = LiveShare(board, clock, rule, owner="a")  # type: ignore[arg-type]
    first.prepare(4)
    clock.now += 0.1
    second = LiveShare(board, clock, rule, owner="b")  # type: ignore[arg-type]
    joined = second.prepare(4)
    assert joined.divisor == 2
    assert joined.active_at == pytest.approx(clock.now + rule.join_seconds)
    assert first.prepare(4).divisor == 1  # read 0.1 s ago: not yet due
    clock.now += rule.read_seconds
    assert first.prepare(4).divisor == 2  # counted within read_seconds, before the newcomer grants


def test_divisor_is_clamped_to_one_and_c() -> None:
    assert [divisor(n, 4) for n in (0, 1, 3, 4, 9)] == [1, 1, 3, 4, 4]


def test_dead_leases_stop_counting_and_are_cleaned_up() -> None:
    clock, board, rule = Clock(), Board(), ShareRule()
    board.items["gone"] = Lease("gone", clock.now - 100, clock.now - 50)
    board.items["recent"] = Lease("recent", clock.now - 5, clock.now - 0.1)
    assert [lease.owner for lease in live_leases(list(board.items.values()), clock.now, 0.25)] == ["recent"]
    share = LiveShare(board, clock, rule, owner="a")  # type: ignore[arg-type]
    assert share.prepare(4).divisor == 2  # itself and "recent" (maybe still valid on a clock behind)
    assert "gone" not in board.items and share.take_writes() == 1


def test_a_failed_join_grants_nothing_and_tries_again() -> None:
    clock, board = Clock(), Board(fail=1)
    share = LiveShare(board, clock, owner="a")  # type: ignore[arg-type]
    assert share.prepare(4).active_at > clock.now
    clock.now += 0.2
    assert share.prepare(4).active_at == clock.now


def test_a_failed_read_divides_by_c_until_a_read_works() -> None:
    clock, board, rule = Clock(), Board(), ShareRule()
    first = LiveShare(board, clock, rule, owner="a")  # type: ignore[arg-type]
    assert first.prepare(4).divisor == 1
    clock.now += rule.read_seconds
    board.fail = 1
    assert first.prepare(4).divisor == 4  # not 1: someone may have joined unseen
    clock.now += rule.read_seconds
    assert first.prepare(4).divisor == 1


def test_while_another_caller_reads_an_old_reading_is_not_used() -> None:
    clock, board, rule = Clock(), Board(), ShareRule()
    share = LiveShare(board, clock, rule, owner="a")  # type: ignore[arg-type]
    assert share.prepare(4).divisor == 1
    with share._io:  # another write thread is re-reading (a slow Query): this one does not wait
        clock.now += rule.read_seconds - 0.3
        assert share.prepare(4).divisor == 1  # the reading is still young enough
        clock.now += 0.3
        assert share.prepare(4).divisor == 4  # too old to price units with: C, which is always safe


@pytest.mark.parametrize("code", ["AccessDeniedException", "ResourceNotFoundException", "ValidationException"])
def test_leases_refused_for_good_fall_back_to_c(code: str) -> None:
    class Refused(Board):
        def put(self, lease: Lease) -> None:
            raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")

    clock = Clock()
    share = LiveShare(Refused(), clock, owner="a")  # type: ignore[arg-type]
    assert share.prepare(4).divisor == 4 and share.static
    assert share.prepare(4).active_at <= clock.now  # W / C at once, not a retry every 0.2 s


actions = st.lists(
    st.tuples(
        st.sampled_from(["join", "prepare", "prepare", "prepare", "leave", "fail"]),
        st.integers(0, 7),
        st.one_of(st.sampled_from([0.0, 0.05, 0.3, 0.6, 1.1, 2.0, 6.0, 11.0]), st.floats(0, 12, allow_nan=False)),
    ),
    max_size=150,
)


@settings(max_examples=500, deadline=None)
@given(actions, st.integers(1, 6), st.sampled_from([0.5, 1.0, 2.0]))
def test_shares_never_sum_above_w(steps: list[tuple[str, int, float]], concurrency: int, read: float) -> None:
    """Each prepare that lets an execution grant prices units it may grant for ``lead`` seconds after
    it (its ``SecondBudget`` reserves no further ahead); at every moment, the highest price each
    execution may still be granting at, summed over executions, is at most W."""
    clock, board = Clock(), Board()
    rule = ShareRule(read_seconds=read)
    running: dict[int, LiveShare] = {}
    made = 0
    priced: list[tuple[float, float, int, float]] = []  # from, until, execution, W / divisor
    for action, which, gap in steps:
        clock.now += gap
        if action == "join" and len(running) < concurrency:  # reserved concurrency: at most C run
            made += 1
            running[made] = LiveShare(board, clock, rule, owner=str(made))  # type: ignore[arg-type]
        elif action == "leave" and running:
            running.pop(sorted(running)[which % len(running)])
            continue
        elif action == "fail":
            board.fail = 1 + which % 2
            continue
        if not running:
            continue
        key = made if action == "join" and made in running else sorted(running)[which % len(running)]
        standing = running[key].prepare(concurrency)
        if standing.active_at <= clock.now:
            priced.append((clock.now, clock.now + rule.lead_seconds, key, W / standing.divisor))
    for moment, _, _, _ in priced:  # the sum is highest where some interval begins
        granting: dict[int, float] = {}
        for start, until, execution, price in priced:
            if start <= moment <= until:
                granting[execution] = max(granting.get(execution, 0.0), price)
        assert sum(granting.values()) <= W * (1 + 1e-9), (moment, granting)


def test_the_budget_reserves_no_further_ahead_than_the_lead() -> None:
    clock = Clock()
    slept: list[float] = []
    budget = SecondBudget(10.0, clock, slept.append)
    assert budget.acquire_prefix([5.0], math.inf, max_lead=0.5) == (1, 0.0)  # units 0-4 of second 1000
    with pytest.raises(TooFarAhead) as early:
        budget.acquire_prefix([5.0], math.inf, max_lead=0.3)  # would start at 0.5 s
    assert early.value.seconds == pytest.approx(0.2)
    assert budget.acquire_prefix([5.0], math.inf, max_lead=0.5) == (1, 0.5)  # nothing was taken before
    assert slept == [0.5]
