"""Deal registration: a partner registers a deal with an owner, the owner approves or rejects it.

The partner side of an ACTIVE partnership registers (scope `deals:register`): a customer name and
domain, amount, currency, expected close date and product. The registration waits, PENDING, in
the owner's queue, where the reviewer sees its possible conflicts (`hub.deals.conflicts`). The
owner reviews with scope `opportunities:write`: REJECT with a reason, or APPROVE, which links one
of its open opportunities or creates one (for an existing customer, or a new customer made from
the registered name and domain, which needs `customers:write` too), assigns the registering
partnership to it with source PARTNER_REGISTERED, and protects the deal for 1 to 365 days
(90 unless told). Reviewing is not `partners:manage`: assigning a partner to an opportunity moves
data only under the grants an admin made, and deal desks are sales people, not admins.

First to register wins (ADR 0009): a registration claimed by another partner's (earlier and
pending, or approved and protected) cannot be approved. Approvals of one owner take turns, so
two conflicting ones cannot both win. An expired protection frees the deal.

Audit: `deal.registered` in the partner's trail, `deal.approved` and `deal.rejected` in the
owner's, each in the transaction of the change (each trail holds its own organisation's acts,
as for partnerships). An approval also records the customer and opportunity it creates, or the
opportunity it links, as record events (`hub.audit.changes`) related to the registration.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import deals as access_deals
from hub.access.actor import Actor
from hub.access.partnerships import Side, get_partnership
from hub.access.policy import require_scope
from hub.access.scopes import Scope
from hub.access.visibility import get_owned
from hub.access.writes import insert_owned
from hub.audit.changes import record_created, record_updated, snapshot
from hub.audit.record import EventType, record_act
from hub.customers.models import Customer, LifecycleStage
from hub.deals import conflicts
from hub.deals.conflicts import CLOSED_STAGES, Conflict
from hub.deals.models import (
    MAX_DOMAIN_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PRODUCT_LENGTH,
    MAX_REASON_LENGTH,
    DealRegistration,
    DealStatus,
)
from hub.errors import InvalidInput, UserErrorCode
from hub.grants.service import actor_reference
from hub.opportunities.models import Opportunity, OpportunitySource, OpportunityStage
from hub.pagination import Page, PageRequest, fetch_page
from hub.partnerships.models import Partnership, PartnershipStatus
from hub.validation import Checks

DEFAULT_PROTECTION_DAYS = 90
MAX_PROTECTION_DAYS = 365
# How far ahead a deal may be expected to close; a day back allows for the caller's time zone.
MAX_CLOSE_DAYS_AHEAD = 3650
NEW_OPPORTUNITY_PROBABILITY = 10


class Decision(enum.StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@dataclass(frozen=True)
class RegisterDeal:
    partnership_id: uuid.UUID
    customer_name: str
    amount: Decimal
    currency: str
    expected_close_date: date
    product: str
    customer_domain: str | None = None


@dataclass(frozen=True)
class ReviewDealRegistration:
    registration_id: uuid.UUID
    decision: Decision
    reason: str | None = None
    customer_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    protection_days: int | None = None


@dataclass(frozen=True)
class DealRegistrationFilter:
    status: DealStatus | None = None
    side: Side | None = None


# --- reading --------------------------------------------------------------------------------


async def list_registrations(
    session: AsyncSession, actor: Actor, where: DealRegistrationFilter, page: PageRequest
) -> Page[DealRegistration]:
    """The owner's queue and the partner's own registrations, oldest (first registered) first."""
    access_deals.require_registration_reader(actor)
    statement = access_deals.select_registrations(actor, where.side)
    if where.status is not None:
        statement = statement.where(DealRegistration.status == where.status)
    return await fetch_page(
        session, DealRegistration, statement, [DealRegistration.created_at], False, page
    )


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, DealRegistration]:
    """Registrations by id for `node(id:)`, from either side."""
    access_deals.require_registration_reader(actor)
    return await access_deals.get_registrations_many(session, actor, ids)


async def conflicts_of(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Conflict]]:
    """Possible conflicts of many registrations in one statement, for the per-request loader.

    Only the owner's reviewer gets any: the partner side gets none, ever.
    """
    access_deals.require_registration_reader(actor)
    return await conflicts.conflicts_of(session, actor, ids)


async def claims_of(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    """Whether each registration is claimed by another partner's, one statement per batch."""
    access_deals.require_registration_reader(actor)
    return await conflicts.claims(session, actor, ids)


