"""Which grants an actor may see and change: those its organisation made, and those made to it.

An owner sees the grants on its partnerships; a partner sees the grants made to it (to know what
it may see) and never another partner's, so partners never learn of each other. Only the owner
changes a grant. Row-level security repeats the rule: `tenant_isolation` and `granted_to_me` on
`grants` and `grant_records`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import with_expression

from hub.access.actor import Actor
from hub.access.partnerships import Side, side_of
from hub.access.rows import rows_by_id
from hub.errors import Forbidden, NotFound
from hub.grants.models import Grant, GrantRecord
from hub.partnerships.models import Partnership, PartnershipStatus


def is_live() -> ColumnElement[bool]:
    """ADR 0008 "live": not revoked, not expired, and its partnership ACTIVE.

    Decided by PostgreSQL with the transaction's `now()`, so an expiry passing or a suspension
    shows on the very next request. The three conditions are named below so that an explanation
    (`hub.access.explain`) can say which of them fails, with this very SQL.
    """
    return and_(not_revoked(), not_expired(), partnership_active())


def not_revoked() -> ColumnElement[bool]:
    return Grant.revoked_at.is_(None)


def not_expired() -> ColumnElement[bool]:
    return or_(Grant.expires_at.is_(None), Grant.expires_at > func.now())


def partnership_active() -> ColumnElement[bool]:
    return exists().where(_its_partnership(), Partnership.status == PartnershipStatus.ACTIVE)


def partnership_status() -> ScalarSelect[PartnershipStatus]:
    """The status of the grant's partnership, for saying why `partnership_active` fails."""
    return select(Partnership.status).where(_its_partnership()).scalar_subquery()


def _its_partnership() -> ColumnElement[bool]:
    return and_(Partnership.org_id == Grant.org_id, Partnership.id == Grant.partnership_id)


def _on_either_side(actor: Actor) -> ColumnElement[bool]:
    return or_(Grant.org_id == actor.org_id, Grant.partner_org_id == actor.org_id)


def select_grants(actor: Actor) -> Select[Grant]:
    """A SELECT of the grants the actor's organisation made or received, each with `live`.

    `populate_existing`: a grant read again in the same request gets a fresh `live`.
    """
    return (
        select(Grant)
        .where(_on_either_side(actor))
        .options(with_expression(Grant.live, is_live()))
        .execution_options(populate_existing=True)
    )


async def get_grant(
    session: AsyncSession, actor: Actor, grant_id: uuid.UUID, *, field: str = "id"
) -> Grant:
    """One grant from either side, or `NotFound`: anyone else's looks exactly absent."""
    grant = (await session.scalars(select_grants(actor).where(Grant.id == grant_id))).one_or_none()
    if grant is None:
        raise NotFound(field)
    return grant


async def get_grants_many(
    session: AsyncSession, actor: Actor, grant_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Grant]:
    """Grants by id in one statement, from either side; any other id is simply missing."""
    return await rows_by_id(session, select_grants(actor), Grant, grant_ids)


async def get_grant_to_change(
    session: AsyncSession, actor: Actor, grant_id: uuid.UUID, *, field: str = "id"
) -> Grant:
    """A grant the actor's organisation made, locked for a change.

    The partner side may read the grant but never change it: FORBIDDEN, since it already knows
    the grant exists. Anyone else gets `NotFound`. The lock makes concurrent changes take turns.
    Two reads on purpose: row-level security gives the partner no UPDATE policy on grants, so
    its locking read would find nothing and answer NOT_FOUND instead of FORBIDDEN.
    """
    grant = await get_grant(session, actor, grant_id, field=field)
    if side_of(actor, grant.org_id) is Side.PARTNER:
        raise Forbidden("Only the owner that made a grant may change or revoke it.")
    statement = (
        select_grants(actor)
        .where(Grant.org_id == actor.org_id, Grant.id == grant_id)
        .with_for_update(of=Grant)
    )
    return (await session.scalars(statement)).one()


def select_grant_records(
    actor: Actor, grant_ids: Iterable[uuid.UUID]
) -> Select[uuid.UUID, uuid.UUID]:
    """(grant id, record id) of the explicit records of those grants the actor may see."""
    visible = (
        select(Grant.org_id, Grant.id)
        .where(_on_either_side(actor), Grant.id.in_(list(set(grant_ids))))
        .subquery()
    )
    return (
        select(GrantRecord.grant_id, GrantRecord.record_id)
        .join(
            visible,
            and_(GrantRecord.org_id == visible.c.org_id, GrantRecord.grant_id == visible.c.id),
        )
        .order_by(GrantRecord.grant_id, GrantRecord.record_id)
    )
