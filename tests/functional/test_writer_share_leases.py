"""The live share against moto: leases are real items under ``#writers``, read strongly consistent,
dead ones deleted only if unchanged; two pacers on one table split W between them once both run,
and one alone spends all of W (the static share would have given it W / C)."""

from __future__ import annotations

import random
from typing import Any

from nicelist.policies import PolicyTarget, render_policies
from tests.support.fakes import FakeClock
from tests.support.writer import Stage
from writer.pacing import Pacer
from writer.share import LEASE_PARTITION, Lease, LeaseBoard, LiveShare, ShareRule


class Budget:
    """W = 120 WCU/s shared by C = 4, as SSM would say."""

    def table_rate(self) -> float:
        return 120.0

    def executions(self) -> int:
        return 4

    def last_known(self) -> tuple[float, int]:
        return 120.0, 4


def Clock() -> FakeClock:
    return FakeClock(start=2_000_000_000.0)


def pacer(stage: Stage, clock: FakeClock, owner: str, live: bool = True) -> Pacer:
    share = LiveShare(LeaseBoard(stage.dynamodb, stage.table), clock, ShareRule(), owner=owner) if live else None
    return Pacer(Budget(), clock=clock, sleep=clock.sleep, rng=random.Random(1), live=share)


def leases(stage: Stage) -> dict[str, dict[str, Any]]:
    return stage.items(LEASE_PARTITION)


def test_alone_one_execution_spends_all_of_w(stage: Stage) -> None:
    clock = Clock()
    assert pacer(stage, clock, "a", live=False).refresh() == 30.0  # W / C: three quarters idle
    alone = pacer(stage, clock, "a")
    assert alone.refresh() == 120.0
    assert alone.take_prefix([1.0] * 25, deadline=clock.now + 10) == (25, 0.0)
    assert set(leases(stage)) == {"LEASE#a"}


def test_a_second_execution_waits_its_join_time_then_both_share(stage: Stage) -> None:
    clock = Clock()
    first, second = pacer(stage, clock, "a"), pacer(stage, clock, "b")
    assert first.refresh() == 120.0
    clock.now += 0.3
    assert second.refresh() == 60.0  # it counts both at once ...
    taken = second.take_prefix([1.0], deadline=clock.now + 10)
    assert taken is not None and taken[1] >= ShareRule().join_seconds  # ... but grants only after its join time
    assert first.take_prefix([1.0], deadline=clock.now + 10) is not None
    assert first.share == 60.0  # by then the first has re-read and counted it
    assert second.take_prefix([1.0], deadline=clock.now + 0.5) is not None  # no deadline trouble once joined


def test_a_newcomer_out_of_time_takes_nothing(stage: Stage) -> None:
    clock = Clock()
    pacer(stage, clock, "a").refresh()
    late = pacer(stage, clock, "b")
    late.refresh()
    assert late.take_prefix([1.0], deadline=clock.now + 0.5) is None  # the join time passes the deadline


def test_the_board_deletes_a_dead_lease_only_if_unchanged(stage: Stage) -> None:
    board = LeaseBoard(stage.dynamodb, stage.table)
    old = Lease("x", 1.0, 2.0)
    board.put(old)
    board.put(Lease("x", 1.0, 9.5))  # renewed meanwhile
    board.delete(old)
    assert board.read() == [Lease("x", 1.0, 9.5)]
    board.delete(Lease("x", 1.0, 9.5))
    assert board.read() == []


def test_malformed_lease_items_count_for_nothing(stage: Stage) -> None:
    stage.dynamodb.put_item(
        TableName=stage.table,
        Item={"child_id": {"S": LEASE_PARTITION}, "sk": {"S": "LEASE#bad"}, "lease_until": {"S": "soon"}},
    )
    assert LeaseBoard(stage.dynamodb, stage.table).read() == []


def test_the_writer_may_read_and_delete_only_lease_items() -> None:
    policy = render_policies(PolicyTarget("prod", "123456789012", "eu-west-1", "aws"))["writer"]["policy"]
    statements = {s["Sid"]: s for s in policy["Statement"]}
    leases = statements["ShareTheBudgetByLeases"]
    assert leases["Action"] == ["dynamodb:Query", "dynamodb:DeleteItem"]
    assert leases["Resource"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/nicelist-prod"
    assert leases["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [LEASE_PARTITION]}}
    assert "dynamodb:PutItem" in statements["WriteTheTable"]["Action"]  # the lease itself is a PutItem
