"""Compiled reads (ADR 0018): the page or the record a planned document asks for, as JSON.

Everything that could refuse the request (scope, page size, cursor, visibility composition)
runs before the statement, so a refusal here leaves the generic path to answer it, exactly as
it always has, with nothing read or noted.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import reads
from hub.access import Actor
from hub.pagination import Listing, PageRequest, check_page_size, decode_cursor
from hub.reads import ReadPage, Shape
from resolvers.context import RequestContext

FilterT = TypeVar("FilterT")
OrderT = TypeVar("OrderT")


async def page(
    ctx: RequestContext,
    listing: Callable[[AsyncSession, Actor, FilterT, OrderT], Awaitable[Listing[Any]]],
    where: FilterT,
    order: OrderT,
    first: int,
    after: str | None,
    shape: Shape,
) -> ReadPage:
    """A page of the list `listing` builds (a service's `*_listing`) as `shape` selects it."""
    request = PageRequest(first, after, ctx.max_page_size)
    check_page_size(request)
    if after is not None:
        decode_cursor(after)
    built = await ctx.call(listing, where, order)
    return await ctx.call(reads.read_page, built, request, shape)


async def record(
    ctx: RequestContext,
    select_one_visible: Callable[[AsyncSession, Actor, uuid.UUID], Awaitable[Select[Any]]],
    record_id: uuid.UUID,
    shape: Shape,
) -> dict[str, Any] | None:
    """The record a service's `select_one_visible` finds, as `shape` selects it, or None."""
    statement = await ctx.call(select_one_visible, record_id)
    return await ctx.call(reads.read_one, statement, shape)
