"""Writing an audit event, in the caller's transaction: the event and its work commit together."""

from __future__ import annotations

import enum
import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.audit.models import HUB_ORG, AuditEvent


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


@dataclass(frozen=True)
class Event:
    """One thing that happened. `org_id` None files it under the hub itself (`HUB_ORG`)."""

    type: EventType
    org_id: uuid.UUID | None = None
    client_id: str | None = None
    user_id: uuid.UUID | None = None
    request_id: str | None = None
    source_address: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def record(session: AsyncSession, event: Event) -> None:
    """Append `event` in the session's transaction; if it cannot be written, the work fails."""
    await session.execute(
        insert(AuditEvent).values(
            org_id=event.org_id or HUB_ORG,
            type=event.type.value,
            actor_client_id=event.client_id,
            actor_user_id=event.user_id,
            request_id=event.request_id,
            source_address=_address(event.source_address),
            details=event.details,
        )
    )


async def record_act(
    session: AsyncSession, actor: Actor, event_type: EventType, details: dict[str, Any]
) -> None:
    """Append what `actor` did, filed under its own organisation with its user or client."""
    await record(
        session,
        Event(
            type=event_type,
            org_id=actor.org_id,
            client_id=actor.client_id,
            user_id=actor.user_id,
            request_id=actor.request_id,
            details=details,
        ),
    )


def _address(value: str | None) -> str | None:
    """Only a real IP address goes into the INET column (test clients report names)."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
