"""The organisation's retention policy: thin resolvers over `hub.retention.policy`."""

from __future__ import annotations

from collections.abc import Callable

from hub.retention import policy
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def retention_policy(ctx: RequestContext) -> policy.RetentionSettings:
    return await ctx.call(policy.get_policy)


async def set_retention_policy(
    ctx: RequestContext, build: Callable[[], policy.SetRetentionPolicy]
) -> Outcome[policy.RetentionSettings]:
    return await ctx.mutate(policy.set_policy, build)
