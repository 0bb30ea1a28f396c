"""The update contract shared by producers and the writer (docs/design.md, "An update").

Every limit lives in these models, so the API, the SDK and the writer reject the same
inputs with the same messages. This module depends on pydantic only: the writer Lambda
imports it, and so do the producers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)

from contract import jsonio
from contract.envelope import ENVELOPE_VERSION
from contract.keys import LOCATION, STATUS, Key, track_key

ChildId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$", strict=True)]


def format_timestamp(moment: datetime) -> str:
    """UTC, fixed width, microseconds: string order is time order."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond:06d}Z"


# observed_at: RFC 3339 section 5.6 "date-time", "T" and "Z" in either case (its NOTE allows it), with
# three restrictions, because every value is stored as a datetime: at most six fractional digits
# (more cannot be kept exactly, and truncating would make two different inputs one), no leap second
# :60 (datetime cannot hold it), and an instant representable in UTC (years 0001 to 9999). The
# published pattern says the same (minus the calendar and the UTC range, which no regex can);
# the reading regex is a little wider so that a refusal can name the restriction it broke.
_DATE = "([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_HOUR_MINUTE = "([01][0-9]|2[0-3]):([0-5][0-9])"
_OFFSET = "([Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
OBSERVED_AT_PATTERN = f"^{_DATE}[Tt]{_HOUR_MINUTE}:([0-5][0-9])(\\.[0-9]{{1,6}})?{_OFFSET}$"
_OBSERVED_AT = re.compile(f"{_DATE}[Tt]{_HOUR_MINUTE}:([0-5][0-9]|60)(?:\\.([0-9]+))?{_OFFSET}?")
OBSERVED_AT_DESCRIPTION = (
    "RFC 3339 date-time with a timezone: Z or an offset such as +01:00 (T and Z in either case). "
    "Restrictions: at most 6 fractional second digits (more are refused, not truncated); no leap "
    "second :60; the instant must lie in years 0001 to 9999 in UTC. Stored in UTC with microseconds, "
    "e.g. 2026-12-23T18:04:05.123000Z."
)
_NOT_RFC3339 = "must be an RFC 3339 date-time, e.g. 2026-12-23T18:04:05Z or 2026-12-23T19:04:05.5+01:00"
_OUT_OF_RANGE = "is outside the representable range in UTC (years 0001 to 9999)"


def _zone(offset: str) -> timezone:
    if offset in {"Z", "z"}:
        return UTC
    sign = -1 if offset[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))


def parse_timestamp(value: str) -> datetime:
    """The instant an ``observed_at`` names; ``ValueError`` saying which rule it breaks."""
    match = _OBSERVED_AT.fullmatch(value)
    if match is None:
        raise ValueError(_NOT_RFC3339)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset is None:
        raise ValueError("must carry a timezone: Z or an offset such as +01:00")
    if second == "60":
        raise ValueError("is a leap second (:60), which cannot be stored; send :59.999999 instead")
    if fraction is not None and len(fraction) > 6:
        raise ValueError("has more than 6 fractional digits, which cannot be stored exactly; round to microseconds")
    if year == "0000":
        raise ValueError(_OUT_OF_RANGE)
    microsecond = int((fraction or "").ljust(6, "0"))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond)
    except ValueError:  # only the day can be wrong here: the regex bounds every other part
        raise ValueError("is not a calendar date") from None
    try:
        return moment.replace(tzinfo=_zone(offset)).astimezone(UTC)
    except OverflowError:
        raise ValueError(_OUT_OF_RANGE) from None


@dataclass(frozen=True, slots=True)
class Horizon:
    """How far ahead of ``now`` an ``observed_at`` may be, handed to validation as its context.

    A producer whose clock runs a year ahead would otherwise win every "newest wins" comparison
    for its children until that date. Off unless asked for, so replays of future dates still work.
    """

    max_future_seconds: float
    now: datetime

    @classmethod
    def of(cls, max_future_seconds: float | None, now: datetime | None) -> Horizon | None:
        """``None`` without a bound; ``ValueError`` for a caller's mistake (not the input's)."""
        if max_future_seconds is None:
            return None
        if not (math.isfinite(max_future_seconds) and max_future_seconds >= 0):
            raise ValueError("max_future_seconds must be a finite number >= 0")
        now = now or datetime.now(UTC)
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        return cls(float(max_future_seconds), now)

    def check(self, moment: datetime) -> None:
        if moment - self.now > timedelta(seconds=self.max_future_seconds):
            bound = self.max_future_seconds
            shown = int(bound) if bound.is_integer() else bound
            raise ValueError(f"is more than {shown} s ahead of now")


