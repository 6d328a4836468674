"""Per-request DataLoaders: each batch is one service call, so it passes the access layer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from hub.access import Actor
from hub.cases import service as case_service
from hub.cases.models import Case, CaseComment
from hub.customers import service as customer_service
from hub.customers.models import Contact, Customer
from hub.deals import service as deal_service
from hub.deals.conflicts import Conflict
from hub.deals.models import DealRegistration
from hub.grants import service as grant_service
from hub.grants.models import Grant
from hub.opportunities import service as opportunity_service
from hub.opportunities.models import Opportunity
from hub.orgs import client_admin
from hub.orgs import service as org_service
from hub.orgs import users as user_admin
from hub.orgs.models import ApiClient, Invitation, Organisation, User
from hub.partnerships import service as partnership_service
from hub.partnerships.models import Partnership

if TYPE_CHECKING:
    from resolvers.context import RequestContext

V = TypeVar("V")
GetMany = Callable[[AsyncSession, Actor, list[uuid.UUID]], Awaitable[dict[uuid.UUID, V]]]


def _by_id(ctx: RequestContext, get_many: GetMany[V]) -> DataLoader[uuid.UUID, V | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[V | None]:
        found = await ctx.call(get_many, list(ids))
        return [found.get(record_id) for record_id in ids]

    return DataLoader(load_fn=load)


def _many_by_id(
    ctx: RequestContext, get_groups: GetMany[list[V]]
) -> DataLoader[uuid.UUID, list[V]]:
    async def load(ids: Sequence[uuid.UUID]) -> list[list[V]]:
        groups = await ctx.call(get_groups, list(ids))
        return [groups.get(record_id, []) for record_id in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """Made lazily once per request; nothing is cached across requests."""

    def __init__(self, ctx: RequestContext) -> None:
        self.customer: DataLoader[uuid.UUID, Customer | None] = _by_id(
            ctx, customer_service.get_many
        )
        self.contact: DataLoader[uuid.UUID, Contact | None] = _by_id(
            ctx, customer_service.get_contacts
        )
        self.opportunity: DataLoader[uuid.UUID, Opportunity | None] = _by_id(
            ctx, opportunity_service.get_many
        )
        self.case: DataLoader[uuid.UUID, Case | None] = _by_id(ctx, case_service.get_many)
        self.user: DataLoader[uuid.UUID, User | None] = _by_id(ctx, org_service.get_users)
        self.api_client: DataLoader[uuid.UUID, ApiClient | None] = _by_id(
            ctx, client_admin.get_many
        )
        self.pending_invitation: DataLoader[uuid.UUID, Invitation | None] = _by_id(
            ctx, user_admin.pending_invitations
        )
        self.partnership: DataLoader[uuid.UUID, Partnership | None] = _by_id(
            ctx, partnership_service.get_many
        )
        self.grant: DataLoader[uuid.UUID, Grant | None] = _by_id(ctx, grant_service.get_many)
        self.records_of_grant: DataLoader[uuid.UUID, list[uuid.UUID]] = _many_by_id(
            ctx, grant_service.records_of
        )
        self.deal_registration: DataLoader[uuid.UUID, DealRegistration | None] = _by_id(
            ctx, deal_service.get_many
        )
        self.conflicts_of_registration: DataLoader[uuid.UUID, list[Conflict]] = _many_by_id(
            ctx, deal_service.conflicts_of
        )
        self.registration_claimed: DataLoader[uuid.UUID, bool | None] = _by_id(
            ctx, deal_service.claims_of
        )
        self.organisation: DataLoader[uuid.UUID, Organisation | None] = _by_id(
            ctx, org_service.get_organisations
        )
        self.contacts_of_customer: DataLoader[uuid.UUID, list[Contact]] = _many_by_id(
            ctx, customer_service.contacts_of
        )
        self.comments_of_case: DataLoader[uuid.UUID, list[CaseComment]] = _many_by_id(
            ctx, case_service.comments_of
        )
