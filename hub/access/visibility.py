"""Visibility composed into SQL: what an actor may see, as a WHERE clause.

Today an actor sees its own organisation's records; partner grants extend this module, and
nothing outside it decides visibility. Row-level security repeats the rule in PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.db import TenantModel
from hub.errors import NotFound

M = TypeVar("M", bound=TenantModel)


def select_owned(actor: Actor, model: type[M]) -> Select[M]:
    """A SELECT of the `model` rows the actor's organisation owns: what it may write or share.

    Partner grants will widen what an actor sees (`select_visible`), never what it owns.
    """
    return select(model).where(model.org_id == actor.org_id)


def select_visible(actor: Actor, model: type[M]) -> Select[M]:
    """A SELECT of the `model` rows `actor` may see."""
    return select_owned(actor, model)


async def get_visible(
    session: AsyncSession,
    actor: Actor,
    model: type[M],
    record_id: uuid.UUID,
    *,
    lock: bool = False,
    field: str = "id",
) -> M:
    """One visible record, or `NotFound` whether it is absent or merely not visible."""
    return await _one(session, select_visible(actor, model), model, record_id, lock, field)


async def get_owned(
    session: AsyncSession,
    actor: Actor,
    model: type[M],
    record_id: uuid.UUID,
    *,
    lock: bool = False,
    field: str = "id",
) -> M:
    """One record the actor's organisation owns, or `NotFound` like an absent one."""
    return await _one(session, select_owned(actor, model), model, record_id, lock, field)


async def _one(
    session: AsyncSession,
    statement: Select[M],
    model: type[M],
    record_id: uuid.UUID,
    lock: bool,
    field: str,
) -> M:
    statement = statement.where(model.id == record_id)
    if lock:
        statement = statement.with_for_update()
    record = (await session.scalars(statement)).one_or_none()
    if record is None:
        raise NotFound(field)
    return record


async def get_visible_many(
    session: AsyncSession, actor: Actor, model: type[M], record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, M]:
    """Visible records by id in one statement; invisible ids are simply missing."""
    return await rows_by_id(session, select_visible(actor, model), model, record_ids)


async def get_owned_many(
    session: AsyncSession, actor: Actor, model: type[M], record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, M]:
    """Owned records by id in one statement; any other id is simply missing."""
    return await rows_by_id(session, select_owned(actor, model), model, record_ids)


async def rows_by_id(
    session: AsyncSession, visible: Select[M], model: type[M], record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, M]:
    """The rows of `visible` with these ids, in one statement; other ids are simply missing."""
    ids = list(set(record_ids))
    if not ids:
        return {}
    rows = await session.scalars(visible.where(model.id.in_(ids)))
    return {row.id: row for row in rows}
