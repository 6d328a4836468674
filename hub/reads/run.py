"""Run a compiled read: one statement, its JSON parsed once, the crossing records noted."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, Text, and_, case, cast, func, literal, null, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnCollection

from hub import access
from hub.access import RECORD_ID, Actor
from hub.exposure import Exposure
from hub.pagination import AFTER_ID, Listing, PageRequest, decode_cursor, page_statement
from hub.reads.prepared import PREPARED
from hub.reads.shape import Leaf, Related, Shape, TypeName
from hub.reads.values import cursor, response_value

Columns = ColumnCollection[str, ColumnElement[Any]]


@dataclass(frozen=True)
class ReadPage:
    """Nodes as the response holds them, with their cursors."""

    nodes: list[dict[str, Any]]
    cursors: list[str]
    has_next_page: bool


async def read_page(
    session: AsyncSession,
    actor: Actor,
    key: Hashable,
    listing: Callable[[], Awaitable[Listing[Any]]],
    page: PageRequest,
    shape: Shape,
) -> ReadPage:
    """A page of what `listing` builds, as `shape` selects it. The listing is built only when
    no statement is kept for `key` (which must hold everything its construction reads besides
    the actor's visibility and the page) with the actor's `visibility_key`."""

    async def build() -> Select[Any]:
        built = await listing()
        paged = page_statement(built, page).subquery("paged")
        keys = [column for name, column in paged.c.items() if name.startswith("key_")]
        ordering = [key.desc() if built.descending else key.asc() for key in keys]
        return await _statement(session, actor, shape, paged.c, paged, ordering)

    visibility = await access.visibility_key(session, actor)
    shaped = (key, visibility, page.first, page.after is not None)
    prepared = await PREPARED.get(session, shaped, build)
    after = decode_cursor(page.after) if page.after is not None else None
    entries = orjson.loads(await prepared.scalar(session, {AFTER_ID: after}) or "[]")
    shown = entries[: page.first]
    await _note(session, actor, shape, shown)
    return ReadPage(
        nodes=[entry[0] for entry in shown],
        cursors=[entry[3] for entry in shown],
        has_next_page=len(entries) > page.first,
    )


async def read_one(
    session: AsyncSession,
    actor: Actor,
    key: Hashable,
    visible: Callable[[], Awaitable[Select[Any]]],
    record_id: uuid.UUID,
    shape: Shape,
) -> dict[str, Any] | None:
    """The one row of what `visible` builds (a statement narrowed to `record_id` by
    `access.is_record`), or None."""

    async def build() -> Select[Any]:
        found = (await visible()).subquery("found")
        return await _statement(session, actor, shape, found.c, found, [])

    visibility = await access.visibility_key(session, actor)
    prepared = await PREPARED.get(session, (key, visibility), build)
    entries = orjson.loads(await prepared.scalar(session, {RECORD_ID: record_id}) or "[]")
    await _note(session, actor, shape, entries)
    return entries[0][0] if entries else None


async def _statement(
    session: AsyncSession,
    actor: Actor,
    shape: Shape,
    columns: Columns,
    source: Any,
    ordering: list[Any],
) -> Select[Any]:
    """[node, org_id, id, cursor, *noted] per row, in order, as one JSON text."""
    visibility = await _related_visibility(session, actor, shape)
    node = _node(shape, columns, actor, visibility)
    noted = [columns[name] for name in _noted(shape)]
    entry = func.json_build_array(node, columns.org_id, columns.id, cursor(columns.id), *noted)
    aggregated = func.json_agg(aggregate_order_by(entry, *ordering) if ordering else entry)
    return select(cast(aggregated, Text)).select_from(source)


def _node(
    shape: Shape,
    columns: Columns,
    actor: Actor,
    visibility: Mapping[str, ColumnElement[bool]],
) -> ColumnElement[Any]:
    exposure = shape.exposure
    pairs: list[ColumnElement[Any]] = []
    for item in shape.items:
        pairs.append(literal(item.key))
        if isinstance(item, TypeName):
            pairs.append(literal(exposure.type_name))
        elif isinstance(item, Leaf):
            exposed = exposure.fields[item.field]
            value = response_value(exposed.value, columns[exposed.column], exposure.type_name)
            if not exposed.crosses:
                value = case((columns.org_id == actor.org_id, value), else_=null())
            pairs.append(value)
        else:
            pairs.append(_related(item, exposure, columns, actor, visibility))
    return func.json_build_object(*pairs)


def _related(
    item: Related,
    exposure: Exposure,
    columns: Columns,
    actor: Actor,
    visibility: Mapping[str, ColumnElement[bool]],
) -> ColumnElement[Any]:
    """The related record's JSON, or null when the actor may not see it."""
    relation = exposure.relations[item.relation]
    model = relation.target.model
    table_columns: Columns = model.__table__.c
    return (
        select(_node(item.shape, table_columns, actor, visibility))
        .where(
            and_(
                model.org_id == columns.org_id,
                model.id == columns[relation.column],
                visibility[relation.target.type_name],
            )
        )
        .scalar_subquery()
    )


async def _related_visibility(
    session: AsyncSession, actor: Actor, shape: Shape
) -> dict[str, ColumnElement[bool]]:
    """What of each related type the actor sees, as the access layer composes it; a related
    type needs its own read scope (`Forbidden` otherwise, before anything is read)."""
    visibility: dict[str, ColumnElement[bool]] = {}
    for item in _relations(shape):
        target = shape.exposure.relations[item.relation].target
        access.require_scope(actor, target.read_scope)
        statement = await access.select_visible(session, actor, target.model)
        if statement.whereclause is not None:
            visibility[target.type_name] = statement.whereclause
    return visibility


def _relations(shape: Shape) -> Iterable[Related]:
    return (item for item in shape.items if isinstance(item, Related))


def _noted(shape: Shape) -> list[str]:
    """The row's columns a crossing needs noted: the type's own, and each relation's key."""
    names = list(shape.exposure.noted)
    for item in _relations(shape):
        column = shape.exposure.relations[item.relation].column
        if column not in names:
            names.append(column)
    return names


async def _note(
    session: AsyncSession, actor: Actor, shape: Shape, entries: list[list[Any]]
) -> None:
    """Note the records of other organisations that crossed, the related ones included."""
    own = str(actor.org_id)  # JSON carries ids as text: compared as text, parsed once
    foreign = [entry for entry in entries if entry[1] != own]
    if not foreign:
        return
    names = _noted(shape)
    crossed = [
        SimpleNamespace(
            org_id=uuid.UUID(entry[1]),
            id=uuid.UUID(entry[2]),
            **{name: _uuid(value) for name, value in zip(names, entry[4:], strict=True)},
        )
        for entry in foreign
    ]
    await access.note_crossed(session, actor, shape.exposure.model, crossed)
    for item in _relations(shape):
        relation = shape.exposure.relations[item.relation]
        reached = [
            SimpleNamespace(org_id=row.org_id, id=getattr(row, relation.column))
            for row, entry in zip(crossed, foreign, strict=True)
            if entry[0][item.key] is not None
        ]
        if reached:
            await access.note_crossed(session, actor, relation.target.model, reached)


def _uuid(value: Any) -> Any:
    """JSON carries uuids as text; the noted columns are all ids."""
    return uuid.UUID(value) if isinstance(value, str) else value
