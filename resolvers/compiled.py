"""Compiled reads (ADR 0018): the page or the record a planned document asks for, as JSON.

Everything that could refuse the request (scope, page size, cursor, visibility composition)
runs before the statement, so a refusal here leaves the generic path to answer it, exactly as
it always has, with nothing read or noted. Each read is one turn on the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from sqlalchemy import Select

from hub import reads
from hub.pagination import Listing, PageRequest, check_page_size, decode_cursor
from hub.reads import ReadPage, Shape
from resolvers.context import RequestContext


async def page(
    ctx: RequestContext,
    key: Hashable,
    listing: Callable[[], Awaitable[Listing[Any]]],
    first: int,
    after: str | None,
    shape: Shape,
) -> ReadPage:
    """A page of the list `listing` builds (a service's `*_listing`) as `shape` selects it;
    `key` holds everything the listing's construction reads but the cursor."""
    request = PageRequest(first, after, ctx.max_page_size)
    check_page_size(request)
    if after is not None:
        decode_cursor(after)
    return await ctx.call(reads.read_page, key, listing, request, shape)


async def record(
    ctx: RequestContext,
    key: Hashable,
    visible: Callable[[], Awaitable[Select[Any]]],
    record_id: uuid.UUID,
    shape: Shape,
) -> dict[str, Any] | None:
    """The record `visible` (a service's `select_one_visible`) finds, as `shape` selects it."""
    return await ctx.call(reads.read_one, key, visible, record_id, shape)
