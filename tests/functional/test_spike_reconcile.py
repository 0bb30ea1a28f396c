"""The spike's reconcile (``loadtests/reconcile.py``, ``loadtests/targets.py``) against moto and the real writer.

A deployed stage is read back one ``Query`` per child sent, never scanned; the check must fail on
a missing child, a register older than the newest acknowledged update, and a missing track point.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.keys import LOCATION, PARTITION_KEY, SORT_KEY, STATUS, track_key
from contract.updates import parse_update
from loadtests.reconcile import Acknowledged, by_query, by_scan
from loadtests.targets import TargetError, drop_one_register, stage_target
from nicelist.options import AwsTarget
from nicelist.reader import ChildReader
from tests.support.events import envelope, lambda_context, location, sqs_event, status
from tests.support.writer import Stage
from writer.handler import handle

AT = "2026-12-23T18:00:{:02d}Z"


class QueriesOnly:
    """The DynamoDB client with ``query`` only (a scan would raise), counting the queries."""

    def __init__(self, dynamodb: Any) -> None:
        self._dynamodb = dynamodb
        self.children: list[str] = []

    def query(self, **request: Any) -> Any:
        self.children.append(request["ExpressionAttributeValues"][":c"]["S"])
        return self._dynamodb.query(**request)


def write(stage: Stage, *updates: dict[str, Any]) -> None:
    assert handle(sqs_event(envelope(*updates)), lambda_context(), stage.deps()) == {"batchItemFailures": []}


def acknowledged(*updates: dict[str, Any]) -> Acknowledged:
    record = Acknowledged()
    record.extend(parse_update(update) for update in updates)
    return record


OLD_STATUS = status("c-1", AT.format(1), "nice")
NEW_STATUS = status("c-1", AT.format(5), "naughty", reason="ate the cookies early")
FIXES = [location("c-1", AT.format(s), lat=50.0 + s, lon=-s / 10, accuracy_m=12.5) for s in (2, 4, 3)]
OTHER = status("c-2", AT.format(4), "nice")


def test_a_table_holding_every_acknowledged_update_reconciles_by_one_query_per_child(stage: Stage) -> None:
    # GIVEN the writer wrote everything acknowledged (a duplicate included)
    updates = [OLD_STATUS, NEW_STATUS, *FIXES, FIXES[0], OTHER]
    write(stage, *updates)
    client = QueriesOnly(stage.dynamodb)
    # WHEN it is reconciled by query
    verdict = by_query(ChildReader(client, stage.table), acknowledged(*updates))
    # THEN nothing is lost, and each child was read with one query, no scan
    assert verdict.exact and verdict.registers_correct == 3 and verdict.track_expected == 3
    assert sorted(client.children) == ["c-1", "c-2"]


def test_a_register_older_than_the_newest_acknowledged_update_is_a_loss(stage: Stage) -> None:
    # GIVEN the table holds only the older status of c-1, though the newer one was acknowledged
    write(stage, OLD_STATUS, *FIXES, OTHER)
    record = acknowledged(OLD_STATUS, NEW_STATUS, *FIXES, OTHER)
    # WHEN reconciled, by query as on a stage and by scan as locally
    verdicts = [
        by_query(ChildReader(stage.dynamodb, stage.table), record),
        by_scan(stage.dynamodb, stage.table, record),
    ]
    # THEN both name the one register that is not the newest
    for verdict in verdicts:
        assert (verdict.lost, verdict.registers_wrong, verdict.registers_missing) == (1, 1, 0)


def test_a_missing_child_and_a_missing_track_point_are_losses(stage: Stage) -> None:
    # GIVEN c-2 never reached the table, and one of c-1's fixes is gone
    write(stage, NEW_STATUS, *FIXES)
    gone = parse_update(FIXES[1])
    stage.dynamodb.delete_item(
        TableName=stage.table, Key={PARTITION_KEY: {"S": "c-1"}, SORT_KEY: {"S": track_key(gone.revision)}}
    )
    # WHEN reconciled by query
    verdict = by_query(ChildReader(stage.dynamodb, stage.table), acknowledged(NEW_STATUS, *FIXES, OTHER))
    # THEN c-2's status and the one fix are missing, and the rest is correct
    assert (verdict.registers_missing, verdict.track_missing, verdict.lost) == (1, 1, 2)
    assert verdict.registers_correct == 2


def test_a_fix_with_another_position_than_acknowledged_is_a_loss(stage: Stage) -> None:
    # GIVEN the LOCATION register holds the newest observed_at but not the acknowledged position
    write(stage, *FIXES)
    newest = parse_update(FIXES[1])
    stage.dynamodb.update_item(
        TableName=stage.table,
        Key={PARTITION_KEY: {"S": "c-1"}, SORT_KEY: {"S": LOCATION}},
        UpdateExpression="SET lat = :lat",
        ExpressionAttributeValues={":lat": {"N": "10"}},
    )
    # WHEN reconciled by query (which compares content, not only revisions)
    verdict = by_query(ChildReader(stage.dynamodb, stage.table), acknowledged(*FIXES))
    # THEN the register is wrong
    assert verdict.registers_wrong == 1 and newest.lat != 10


def test_a_stage_target_reconciles_by_query_only_and_refuses_the_drop_hook(stage: Stage) -> None:
    # GIVEN a "deployed" stage (moto) with c-1 written but c-2 acknowledged and lost
    write(stage, NEW_STATUS)
    target = stage_target(AwsTarget("test", region="us-east-1"), "https://api.example/", "key")
    record = acknowledged(NEW_STATUS, OTHER)
    # THEN its queue and table are found by the stage's names, a scan is refused, the query finds the loss
    assert (target.queue_url, target.dlq_url, target.table) == (stage.queue_url, stage.dlq_url, stage.table)
    with pytest.raises(TargetError, match="by query only"):
        target.reconcile(record, "scan")
    assert target.reconcile(record, "query").registers_missing == 1
    with pytest.raises(TargetError, match="local stack only"):
        drop_one_register(target, record)


def test_a_stage_without_its_queue_is_refused(stage: Stage) -> None:
    with pytest.raises(TargetError, match="no queue"):
        stage_target(AwsTarget("nosuch", region="us-east-1"), "https://api.example/", "key")


def test_the_drop_hook_deletes_one_acknowledged_register(stage: Stage) -> None:
    write(stage, NEW_STATUS, OTHER)
    target = stage_target(AwsTarget("test", region="us-east-1"), "https://api.example/", "key")
    target.scan_allowed = True  # as the local stack's target is
    record = acknowledged(NEW_STATUS, OTHER)

    assert drop_one_register(target, record) == ("c-1", STATUS)
    assert target.reconcile(record, "scan").registers_missing == 1
