"""Opportunities: listing with filters and ordering, creating, and versioned updates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Scope
from hub.access.writes import insert_created
from hub.audit.changes import record_created, record_updated, snapshot
from hub.errors import Conflict
from hub.grants.models import Selection
from hub.grants.segments import SegmentKey
from hub.opportunities.models import Opportunity, OpportunitySource, OpportunityStage
from hub.orgs.models import User
from hub.pagination import Listing, Page, PageRequest, fetch_listing, sort_key
from hub.search import contains_text
from hub.validation import Checks
from hub.values import UNSET, Maybe


@dataclass(frozen=True)
class OpportunityFilter:
    owner_org_id: uuid.UUID | None = None
    stage: OpportunityStage | None = None
    owner_user_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    search: str | None = None


@dataclass(frozen=True)
class OpportunityOrder:
    field: str = "CREATED_AT"
    descending: bool = True


_ORDER_COLUMNS = {
    "CREATED_AT": Opportunity.created_at,
    "UPDATED_AT": Opportunity.updated_at,
    "NAME": Opportunity.name,
    "AMOUNT": Opportunity.amount,
    "EXPECTED_CLOSE_DATE": sort_key(Opportunity.expected_close_date, date.max),
}


@dataclass(frozen=True)
class CreateOpportunity:
    customer_id: uuid.UUID
    name: str
    amount: Decimal
    currency: str
    stage: OpportunityStage = OpportunityStage.PROSPECTING
    probability: int = 10
    expected_close_date: date | None = None
    owner_user_id: uuid.UUID | None = None
    next_step: str | None = None
    internal_notes: str | None = None


@dataclass(frozen=True)
class UpdateOpportunity:
    opportunity_id: uuid.UUID
    version: int
    name: Maybe[str] = UNSET
    stage: Maybe[OpportunityStage] = UNSET
    amount: Maybe[Decimal] = UNSET
    currency: Maybe[str] = UNSET
    probability: Maybe[int] = UNSET
    expected_close_date: Maybe[date | None] = UNSET
    owner_user_id: Maybe[uuid.UUID | None] = UNSET
    next_step: Maybe[str | None] = UNSET
    internal_notes: Maybe[str | None] = UNSET


async def list_opportunities(
    session: AsyncSession,
    actor: Actor,
    where: OpportunityFilter,
    order: OpportunityOrder,
    page: PageRequest,
) -> Page[Opportunity]:
    listing = await opportunity_listing(session, actor, where, order)
    found = await fetch_listing(session, listing, page)
    return await access.disclose_page(session, actor, Opportunity, found)


async def opportunity_listing(
    session: AsyncSession, actor: Actor, where: OpportunityFilter, order: OpportunityOrder
) -> Listing[Opportunity]:
    """The opportunities the actor may list, filtered and ordered: what a page is taken from."""
    access.require_scope(actor, Scope.OPPORTUNITIES_READ)
    sources = await access.select_listed(session, actor, Opportunity, owner=where.owner_org_id)
    conditions: list[ColumnElement[bool]] = []
    if where.stage is not None:
        conditions.append(Opportunity.stage == where.stage)
    if where.owner_user_id is not None:
        conditions.append(Opportunity.owner_user_id == where.owner_user_id)
    if where.customer_id is not None:
        conditions.append(Opportunity.customer_id == where.customer_id)
    if where.search:
        conditions.append(contains_text(Opportunity.name, where.search))
    return Listing(
        Opportunity,
        [source.where(*conditions) for source in sources],
        [_ORDER_COLUMNS[order.field]],
        order.descending,
    )


async def select_one_visible(
    session: AsyncSession, actor: Actor, record_id: uuid.UUID
) -> Select[Opportunity]:
    """The statement of one opportunity the actor may see: no row if it may not."""
    access.require_scope(actor, Scope.OPPORTUNITIES_READ)
    statement = await access.select_visible(session, actor, Opportunity)
    return statement.where(access.is_record(Opportunity, record_id))


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Opportunity]:
    access.require_scope(actor, Scope.OPPORTUNITIES_READ)
    found = await access.get_visible_many(session, actor, Opportunity, ids)
    return await access.disclose_by_id(session, actor, Opportunity, found)


def _check_fields(
    checks: Checks,
    *,
    name: Maybe[str],
    amount: Maybe[Decimal],
    currency: Maybe[str],
    probability: Maybe[int],
    next_step: Maybe[str | None],
    internal_notes: Maybe[str | None],
) -> None:
    if name is not UNSET:
        checks.text("name", name, max_length=200, required=True)
    if amount is not UNSET:
        checks.amount("amount", amount)
    if currency is not UNSET:
        checks.pattern("currency", currency, "currency")
    if probability is not UNSET:
        checks.between("probability", probability, 0, 100)
    if next_step is not UNSET:
        checks.text("nextStep", next_step, max_length=500, required=False)
    if internal_notes is not UNSET:
        checks.text("internalNotes", internal_notes, max_length=10_000, required=False)


async def create_opportunity(
    session: AsyncSession, actor: Actor, command: CreateOpportunity
) -> Opportunity:
    access.require_scope(actor, Scope.OPPORTUNITIES_WRITE)
    checks = Checks()
    _check_fields(
        checks,
        name=command.name,
        amount=command.amount,
        currency=command.currency,
        probability=command.probability,
        next_step=command.next_step,
        internal_notes=command.internal_notes,
    )
    checks.done()
    values = {
        "name": command.name.strip(),
        "stage": command.stage,
        "amount": command.amount,
        "currency": command.currency,
        "probability": command.probability,
        "expected_close_date": command.expected_close_date,
        "next_step": command.next_step,
        "internal_notes": command.internal_notes,
    }
    setting = {name for name, value in values.items() if value is not None}
    if command.owner_user_id is not None:
        setting.add("owner_user_id")
    creation = await access.creating_for(
        session,
        actor,
        Opportunity,
        command.customer_id,
        {SegmentKey.STAGE: command.stage},
        setting=setting,
    )
    grant = creation.grant
    if command.owner_user_id is not None:
        await access.get_owned(session, actor, User, command.owner_user_id, field="ownerId")
    # Under an ASSIGNED grant the new opportunity is assigned to the partner that made it.
    assigned = grant.partnership_id if grant and grant.selection is Selection.ASSIGNED else None
    opportunity = await insert_created(
        session,
        creation,
        Opportunity,
        customer_id=command.customer_id,
        **values,
        owner_user_id=None if grant else command.owner_user_id or actor.user_id,
        assigned_partnership_id=assigned,
        source=OpportunitySource.PARTNER_REGISTERED if grant else OpportunitySource.DIRECT,
    )
    await record_created(session, actor, opportunity)
    return (await access.disclose(session, actor, Opportunity, [opportunity]))[0]


async def update_opportunity(
    session: AsyncSession, actor: Actor, command: UpdateOpportunity
) -> Opportunity:
    """Apply the changes only if nobody changed the record since the caller read `version`."""
    access.require_scope(actor, Scope.OPPORTUNITIES_WRITE)
    checks = Checks()
    _check_fields(
        checks,
        name=command.name,
        amount=command.amount,
        currency=command.currency,
        probability=command.probability,
        next_step=command.next_step,
        internal_notes=command.internal_notes,
    )
    checks.done()
    changes = {
        "name": command.name,
        "stage": command.stage,
        "amount": command.amount,
        "currency": command.currency,
        "probability": command.probability,
        "expected_close_date": command.expected_close_date,
        "owner_user_id": command.owner_user_id,
        "next_step": command.next_step,
        "internal_notes": command.internal_notes,
    }
    changing = {attribute for attribute, value in changes.items() if value is not UNSET}
    opportunity = await access.get_to_change(
        session,
        actor,
        Opportunity,
        command.opportunity_id,
        changing=changing,
        lock=True,
        field="opportunityId",
    )
    if opportunity.version != command.version:
        raise Conflict()
    if isinstance(command.owner_user_id, uuid.UUID):
        await access.get_owned(session, actor, User, command.owner_user_id, field="ownerId")
    before = snapshot(opportunity)
    for attribute in changing:
        setattr(opportunity, attribute, changes[attribute])
    opportunity.version += 1
    await session.flush()
    await session.refresh(opportunity)
    await record_updated(session, actor, opportunity, before)
    return (await access.disclose(session, actor, Opportunity, [opportunity]))[0]
