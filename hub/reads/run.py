"""Run a compiled read: one statement, its JSON parsed once, the crossing records noted."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnCollection

from hub import access
from hub.access import RECORD_ID, Actor, Crossing
from hub.access.received import ReceivedGrant
from hub.audit import disclosures
from hub.exposure import Exposure
from hub.pagination import AFTER_ID, Listing, PageRequest, decode_cursor, page_statement
from hub.reads.prepared import PREPARED, Composed
from hub.reads.shape import Leaf, Related, Shape, TypeName
from hub.reads.values import cursor, response_value

Columns = ColumnCollection[str, ColumnElement[Any]]


@dataclass(frozen=True)
class ReadPage:
    """Nodes as the response holds them, with their cursors."""

    nodes: list[dict[str, Any]]
    cursors: list[str]
    has_next_page: bool


@dataclass(frozen=True)
class Read:
    """A compiled read as one request asks it: the key of its statement, what that binds for
    this request, and who records what crosses."""

    key: Hashable
    values: dict[str, Any]
    # What the statement records itself; None: the resolvers' notes (`_note`) do.
    crossings: list[Crossing] | None
    # Nothing crosses the statement does not record: it needs no notes afterwards.
    self_recording: bool


def page_read(
    actor: Actor,
    received: tuple[ReceivedGrant, ...],
    key: Hashable,
    page: PageRequest,
    shape: Shape,
    cursors: bool,
) -> Read:
    """The read of a page of the list `key` names (everything its construction reads but the
    cursor, the actor's visibility and the page size); `cursors`: whether the answer names
    the rows' cursors."""
    after = decode_cursor(page.after) if page.after is not None else None
    visibility = access.visibility_key(actor, received)
    shaped = (key, visibility, page.first, page.after is not None, cursors)
    return _read(actor, received, shaped, shape, {AFTER_ID: after})


def record_read(
    actor: Actor,
    received: tuple[ReceivedGrant, ...],
    key: Hashable,
    record_id: uuid.UUID,
    shape: Shape,
) -> Read:
    """The read of the one record `record_id` of the kind `key` names."""
    shaped = (key, access.visibility_key(actor, received))
    return _read(actor, received, shaped, shape, {RECORD_ID: record_id})


def page_of(entries: list[list[Any]], first: int) -> ReadPage:
    """The page a read's statement answered (`first` rows asked, one more read)."""
    shown = entries[:first]
    return ReadPage(
        nodes=[entry[0] for entry in shown],
        cursors=[entry[1] for entry in shown],
        has_next_page=len(entries) > first,
    )


def record_of(entries: list[list[Any]]) -> dict[str, Any] | None:
    """The record a read's statement answered, if it found one."""
    return entries[0][0] if entries else None


async def read_page(
    session: AsyncSession,
    actor: Actor,
    key: Hashable,
    listing: Callable[[], Awaitable[Listing[Any]]],
    page: PageRequest,
    shape: Shape,
    cursors: bool,
) -> ReadPage:
    """A page of what `listing` builds, as `shape` selects it. The listing is built only when
    no statement is kept for the read (`page_read`)."""

    received = await access.received_grants(session, actor)
    read = page_read(actor, received, key, page, shape, cursors)

    async def build() -> Select[Any] | Composed:
        built = await listing()
        paged = page_statement(built, page).subquery("paged")
        keys = [column for name, column in paged.c.items() if name.startswith("key_")]
        ordering = [key.desc() if built.descending else key.asc() for key in keys]
        return await _statement(
            session, actor, shape, paged.c, paged, ordering, read, page.first, cursors=cursors
        )

    return page_of(await _run(session, actor, shape, read, build, page.first), page.first)


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

    read = record_read(actor, await access.received_grants(session, actor), key, record_id, shape)

    async def build() -> Select[Any] | Composed:
        found = (await visible()).subquery("found")
        return await _statement(session, actor, shape, found.c, found, [], read, 1, cursors=False)

    return record_of(await _run(session, actor, shape, read, build, 1))


async def _run(
    session: AsyncSession,
    actor: Actor,
    shape: Shape,
    read: Read,
    build: Callable[[], Awaitable[Select[Any] | Composed]],
    shown: int,
) -> list[list[Any]]:
    """The entries of the read's statement (kept, or built now) run in the request's
    transaction, what crossed noted where the statement does not record it."""
    prepared = await PREPARED.get(session, read.key, build)
    entries = entries_of(await prepared.scalar(session, read.values))
    if not read.self_recording:
        await _note(session, actor, shape, entries[:shown])
    return entries


def _read(
    actor: Actor,
    received: tuple[ReceivedGrant, ...],
    key: Hashable,
    shape: Shape,
    values: dict[str, Any],
) -> Read:
    crossings = _crossings(received, shape)
    self_recording = crossings is not None or not _shared(received, shape)
    if crossings is not None:
        models = {crossing.model for crossing in crossings}
        values = {
            **values,
            **disclosures.actor_values(actor),
            **access.purposes_of(received, models),
        }
    return Read(key, values, crossings, self_recording)


def entries_of(text: str | None) -> list[list[Any]]:
    """A read statement's answer: [node, cursor, …] per row, in order (`_statement`)."""
    entries: list[list[Any]] = orjson.loads(text or "[]")
    return entries


async def _statement(
    session: AsyncSession,
    actor: Actor,
    shape: Shape,
    columns: Columns,
    source: Any,
    ordering: list[Any],
    read: Read,
    shown: int,
    *,
    cursors: bool,
) -> Select[Any] | Composed:
    """[node, cursor] per row, in order, as one JSON text (the cursor null unless `cursors`);
    where the resolvers' notes record what crosses (`notes`), [node, cursor, org_id, id,
    *noted]; for a partner (`crossings`), the statement records the disclosures too."""
    visibility = await _related_visibility(session, actor, shape)
    related = _related_rows(shape, columns, actor, visibility)
    for lateral in related.values():
        source = source.outerjoin(lateral, true())
    node = _node(shape, columns, actor, visibility, related)
    cursor_value = cursor(columns.id) if cursors else null()
    crossings = read.crossings
    if crossings is None:
        noted = [columns[name] for name in _noted(shape)]
        noting = [] if read.self_recording else [columns.org_id, columns.id, *noted]
        entry = func.json_build_array(node, cursor_value, *noting)
        aggregated = func.json_agg(aggregate_order_by(entry, *ordering) if ordering else entry)
        return select(cast(aggregated, Text)).select_from(source)
    position = func.row_number().over(order_by=ordering) if ordering else literal(1)
    reached = [
        related[item.key].c.id.label(f"reached_{index}")
        for index, item in enumerate(_relations(shape))
    ]
    customer = access.customer_column(shape.exposure.model)
    entries = select(
        node.label("node"),
        columns.org_id,
        columns.id,
        cursor_value.label("cursor"),
        position.label("position"),
        *([columns[customer].label("disclosed_customer")] if customer else []),
        *reached,
    ).select_from(source)
    selected = disclosures.selection(session)

    def wrap(inner: str, parameter: Callable[[str], str]) -> str:
        items = access.crossing_items("entries", crossings, shown, selected, parameter)
        return (
            f"WITH entries AS MATERIALIZED ({inner}), items AS ({items}), "  # noqa: S608
            f"noted AS ({disclosures.documents_of('items', parameter)}) "
            "SELECT CAST(json_agg(json_build_array(node, cursor) ORDER BY position)"
            " AS TEXT) FROM entries"
        )

    return Composed(entries, wrap)


def _crossings(received: tuple[ReceivedGrant, ...], shape: Shape) -> list[Crossing] | None:
    """What of the answer the statement itself records as disclosed: None for an actor no
    grant shares the shape's types with (nothing crosses), or a shape it cannot record (a
    related type without a customer of its own)."""
    if not _shared(received, shape):
        return None
    targets = _targets(shape)
    if any(access.customer_column(target) != "id" for target in targets):
        return None
    customer = access.customer_column(shape.exposure.model)
    found = [Crossing(shape.exposure.model, "id", "disclosed_customer" if customer else None)]
    for index, target in enumerate(targets):
        column = f"reached_{index}"
        found.append(Crossing(target, column, column, only_if=column))
    return found


def _shared(received: tuple[ReceivedGrant, ...], shape: Shape) -> bool:
    """Whether a received grant shares any of the shape's types: only then can a row cross."""
    kinds = (shape.exposure.model, *_targets(shape))
    return any(access.grants_for(kind, received) for kind in kinds)


def _targets(shape: Shape) -> list[type[Any]]:
    return [shape.exposure.relations[item.relation].target.model for item in _relations(shape)]


def _related_rows(
    shape: Shape,
    columns: Columns,
    actor: Actor,
    visibility: Mapping[str, ColumnElement[bool]],
) -> dict[str, Any]:
    """Per related record the shape names, by response key, a lateral lookup of at most one
    row: its JSON and its id where the actor sees it. One lookup serves the node and the
    disclosure (`reached_*`), which each looked the record up again."""
    found = {}
    for index, item in enumerate(_relations(shape)):
        model = shape.exposure.relations[item.relation].target.model
        node = _node(item.shape, model.__table__.c, actor, visibility)
        found[item.key] = (
            select(node.label("node"), model.id.label("id"))
            .where(_found(item, shape.exposure, columns, visibility))
            .lateral(f"related_{index}")
        )
    return found


def _node(
    shape: Shape,
    columns: Columns,
    actor: Actor,
    visibility: Mapping[str, ColumnElement[bool]],
    related: Mapping[str, Any] | None = None,
) -> ColumnElement[Any]:
    """The row's JSON as `shape` selects it; a related record's from `related` (the row's
    lateral lookups) where given, else a correlated lookup of its own."""
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
        elif related is not None:
            pairs.append(related[item.key].c.node)
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
    table_columns: Columns = exposure.relations[item.relation].target.model.__table__.c
    node = _node(item.shape, table_columns, actor, visibility)
    return select(node).where(_found(item, exposure, columns, visibility)).scalar_subquery()


def _found(
    item: Related,
    exposure: Exposure,
    columns: Columns,
    visibility: Mapping[str, ColumnElement[bool]],
) -> ColumnElement[bool]:
    """The related record of the row, of the same owner, if the actor sees it."""
    relation = exposure.relations[item.relation]
    model = relation.target.model
    return and_(
        model.org_id == columns.org_id,
        model.id == columns[relation.column],
        visibility[relation.target.type_name],
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
    foreign = [entry for entry in entries if entry[2] != own]
    if not foreign:
        return
    names = _noted(shape)
    crossed = [
        SimpleNamespace(
            org_id=uuid.UUID(entry[2]),
            id=uuid.UUID(entry[3]),
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
