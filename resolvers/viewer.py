"""Who is calling."""

from __future__ import annotations

from hub.orgs import service
from hub.orgs.models import Organisation
from resolvers.context import RequestContext


async def viewer_organisation(ctx: RequestContext) -> Organisation:
    return await ctx.call(service.current_organisation)
