"""Recording an audit event in the caller's transaction: the event and its work commit together."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hub.audit.chain import envelope, jsonable
from hub.audit.ledger import pending
from hub.audit.models import HUB_ORG

if TYPE_CHECKING:
    from hub.access.actor import Actor


class EventType(enum.StrEnum):
    TOKEN_ISSUED = "token.issued"
    TOKEN_REFUSED = "token.refused"
    TOKEN_REVOKED = "token.revoked"
    TOKEN_FAMILY_REVOKED = "token.family_revoked"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded"
    SIGN_IN_FAILED = "sign_in.failed"
    ACCOUNT_LOCKED = "account.locked"
    CLIENT_REGISTERED = "client.registered"
    CLIENT_SECRET_ROTATED = "client.secret_rotated"
    CLIENT_DISABLED = "client.disabled"
    CLIENT_ORIGINS_SET = "client.origins_set"
    ORGANISATION_CREATED = "organisation.created"
    USER_INVITED = "user.invited"
    USER_ACTIVATED = "user.activated"
    USER_DISABLED = "user.disabled"
    SIGNING_KEY_ADDED = "signing_key.added"
    PARTNERSHIP_INVITED = "partnership.invited"
    PARTNERSHIP_ACCEPTED = "partnership.accepted"
    PARTNERSHIP_SUSPENDED = "partnership.suspended"
    PARTNERSHIP_RESUMED = "partnership.resumed"
    PARTNERSHIP_ENDED = "partnership.ended"
    GRANT_CREATED = "grant.created"
    GRANT_UPDATED = "grant.updated"
    GRANT_REVOKED = "grant.revoked"
    CONSENT_CHANGED = "consent.changed"
    DEAL_REGISTERED = "deal.registered"
    DEAL_APPROVED = "deal.approved"
    DEAL_REJECTED = "deal.rejected"
    RECORD_CREATED = "record.created"
    RECORD_UPDATED = "record.updated"
    DISCLOSURE = "disclosure"
    PERSONAL_DATA_EXPORTED = "privacy.exported"
    PERSONAL_DATA_ERASED = "privacy.erased"
    PRIVACY_NOTICE_ACKNOWLEDGED = "privacy.notice_acknowledged"
    RETENTION_CHANGED = "retention.changed"
    RETENTION_APPLIED = "retention.applied"


@dataclass(frozen=True)
class Event:
    """One thing that happened.

    `org_id` is the chain it is filed in (None: the hub's own, `HUB_ORG`); `actor_org_id` the
    organisation that acted, when that is another one (a partner reading or changing an owner's
    records); `record_ids` the records it concerns, which `auditEvents` filters on.
    """

    type: EventType
    org_id: uuid.UUID | None = None
    client_id: str | None = None
    user_id: uuid.UUID | None = None
    request_id: str | None = None
    source_address: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    actor_org_id: uuid.UUID | None = None
    record_ids: Sequence[uuid.UUID] = ()


async def record(session: AsyncSession, event: Event) -> None:
    """Record `event` in the session's transaction; it is appended when the transaction commits,
    and if it cannot be, nothing of the transaction is written."""
    record_now(session, event)


def record_now(session: AsyncSession, event: Event) -> None:
    enqueue(session.sync_session, event)


def enqueue(session: Session, event: Event) -> None:
    """Queue `event` in the (synchronous) session's transaction, to be appended at COMMIT."""
    pending(session).append(document_of(event))


def document_of(event: Event) -> dict[str, Any]:
    """`event` as the chain will hash it, made now: a new id and the current time."""
    return envelope(
        org_id=event.org_id or HUB_ORG,
        id=uuid.uuid4(),
        type=event.type.value,
        actor_org_id=event.actor_org_id or event.org_id,
        actor_user_id=event.user_id,
        actor_client_id=event.client_id,
        request_id=event.request_id,
        source_address=event.source_address,
        record_ids=event.record_ids,
        details=jsonable(event.details),
        created_at=datetime.now(UTC),
    )


async def record_act(
    session: AsyncSession,
    actor: Actor,
    event_type: EventType,
    details: dict[str, Any],
    *,
    chain: uuid.UUID | None = None,
    record_ids: Sequence[uuid.UUID] = (),
) -> None:
    """Record what `actor` did: filed in its own organisation's chain, or in `chain` (the owner
    of the records a partner changed), with its user or client and where the request came from."""
    record_now(session, acted(actor, event_type, details, chain=chain, record_ids=record_ids))


def acted(
    actor: Actor,
    event_type: EventType,
    details: dict[str, Any],
    *,
    chain: uuid.UUID | None = None,
    record_ids: Sequence[uuid.UUID] = (),
) -> Event:
    return Event(
        type=event_type,
        org_id=chain or actor.org_id,
        actor_org_id=actor.org_id,
        client_id=actor.client_id,
        user_id=actor.user_id,
        request_id=actor.request_id,
        source_address=actor.source_address,
        details=details,
        record_ids=record_ids,
    )
