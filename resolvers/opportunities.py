"""Opportunity resolvers."""

from __future__ import annotations

from collections.abc import Callable

from hub.opportunities import service
from hub.opportunities.models import Opportunity
from hub.pagination import Page, PageRequest
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_opportunities(
    ctx: RequestContext,
    where: service.OpportunityFilter,
    order: service.OpportunityOrder,
    first: int,
    after: str | None,
) -> Page[Opportunity]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(service.list_opportunities, where, order, page)


async def create_opportunity(
    ctx: RequestContext, build: Callable[[], service.CreateOpportunity]
) -> Outcome[Opportunity]:
    return await ctx.mutate(service.create_opportunity, build)


async def update_opportunity(
    ctx: RequestContext, build: Callable[[], service.UpdateOpportunity]
) -> Outcome[Opportunity]:
    return await ctx.mutate(service.update_opportunity, build)
