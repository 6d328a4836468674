"""Customer and contact resolvers."""

from __future__ import annotations

from collections.abc import Callable

from hub.customers import consent, service
from hub.customers.models import Contact, Customer
from hub.pagination import Page, PageRequest
from resolvers.context import RequestContext
from resolvers.outcome import Outcome


async def list_customers(
    ctx: RequestContext,
    where: service.CustomerFilter,
    order: service.CustomerOrder,
    first: int,
    after: str | None,
) -> Page[Customer]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(service.list_customers, where, order, page)


async def create_customer(
    ctx: RequestContext, build: Callable[[], service.CreateCustomer]
) -> Outcome[Customer]:
    return await ctx.mutate(service.create_customer, build)


async def update_customer(
    ctx: RequestContext, build: Callable[[], service.UpdateCustomer]
) -> Outcome[Customer]:
    return await ctx.mutate(service.update_customer, build)


async def add_contact(
    ctx: RequestContext, build: Callable[[], service.AddContact]
) -> Outcome[Contact]:
    return await ctx.mutate(service.add_contact, build)


async def set_consent(
    ctx: RequestContext, build: Callable[[], consent.SetConsent]
) -> Outcome[Customer]:
    return await ctx.mutate(consent.set_consent, build)