def _normalize_observed_at(value: str, info: ValidationInfo) -> str:
    moment = parse_timestamp(value)
    horizon = info.context.get("horizon") if isinstance(info.context, dict) else None
    if isinstance(horizon, Horizon):
        horizon.check(moment)
    return format_timestamp(moment)


ObservedAt = Annotated[
    str,
    StringConstraints(strict=True, max_length=64),
    AfterValidator(_normalize_observed_at),
    Field(
        json_schema_extra={"format": "date-time", "pattern": OBSERVED_AT_PATTERN}, description=OBSERVED_AT_DESCRIPTION
    ),
]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _coordinate(value: float) -> float:
    """Finite, and rounded to 1e-9 degrees (0.1 mm): DynamoDB cannot store magnitudes below 1e-130."""
    return round(_finite(value), 9) + 0.0  # + 0.0 folds -0.0 into 0.0


def _metres(value: float) -> float:
    return round(_finite(value), 3) + 0.0


# JSON numbers only (strict: no strings, no booleans), finite, within the contract's range.
# accuracy_m is capped at the Earth's circumference: a larger "accuracy" means no fix at all,
# and DynamoDB cannot store numbers above 1e126.
MAX_ACCURACY_M = 40_075_000.0
Latitude = Annotated[float, Field(ge=-90.0, le=90.0, strict=True), AfterValidator(_coordinate)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, strict=True), AfterValidator(_coordinate)]
Accuracy = Annotated[float, Field(ge=0.0, le=MAX_ACCURACY_M, strict=True), AfterValidator(_metres)]


class _UpdateBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    child_id: ChildId
    observed_at: ObservedAt

    @property
    def aspect(self) -> str:
        """The table item this update competes for: ``STATUS`` or ``LOCATION``."""
        raise NotImplementedError

    @property
    def revision(self) -> str:
        """The total order key: newest ``observed_at`` first, then a content digest.

        Tie rule: two different updates with the same ``observed_at`` are ordered by the
        SHA-256 of their canonical JSON; the greater digest wins. Both are pure functions of
        the update, so every delivery order picks the same winner, and a duplicate of the
        same update has the same revision (a no-op).
        """
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return f"{self.observed_at}#{digest}"


class StatusUpdate(_UpdateBase):
    """A naughty/nice verdict about one child."""

    kind: Literal["status"]
    status: Literal["naughty", "nice"]
    reason: Annotated[str, StringConstraints(strict=True, max_length=280)] | None = None

    @property
    def aspect(self) -> str:
        return STATUS


class LocationUpdate(_UpdateBase):
    """A GPS fix for one child."""

    kind: Literal["location"]
    lat: Latitude
    lon: Longitude
    accuracy_m: Accuracy | None = None

    @property
    def aspect(self) -> str:
        return LOCATION


def table_keys(update: StatusUpdate | LocationUpdate) -> list[Key]:
    """The table keys one update is written under: its register, and its track point for a fix."""
    keys = [(update.child_id, update.aspect)]
    if isinstance(update, LocationUpdate):
        keys.append((update.child_id, track_key(update.revision)))
    return keys


Update = Annotated[StatusUpdate | LocationUpdate, Field(discriminator="kind")]
UPDATE_ADAPTER: TypeAdapter[StatusUpdate | LocationUpdate] = TypeAdapter(Update)
UPDATE_LIST_ADAPTER: TypeAdapter[list[StatusUpdate | LocationUpdate]] = TypeAdapter(list[Update])


class Envelope(BaseModel):
    """Many updates packed into one SQS message: ``{"v": 1, "updates": [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    updates: list[Update] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input: which item, which field, what is wrong."""

    index: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"[{self.index}]." if self.index is not None else ""
        return f"{where}{self.field}: {self.message}"


