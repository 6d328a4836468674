"""The organisation's own audit trail, newest first, a page at a time (`auditEvents`).

Only events filed in the caller's own chain: what happened in and to its organisation,
including what partners did to its records. Events its organisation caused in another
organisation's chain (a partner's reads and changes there) are that owner's; a partner sees
none of the owner's events here, only its own chain.

Pages are keyset pages on (created_at, id), newest first, taken from the index
(org_id, created_at, id), or for one record's events from `audit_event_records` (the GIN index
on `record_ids` is out of the application role's reach: see `AuditEventRecord`), joined to their
events by primary key. The cursor carries the last event's position itself, so a page costs one
statement whatever the ledger's size, and walking every page meets each event once. Before it,
one more seals the partners' disclosures still waiting for the chains read (ADR 0016), so the
trail holds every read committed before the request.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import DateTime, Uuid

from hub import access
from hub.access import Actor, Scope
from hub.audit.models import AuditEvent, AuditEventRecord
from hub.audit.record import EventType
from hub.audit.sealer import seal_own
from hub.errors import InvalidInput, UserErrorCode
from hub.pagination import PageRequest, check_page_size
from hub.validation import Checks

_CURSOR_PREFIX = b"event:"
_KNOWN_TYPES = frozenset(event_type.value for event_type in EventType)


@dataclass(frozen=True)
class AuditEventFilter:
    """Every condition given must hold; `occurred_from` inclusive, `occurred_to` exclusive."""

    types: Sequence[str] = ()
    actor_user_id: uuid.UUID | None = None
    actor_client_id: str | None = None
    actor_org_id: uuid.UUID | None = None
    record_id: uuid.UUID | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event as the ledger holds it."""

    id: uuid.UUID
    org_id: uuid.UUID  # the chain it is filed in
    seq: int
    hash: bytes
    type: str
    actor_org_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    actor_client_id: str | None
    request_id: str | None
    source_address: str | None
    record_ids: list[uuid.UUID]
    details: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class EventPage:
    items: list[RecordedEvent]
    has_next_page: bool
    has_previous_page: bool

    def cursor(self, item: RecordedEvent) -> str:
        return encode_cursor(item.occurred_at, item.id)


_COLUMNS = (
    AuditEvent.id,
    AuditEvent.org_id,
    AuditEvent.seq,
    AuditEvent.hash,
    AuditEvent.type,
    AuditEvent.actor_org_id,
    AuditEvent.actor_user_id,
    AuditEvent.actor_client_id,
    AuditEvent.request_id,
    AuditEvent.source_address,
    AuditEvent.record_ids,
    AuditEvent.details,
    AuditEvent.created_at,
)


async def list_audit_events(
    session: AsyncSession, actor: Actor, where: AuditEventFilter, page: PageRequest
) -> EventPage:
    """A page of the actor's organisation's own chain, newest first (scope `audit:read`)."""
    access.require_scope(actor, Scope.AUDIT_READ)
    statement: Select[Any] = access.select_owned(actor, AuditEvent).with_only_columns(*_COLUMNS)
    return await _page(session, statement, where, page, by_record_index=True)


async def list_access_trail(
    session: AsyncSession, actor: Actor, where: AuditEventFilter, page: PageRequest
) -> EventPage:
    """What the actor's organisation did in other organisations' chains, newest first: as a
    partner, each time it received an owner's records and each change it made to them.

    The owners' own events stay theirs: row-level security gives the application role only
    events its organisation acted in, and this asks for those filed elsewhere.
    """
    access.require_scope(actor, Scope.AUDIT_READ)
    statement: Select[Any] = (
        select(*_COLUMNS)
        .select_from(AuditEvent)
        .where(AuditEvent.actor_org_id == actor.org_id, AuditEvent.org_id != actor.org_id)
    )
    found = await _page(session, statement, where, page, by_record_index=False)
    return replace(found, items=[_as_the_partner_sees(event) for event in found.items])


def _as_the_partner_sees(event: RecordedEvent) -> RecordedEvent:
    """A disclosure without the owner's index of it: the customers of the records it gave
    (`customer_ids`, for "who has seen this customer's data?") are the owner's to know, and a
    partner may not have been given the customer of a record it was given."""
    grants = event.details.get("grants") if event.type == EventType.DISCLOSURE.value else None
    if not isinstance(grants, list):
        return event
    seen = [
        {
            **grant,
            "records": [
                {name: value for name, value in group.items() if name != "customer_ids"}
                for group in grant.get("records", [])
            ],
        }
        for grant in grants
    ]
    return replace(event, details={**event.details, "grants": seen})


