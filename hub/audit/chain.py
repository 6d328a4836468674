"""The ledger's hash chain: one canonical encoding of an event, and how each link is made.

An event's digest is the SHA-256 of its canonical document: JSON with sorted keys, no spaces
and unescaped Unicode, over the event's own fields (never its place in the chain). Each link is
`sha256(previous hash || seq as 8 big-endian bytes || digest)`, starting from 32 zero bytes.
Appending (in PostgreSQL, `hub_audit_append`) and verifying (here, in Python) hash the same
document: the append function stores the columns from the very text it hashes, and `envelope`
rebuilds that text from the stored columns.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

GENESIS = bytes(32)

# The fields of an event that its digest covers, in the columns' own names.
FIELDS = (
    "org_id",
    "id",
    "type",
    "actor_org_id",
    "actor_user_id",
    "actor_client_id",
    "request_id",
    "source_address",
    "record_ids",
    "details",
    "created_at",
)


def canonical(document: Mapping[str, Any]) -> str:
    """The one text an event is hashed as."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def envelope(
    *,
    org_id: uuid.UUID,
    id: uuid.UUID,
    type: str,
    actor_org_id: uuid.UUID | None,
    actor_user_id: uuid.UUID | None,
    actor_client_id: str | None,
    request_id: str | None,
    source_address: object | None,
    record_ids: Sequence[uuid.UUID | str],
    details: Mapping[str, Any],
    created_at: datetime,
) -> dict[str, Any]:
    """An event as its canonical document holds it: ids as text, time in UTC to the microsecond."""
    return {
        "org_id": str(org_id),
        "id": str(id),
        "type": type,
        "actor_org_id": _text(actor_org_id),
        "actor_user_id": _text(actor_user_id),
        "actor_client_id": actor_client_id,
        "request_id": request_id,
        "source_address": address(source_address),
        "record_ids": sorted(str(record_id) for record_id in record_ids),
        "details": details,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }


def envelope_of_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The canonical document of a stored event (a mapping with the columns of `FIELDS`)."""
    return envelope(**{name: row[name] for name in FIELDS})


def jsonable(details: Mapping[str, Any]) -> dict[str, Any]:
    """`details` as JSON gives it back *through PostgreSQL*: what is hashed at append is what
    verify reads again from `jsonb`.

    `jsonb` keeps numbers as `numeric` and prints them without an exponent, so a float Python
    writes as `1e+16` comes back as the integer `10000000000000000`, and `-0.0` as `0.0`; such
    floats are stored as the integer (or zero) they come back as. NaN and infinities are not
    JSON at all (`jsonb` refuses them and the whole commit with them): they are kept as text.
    """
    loaded: dict[str, Any] = json.loads(
        json.dumps(details, default=_plain), parse_constant=str, object_hook=_round_trip_floats
    )
    return loaded


def _round_trip_floats(document: dict[str, Any]) -> dict[str, Any]:
    return {key: _as_stored(value) for key, value in document.items()}


def _as_stored(value: Any) -> Any:
    if isinstance(value, float):
        written = repr(value)
        if "e+" in written:
            # jsonb keeps the decimal Python wrote (1.5e+300 is 15 and 299 zeros), not the
            # binary value int(value) would give.
            return int(Decimal(written))
        if value == 0.0:
            return 0.0
    elif isinstance(value, list):
        return [_as_stored(item) for item in value]
    return value


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not kept in an audit event")


_DETAILS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_string = json.encoder.encode_basestring


def canonical_of_stored(
    *,
    org_id: str,
    id: str,
    type: str,
    actor_org_id: str | None,
    actor_user_id: str | None,
    actor_client_id: str | None,
    request_id: str | None,
    source_address: str | None,
    record_ids: Sequence[str],
    details: str,
    created_at: str,
) -> str:
    """`canonical(envelope(...))` of a stored event read as text, without building the dict.

    The hot path of verify: ids come as their text, `created_at` already in UTC to the
    microsecond (`YYYY-MM-DDTHH:MM:SS.ffffff+00:00`), `details` as the `jsonb` text, which is
    parsed and re-encoded (jsonb's own text form is not the canonical one: it orders keys by
    length and puts spaces after separators). Keys appear in sorted order, as `canonical`
    writes them; a test holds the two equal.
    """
    address_text = address(source_address)
    return (
        '{"actor_client_id":'
        + _nullable(actor_client_id)
        + ',"actor_org_id":'
        + _nullable(actor_org_id)
        + ',"actor_user_id":'
        + _nullable(actor_user_id)
        + ',"created_at":"'
        + created_at
        + '","details":'
        + _DETAILS.encode(json.loads(details))
        + ',"id":"'
        + id
        + '","org_id":"'
        + org_id
        + '","record_ids":['
        + ",".join(['"' + record_id + '"' for record_id in sorted(record_ids)])
        + '],"request_id":'
        + _nullable(request_id)
        + ',"source_address":'
        + _nullable(address_text)
        + ',"type":'
        + _string(type)
        + "}"
    )


def _nullable(value: str | None) -> str:
    return "null" if value is None else str(_string(value))


def event_digest(document: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical(document).encode()).digest()


def text_digest(document: str) -> bytes:
    return hashlib.sha256(document.encode()).digest()


def link(previous: bytes, seq: int, digest: bytes) -> bytes:
    return hashlib.sha256(previous + seq.to_bytes(8, "big", signed=True) + digest).digest()


def address(value: object | None) -> str | None:
    """Only a real IP address is kept, in its normal form (test clients report host names)."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
