"""Writing tenant rows: a new record always belongs to the actor's organisation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Boolean, ColumnElement, literal_column, select
from sqlalchemy import insert as plain_insert
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.changes import Creation
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


async def insert_created(
    session: AsyncSession, creation: Creation, model: type[M], **values: Any
) -> M:
    """Create a `model` row owned by the organisation the access layer chose (`creating_for`).

    A partner creating under a WRITE grant writes into the owner's records; the owner is the one
    `creating_for` found behind the customer, never a client's say-so, and row-level security
    checks the grant again on INSERT. The row is read back by a statement of its own, not by
    INSERT … RETURNING: a partner may read the owner's row only through its share, which the
    INSERT's own AFTER trigger makes (ADR 0017).
    """
    record_id = values.pop("id", None) or uuid.uuid4()
    await session.execute(
        plain_insert(model).values(org_id=creation.owner_id, id=record_id, **values)
    )
    statement = select(model).where(model.org_id == creation.owner_id, model.id == record_id)
    return (await session.scalars(statement)).one()


async def insert_owned_many(
    session: AsyncSession, actor: Actor, model: type[M], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Create many `model` rows owned by the actor's organisation in one statement."""
    if rows:
        await session.execute(
            plain_insert(model), [{**row, "org_id": actor.org_id} for row in rows]
        )


async def insert_owned_unless_taken(
    session: AsyncSession, actor: Actor, model: type[M], unique: Sequence[str], **values: Any
) -> M | None:
    """Create a `model` row owned by the actor's organisation, or None if `unique` is taken.

    `unique` names the columns after `org_id` of a unique index. The index decides in one
    statement (`ON CONFLICT DO NOTHING`), so two concurrent requests cannot both pass a
    check-then-insert and one of them end in a unique violation, that is, a 500.
    """
    statement = (
        insert(model)
        .values(org_id=actor.org_id, **values)
        .on_conflict_do_nothing(index_elements=["org_id", *unique])
        .returning(model)
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_owned_or_reopen(
    session: AsyncSession,
    actor: Actor,
    model: type[M],
    unique: Sequence[str],
    *,
    reopen: Mapping[str, Any],
    reopenable: ColumnElement[bool],
    **values: Any,
) -> tuple[M, bool] | None:
    """Create a `model` row owned by the actor's organisation, or reopen the one holding `unique`.

    The row already there is updated with `reopen` only if `reopenable` holds for it; otherwise
    nothing changes and the answer is None. One statement (`ON CONFLICT DO UPDATE ... WHERE`)
    decides, so concurrent requests cannot race past a check. The flag says whether the row is
    new: PostgreSQL leaves `xmax` zero on a freshly inserted row version, not on an updated one.
    """
    statement = (
        insert(model)
        .values(org_id=actor.org_id, **values)
        .on_conflict_do_update(
            index_elements=["org_id", *unique], set_=dict(reopen), where=reopenable
        )
        .returning(model, literal_column("xmax = 0", Boolean))
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None
    record, created = row
    return record, bool(created)
