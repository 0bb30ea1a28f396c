"""The API's OpenAPI 3.1 document, generated from the contract's pydantic models.

The update schemas come from ``contract.updates`` (``UPDATE_ADAPTER.json_schema``) and the
response bodies from the small models below, which are also what the API serializes, so
the document cannot drift from what the code accepts and answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from contract.jsonio import MAX_DEPTH
from contract.updates import UPDATE_ADAPTER

_REF = "#/components/schemas/{model}"


class Accepted(BaseModel):
    """202: every update is durably in the queue."""

    accepted: int = Field(ge=1)


class ItemError(BaseModel):
    """One problem with one update of the request (the index is 0 for a single-object body)."""

    index: int | None
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every non-2xx answer: a stable code and a sentence for humans."""

    error: str
    message: str
    errors: list[ItemError] | None = None


class Health(BaseModel):
    status: str
    queue: str


def _schemas(max_updates: int) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    update = UPDATE_ADAPTER.json_schema(ref_template=_REF)
    schemas.update(update.pop("$defs", {}))
    schemas["Update"] = update
    schemas["UpdateBatch"] = {
        "type": "array",
        "items": {"$ref": _REF.format(model="Update")},
        "minItems": 1,
        "maxItems": max_updates,
    }
    for model in (Accepted, ItemError, ErrorBody, Health):
        schema = TypeAdapter(model).json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _error(description: str, retry_after: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
    }
    if retry_after:
        answer["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
        }
    return answer


def _description(max_body_bytes: int, max_future_seconds: float | None) -> str:
    future = (
        f" An observed_at more than {max_future_seconds:g} s ahead of the server's clock is refused (422)."
        if max_future_seconds is not None
        else ""
    )
    return (
        f"The body is UTF-8 JSON (Content-Type: application/json, no Content-Encoding), at most {max_body_bytes} "
        f"bytes with a Content-Length or chunked.{future} Checked in this order: key (401), media type (415), "
        "declared length (413), all before the body is read (with Expect: 100-continue, 100 Continue is sent "
        "only after them); then bytes read (413), JSON (400), count (413), updates (422). "
        "202 means every update is in SQS."
    )


def _post_updates(max_updates: int, max_body_bytes: int, max_future_seconds: float | None) -> dict[str, Any]:
    body_schema = {"oneOf": [{"$ref": _REF.format(model="Update")}, {"$ref": _REF.format(model="UpdateBatch")}]}
    return {
        "operationId": "postUpdates",
        "summary": f"Enqueue one update or an array of up to {max_updates} (all or nothing).",
        "description": _description(max_body_bytes, max_future_seconds),
        "security": [{"apiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}},
        "responses": {
            "202": {
                "description": "Every update is durably in the queue.",
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Accepted")}}},
            },
            "400": _error(
                "The body is not strict JSON (not UTF-8, a duplicate key in an object, NaN or Infinity, "
                f"a number out of range, nesting deeper than {MAX_DEPTH} levels, an unpaired surrogate), "
                "or not an object or an array."
            ),
            "401": _error("Missing or wrong x-api-key."),
            "413": _error(
                f"The body is over {max_body_bytes} bytes (by Content-Length, refused before it is read, or "
                f"chunked, by the bytes read), or it holds more than {max_updates} updates."
            ),
            "415": _error(
                "The Content-Type is not application/json (a charset other than UTF-8 included), or the body "
                "has a Content-Encoding other than identity: send it uncompressed."
            ),
            "422": _error("Some updates are invalid; none were accepted."),
            "503": _error("The queue could not take the updates; retry later.", retry_after=True),
        },
    }


def openapi_document(
    max_updates: int = 500, max_body_bytes: int = 1024 * 1024, max_future_seconds: float | None = None
) -> dict[str, Any]:
    """The whole document, as served at ``GET /v1/openapi.json``."""
    health = {"$ref": _REF.format(model="Health")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "nicelist enqueue API", "version": "1"},
        "paths": {
            "/v1/updates": {"post": _post_updates(max_updates, max_body_bytes, max_future_seconds)},
            "/v1/health": {
                "get": {
                    "operationId": "getHealth",
                    "summary": "Whether the queue is reachable. No API key needed.",
                    "security": [],
                    "responses": {
                        "200": {"description": "Ready.", "content": {"application/json": {"schema": health}}},
                        "503": _error("The queue is not reachable.", retry_after=True),
                    },
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
        "components": {
            "schemas": _schemas(max_updates),
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
    }
