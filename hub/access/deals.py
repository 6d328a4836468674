"""Which deal registrations an actor may see, make and review.

A registration belongs to the owner it is made to (`org_id`) and names the partner that made it
(`partner_org_id`). The owner sees its whole queue, with scope `opportunities:read` (a
registration is a proposed opportunity); a partner sees only the registrations it made, with
scope `deals:register`. Another partner of the same owner is on neither side of them, so
partners never learn of each other's registrations, and to anyone else a registration answers
exactly like one that does not exist. Only the owner reviews. Row-level security repeats each
rule: `owner_reads`, `owner_reviews`, `partner_reads_own` and `partner_registers` on
`deal_registrations` (migration `20261125_deal_registrations`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, false, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.partnerships import Side, get_partnership, side_of
from hub.access.scopes import Scope
from hub.deals.models import DealRegistration, DealStatus
from hub.errors import Forbidden, NotFound
from hub.partnerships.models import Partnership

# The scope that lets each side read registrations.
_READ_SCOPES: dict[Side, Scope] = {
    Side.OWNER: Scope.OPPORTUNITIES_READ,
    Side.PARTNER: Scope.DEALS_REGISTER,
}


def readable_sides(actor: Actor) -> frozenset[Side]:
    """The sides from which the actor's token may read registrations."""
    return frozenset(side for side, scope in _READ_SCOPES.items() if actor.has_scope(scope))


def require_registration_reader(actor: Actor) -> None:
    if not readable_sides(actor):
        raise Forbidden(
            "Reading deal registrations needs the scope 'opportunities:read' (the owner's "
            "queue) or 'deals:register' (your own registrations)."
        )


def _on_side(actor: Actor, side: Side) -> ColumnElement[bool]:
    if side is Side.OWNER:
        return DealRegistration.org_id == actor.org_id
    return DealRegistration.partner_org_id == actor.org_id


def select_registrations(actor: Actor, side: Side | None = None) -> Select[DealRegistration]:
    """A SELECT of the registrations the actor may read, on `side` (None: every side it may).

    `populate_existing`: a registration read again in the same request (after a review) is
    fresh, not the copy the session already holds.
    """
    sides = readable_sides(actor) & ({side} if side is not None else set(Side))
    condition = or_(*(_on_side(actor, each) for each in sorted(sides))) if sides else false()
    return select(DealRegistration).where(condition).execution_options(populate_existing=True)


async def get_registration(
    session: AsyncSession, actor: Actor, registration_id: uuid.UUID, *, field: str = "id"
) -> DealRegistration:
    """One registration the actor may read, or `NotFound`: anyone else's looks exactly absent."""
    statement = select_registrations(actor).where(DealRegistration.id == registration_id)
    registration = (await session.scalars(statement)).one_or_none()
    if registration is None:
        raise NotFound(field)
    return registration


async def get_registrations_many(
    session: AsyncSession, actor: Actor, registration_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DealRegistration]:
    """Readable registrations by id in one statement; any other id is simply missing."""
    ids = list(set(registration_ids))
    if not ids:
        return {}
    rows = await session.scalars(select_registrations(actor).where(DealRegistration.id.in_(ids)))
    return {row.id: row for row in rows}


def reads_owner_queue(actor: Actor) -> bool:
    """Whether the actor's token may read its organisation's queue of registrations."""
    return Side.OWNER in readable_sides(actor)


def select_owner_queue(actor: Actor, registration_ids: Iterable[uuid.UUID]) -> Select[Any]:
    """The owner's PENDING registrations among these ids: the ones a reviewer weighs conflicts
    for. Empty for a partner (its own registrations are another owner's queue) and for a token
    that may not read the owner's queue."""
    ids = list(set(registration_ids))
    visible = DealRegistration.org_id == actor.org_id if reads_owner_queue(actor) else false()
    return select(DealRegistration).where(
        visible, DealRegistration.id.in_(ids), DealRegistration.status == DealStatus.PENDING
    )


async def get_registration_to_review(
    session: AsyncSession, actor: Actor, registration_id: uuid.UUID, *, field: str = "id"
) -> DealRegistration:
    """A registration in the actor's own queue, locked for its review.

    Found from either side whatever the token may read (reviewing needs `opportunities:write`,
    which the service checks): the partner that made it knows it exists, so it is told no
    (FORBIDDEN); anyone else gets `NotFound`. Two reads on purpose, as for grants: the partner
    has no UPDATE policy, so its locking read would find nothing and answer NOT_FOUND instead of
    FORBIDDEN. The lock makes two reviews of one registration take turns; the second finds it
    reviewed.
    """
    either_side = or_(
        DealRegistration.org_id == actor.org_id, DealRegistration.partner_org_id == actor.org_id
    )
    statement = select(DealRegistration).where(either_side, DealRegistration.id == registration_id)
    registration = (await session.scalars(statement)).one_or_none()
    if registration is None:
        raise NotFound(field)
    if side_of(actor, registration.org_id) is Side.PARTNER:
        raise Forbidden("Only the owner a deal is registered with may review it.")
    return await get_reviewed_registration(session, actor, registration_id, lock=True)


async def get_reviewed_registration(
    session: AsyncSession, actor: Actor, registration_id: uuid.UUID, *, lock: bool = False
) -> DealRegistration:
    """A registration of the actor's own queue, read fresh (after the review just written)."""
    statement = (
        select(DealRegistration)
        .where(DealRegistration.org_id == actor.org_id, DealRegistration.id == registration_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one()


async def get_partnership_to_register(
    session: AsyncSession, actor: Actor, partnership_id: uuid.UUID, *, field: str
) -> Partnership:
    """A partnership on which the actor's organisation is the partner, to register deals with
    its owner. Locked in share mode: the owner cannot suspend or end it until the registration
    is written, and two registrations do not wait for each other.

    The owner side knows the partnership, so it is told no (FORBIDDEN); anyone else gets
    `NotFound`.
    """
    partnership = await get_partnership(session, actor, partnership_id, field=field)
    if side_of(actor, partnership.org_id) is Side.OWNER:
        raise Forbidden("Only the partner side of a partnership registers deals through it.")
    statement = (
        select(Partnership)
        .where(Partnership.org_id == partnership.org_id, Partnership.id == partnership_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one()


async def insert_registration(
    session: AsyncSession, actor: Actor, partnership: Partnership, **values: Any
) -> DealRegistration:
    """Write a registration by the actor's organisation into the partnership owner's queue.

    Both organisations come from the partnership the access layer just read, never from client
    input; row-level security (`partner_registers`) checks the same on INSERT. Only the columns
    given are written: the application role may not insert the review columns or `created_at`.
    """
    statement = (
        insert(DealRegistration)
        .values(
            org_id=partnership.org_id,
            partnership_id=partnership.id,
            partner_org_id=actor.org_id,
            **values,
        )
        .returning(DealRegistration)
    )
    return (await session.scalars(statement)).one()