async def _page(
    session: AsyncSession,
    statement: Select[Any],
    where: AuditEventFilter,
    page: PageRequest,
    *,
    by_record_index: bool,
) -> EventPage:
    """Keyset page of `statement`'s events under `where`, newest first.

    A record's events in the caller's own chain come from their own index (`by_record_index`);
    in the events an organisation acted in elsewhere, from the record ids of those events.
    Disclosures still waiting to be sealed into the chains read are sealed first (ADR 0016).
    """
    check_page_size(page)
    _check(where)
    await seal_own(session)
    occurred_at: InstrumentedAttribute[datetime] = AuditEvent.created_at
    event_id: InstrumentedAttribute[uuid.UUID] = AuditEvent.id
    if where.record_id is not None and by_record_index:
        statement = statement.join(
            AuditEventRecord,
            and_(
                AuditEventRecord.org_id == AuditEvent.org_id,
                AuditEventRecord.event_id == AuditEvent.id,
            ),
        ).where(AuditEventRecord.record_id == where.record_id)
        occurred_at, event_id = AuditEventRecord.created_at, AuditEventRecord.event_id
    elif where.record_id is not None:
        statement = statement.where(AuditEvent.record_ids.contains([where.record_id]))
    statement = statement.where(*_conditions(where, occurred_at))
    if page.after is not None:
        after_at, after_id = decode_cursor(page.after)
        statement = statement.where(
            tuple_(occurred_at, event_id)
            < tuple_(literal(after_at, DateTime(timezone=True)), literal(after_id, Uuid()))
        )
    statement = statement.order_by(occurred_at.desc(), event_id.desc()).limit(page.first + 1)
    rows = (await session.execute(statement)).all()
    events = [
        RecordedEvent(
            id=row.id,
            org_id=row.org_id,
            seq=row.seq,
            hash=bytes(row.hash),
            type=row.type,
            actor_org_id=row.actor_org_id,
            actor_user_id=row.actor_user_id,
            actor_client_id=row.actor_client_id,
            request_id=row.request_id,
            source_address=None if row.source_address is None else str(row.source_address),
            record_ids=list(row.record_ids),
            details=row.details,
            occurred_at=row.created_at,
        )
        for row in rows[: page.first]
    ]
    return EventPage(
        items=events,
        has_next_page=len(rows) > page.first,
        has_previous_page=page.after is not None,
    )


def _check(where: AuditEventFilter) -> None:
    """A filter that cannot mean anything is a mistake, and said so."""
    checks = Checks()
    unknown = sorted(set(where.types) - _KNOWN_TYPES)
    if unknown:
        checks.fail(
            "types",
            UserErrorCode.INVALID,
            f"Unknown event type {', '.join(map(repr, unknown))}; "
            f"known types are {', '.join(sorted(_KNOWN_TYPES))}.",
        )
    occurred_from = _utc(checks, "from", where.occurred_from)
    occurred_to = _utc(checks, "to", where.occurred_to)
    if where.actor_client_id is not None:
        checks.text("actorClientId", where.actor_client_id, max_length=64, required=True)
    checks.done()
    if occurred_from is not None and occurred_to is not None and occurred_from > occurred_to:
        raise InvalidInput.on("from", UserErrorCode.OUT_OF_RANGE, "from must not be after to.")


def _conditions(
    where: AuditEventFilter, occurred_at: InstrumentedAttribute[datetime]
) -> list[ColumnElement[bool]]:
    """The filter (checked) as SQL; times on `occurred_at`, the column the page is ordered by."""
    conditions: list[ColumnElement[bool]] = []
    if where.types:
        conditions.append(AuditEvent.type.in_(sorted(set(where.types))))
    if where.actor_user_id is not None:
        conditions.append(AuditEvent.actor_user_id == where.actor_user_id)
    if where.actor_client_id is not None:
        conditions.append(AuditEvent.actor_client_id == where.actor_client_id)
    if where.actor_org_id is not None:
        conditions.append(AuditEvent.actor_org_id == where.actor_org_id)
    if where.occurred_from is not None:
        conditions.append(occurred_at >= where.occurred_from.astimezone(UTC))
    if where.occurred_to is not None:
        conditions.append(occurred_at < where.occurred_to.astimezone(UTC))
    return conditions


def _utc(checks: Checks, field: str, moment: datetime | None) -> datetime | None:
    """`moment` in UTC; a bare time means nothing, and one past what UTC can hold is refused."""
    if moment is None:
        return None
    if moment.utcoffset() is None:
        checks.fail(field, UserErrorCode.INVALID, "Give a time zone, such as Z or +01:00.")
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        checks.fail(field, UserErrorCode.OUT_OF_RANGE, "This time is out of range.")
        return None


def encode_cursor(occurred_at: datetime, event_id: uuid.UUID) -> str:
    raw = f"{occurred_at.isoformat()}|{event_id}".encode()
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        moment, _, event_id = raw[len(_CURSOR_PREFIX) :].decode().partition("|")
        occurred_at = datetime.fromisoformat(moment)
        if occurred_at.utcoffset() is None:
            raise ValueError(cursor)
        return occurred_at.astimezone(UTC), uuid.UUID(event_id)
    except (ValueError, OverflowError, UnicodeError, binascii.Error) as error:
        raise InvalidInput.on("after", UserErrorCode.INVALID, "Not a valid cursor.") from error
