"""SQS's own limits on what it accepts, which moto does not check (botocore event hooks, not a fake).

A message (body plus every attribute's name, data type and value) is at most 1 MiB, and a body or an
attribute value holds only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF. Real SQS answers
``InvalidParameterValue`` otherwise; so do these hooks, before moto sees the call.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from contract.delivery import MAX_MESSAGE_BYTES

_FOREIGN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def problems(body: str, attributes: dict[str, dict[str, Any]] | None) -> list[str]:
    found = []
    size = len(body.encode("utf-8", "surrogatepass"))
    for name, value in (attributes or {}).items():
        text = str(value.get("StringValue", ""))
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        size += len(text.encode("utf-8", "surrogatepass"))
        if _FOREIGN.search(text):
            found.append(f"attribute {name} has characters SQS refuses")
    if _FOREIGN.search(body):
        found.append("the body has characters SQS refuses")
    if size > MAX_MESSAGE_BYTES:
        found.append(f"message of {size} bytes is over {MAX_MESSAGE_BYTES}")
    return found


def enforce(events: Any) -> list[str]:
    """Make SendMessage refuse what SQS refuses; ``events`` is a client's ``meta.events`` or a botocore
    session (its clients created afterwards inherit the hook). Returns the list of refusals seen."""
    refused: list[str] = []

    def check(params: dict[str, Any], **_: Any) -> None:
        found = problems(params.get("MessageBody", ""), params.get("MessageAttributes"))
        if found:
            refused.extend(found)
            error = {"Error": {"Code": "InvalidParameterValue", "Message": "; ".join(found)}}
            raise ClientError(error, "SendMessage")  # type: ignore[arg-type]

    events.register("before-parameter-build.sqs.SendMessage", check)
    return refused
