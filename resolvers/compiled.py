"""Compiled reads (ADR 0018): the page or the record a planned document asks for, as JSON.

Everything that could refuse the request (scope, page size, cursor, visibility composition)
runs before the statement, so a refusal here leaves the generic path to answer it, exactly as
it always has, with nothing read or noted.

Two readers answer them: `InTransaction`, one turn on the request's session, building the
statement when none is kept; and `Direct`, a remembered caller's read as one statement of its
own (ADR 0020), which only ever runs a statement kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import reads
from hub.access import Actor
from hub.pagination import Listing, PageRequest, check_page_size, decode_cursor
from hub.reads import ReadPage, Shape
from hub.reads.direct import DirectReads
from resolvers.context import RequestContext

# How a list's statement is built, and how one record's: with the request's session and actor.
BuildListing = Callable[[AsyncSession, Actor], Awaitable[Listing[Any]]]
BuildVisible = Callable[[AsyncSession, Actor], Awaitable[Select[Any]]]


class Reader(Protocol):
    async def page(
        self,
        key: Hashable,
        listing: BuildListing,
        first: int,
        after: str | None,
        shape: Shape,
        cursors: bool,
    ) -> ReadPage:
        """A page of the list `listing` builds (a service's `*_listing`) as `shape` selects
        it, with the rows' cursors if `cursors`; `key` holds everything the listing's
        construction reads but the cursor."""
        ...

    async def record(
        self, key: Hashable, visible: BuildVisible, record_id: uuid.UUID, shape: Shape
    ) -> dict[str, Any] | None:
        """The record `visible` (a service's `select_one_visible`) finds, as `shape` selects
        it."""
        ...


def _page_request(first: int, after: str | None, max_page_size: int) -> PageRequest:
    request = PageRequest(first, after, max_page_size)
    check_page_size(request)
    if after is not None:
        decode_cursor(after)
    return request


@dataclass(frozen=True)
class InTransaction:
    """Reads in the request's transaction, one turn on its session each."""

    ctx: RequestContext

    async def page(
        self,
        key: Hashable,
        listing: BuildListing,
        first: int,
        after: str | None,
        shape: Shape,
        cursors: bool,
    ) -> ReadPage:
        ctx = self.ctx
        request = _page_request(first, after, ctx.max_page_size)

        async def built() -> Listing[Any]:
            return await listing(ctx.session, ctx.actor)

        return await ctx.call(reads.read_page, key, built, request, shape, cursors)

    async def record(
        self, key: Hashable, visible: BuildVisible, record_id: uuid.UUID, shape: Shape
    ) -> dict[str, Any] | None:
        ctx = self.ctx

        async def built() -> Select[Any]:
            return await visible(ctx.session, ctx.actor)

        return await ctx.call(reads.read_one, key, built, record_id, shape)


@dataclass(frozen=True)
class Direct:
    """Reads of a remembered caller, each one statement (`hub.reads.direct`)."""

    reads: DirectReads
    max_page_size: int

    async def page(
        self,
        key: Hashable,
        listing: BuildListing,
        first: int,
        after: str | None,
        shape: Shape,
        cursors: bool,
    ) -> ReadPage:
        request = _page_request(first, after, self.max_page_size)
        return await self.reads.page(key, request, shape, cursors)

    async def record(
        self, key: Hashable, visible: BuildVisible, record_id: uuid.UUID, shape: Shape
    ) -> dict[str, Any] | None:
        return await self.reads.record(key, record_id, shape)