# --- registering ----------------------------------------------------------------------------


async def register_deal(
    session: AsyncSession, actor: Actor, command: RegisterDeal
) -> DealRegistration:
    """Register a deal with the owner of one of the caller's partnerships, as its partner.

    A partnership the caller is not on is NOT_FOUND; the owner side is FORBIDDEN; a partnership
    that is not ACTIVE is INVALID_TRANSITION (only an ACTIVE one lets anything flow).
    """
    require_scope(actor, Scope.DEALS_REGISTER)
    partnership = await access_deals.get_partnership_to_register(
        session, actor, command.partnership_id, field="partnershipId"
    )
    checks = Checks()
    if partnership.status is not PartnershipStatus.ACTIVE:
        checks.fail(
            "partnershipId",
            UserErrorCode.INVALID_TRANSITION,
            f"A partnership that is {partnership.status.value} takes no deal registrations; "
            "only an ACTIVE one does.",
        )
    domain = _normalised_domain(command.customer_domain)
    checks.text("customerName", command.customer_name, max_length=MAX_NAME_LENGTH, required=True)
    checks.text("customerDomain", domain, max_length=MAX_DOMAIN_LENGTH, required=False)
    checks.pattern("customerDomain", domain, "domain")
    checks.amount("amount", command.amount)
    checks.pattern("currency", command.currency, "currency")
    _check_close_date(checks, command.expected_close_date)
    checks.text("product", command.product, max_length=MAX_PRODUCT_LENGTH, required=True)
    checks.done()
    registration = await access_deals.insert_registration(
        session,
        actor,
        partnership,
        customer_name=command.customer_name.strip(),
        customer_domain=domain,
        amount=command.amount,
        currency=command.currency,
        expected_close_date=command.expected_close_date,
        product=command.product.strip(),
        status=DealStatus.PENDING,
        registered_by=actor_reference(actor),
        version=1,
    )
    claimed = await conflicts.is_claimed(session, registration)
    await _audit(
        session,
        actor,
        EventType.DEAL_REGISTERED,
        registration,
        amount=str(registration.amount),
        currency=registration.currency,
        claimed_by_another_partner=claimed,
    )
    return registration


def _normalised_domain(domain: str | None) -> str | None:
    """`WWW.Acme.com.` → `acme.com`: one spelling per domain, so equality finds it."""
    if domain is None:
        return None
    cleaned = domain.strip().lower().rstrip(".")
    return cleaned.removeprefix("www.")


def _check_close_date(checks: Checks, expected: date) -> None:
    today = datetime.now(UTC).date()
    if expected < today - timedelta(days=1):
        checks.fail("expectedCloseDate", UserErrorCode.OUT_OF_RANGE, "This date has passed.")
    elif expected > today + timedelta(days=MAX_CLOSE_DAYS_AHEAD):
        checks.fail(
            "expectedCloseDate",
            UserErrorCode.OUT_OF_RANGE,
            f"At most {MAX_CLOSE_DAYS_AHEAD} days ahead.",
        )


# --- reviewing ------------------------------------------------------------------------------


