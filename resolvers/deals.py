"""Deal registrations: thin resolvers over the deal service."""

from __future__ import annotations

from collections.abc import Callable

from hub.deals import service
from hub.deals.models import DealRegistration
from hub.pagination import Page, PageRequest
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_registrations(
    ctx: RequestContext, where: service.DealRegistrationFilter, first: int, after: str | None
) -> Page[DealRegistration]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(service.list_registrations, where, page)


async def register_deal(
    ctx: RequestContext, build: Callable[[], service.RegisterDeal]
) -> Outcome[DealRegistration]:
    return await ctx.mutate(service.register_deal, build)


async def review_registration(
    ctx: RequestContext, build: Callable[[], service.ReviewDealRegistration]
) -> Outcome[DealRegistration]:
    return await ctx.mutate(service.review_registration, build)
