"""The fault suite (RELIABILITY.md): the local stack under each fault, reconciled against every acknowledged update.

nicelist promises that a spike becomes a delay, never a loss. Each scenario starts a stack of its
own on free ports, sends a spike, injects one kind of fault (crashed writers, throttling, poison
messages, duplicate storms, a DLQ redrive, outages), waits for the drain, and reconciles a full scan
of the table against every update the system acknowledged: the newest status and location per
child, every track point. It reports figures and exits non-zero on any loss, or on any valid update
found in the DLQ.

    python -m loadtests.faults --help
    python -m loadtests.faults crash throttle --quick
    python -m loadtests.faults --json
"""
