"""An organisation's own API clients and users: thin resolvers over the admin services."""

from __future__ import annotations

from collections.abc import Callable

from hub.orgs import client_admin, users
from hub.orgs.models import ApiClient, User
from hub.pagination import Page, PageRequest
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_clients(ctx: RequestContext, first: int, after: str | None) -> Page[ApiClient]:
    return await ctx.call(client_admin.list_clients, PageRequest(first, after, ctx.max_page_size))


async def list_users(ctx: RequestContext, first: int, after: str | None) -> Page[User]:
    return await ctx.call(users.list_users, PageRequest(first, after, ctx.max_page_size))


async def register_client(
    ctx: RequestContext, build: Callable[[], client_admin.RegisterClient]
) -> Outcome[client_admin.ClientWithSecret]:
    return await ctx.mutate(client_admin.register, build)


async def rotate_client_secret(
    ctx: RequestContext, build: Callable[[], client_admin.RotateClientSecret]
) -> Outcome[client_admin.ClientWithSecret]:
    return await ctx.mutate(client_admin.rotate_secret, build)


async def disable_client(
    ctx: RequestContext, build: Callable[[], client_admin.DisableClient]
) -> Outcome[ApiClient]:
    return await ctx.mutate(client_admin.disable, build)


async def set_client_origins(
    ctx: RequestContext, build: Callable[[], client_admin.SetClientOrigins]
) -> Outcome[ApiClient]:
    return await ctx.mutate(client_admin.set_origins, build)


async def invite_user(
    ctx: RequestContext, build: Callable[[], users.InviteUser]
) -> Outcome[users.InvitedUser]:
    return await ctx.mutate(users.invite_user, build)


async def disable_user(
    ctx: RequestContext, build: Callable[[], users.DisableUser]
) -> Outcome[User]:
    return await ctx.mutate(users.disable_user, build)
