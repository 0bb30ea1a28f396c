"""Request in, reply out: forwards to the upstream (moto server) and meters DynamoDB writes on the way.

Everything that is not a metered write (other operations, other services, malformed bodies)
is forwarded untouched, so the upstream gives its own answer. On the way the proxy learns each
table's key, billing mode and capacities: from the CreateTable / UpdateTable it forwards (the
request's ``OnDemandThroughput`` too, which moto does not keep), and, for a table it has not seen
made, from one DynamoDB DescribeTable it sends upstream before the table's first metered write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import urllib3

from nicelist.local.meter import protocol
from nicelist.local.meter.core import Admission, Meter
from nicelist.local.meter.faults import Faults
from nicelist.local.meter.protocol import Charge
from nicelist.local.meter.size import ItemSizeError
from nicelist.local.meter.tables import TableSpec

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
UPSTREAM_ERRORS = (OSError, urllib3.exceptions.HTTPError)
"""What a failed upstream call raises (urllib3's errors are not all OSErrors)."""
_NOT_FORWARDED = HOP_BY_HOP | {"content-length"}
_JSON_CONTENT = "application/x-amz-json-1.0"
_CAPACITY_MODES = ("TOTAL", "INDEXES")
_TABLE_CHANGES = frozenset({"CreateTable", "UpdateTable", "DeleteTable"})


@dataclass(slots=True)
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def set_json(self, payload: Any) -> None:
        """Replace the body with ``payload`` and keep botocore's CRC32 check satisfied."""
        self.body = json.dumps(payload).encode()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "x-amz-crc32"]
        self.headers.append(("x-amz-crc32", protocol.crc32(self.body)))


def error_reply(status: int, body: bytes) -> Reply:
    """An error in DynamoDB's own shape, with the headers botocore checks."""
    headers = [
        ("Content-Type", _JSON_CONTENT),
        ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
        ("x-amz-crc32", protocol.crc32(body)),
    ]
    return Reply(status, headers, body)


def throttle_reply(meter: Meter, admission: Admission) -> Reply:
    """The HTTP 400 DynamoDB sends when a table is throttled, with its ``ThrottlingReasons``."""
    reasons = [(throttle.reason, meter.arn(throttle.table)) for throttle in admission.throttles]
    return error_reply(400, protocol.throttle_body(reasons))


def not_found_reply(table: str) -> Reply:
    """What DynamoDB answers for a table that does not exist (here: made missing by a fault)."""
    return error_reply(400, protocol.error_body(protocol.NOT_FOUND_TYPE, f"Requested resource not found: {table}"))


def unavailable_reply() -> Reply:
    """An HTTP 503, as a DynamoDB endpoint answers while it is unavailable (here: an injected outage)."""
    message = "meter: DynamoDB is down (an injected outage)"
    return error_reply(503, protocol.error_body(protocol.UNAVAILABLE_TYPE, message))


