#!/usr/bin/env bash
# The README's "A peak, end to end" section, as one script: plan -> tune -> status -> drain -> DLQ
# redrive -> get -> logs, against the local stack. Start `make up` (or `.venv/bin/nicelist up`) in
# another terminal first, then: bash docs/walkthrough.sh
# About 4 minutes on a 2-core machine: 10,000 updates at the local table's 100 WCU take ~140 s to drain.
set -u
N=${NICELIST:-.venv/bin/nicelist}
PLAN=runs/local/walkthrough-plan.json
show() { echo "\$ nicelist $*"; "$N" "$@"; echo "[exit $?]"; echo; }

# 1. Plan: 10,000 updates waiting in 1,000-update envelopes, to be written within 5 minutes.
show plan --backlog 10000 --deadline 5m --table-wcu 100 --updates-per-message 1000
"$N" plan --backlog 10000 --deadline 5m --table-wcu 100 --updates-per-message 1000 --json >"$PLAN"

# The spike: 10,000 synthetic updates about 2,000 children, 5 of them invalid, straight to SQS.
show send --generate 10000 --children 2000 --invalid 5

# And what no SDK would send: a producer writing to SQS by hand, one body not JSON, one update invalid.
.venv/bin/python - <<'PY'
from contract.names import StageNames
from nicelist.options import local_session

sqs = local_session().client("sqs", endpoint_url="http://127.0.0.1:4566")
url = sqs.get_queue_url(QueueName=StageNames("local").queue)["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="not json at all")
sqs.send_message(QueueUrl=url, MessageBody='{"kind": "status", "child_id": "c-000007", "status": "maybe", "observed_at": "2026-12-23T18:00:00Z"}')
print("sent 2 malformed messages straight to SQS")
PY
echo

# 2. Tune: apply the plan (safe order, read back, before -> after).
show tune --plan "$PLAN"

# 3. Status while it drains, twice, 30 s apart (the first drain estimate still has no writer logs).
sleep 20
show status
sleep 30
show status

# 4. Drain: wait for the queue to empty.
# (status exits 1 once dead letters arrive, so read its JSON, not its exit code; give up after 15 min)
for _ in $(seq 90); do
    "$N" status --json 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["backlog"] == 0 else 1)' && break
    sleep 10
done
show status

# 5. The dead letters: why they are there, then a redrive (what can never be written stays).
show dlq peek
show dlq redrive

# 6. One child's newest status and location, and its writer's logs.
show get c-000042 --track
show logs --since 10m --filter "dead-lettered" --limit 2
