"""Audit trail resolvers."""

from __future__ import annotations

from hub.audit import events
from hub.pagination import PageRequest
from resolvers.context import RequestContext


async def list_audit_events(
    ctx: RequestContext, where: events.AuditEventFilter, first: int, after: str | None
) -> events.EventPage:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(events.list_audit_events, where, page)


async def list_access_trail(
    ctx: RequestContext, where: events.AuditEventFilter, first: int, after: str | None
) -> events.EventPage:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(events.list_access_trail, where, page)