def field_errors(error: ValidationError, index: int | None = None) -> list[FieldError]:
    """Flatten a pydantic error into one ``FieldError`` per problem, without echoing input values."""
    found = []
    for detail in error.errors(include_input=False, include_url=False):
        location = [str(part) for part in detail["loc"]]
        if location and location[0] in {"status", "location"}:
            location = location[1:]  # the discriminated-union tag pydantic inserts
        message = detail["msg"]
        if detail["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            # pydantic's message quotes the value given; errors reach logs and the DLQ's reason
            location, message = ["kind"], "must be 'status' or 'location'"
        found.append(FieldError(index, ".".join(location) or "(body)", message))
    return found


def parse_update(
    data: Any,
    index: int | None = None,
    *,
    max_future_seconds: float | None = None,
    now: datetime | None = None,
) -> StatusUpdate | LocationUpdate:
    """Validate one update from decoded JSON; raise ``InvalidUpdate`` naming every problem.

    With ``max_future_seconds``, an ``observed_at`` more than that far ahead of ``now`` (default:
    the wall clock) is one of the problems, on the field ``observed_at``.
    """
    return _validate(data, index, Horizon.of(max_future_seconds, now))


def _validate(data: Any, index: int | None, horizon: Horizon | None) -> StatusUpdate | LocationUpdate:
    try:
        return UPDATE_ADAPTER.validate_python(data, context={"horizon": horizon})
    except ValidationError as error:
        raise InvalidUpdate(field_errors(error, index)) from None


class ContractError(ValueError):
    """Input that breaks the contract. It will never become valid by retrying."""


class InvalidUpdate(ContractError):
    """One update failed validation."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class InvalidBody(ContractError):
    """A message body that is neither an update nor an envelope: not JSON, wrong shape, unknown version."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """An update of an envelope that failed validation, kept verbatim for the DLQ."""

    index: int
    raw: Any
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """What one SQS message holds: the valid updates and the rejected ones (envelopes only)."""

    updates: list[StatusUpdate | LocationUpdate]
    rejected: list[Rejected]
    packed: bool


def parse_body(body: str, *, max_future_seconds: float | None = None, now: datetime | None = None) -> ParsedBody:
    """Decode one SQS message body: a bare update or a packed envelope.

    A bare update that is invalid, or a body that is no update or envelope at all, raises
    ``InvalidBody``. An envelope keeps its valid updates and lists the invalid ones. The text is
    read by ``contract.jsonio``, as the API reads request bodies, and any text whatever raises
    ``InvalidBody`` or nothing: another exception would fail the writer's whole batch.
    ``max_future_seconds`` and ``now`` bound ``observed_at`` as in ``parse_update``.
    """
    horizon = Horizon.of(max_future_seconds, now)
    try:
        data = jsonio.loads(body)
    except jsonio.BadJson as error:
        raise InvalidBody(f"body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidBody(f"body must be a JSON object, got {type(data).__name__}")
    if "v" in data:
        return _parse_envelope(data, horizon)
    if "kind" in data:
        try:
            return ParsedBody([_validate(data, None, horizon)], [], packed=False)
        except InvalidUpdate as error:
            raise InvalidBody(f"invalid update: {error}") from None
    raise InvalidBody("body is neither an update (needs 'kind') nor an envelope (needs 'v')")


def _parse_envelope(data: dict[str, Any], horizon: Horizon | None) -> ParsedBody:
    version = data.get("v")
    # Strict, like every number in the contract: JSON true and 1.0 compare equal to 1 in Python.
    if type(version) is not int or version != ENVELOPE_VERSION:
        shown = repr(version) if isinstance(version, int | float | bool) or version is None else type(version).__name__
        shown = shown if len(shown) <= 16 else type(version).__name__  # the value is input: quote it only if short
        raise InvalidBody(f"unknown envelope version {shown}; this writer reads v={ENVELOPE_VERSION}")
    extra = sorted(set(data) - {"v", "updates"})
    if extra:
        raise InvalidBody(f"envelope has unknown fields: {', '.join(extra)}")
    raw_updates = data.get("updates")
    if not isinstance(raw_updates, list) or not raw_updates:
        raise InvalidBody("envelope 'updates' must be a non-empty JSON array")
    updates: list[StatusUpdate | LocationUpdate] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(raw_updates):
        try:
            updates.append(_validate(raw, index, horizon))
        except InvalidUpdate as error:
            rejected.append(Rejected(index, raw, str(error)))
    return ParsedBody(updates, rejected, packed=True)


def encode_update(update: StatusUpdate | LocationUpdate) -> dict[str, Any]:
    """The JSON form of a validated update (normalized timestamp, no nulls)."""
    return update.model_dump(mode="json", exclude_none=True)
