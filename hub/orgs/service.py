"""Reads of an organisation's identity: who is calling, its people, and its partners' names."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor
from hub.errors import NotFound
from hub.orgs.models import Organisation, User


async def current_organisation(session: AsyncSession, actor: Actor) -> Organisation:
    """The caller's own organisation (row-level security shows no other)."""
    organisation = await session.get(Organisation, actor.org_id)
    if organisation is None:
        raise NotFound()
    return organisation


async def get_users(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, User]:
    """People of the caller's organisation by id; used to show owners and assignees."""
    return await access.get_owned_many(session, actor, User, ids)


async def get_organisations(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Organisation]:
    """The caller's own organisation and those across one of its partnerships, by id.

    A partnership shows both sides by name; any other organisation id is simply missing.
    """
    access.require_partnership_reader(actor)
    statement = select(Organisation).where(
        Organisation.id.in_(set(ids)),
        or_(
            Organisation.id == actor.org_id,
            Organisation.id.in_(access.select_counterpart_ids(actor)),
        ),
    )
    return {organisation.id: organisation for organisation in await session.scalars(statement)}
