"""Writing tenant rows: a new record always belongs to the actor's organisation."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.db import TenantModel

M = TypeVar("M", bound=TenantModel)


async def insert_owned(session: AsyncSession, actor: Actor, model: type[M], **values: Any) -> M:
    """Create a `model` row owned by the actor's organisation and flush it.

    The organisation is never taken from client input: that is how a write stays on its
    side of the tenant wall (row-level security checks the same on INSERT).
    """
    record = model(org_id=actor.org_id, **values)
    session.add(record)
    await session.flush()
    await session.refresh(record)
    return record
