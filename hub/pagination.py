"""Keyset pagination: a page is taken from the tenant's index, never by OFFSET.

The cursor names the last row seen; the next page starts strictly after that row's
position in the chosen order. Cursors are opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Label,
    Select,
    SQLColumnExpression,
    Subquery,
    Uuid,
    bindparam,
    case,
    func,
    label,
    literal,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.db import TenantModel
from hub.errors import InvalidInput, UserErrorCode

M = TypeVar("M", bound=TenantModel)
T = TypeVar("T")

CURSOR_PREFIX = b"cursor:"

# The cursor's record id is bound by this name, so a compiled read's statement, kept for
# later requests of the same shape, takes each request's cursor (`hub.reads.prepared`).
AFTER_ID = "after_id"


@dataclass(frozen=True)
class PageRequest:
    """`first` rows after the cursor `after`; `first` may not exceed `max_size`."""

    first: int
    after: str | None = None
    max_size: int = 100


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    has_next_page: bool
    has_previous_page: bool

    def cursor(self, item: M) -> str:
        return encode_cursor(item.id)


def encode_cursor(record_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(CURSOR_PREFIX + str(record_id).encode()).decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        if not raw.startswith(CURSOR_PREFIX):
            raise ValueError(cursor)
        return uuid.UUID(raw[len(CURSOR_PREFIX) :].decode())
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise InvalidInput.on("after", UserErrorCode.INVALID, "Not a valid cursor.") from error


def sort_key(column: SQLColumnExpression[T | None], missing: T) -> ColumnElement[T]:
    """A nullable column as a total order key: NULL sorts as `missing` (last when ascending)."""
    return func.coalesce(column, literal(missing))


def ranked(column: SQLColumnExpression[Any], ranks: Sequence[object]) -> ColumnElement[int]:
    """An enum column ordered by meaning (`ranks`, lowest first) rather than by its text."""
    return case({value: rank for rank, value in enumerate(ranks)}, value=column, else_=len(ranks))


def check_page_size(page: PageRequest) -> None:
    if not 1 <= page.first <= page.max_size:
        raise InvalidInput.on(
            "first", UserErrorCode.OUT_OF_RANGE, f"first must be between 1 and {page.max_size}."
        )


@dataclass(frozen=True)
class Source(Generic[M]):
    """Rows of a list from one place, and the columns its order keys are read from there.

    `keys` maps a record's column name to the column to order by instead (the share index's
    copy of it), so PostgreSQL reads the rows from that index in order and stops after a page.
    """

    statement: Select[M]
    keys: Mapping[str, SQLColumnExpression[Any]] = field(default_factory=dict)

    def key(self, column: SQLColumnExpression[Any]) -> SQLColumnExpression[Any]:
        name = getattr(column, "key", None)
        return self.keys.get(name, column) if isinstance(name, str) else column

    def where(self, *conditions: ColumnElement[bool]) -> Source[M]:
        return Source(self.statement.where(*conditions), self.keys)


@dataclass(frozen=True)
class Listing(Generic[M]):
    """What a list reads, before a page of it is taken: the visible, filtered rows and their order.

    Services build it once for both ways of answering: `fetch_page` (rows for the resolvers) and
    the compiled read, which takes the same page inside one statement (`hub.reads`). Rows may
    come from several sources (a partner's own records and those shared with it), each read in
    order from its own index; their pages are merged.
    """

    model: type[M]
    sources: Sequence[Source[M]]
    order: Sequence[SQLColumnExpression[Any]]
    descending: bool


def page_statement(listing: Listing[M], page: PageRequest) -> Select[Any]:
    """The page as one SELECT: `page.first + 1` rows after the cursor, in order, then `id`.

    Its first column is the row; `key_0`, `key_1`… are the order keys, for a statement that
    wraps the page and must keep its order. Order keys must never be NULL (a row comparison
    with NULL drops the row from every later page): wrap nullable columns in `sort_key`.
    """
    check_page_size(page)
    model = listing.model
    anchor = _anchor(listing, page)
    branches = [_branch(listing, source, page, anchor) for source in listing.sources]
    if len(branches) == 1:
        return branches[0]
    merged = union_all(*branches).subquery("listed")
    row = aliased(model, merged)
    keys = [column for name, column in merged.c.items() if name.startswith("key_")]
    ordering = [key.desc() if listing.descending else key.asc() for key in keys]
    return select(row, *keys).order_by(*ordering).limit(page.first + 1)


def _keys(listing: Listing[M], source: Source[M]) -> list[Label[Any]]:
    keys = [*(source.key(column) for column in listing.order), source.key(listing.model.id)]
    return [label(f"key_{index}", key) for index, key in enumerate(keys)]


def _anchor(listing: Listing[M], page: PageRequest) -> Subquery | None:
    """The cursor's row's order keys, read through the list's own sources: the same
    visibility and the same indexes (the owner named, a partner's share), never a search by id
    alone; from whichever source holds it."""
    if page.after is None:
        return None
    after_id = bindparam(AFTER_ID, decode_cursor(page.after), type_=Uuid())
    found = [
        source.statement.with_only_columns(*_keys(listing, source)).where(
            listing.model.id == after_id
        )
        for source in listing.sources
    ]
    return (found[0] if len(found) == 1 else union_all(*found)).subquery("anchor")


def _branch(
    listing: Listing[M], source: Source[M], page: PageRequest, anchor: Subquery | None
) -> Select[Any]:
    labelled = _keys(listing, source)
    keys = [key.element for key in labelled]
    statement = source.statement
    if anchor is not None:
        position = tuple_(*keys)
        anchor_position = tuple_(*(anchor.c[key.name] for key in labelled))
        # Joined, not merely named: one row, or none when the cursor's row is not in the list.
        statement = statement.join(anchor, true()).where(
            position < anchor_position if listing.descending else position > anchor_position
        )
    ordering = [key.desc() if listing.descending else key.asc() for key in keys]
    return statement.add_columns(*labelled).order_by(*ordering).limit(page.first + 1)


async def fetch_page(
    session: AsyncSession,
    model: type[M],
    statement: Select[M],
    order: Sequence[SQLColumnExpression[Any]],
    descending: bool,
    page: PageRequest,
) -> Page[M]:
    """Run `statement` (already filtered by visibility) for one page in `order`, then `id`."""
    return await fetch_listing(
        session, Listing(model, [Source(statement)], order, descending), page
    )


async def fetch_listing(session: AsyncSession, listing: Listing[M], page: PageRequest) -> Page[M]:
    """One page of `listing`'s rows."""
    rows = list((await session.scalars(page_statement(listing, page))).all())
    return Page(
        items=rows[: page.first],
        has_next_page=len(rows) > page.first,
        has_previous_page=page.after is not None,
    )
