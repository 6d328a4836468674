"""Grants: thin resolvers over the grant service."""

from __future__ import annotations

from collections.abc import Callable

from hub.access import AccessExplanation
from hub.errors import NotFound
from hub.grants import service
from hub.grants.models import Grant
from hub.pagination import Page, PageRequest
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_grants(
    ctx: RequestContext, where: service.GrantFilter, first: int, after: str | None
) -> Page[Grant]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(service.list_grants, where, page)


async def create_grant(
    ctx: RequestContext, build: Callable[[], service.CreateGrant]
) -> Outcome[Grant]:
    return await ctx.mutate(service.create_grant, build)


async def update_grant(
    ctx: RequestContext, build: Callable[[], service.UpdateGrant]
) -> Outcome[Grant]:
    return await ctx.mutate(service.update_grant, build)


async def revoke_grant(
    ctx: RequestContext, build: Callable[[], service.RevokeGrant]
) -> Outcome[Grant]:
    return await ctx.mutate(service.revoke_grant, build)


async def explain_access(
    ctx: RequestContext, command: service.ExplainAccess
) -> AccessExplanation | None:
    """A record or partner that is not the caller's answers null, like `node` (STYLE: errors)."""
    try:
        return await ctx.call(service.explain_access, command)
    except NotFound:
        return None