async def review_registration(
    session: AsyncSession, actor: Actor, command: ReviewDealRegistration
) -> DealRegistration:
    """Approve or reject a PENDING registration in the caller's queue.

    The partner that made it gets FORBIDDEN; anyone else NOT_FOUND. A reviewed registration is
    INVALID_TRANSITION; approving a claimed one is DUPLICATE (first to register wins).
    """
    require_scope(actor, Scope.OPPORTUNITIES_WRITE)
    approving = command.decision is Decision.APPROVE
    if approving and command.customer_id is None and command.opportunity_id is None:
        require_scope(actor, Scope.CUSTOMERS_WRITE)  # the approval makes the customer
    registration = await access_deals.get_registration_to_review(
        session, actor, command.registration_id
    )
    checks = Checks()
    if registration.status is not DealStatus.PENDING:
        checks.fail(
            "id",
            UserErrorCode.INVALID_TRANSITION,
            f"This registration is {registration.status.value}; only a PENDING one is reviewed.",
        )
    if approving:
        _check_approval(checks, command)
    else:
        _check_rejection(checks, command)
    checks.done()
    if approving:
        return await _approve(session, actor, registration, command)
    return await _reject(session, actor, registration, command.reason or "")


def _check_approval(checks: Checks, command: ReviewDealRegistration) -> None:
    if command.reason is not None:
        checks.fail("reason", UserErrorCode.INVALID, "A reason is given only when rejecting.")
    if command.customer_id is not None and command.opportunity_id is not None:
        checks.fail(
            "customerId",
            UserErrorCode.INVALID,
            "Link an opportunity or name the customer of a new one, not both.",
        )
    checks.between("protectionDays", command.protection_days, 1, MAX_PROTECTION_DAYS)


def _check_rejection(checks: Checks, command: ReviewDealRegistration) -> None:
    checks.text("reason", command.reason, max_length=MAX_REASON_LENGTH, required=True)
    only_for_approval = {
        "customerId": command.customer_id,
        "opportunityId": command.opportunity_id,
        "protectionDays": command.protection_days,
    }
    for field, value in only_for_approval.items():
        if value is not None:
            checks.fail(field, UserErrorCode.INVALID, "Only an approval takes this field.")


async def _approve(
    session: AsyncSession,
    actor: Actor,
    registration: DealRegistration,
    command: ReviewDealRegistration,
) -> DealRegistration:
    await conflicts.lock_reviews(session, actor.org_id)
    partnership = await get_partnership(session, actor, registration.partnership_id)
    if partnership.status is not PartnershipStatus.ACTIVE:
        raise InvalidInput.on(
            "id",
            UserErrorCode.INVALID_TRANSITION,
            f"The partnership is {partnership.status.value}: approve once it is ACTIVE again, "
            "or reject.",
        )
    if await conflicts.is_claimed(session, registration):
        raise InvalidInput.on(
            "id",
            UserErrorCode.DUPLICATE,
            "Another partner registered what looks like the same deal first, and its "
            "registration is pending or still protected: the first to register wins.",
        )
    if command.opportunity_id is not None:
        opportunity = await _link(
            session, actor, partnership, command.opportunity_id, registration.id
        )
        created, customer_created = False, False
    else:
        customer, customer_created = await _customer(session, actor, registration, command)
        opportunity = await _create(session, actor, registration, customer)
        created = True
    days = command.protection_days or DEFAULT_PROTECTION_DAYS
    await _review(
        session,
        registration,
        actor,
        status=DealStatus.APPROVED,
        opportunity_id=opportunity.id,
        protected_until=func.now() + timedelta(days=days),
    )
    approved = await access_deals.get_reviewed_registration(session, actor, registration.id)
    await _audit(
        session,
        actor,
        EventType.DEAL_APPROVED,
        approved,
        opportunity_id=str(opportunity.id),
        opportunity_created=created,
        customer_id=str(opportunity.customer_id),
        customer_created=customer_created,
        protection_days=days,
        protected_until=approved.protected_until.isoformat() if approved.protected_until else None,
    )
    return approved


