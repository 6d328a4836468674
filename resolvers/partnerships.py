"""Partnerships: thin resolvers over the partnership service."""

from __future__ import annotations

from collections.abc import Callable

from hub.pagination import Page, PageRequest
from hub.partnerships import service
from hub.partnerships.models import Partnership
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_partnerships(
    ctx: RequestContext, where: service.PartnershipFilter, first: int, after: str | None
) -> Page[Partnership]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(service.list_partnerships, where, page)


async def invite_partner(
    ctx: RequestContext, build: Callable[[], service.InvitePartner]
) -> Outcome[Partnership]:
    return await ctx.mutate(service.invite_partner, build)


async def change_partnership(
    ctx: RequestContext, build: Callable[[], service.ChangePartnership]
) -> Outcome[Partnership]:
    return await ctx.mutate(service.change_partnership, build)
