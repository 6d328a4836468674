"""Compiled reads (ADR 0018): the page or the record a planned document asks for, as JSON.

Everything that could refuse the request (scope, page size, cursor, visibility composition)
runs before the statement, so a refusal here leaves the generic path to answer it, exactly as
it always has, with nothing read or noted.
"""

from __future__ import annotations

import uuid
from typing import Any

from hub import reads
from hub.customers import service as customer_service
from hub.opportunities import service as opportunity_service
from hub.pagination import Listing, PageRequest, check_page_size, decode_cursor
from hub.reads import ReadPage, Shape
from resolvers.context import RequestContext


async def opportunity_page(
    ctx: RequestContext,
    where: opportunity_service.OpportunityFilter,
    order: opportunity_service.OpportunityOrder,
    first: int,
    after: str | None,
    shape: Shape,
) -> ReadPage:
    listing = await ctx.call(opportunity_service.opportunity_listing, where, order)
    return await _page(ctx, listing, first, after, shape)


async def customer_page(
    ctx: RequestContext,
    where: customer_service.CustomerFilter,
    order: customer_service.CustomerOrder,
    first: int,
    after: str | None,
    shape: Shape,
) -> ReadPage:
    listing = await ctx.call(customer_service.customer_listing, where, order)
    return await _page(ctx, listing, first, after, shape)


async def opportunity(
    ctx: RequestContext, record_id: uuid.UUID, shape: Shape
) -> dict[str, Any] | None:
    statement = await ctx.call(opportunity_service.select_one_visible, record_id)
    return await ctx.call(reads.read_one, statement, shape)


async def customer(
    ctx: RequestContext, record_id: uuid.UUID, shape: Shape
) -> dict[str, Any] | None:
    statement = await ctx.call(customer_service.select_one_visible, record_id)
    return await ctx.call(reads.read_one, statement, shape)


async def _page(
    ctx: RequestContext, listing: Listing[Any], first: int, after: str | None, shape: Shape
) -> ReadPage:
    page = PageRequest(first, after, ctx.max_page_size)
    check_page_size(page)
    if after is not None:
        decode_cursor(after)
    return await ctx.call(reads.read_page, listing, page, shape)
