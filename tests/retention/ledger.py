"""Helpers for retention tests: events with a given age, and a policy written as the owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import Text, Uuid

from hub.access.rls import enter_organisation
from hub.audit.chain import canonical, envelope

Sessions = async_sessionmaker[AsyncSession]

_APPEND = text("SELECT hub_audit_append(:chain, :events)").bindparams(
    bindparam("chain", type_=Uuid()), bindparam("events", type_=ARRAY(Text()))
)


async def append_aged(sessions: Sessions, org_id: uuid.UUID, count: int, *, days_ago: int) -> None:
    """`count` events written `days_ago` days ago, appended through the ledger's function."""
    when = datetime.now(UTC) - timedelta(days=days_ago)
    documents = [
        canonical(
            envelope(
                org_id=org_id,
                id=uuid.uuid4(),
                type="consent.changed",
                actor_org_id=org_id,
                actor_user_id=None,
                actor_client_id=None,
                request_id=None,
                source_address=None,
                record_ids=[uuid.uuid4()],
                details={"number": number, "days_ago": days_ago},
                created_at=when + timedelta(microseconds=number),
            )
        )
        for number in range(count)
    ]
    async with sessions() as session, session.begin():
        await enter_organisation(session, org_id)
        await session.execute(_APPEND, {"chain": org_id, "events": documents})


async def set_policy(
    sessions: Sessions,
    org_id: uuid.UUID,
    *,
    audit_events_days: int | None = None,
    closed_records_days: int | None = None,
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO retention_policies (org_id, audit_events_days, closed_records_days)"
                " VALUES (:org, :audit, :closed) ON CONFLICT (org_id) DO UPDATE SET"
                " audit_events_days = excluded.audit_events_days,"
                " closed_records_days = excluded.closed_records_days"
            ),
            {"org": org_id, "audit": audit_events_days, "closed": closed_records_days},
        )
