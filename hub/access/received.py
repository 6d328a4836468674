"""The live grants made to the actor's organisation, read once per request (ADR 0008).

Reading them also sets `hub.grant_ids` for the transaction, so row-level security considers
exactly these grants (and re-checks each is live). Nothing is kept between requests: revoking,
narrowing, an expiry passing or a suspension shows on the very next one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, Text, cast, event, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.functions import FunctionElement

from hub.access.actor import Actor
from hub.access.grants import is_live
from hub.grants.models import Access, Grant, Purpose, RecordType, Selection
from hub.grants.segments import Segment

_CACHE_KEY = "hub.received_grants"


@dataclass(frozen=True, slots=True)
class ReceivedGrant:
    """What the access layer needs of a live grant to compose visibility and field policy."""

    id: uuid.UUID
    owner_id: uuid.UUID
    partnership_id: uuid.UUID
    partner_org_id: uuid.UUID
    record_type: RecordType
    access: Access
    selection: Selection
    segment: Segment | None
    purpose: Purpose
    field_policy: Mapping[str, str]

    @classmethod
    def of(cls, grant: Grant) -> ReceivedGrant:
        """The same terms of a grant the owner read, to judge it with the same predicates."""
        return cls(
            id=grant.id,
            owner_id=grant.org_id,
            partnership_id=grant.partnership_id,
            partner_org_id=grant.partner_org_id,
            record_type=grant.record_type,
            access=grant.access,
            selection=grant.selection,
            segment=Segment.from_json(grant.segment) if grant.segment is not None else None,
            purpose=grant.purpose,
            field_policy=dict(grant.field_policy or {}),
        )


def live_grants(org_id: uuid.UUID | ColumnElement[Any], *after: ColumnElement[bool]) -> Select[Any]:
    """The live grants made to `org_id`, with the columns `ReceivedGrant` needs."""
    return select(
        Grant.id,
        Grant.org_id,
        Grant.partnership_id,
        Grant.partner_org_id,
        Grant.record_type,
        Grant.access,
        Grant.selection,
        Grant.segment,
        Grant.purpose,
        Grant.field_policy,
    ).where(Grant.partner_org_id == org_id, is_live(), *after)


def joined_ids(ids: ColumnElement[Any]) -> FunctionElement[Any]:
    """The grant ids as `hub.grant_ids` holds them: an aggregate (or, with `.over()`, a window)."""
    return func.string_agg(cast(ids, Text), ",")


def grant_ids_setting(joined: ColumnElement[Any]) -> ColumnElement[str]:
    """`set_config('hub.grant_ids', …)`: only these grants count for row-level security."""
    return func.set_config("hub.grant_ids", func.coalesce(joined, ""), True)


async def received_grants(session: AsyncSession, actor: Actor) -> tuple[ReceivedGrant, ...]:
    """The actor's organisation's live received grants; one statement, the first time asked.

    A request reads them in its first statement (`hub.access.entry`); this reads them again
    only where that did not happen (maintenance commands) or a savepoint rolled back.
    """
    cached = remembered(session, actor.org_id)
    if cached is not None:
        return cached
    live = live_grants(actor.org_id).cte("live")
    # One row always (an aggregate), so the setting is written even when nothing is live.
    setting = (
        select(grant_ids_setting(joined_ids(live.c.id)).label("grant_ids"))
        .select_from(live)
        .cte("setting")
    )
    statement = select(live).select_from(setting.outerjoin(live, true())).order_by(live.c.id)
    rows = (await session.execute(statement)).mappings().all()
    return remember(session, actor.org_id, rows)


def remembered(session: AsyncSession, org_id: uuid.UUID) -> tuple[ReceivedGrant, ...] | None:
    cached: tuple[uuid.UUID, tuple[ReceivedGrant, ...]] | None = session.info.get(_CACHE_KEY)
    if cached is not None and cached[0] == org_id:
        return cached[1]
    return None


def remember(
    session: AsyncSession, org_id: uuid.UUID, rows: Sequence[RowMapping]
) -> tuple[ReceivedGrant, ...]:
    """Keep the grants read (rows of `live_grants`; a row with no `id` is none) for the request."""
    grants = tuple(_received(row) for row in rows if row["id"] is not None)
    session.info[_CACHE_KEY] = (org_id, grants)
    return grants


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back savepoint takes its `SET LOCAL` with it, so the grants are read again."""
    session.info.pop(_CACHE_KEY, None)


def _received(row: RowMapping) -> ReceivedGrant:
    return ReceivedGrant(
        id=row["id"],
        owner_id=row["org_id"],
        partnership_id=row["partnership_id"],
        partner_org_id=row["partner_org_id"],
        record_type=RecordType(row["record_type"]),
        access=Access(row["access"]),
        selection=Selection(row["selection"]),
        segment=Segment.from_json(row["segment"]) if row["segment"] is not None else None,
        purpose=Purpose(row["purpose"]),
        field_policy=dict(row["field_policy"] or {}),
    )