class Upstream:
    """A pooled keep-alive connection to moto server; one pool shared by all handler threads."""

    def __init__(self, url: str, maxsize: int = 32, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {url!r}")
        self.url = url
        self._pool = urllib3.HTTPConnectionPool(
            parts.hostname, parts.port or 80, maxsize=maxsize, block=False, retries=False, timeout=timeout
        )

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        sent = {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}
        response = self._pool.urlopen(
            method, path, body=body or None, headers=sent, redirect=False, preload_content=True
        )
        kept = [(k, v) for k, v in response.headers.items() if k.lower() not in _NOT_FORWARDED]
        return Reply(response.status, kept, response.data)

    def close(self) -> None:
        self._pool.close()


class MeterProxy:
    """The AWS-facing layer: read the request, ask the meter, forward, shape the answer."""

    def __init__(self, meter: Meter, upstream: Upstream, faults: Faults | None = None) -> None:
        self.meter = meter
        self.upstream = upstream
        self.faults = faults or Faults()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        op = protocol.operation(_header(headers, "x-amz-target"))
        if op is not None and self.faults.missing_tables and (table := self._missing(body)):
            return not_found_reply(table)
        if method == "POST" and (op in _TABLE_CHANGES or op == "DescribeTable"):
            return (
                self._describe(path, headers, body)
                if op == "DescribeTable"
                else self._table_change(op, path, headers, body)
            )
        if method != "POST" or op not in protocol.METERED:
            return self.upstream.send(method, path, headers, body)
        try:
            request = json.loads(body)
            self._know_tables(path, headers, protocol.tables_named(request))
            if op == "BatchWriteItem":
                return self._batch(path, headers, body, request)
            hash_keys = self.meter.hash_key
            charges = (
                protocol.transaction_charges(request, hash_keys)
                if op == "TransactWriteItems"
                else [protocol.single_charge(op, request, hash_keys)]
            )
        except (ValueError, KeyError, TypeError, AttributeError, ItemSizeError):
            return self.upstream.send(method, path, headers, body)  # malformed: the upstream says why
        return self._all_or_nothing(path, headers, body, request, charges)

    def _table_change(self, op: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Forward a CreateTable / UpdateTable / DeleteTable; once the upstream has done it, apply it."""
        reply = self.upstream.send("POST", path, headers, body)
        if reply.status != 200:
            return reply
        try:
            request, description = json.loads(body), json.loads(reply.body)["TableDescription"]
            if op == "DeleteTable":
                self.meter.forget(str(description["TableName"]))
                return reply
            spec = TableSpec.from_description(description)
            self.meter.learn(spec.with_request(request, self.meter.spec(spec.name)))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # an answer the meter cannot read: the table keeps the limits it had
        return reply

    def _describe(self, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """DescribeTable, with what moto does not state of an on-demand table the meter enforces: its
        ``WarmThroughput`` (what it serves at once: double the previous peak) and its maximum
        throughput, so the writers' write rate ``auto`` ramps with the table as on AWS."""
        reply = self.upstream.send("POST", path, headers, body)
        if reply.status != 200:
            return reply
        try:
            answer = json.loads(reply.body)
            table = answer["Table"]
            throughput = self.meter.on_demand_throughput(str(table["TableName"]))
            if throughput is None:
                return reply
            instant, maximum = throughput
            table["WarmThroughput"] = {
                "WriteUnitsPerSecond": instant,
                "ReadUnitsPerSecond": 3 * instant,
                "Status": "ACTIVE",
            }
            if maximum is not None:
                table["OnDemandThroughput"] = {"MaxWriteRequestUnits": maximum, "MaxReadRequestUnits": -1}
        except (ValueError, KeyError, TypeError, AttributeError):
            return reply  # an answer the meter cannot read goes through as it is
        reply.set_json(answer)
        return reply

    def _know_tables(self, path: str, headers: Mapping[str, str], tables: list[str]) -> None:
        """Describe, once, each table the meter has not seen made (through the writer's own headers)."""
        for table in dict.fromkeys(tables):
            if self.meter.spec(table) is not None:
                continue
            asked = {k: v for k, v in headers.items() if k.lower() != "x-amz-target"}
            asked["X-Amz-Target"] = protocol.TARGET_PREFIX + "DescribeTable"
            try:
                reply = self.upstream.send("POST", path, asked, json.dumps({"TableName": table}).encode())
                if reply.status == 200:
                    self.meter.learn(TableSpec.from_description(json.loads(reply.body)["Table"]))
            except (*UPSTREAM_ERRORS, ValueError, KeyError, TypeError, AttributeError):
                pass  # the write itself will get the upstream's answer

    def _missing(self, body: bytes) -> str | None:
        try:
            request = json.loads(body)
        except ValueError:
            return None
        return self.faults.missing(protocol.tables_named(request))

    def _all_or_nothing(
        self,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        request: dict[str, Any],
        charges: list[Charge],
    ) -> Reply:
        if self.faults.throttle():
            refused = self.meter.refuse(charges)
            self.meter.settle(refused)
            return throttle_reply(self.meter, refused)
        admission = self.meter.admit_all(charges)
        if admission.refused:
            self.meter.settle(admission)
            return throttle_reply(self.meter, admission)
        reply = self._forward_admitted(path, headers, body, admission)
        charged = reply.status == 200 or protocol.error_type(reply.body) in protocol.CHARGED_ERRORS
        self.meter.settle(admission, charged=charged)
        mode = request.get("ReturnConsumedCapacity")
        if reply.status == 200 and mode in _CAPACITY_MODES:
            response = json.loads(reply.body)
            entries = protocol.consumed_capacity(charges, mode)
            response["ConsumedCapacity"] = entries if "TransactItems" in request else entries[0]
            reply.set_json(response)
        return reply

    def _batch(self, path: str, headers: Mapping[str, str], body: bytes, request: dict[str, Any]) -> Reply:
        entries = protocol.batch_entries(request["RequestItems"], self.meter.hash_key)
        refused = self.faults.throttle_each(len(entries))
        admission = self.meter.admit_each([charge for _, _, charge in entries], refuse=refused)
        if admission.refused:
            self.meter.settle(admission)
            return throttle_reply(self.meter, admission)
        accepted, unprocessed = protocol.split_batch(entries, admission.admitted)
        if unprocessed:
            request["RequestItems"] = accepted
            body = json.dumps(request).encode()
        reply = self._forward_admitted(path, headers, body, admission)
        charged = reply.status == 200
        self.meter.settle(admission, charged=charged)
        mode = request.get("ReturnConsumedCapacity")
        if charged and (unprocessed or mode in _CAPACITY_MODES):
            response = json.loads(reply.body)
            protocol.merge_unprocessed(response, unprocessed)
            if mode in _CAPACITY_MODES:
                response["ConsumedCapacity"] = protocol.consumed_capacity(list(admission.accepted), mode)
            reply.set_json(response)
        return reply

    def _forward_admitted(self, path: str, headers: Mapping[str, str], body: bytes, admission: Admission) -> Reply:
        """Forward a write already admitted; if the upstream cannot be reached, give its units back."""
        try:
            return self.upstream.send("POST", path, headers, body)
        except UPSTREAM_ERRORS:
            self.meter.settle(admission, charged=False)
            raise


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
