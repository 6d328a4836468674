"""Which partnerships, and which other organisations, an actor may see.

A partnership is visible from its two sides and from nowhere else: the owner (`org_id`) and
the partner (`partner_org_id`). A second partner of the same owner is on neither side of the
first one's partnership, so partners never learn of each other. Row-level security repeats the
rule in PostgreSQL (`either_side` on partnerships, `partnership_counterpart` on organisations).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, CompoundSelect, Select, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.policy import require_admin
from hub.access.rows import rows_by_id
from hub.access.scopes import Scope
from hub.errors import Forbidden, NotFound
from hub.partnerships.models import Partnership


class Side(enum.StrEnum):
    """Which end of a partnership the caller's organisation is on."""

    OWNER = "OWNER"
    PARTNER = "PARTNER"


def require_partnership_reader(actor: Actor) -> None:
    """Reading partnerships: scope `partners:read`, or an admin, who manages them anyway."""
    if not actor.has_scope(Scope.PARTNERS_READ):
        require_admin(actor)


def side_of(actor: Actor, owner_org_id: uuid.UUID) -> Side:
    """The actor's side of a partnership it can see (owned by `owner_org_id`)."""
    return Side.OWNER if owner_org_id == actor.org_id else Side.PARTNER


def _on_side(actor: Actor, side: Side) -> ColumnElement[bool]:
    if side is Side.OWNER:
        return Partnership.org_id == actor.org_id
    return Partnership.partner_org_id == actor.org_id


def select_partnerships(actor: Actor, side: Side | None = None) -> Select[Partnership]:
    """A SELECT of the partnerships the actor's organisation is on `side` of (None: either)."""
    sides = [side] if side is not None else list(Side)
    return select(Partnership).where(or_(*(_on_side(actor, each) for each in sides)))


async def get_partnership(
    session: AsyncSession,
    actor: Actor,
    partnership_id: uuid.UUID,
    *,
    lock: bool = False,
    field: str = "id",
) -> Partnership:
    """One partnership of the actor's, or `NotFound`: someone else's looks exactly absent."""
    statement = select_partnerships(actor).where(Partnership.id == partnership_id)
    if lock:
        statement = statement.with_for_update()
    partnership = (await session.scalars(statement)).one_or_none()
    if partnership is None:
        raise NotFound(field)
    return partnership


async def get_owned_partnership(
    session: AsyncSession,
    actor: Actor,
    partnership_id: uuid.UUID,
    *,
    lock: bool = False,
    field: str = "id",
) -> Partnership:
    """A partnership the actor's organisation owns, for sharing through it.

    The partner side knows the partnership, so it is told no (FORBIDDEN) rather than "absent";
    anyone else gets `NotFound`.
    """
    partnership = await get_partnership(session, actor, partnership_id, lock=lock, field=field)
    if side_of(actor, partnership.org_id) is Side.PARTNER:
        raise Forbidden("Only the owner of a partnership may share through it.")
    return partnership


async def get_partnerships_many(
    session: AsyncSession, actor: Actor, partnership_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Partnership]:
    """The actor's partnerships by id in one statement; any other id is simply missing."""
    return await rows_by_id(session, select_partnerships(actor), Partnership, partnership_ids)


def select_counterpart_ids(actor: Actor) -> CompoundSelect[tuple[uuid.UUID]]:
    """Ids of the organisations on the other side of any of the actor's partnerships.

    Ended partnerships count: their history still names both sides.
    """
    return union(
        select(Partnership.partner_org_id).where(Partnership.org_id == actor.org_id),
        select(Partnership.org_id).where(Partnership.partner_org_id == actor.org_id),
    )
