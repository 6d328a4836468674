"""Case resolvers."""

from __future__ import annotations

from collections.abc import Callable

from hub.cases import service
from hub.cases.models import Case, CaseComment
from hub.pagination import Page, PageRequest
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_cases(
    ctx: RequestContext,
    where: service.CaseFilter,
    order: service.CaseOrder,
    first: int,
    after: str | None,
) -> Page[Case]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(service.list_cases, where, order, page)


async def create_case(
    ctx: RequestContext, build: Callable[[], service.CreateCase]
) -> Outcome[Case]:
    return await ctx.mutate(service.create_case, build)


async def transition_case(
    ctx: RequestContext, build: Callable[[], service.TransitionCase]
) -> Outcome[Case]:
    return await ctx.mutate(service.transition_case, build)


async def rate_case(ctx: RequestContext, build: Callable[[], service.RateCase]) -> Outcome[Case]:
    return await ctx.mutate(service.rate_case, build)


async def add_case_comment(
    ctx: RequestContext, build: Callable[[], service.AddCaseComment]
) -> Outcome[CaseComment]:
    return await ctx.mutate(service.add_comment, build)
