"""Reads of an organisation's own identity: who is calling, and its people."""

from __future__ import annotations

import uuid

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
    return await access.get_visible_many(session, actor, User, ids)
