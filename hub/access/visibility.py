"""Visibility composed into SQL: what an actor may see, as a WHERE clause.

An actor sees its own organisation's records and, as a partner, the owners' records its live
grants share (ADR 0008); nothing outside the access layer decides visibility. Row-level
security repeats the rule in PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.coverage import grants_for, listed, shared
from hub.access.received import ReceivedGrant, received_grants
from hub.access.rows import rows_by_id
from hub.db import TenantModel
from hub.errors import NotFound
from hub.grants.models import Access
from hub.pagination import Source

M = TypeVar("M", bound=TenantModel)

# A record asked for by id is bound by this name, so a compiled read's statement, kept for
# later requests of the same shape, takes each request's id (`hub.reads.prepared`).
RECORD_ID = "record_id"


def visibility_key(actor: Actor, grants: tuple[ReceivedGrant, ...]) -> Hashable:
    """Everything composing visibility reads of the actor: its organisation, its scopes and
    the terms of its live received `grants`. Statements built for one actor serve another with
    the same key (`hub.reads.prepared`)."""
    terms = tuple(
        (grant.id, grant.owner_id, grant.partner_org_id, grant.record_type, grant.access)
        for grant in grants
    )
    return actor.org_id, actor.scopes, terms


def is_record(model: type[M], record_id: uuid.UUID) -> ColumnElement[bool]:
    """The condition naming one record by id, its id bound as `RECORD_ID`."""
    return model.id == bindparam(RECORD_ID, record_id, type_=Uuid())


def select_owned(actor: Actor, model: type[M]) -> Select[M]:
    """A SELECT of the `model` rows the actor's organisation owns: what it may write or share.

    Partner grants will widen what an actor sees (`select_visible`), never what it owns.
    """
    return select(model).where(model.org_id == actor.org_id)


async def select_visible(
    session: AsyncSession,
    actor: Actor,
    model: type[M],
    *,
    owner: uuid.UUID | None = None,
    at_least: Access = Access.READ,
) -> Select[M]:
    """A SELECT of the `model` rows `actor` may see: its own, and those its live grants share.

    `owner` narrows to one owning organisation (a partner's per-owner view); an owner the
    actor has no live grant from gives no rows, exactly like an owner with no records.
    `at_least` counts only grants with that access: CONTRIBUTE for rows a partner may change.
    For lookups by id or by parent; an ordered page reads `select_listed`.
    """
    own, grants = await _sources(session, actor, model, owner, at_least)
    sources: list[ColumnElement[bool]] = []
    if own is not None:
        sources.append(model.org_id == own)
    if grants:
        sources.append(shared(model, grants))
    return select(model).where(or_(false(), *sources))


async def select_listed(
    session: AsyncSession, actor: Actor, model: type[M], *, owner: uuid.UUID | None = None
) -> list[Source[M]]:
    """The rows of `select_visible`, as the sources of an ordered page (`hub.pagination`).

    A partner's shared rows are read from its share index in order and its own from its own
    index, so a page is taken before anything else is read.
    """
    own, grants = await _sources(session, actor, model, owner, Access.READ)
    if not grants:
        return [
            Source(select_owned(actor, model) if own is not None else select(model).where(false()))
        ]
    return listed(model, grants, own)


async def _sources(
    session: AsyncSession,
    actor: Actor,
    model: type[M],
    owner: uuid.UUID | None,
    at_least: Access,
) -> tuple[uuid.UUID | None, list[ReceivedGrant]]:
    """Whose own rows count (the actor's, unless another owner is asked for) and which grants."""
    own = actor.org_id if owner is None or owner == actor.org_id else None
    if owner == actor.org_id:
        return own, []
    grants = [
        grant
        for grant in grants_for(model, await received_grants(session, actor), at_least)
        if owner is None or owner == grant.owner_id
    ]
    return own, grants


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
    return await _one(
        session, await select_visible(session, actor, model), model, record_id, lock, field
    )


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
    return await rows_by_id(session, await select_visible(session, actor, model), model, record_ids)


async def get_owned_many(
    session: AsyncSession, actor: Actor, model: type[M], record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, M]:
    """Owned records by id in one statement; any other id is simply missing."""
    return await rows_by_id(session, select_owned(actor, model), model, record_ids)