async def _link(
    session: AsyncSession,
    actor: Actor,
    partnership: Partnership,
    opportunity_id: uuid.UUID,
    registration_id: uuid.UUID,
) -> Opportunity:
    """One of the owner's open opportunities, now assigned to the registering partnership.

    An opportunity another partner's approved registration still protects is not taken away.
    """
    opportunity = await get_owned(
        session, actor, Opportunity, opportunity_id, lock=True, field="opportunityId"
    )
    if opportunity.stage in CLOSED_STAGES:
        raise InvalidInput.on(
            "opportunityId",
            UserErrorCode.INVALID,
            f"Only an open opportunity can be linked; this one is {opportunity.stage.value}.",
        )
    if await conflicts.protected_for_another(session, actor, opportunity.id, partnership.id):
        raise InvalidInput.on(
            "opportunityId",
            UserErrorCode.DUPLICATE,
            "Another partner's approved registration still protects this opportunity.",
        )
    before = snapshot(opportunity)
    opportunity.assigned_partnership_id = partnership.id
    opportunity.source = OpportunitySource.PARTNER_REGISTERED
    opportunity.version += 1
    await session.flush()
    await record_updated(session, actor, opportunity, before, related=[registration_id])
    return opportunity


async def _customer(
    session: AsyncSession,
    actor: Actor,
    registration: DealRegistration,
    command: ReviewDealRegistration,
) -> tuple[Customer, bool]:
    """The named customer of the owner's, or a new prospect from the registered name/domain."""
    if command.customer_id is not None:
        customer = await get_owned(
            session, actor, Customer, command.customer_id, field="customerId"
        )
        return customer, False
    customer = await insert_owned(
        session,
        actor,
        Customer,
        name=registration.customer_name,
        domain=registration.customer_domain,
        lifecycle_stage=LifecycleStage.PROSPECT,
    )
    await record_created(session, actor, customer, related=[registration.id])
    return customer, True


async def _create(
    session: AsyncSession, actor: Actor, registration: DealRegistration, customer: Customer
) -> Opportunity:
    name = f"{customer.name} - {registration.product}"[:MAX_NAME_LENGTH]
    opportunity = await insert_owned(
        session,
        actor,
        Opportunity,
        customer_id=customer.id,
        name=name,
        stage=OpportunityStage.PROSPECTING,
        amount=registration.amount,
        currency=registration.currency,
        probability=NEW_OPPORTUNITY_PROBABILITY,
        expected_close_date=registration.expected_close_date,
        owner_user_id=actor.user_id,
        assigned_partnership_id=registration.partnership_id,
        source=OpportunitySource.PARTNER_REGISTERED,
    )
    await record_created(session, actor, opportunity, related=[registration.id])
    return opportunity


async def _reject(
    session: AsyncSession, actor: Actor, registration: DealRegistration, reason: str
) -> DealRegistration:
    await _review(
        session,
        registration,
        actor,
        status=DealStatus.REJECTED,
        rejection_reason=reason.strip(),
    )
    rejected = await access_deals.get_reviewed_registration(session, actor, registration.id)
    await _audit(
        session, actor, EventType.DEAL_REJECTED, rejected, reason=rejected.rejection_reason
    )
    return rejected


async def _review(
    session: AsyncSession, registration: DealRegistration, actor: Actor, **values: object
) -> None:
    """Record the decision; the database's clock, like the one that decides protection."""
    await session.execute(
        update(DealRegistration)
        .where(
            DealRegistration.org_id == registration.org_id,
            DealRegistration.id == registration.id,
        )
        .values(
            reviewed_by=actor_reference(actor),
            reviewed_at=func.now(),
            version=DealRegistration.version + 1,
            **values,
        )
        .execution_options(synchronize_session=False)
    )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    event_type: EventType,
    registration: DealRegistration,
    **details: object,
) -> None:
    """Which registration, between whom, and its state, in the acting organisation's trail."""
    await record_act(
        session,
        actor,
        event_type,
        {
            "registration_id": str(registration.id),
            "owner_org_id": str(registration.org_id),
            "partner_org_id": str(registration.partner_org_id),
            "partnership_id": str(registration.partnership_id),
            "status": registration.status.value,
            "version": registration.version,
            **details,
        },
        record_ids=[
            record_id
            for record_id in (registration.id, registration.opportunity_id)
            if record_id is not None
        ],
    )
