"""Deal registration over HTTP with real tokens, and its second wall in PostgreSQL.

Covers: the whole flow (a partner registers, the owner's queue shows the registration with its
possible conflicts, an approval creates or links an opportunity assigned to the partnership with
source PARTNER_REGISTERED and a protection period, the partner sees it APPROVED); rejection with a
reason; conflicts by fuzzy name and by domain against customers, open opportunities and other
partners' registrations; first to register wins, while pending and while protected, and an
expired protection frees the deal; concurrent approvals; what the registering partner learns
(one bit, never who); a second partner and a stranger answered byte for byte like a random id;
partnership statuses; sides and scopes; input errors that write nothing; the audit trail; the
statement count of a page; and raw SQL as the application role.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from hub.audit.models import AuditEvent
from hub.customers.models import Customer
from hub.deals.models import DealRegistration, DealStatus
from hub.opportunities.models import Opportunity, OpportunityStage
from hub.partnerships.models import PartnershipStatus
from resolvers.ids import NodeType
from tests import tokens
from tests.api.test_partnerships import SUSPEND, data, move, partnership_row, token_of
from tests.api.test_statement_count import counting_statements
from tests.factories import Factory, Org
from tests.sharing import gid, sharing, uuid_of

Sessions = async_sessionmaker[AsyncSession]

FIELDS = """id status side customerName customerDomain amount currency expectedCloseDate
    product registeredAt registeredBy reviewedAt reviewedBy rejectionReason protectedUntil
    version claimedByAnotherPartner partnership { id } owner { id name slug }
    partner { id name slug } opportunity { id name stage source amount currency
    expectedCloseDate customer { id name domain } }
    conflicts { kind id name domain similarity sameDomain }"""
ERRORS = "userErrors { field message code }"
REGISTER = f"""mutation ($input: RegisterDealInput!) {{ registerDeal(input: $input) {{
    dealRegistration {{ {FIELDS} }} {ERRORS} }} }}"""
REVIEW = f"""mutation ($input: ReviewDealRegistrationInput!) {{
    reviewDealRegistration(input: $input) {{ dealRegistration {{ {FIELDS} }} {ERRORS} }} }}"""
LIST = f"""query ($first: Int!, $after: String, $status: DealStatus, $side: PartnershipSide) {{
    dealRegistrations(first: $first, after: $after, status: $status, side: $side) {{
    edges {{ node {{ {FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on DealRegistration {{ {FIELDS} }} }} }}"
# Fields that need no scope beyond reading registrations.
PLAIN = "id status claimedByAnotherPartner conflicts { kind id name }"
PLAIN_LIST = f"""query {{ dealRegistrations(first: 50) {{ edges {{ node {{ {PLAIN} }} }} }} }}"""
PLAIN_REGISTER = f"""mutation ($input: RegisterDealInput!) {{ registerDeal(input: $input) {{
    dealRegistration {{ {PLAIN} }} {ERRORS} }} }}"""
BARE_REVIEW = f"""mutation ($input: ReviewDealRegistrationInput!) {{
    reviewDealRegistration(input: $input) {{ dealRegistration {{ id status }} {ERRORS} }} }}"""
PLAIN_REVIEW = f"""mutation ($input: ReviewDealRegistrationInput!) {{
    reviewDealRegistration(input: $input) {{ dealRegistration {{ {PLAIN} }} {ERRORS} }} }}"""


# --- helpers -------------------------------------------------------------------------------


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def deal_input(partnership_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "partnershipId": partnership_id,
        "customerName": "Acme Corp",
        "customerDomain": "acme.example",
        "amount": "25000.50",
        "currency": "EUR",
        "expectedCloseDate": in_days(30),
        "product": "Widgets Pro",
    }
    values.update(overrides)
    return values


async def register(
    client: httpx.AsyncClient, token: str, partnership_id: str, **overrides: Any
) -> dict[str, Any]:
    """Register a deal that must be accepted; its node."""
    variables = deal_input(partnership_id, **overrides)
    payload = (await data(client, token, REGISTER, input=variables))["registerDeal"]
    assert payload["userErrors"] == [], payload
    return dict(payload["dealRegistration"])


async def review(
    client: httpx.AsyncClient, token: str, registration_id: str, decision: str, **values: Any
) -> dict[str, Any]:
    """Review a registration; the payload."""
    variables = {"id": registration_id, "decision": decision, **values}
    return dict((await data(client, token, REVIEW, input=variables))["reviewDealRegistration"])


async def approve(
    client: httpx.AsyncClient, token: str, registration_id: str, **values: Any
) -> dict[str, Any]:
    """Approve a registration that must be approved; its node."""
    payload = await review(client, token, registration_id, "APPROVE", **values)
    assert payload["userErrors"] == [], payload
    return dict(payload["dealRegistration"])


async def listed(client: httpx.AsyncClient, token: str, **variables: Any) -> list[dict[str, Any]]:
    page = (await data(client, token, LIST, first=50, **variables))["dealRegistrations"]
    return [edge["node"] for edge in page["edges"]]


async def node(client: httpx.AsyncClient, token: str, global_id: str) -> Any:
    return (await data(client, token, NODE, id=global_id))["node"]


def ids(nodes: list[dict[str, Any]]) -> list[str]:
    return [each["id"] for each in nodes]


def random_id(node_type: NodeType = NodeType.DEAL_REGISTRATION) -> str:
    return gid(node_type, uuid.uuid4())


def organisation(org: Org) -> dict[str, Any]:
    return {"id": gid(NodeType.ORGANISATION, org.id), "name": org.name, "slug": org.slug}


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


def graphql_codes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def conflict_names(registration: dict[str, Any]) -> list[tuple[str, str]]:
    return [(conflict["kind"], conflict["name"]) for conflict in registration["conflicts"]]


async def stored(sessions: Sessions, global_id: str) -> DealRegistration:
    async with sessions() as session:
        statement = select(DealRegistration).where(DealRegistration.id == uuid_of(global_id))
        return (await session.scalars(statement)).one()


async def counts(sessions: Sessions, org: Org) -> tuple[int, int, int]:
    """Registrations in the organisation's queue, its customers and its opportunities."""
    async with sessions() as session:
        found = []
        for model in (DealRegistration, Customer, Opportunity):
            total = await session.scalar(
                select(func.count()).select_from(model).where(model.org_id == org.id)
            )
            found.append(int(total or 0))
    return found[0], found[1], found[2]


async def registrations_by(sessions: Sessions, org: Org) -> int:
    """Registrations the organisation made, with any owner."""
    async with sessions() as session:
        total = await session.scalar(
            select(func.count())
            .select_from(DealRegistration)
            .where(DealRegistration.partner_org_id == org.id)
        )
    return int(total or 0)


async def events(sessions: Sessions, org: Org) -> list[AuditEvent]:
    """The organisation's deal audit events, oldest first, read as the owner role."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org.id, AuditEvent.type.startswith("deal."))
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
        return list(rows)


async def expire_protection(sessions: Sessions, global_id: str) -> None:
    """Move an approved registration's protection into the past, as time would."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(DealRegistration)
            .where(DealRegistration.id == uuid_of(global_id))
            .values(protected_until=func.now() - timedelta(seconds=1))
        )


async def opportunity_row(sessions: Sessions, global_id: str) -> Opportunity:
    async with sessions() as session:
        statement = select(Opportunity).where(Opportunity.id == uuid_of(global_id))
        return (await session.scalars(statement)).one()


# --- the whole flow ------------------------------------------------------------------------


async def test_partner_registers_owner_approves_and_partner_sees_it_approved(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner, "ACME Corporation Ltd")
    [open_deal] = await factory.opportunities(s.owner, customer, 1, stage=OpportunityStage.PROPOSAL)
    close = in_days(45)

    registered = await register(
        client,
        s.partner_token,
        s.partnership_id,
        customerDomain="WWW.Acme.Example.",
        expectedCloseDate=close,
    )

    assert (registered["status"], registered["side"], registered["version"]) == (
        "PENDING",
        "PARTNER",
        1,
    )
    assert (registered["customerName"], registered["customerDomain"]) == (
        "Acme Corp",
        "acme.example",
    )
    assert (registered["amount"], registered["currency"], registered["product"]) == (
        "25000.50",
        "EUR",
        "Widgets Pro",
    )
    assert registered["expectedCloseDate"] == close
    assert registered["registeredBy"] == f"client:{s.partner.client.client_id}"
    assert registered["claimedByAnotherPartner"] is False
    assert registered["conflicts"] == []  # never for the partner side
    assert (registered["owner"], registered["partner"]) == (
        organisation(s.owner),
        organisation(s.partner),
    )
    assert registered["partnership"] == {"id": s.partnership_id}
    assert registered["opportunity"] is None

    # The owner's queue: the registration, its side, and the possible conflicts.
    [queued] = await listed(client, s.owner_token)
    assert queued["id"] == registered["id"] and queued["side"] == "OWNER"
    assert queued["conflicts"] == [
        {
            "kind": "CUSTOMER",
            "id": gid(NodeType.CUSTOMER, customer.id),
            "name": "ACME Corporation Ltd",
            "domain": None,
            "similarity": 1.0,
            "sameDomain": False,
        },
        {
            "kind": "OPPORTUNITY",
            "id": gid(NodeType.OPPORTUNITY, open_deal.id),
            "name": open_deal.name,
            "domain": None,
            "similarity": 1.0,
            "sameDomain": False,
        },
    ]
    assert await node(client, s.owner_token, registered["id"]) == queued

    approved = await approve(
        client,
        s.owner_token,
        registered["id"],
        customerId=gid(NodeType.CUSTOMER, customer.id),
    )

    assert (approved["status"], approved["version"], approved["conflicts"]) == ("APPROVED", 2, [])
    assert approved["reviewedBy"] == f"client:{s.owner.client.client_id}"
    opportunity = approved["opportunity"]
    assert opportunity["stage"] == "PROSPECTING" and opportunity["source"] == "PARTNER_REGISTERED"
    assert (opportunity["amount"], opportunity["currency"], opportunity["expectedCloseDate"]) == (
        "25000.50",
        "EUR",
        close,
    )
    assert opportunity["name"] == "ACME Corporation Ltd - Widgets Pro"
    assert opportunity["customer"]["id"] == gid(NodeType.CUSTOMER, customer.id)
    row = await opportunity_row(owner_sessions, opportunity["id"])
    assert row.assigned_partnership_id == uuid_of(s.partnership_id)
    stored_registration = await stored(owner_sessions, registered["id"])
    assert stored_registration.reviewed_at is not None
    assert stored_registration.protected_until is not None
    protection = stored_registration.protected_until - stored_registration.reviewed_at
    assert protection == timedelta(days=90)

    # The partner sees its registration approved (the opportunity is not shared with it).
    seen = await node(client, s.partner_token, registered["id"])
    assert (seen["status"], seen["side"], seen["conflicts"]) == ("APPROVED", "PARTNER", [])
    assert seen["protectedUntil"] == approved["protectedUntil"]
    assert seen["opportunity"] is None
    assert ids(await listed(client, s.partner_token)) == [registered["id"]]

    registered_events = await events(owner_sessions, s.partner)
    assert [event.type for event in registered_events] == ["deal.registered"]
    assert registered_events[0].details["registration_id"] == str(uuid_of(registered["id"]))
    assert registered_events[0].details["owner_org_id"] == str(s.owner.id)
    assert registered_events[0].details["claimed_by_another_partner"] is False
    [approval] = await events(owner_sessions, s.owner)
    assert approval.type == "deal.approved"
    assert approval.details["opportunity_id"] == str(uuid_of(opportunity["id"]))
    assert (approval.details["opportunity_created"], approval.details["customer_created"]) == (
        True,
        False,
    )
    assert approval.details["partner_org_id"] == str(s.partner.id)
    assert approval.details["protection_days"] == 90
    assert approval.actor_client_id == s.owner.client.client_id


async def test_approval_without_a_customer_makes_one_from_the_registration(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(
        client, s.partner_token, s.partnership_id, customerName="  Initech AG ", product="Staplers"
    )

    approved = await approve(client, s.owner_token, registered["id"], protectionDays=30)

    customer = approved["opportunity"]["customer"]
    assert (customer["name"], customer["domain"]) == ("Initech AG", "acme.example")
    assert approved["opportunity"]["name"] == "Initech AG - Staplers"
    row = await stored(owner_sessions, registered["id"])
    assert row.protected_until is not None and row.reviewed_at is not None
    assert row.protected_until - row.reviewed_at == timedelta(days=30)
    assert await counts(owner_sessions, s.owner) == (1, 1, 1)
    [approval] = await events(owner_sessions, s.owner)
    assert approval.details["customer_created"] is True
    assert approval.details["protection_days"] == 30


async def test_approval_links_an_existing_open_opportunity(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner, "Acme Corp")
    [open_deal] = await factory.opportunities(
        s.owner, customer, 1, stage=OpportunityStage.QUALIFICATION
    )
    [lost] = await factory.opportunities(s.owner, customer, 1, stage=OpportunityStage.CLOSED_LOST)
    foreign = await factory.organisation("DrForeign")
    [theirs] = await factory.opportunities(
        foreign, await factory.customer(foreign, "Acme Corp"), 1, stage=OpportunityStage.PROPOSAL
    )
    registered = await register(client, s.partner_token, s.partnership_id)

    for opportunity_id, code in (
        (gid(NodeType.OPPORTUNITY, lost.id), "INVALID"),
        (gid(NodeType.OPPORTUNITY, theirs.id), "NOT_FOUND"),
        (gid(NodeType.OPPORTUNITY, uuid.uuid4()), "NOT_FOUND"),
        (gid(NodeType.CUSTOMER, customer.id), "NOT_FOUND"),
    ):
        refused = await review(
            client, s.owner_token, registered["id"], "APPROVE", opportunityId=opportunity_id
        )
        assert codes(refused) == [(["input", "opportunityId"], code)], opportunity_id
    assert (await stored(owner_sessions, registered["id"])).status is DealStatus.PENDING

    approved = await approve(
        client,
        s.owner_token,
        registered["id"],
        opportunityId=gid(NodeType.OPPORTUNITY, open_deal.id),
    )

    assert approved["opportunity"]["id"] == gid(NodeType.OPPORTUNITY, open_deal.id)
    assert approved["opportunity"]["source"] == "PARTNER_REGISTERED"
    assert approved["opportunity"]["stage"] == "QUALIFICATION"  # linking keeps the deal's state
    row = await opportunity_row(owner_sessions, approved["opportunity"]["id"])
    assert row.assigned_partnership_id == uuid_of(s.partnership_id)
    assert row.version == open_deal.version + 1
    assert await counts(owner_sessions, s.owner) == (1, 1, 2)  # nothing new was made
    [approval] = await events(owner_sessions, s.owner)
    assert (approval.details["opportunity_created"], approval.details["customer_created"]) == (
        False,
        False,
    )


async def test_rejection_with_a_reason_and_no_second_review(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)

    rejected = await review(
        client, s.owner_token, registered["id"], "REJECT", reason="  Already our customer. "
    )

    assert rejected["userErrors"] == []
    node_ = rejected["dealRegistration"]
    assert (node_["status"], node_["rejectionReason"], node_["version"]) == (
        "REJECTED",
        "Already our customer.",
        2,
    )
    assert node_["protectedUntil"] is None and node_["opportunity"] is None
    seen = await node(client, s.partner_token, registered["id"])
    assert (seen["status"], seen["rejectionReason"]) == ("REJECTED", "Already our customer.")

    for decision, values in (("APPROVE", {}), ("REJECT", {"reason": "again"})):
        again = await review(client, s.owner_token, registered["id"], decision, **values)
        assert again["dealRegistration"] is None
        assert codes(again) == [(["input", "id"], "INVALID_TRANSITION")]
        assert "REJECTED" in again["userErrors"][0]["message"]

    assert (await stored(owner_sessions, registered["id"])).version == 2
    assert await counts(owner_sessions, s.owner) == (1, 0, 0)
    trail = await events(owner_sessions, s.owner)
    assert [(event.type, event.details["reason"]) for event in trail] == [
        ("deal.rejected", "Already our customer.")
    ]


# --- conflicts -----------------------------------------------------------------------------


async def test_conflicts_by_fuzzy_name_and_domain_against_customers_opportunities_and_others(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    other = await sharing(client, factory, owner_sessions, owner=s.owner)
    fuzzy = await factory.customer(s.owner, "ACME Corporation Ltd")
    by_domain = await factory.customer(s.owner, "Roadrunner Holdings", domain="www.acme.example")
    await factory.customer(s.owner, "Acme Tools")  # 0.45: a different company
    await factory.customer(s.owner, "Globex", domain="globex.example")
    [open_deal] = await factory.opportunities(s.owner, fuzzy, 1, stage=OpportunityStage.PROPOSAL)
    await factory.opportunities(s.owner, fuzzy, 1, stage=OpportunityStage.CLOSED_LOST)
    await factory.opportunities(s.owner, by_domain, 1, stage=OpportunityStage.CLOSED_WON)
    [domain_deal] = await factory.opportunities(
        s.owner, by_domain, 1, stage=OpportunityStage.NEGOTIATION
    )
    earlier = await register(
        client,
        other.partner_token,
        other.partnership_id,
        customerName="Acme Inc.",
        customerDomain=None,
    )
    rejected = await register(client, other.partner_token, other.partnership_id)
    await review(client, s.owner_token, rejected["id"], "REJECT", reason="duplicate")
    await register(
        client,
        other.partner_token,
        other.partnership_id,
        customerName="Globex",
        customerDomain=None,
    )
    same_domain = await register(
        client,
        other.partner_token,
        other.partnership_id,
        customerName="Roadrunner Inc",
        customerDomain="ACME.example",
    )
    own_other = await register(client, s.partner_token, s.partnership_id, customerDomain=None)

    registered = await register(client, s.partner_token, s.partnership_id)

    queued = await node(client, s.owner_token, registered["id"])
    assert queued["conflicts"] == [
        {
            "kind": "CUSTOMER",
            "id": gid(NodeType.CUSTOMER, by_domain.id),
            "name": "Roadrunner Holdings",
            "domain": "www.acme.example",
            "similarity": 0.0,
            "sameDomain": True,
        },
        {
            "kind": "CUSTOMER",
            "id": gid(NodeType.CUSTOMER, fuzzy.id),
            "name": "ACME Corporation Ltd",
            "domain": None,
            "similarity": 1.0,
            "sameDomain": False,
        },
        {
            "kind": "OPPORTUNITY",
            "id": gid(NodeType.OPPORTUNITY, domain_deal.id),
            "name": domain_deal.name,
            "domain": "www.acme.example",
            "similarity": 0.0,
            "sameDomain": True,
        },
        {
            "kind": "OPPORTUNITY",
            "id": gid(NodeType.OPPORTUNITY, open_deal.id),
            "name": open_deal.name,
            "domain": None,
            "similarity": 1.0,
            "sameDomain": False,
        },
        {
            "kind": "REGISTRATION",
            "id": same_domain["id"],
            "name": "Roadrunner Inc",
            "domain": "acme.example",
            "similarity": 0.0,
            "sameDomain": True,
        },
        {
            "kind": "REGISTRATION",
            "id": earlier["id"],
            "name": "Acme Inc.",
            "domain": None,
            "similarity": 1.0,
            "sameDomain": False,
        },
    ]
    # The earlier registration by the other partner holds the deal; the partner's own other
    # registration is not a conflict of its own, and a rejected one claims nothing.
    assert queued["claimedByAnotherPartner"] is True
    assert registered["claimedByAnotherPartner"] is True
    assert own_other["id"] not in json.dumps(queued["conflicts"])
    # The earlier one sees the later one among its conflicts, but is not held by it.
    first = await node(client, s.owner_token, earlier["id"])
    assert ("REGISTRATION", "Acme Corp") in conflict_names(first)
    assert first["claimedByAnotherPartner"] is False


async def test_reviewed_registrations_and_the_partner_side_show_no_conflicts(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner, "Acme Corp")
    pending = await register(client, s.partner_token, s.partnership_id)
    approved = await register(client, s.partner_token, s.partnership_id, customerName="Acme")
    await approve(
        client, s.owner_token, approved["id"], customerId=gid(NodeType.CUSTOMER, customer.id)
    )

    # The pending one: the customer and the opportunity the approval made for it.
    assert [conflict_names(each) for each in await listed(client, s.owner_token)] == [
        [("CUSTOMER", "Acme Corp"), ("OPPORTUNITY", "Acme Corp - Widgets Pro")],
        [],
    ]
    assert [each["conflicts"] for each in await listed(client, s.partner_token)] == [[], []]
    assert (await node(client, s.partner_token, pending["id"]))["conflicts"] == []


# --- first to register wins ----------------------------------------------------------------


async def test_first_to_register_wins_while_pending_and_protected_then_the_deal_is_free(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    earlier = await register(client, first.partner_token, first.partnership_id)
    later = await register(
        client,
        second.partner_token,
        second.partnership_id,
        customerName="ACME Corporation Ltd",
        customerDomain=None,
    )
    assert (earlier["claimedByAnotherPartner"], later["claimedByAnotherPartner"]) == (False, True)

    # Pending: the later one cannot be approved.
    held = await review(client, first.owner_token, later["id"], "APPROVE")
    assert held["dealRegistration"] is None
    assert codes(held) == [(["input", "id"], "DUPLICATE")]
    assert "first to register wins" in held["userErrors"][0]["message"]

    # Approved and protected: still not.
    await approve(client, first.owner_token, earlier["id"], protectionDays=10)
    assert (await node(client, second.partner_token, later["id"]))["claimedByAnotherPartner"]
    held = await review(client, first.owner_token, later["id"], "APPROVE")
    assert codes(held) == [(["input", "id"], "DUPLICATE")]
    assert await counts(owner_sessions, first.owner) == (2, 1, 1)

    # The protection ends: the deal is free, and the later registration can win it.
    await expire_protection(owner_sessions, earlier["id"])
    assert not (await node(client, second.partner_token, later["id"]))["claimedByAnotherPartner"]
    approved = await approve(client, first.owner_token, later["id"])
    assert approved["status"] == "APPROVED"
    assert [event.type for event in await events(owner_sessions, first.owner)] == [
        "deal.approved",
        "deal.approved",
    ]


async def test_rejecting_the_first_frees_the_deal_and_the_same_partner_never_blocks_itself(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    earlier = await register(client, first.partner_token, first.partnership_id)
    again = await register(client, first.partner_token, first.partnership_id)
    later = await register(client, second.partner_token, second.partnership_id)

    assert again["claimedByAnotherPartner"] is False  # its own earlier one does not count
    await review(client, first.owner_token, earlier["id"], "REJECT", reason="Not qualified")
    # The partner's second registration is now the earliest of the deal, and it wins.
    assert (await node(client, first.owner_token, later["id"]))["claimedByAnotherPartner"]
    await approve(client, first.owner_token, again["id"])
    held = await review(client, first.owner_token, later["id"], "APPROVE")
    assert codes(held) == [(["input", "id"], "DUPLICATE")]


async def test_a_registration_committed_late_cannot_take_a_protected_deal(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """`created_at` is the registering transaction's start: one that commits after a later one
    was approved is "earlier" yet must not win. An APPROVED, protected registration holds the
    deal against every other, whatever their order."""
    first = await sharing(client, factory, owner_sessions)
    late = await sharing(client, factory, owner_sessions, owner=first.owner)
    approved = await register(client, first.partner_token, first.partnership_id)
    await approve(client, first.owner_token, approved["id"])
    slow = await register(client, late.partner_token, late.partnership_id)
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(DealRegistration)
            .where(DealRegistration.id == uuid_of(slow["id"]))
            .values(created_at=func.now() - timedelta(hours=1))
        )

    held = await review(client, first.owner_token, slow["id"], "APPROVE")

    assert codes(held) == [(["input", "id"], "DUPLICATE")]


async def test_an_opportunity_protected_for_one_partner_is_not_linked_to_another(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    mine = await register(client, first.partner_token, first.partnership_id)
    theirs = await register(
        client,
        second.partner_token,
        second.partnership_id,
        customerName="Umbrella",
        customerDomain=None,
    )
    opportunity = (await approve(client, first.owner_token, mine["id"]))["opportunity"]

    refused = await review(
        client, first.owner_token, theirs["id"], "APPROVE", opportunityId=opportunity["id"]
    )
    assert codes(refused) == [(["input", "opportunityId"], "DUPLICATE")]
    row = await opportunity_row(owner_sessions, opportunity["id"])
    assert row.assigned_partnership_id == uuid_of(first.partnership_id)

    await expire_protection(owner_sessions, mine["id"])
    moved = await approve(client, first.owner_token, theirs["id"], opportunityId=opportunity["id"])
    assert moved["opportunity"]["id"] == opportunity["id"]
    row = await opportunity_row(owner_sessions, opportunity["id"])
    assert row.assigned_partnership_id == uuid_of(second.partnership_id)


async def test_concurrent_approvals_of_two_conflicting_registrations_one_wins(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    pairs = []
    for name in ("Initech", "Cyberdyne Systems", "Tyrell Corp"):
        deal = {"customerName": name, "customerDomain": None}
        pairs.append(
            (
                await register(client, first.partner_token, first.partnership_id, **deal),
                await register(client, second.partner_token, second.partnership_id, **deal),
            )
        )

    for earlier, later in pairs:
        outcomes = await asyncio.gather(
            *(
                tokens.graphql(
                    client,
                    first.owner_token,
                    PLAIN_REVIEW,
                    {"input": {"id": registration["id"], "decision": "APPROVE"}},
                )
                for registration in (later, earlier)
            )
        )
        payloads = [response.json()["data"]["reviewDealRegistration"] for response in outcomes]
        winners = [p["dealRegistration"]["id"] for p in payloads if p["dealRegistration"]]
        assert winners == [earlier["id"]], payloads
        assert [codes(p) for p in payloads if not p["dealRegistration"]] == [
            [(["input", "id"], "DUPLICATE")]
        ]

    statuses = [
        (await stored(owner_sessions, registration["id"])).status
        for pair in pairs
        for registration in pair
    ]
    assert statuses == [DealStatus.APPROVED, DealStatus.PENDING] * 3
    assert await counts(owner_sessions, first.owner) == (6, 3, 3)


async def test_concurrent_reviews_of_one_registration_decide_it_once(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)

    outcomes = await asyncio.gather(
        tokens.graphql(
            client,
            s.owner_token,
            PLAIN_REVIEW,
            {"input": {"id": registered["id"], "decision": "APPROVE"}},
        ),
        tokens.graphql(
            client,
            s.owner_token,
            PLAIN_REVIEW,
            {"input": {"id": registered["id"], "decision": "REJECT", "reason": "no"}},
        ),
    )

    payloads = [response.json()["data"]["reviewDealRegistration"] for response in outcomes]
    decided = [p for p in payloads if p["dealRegistration"]]
    assert len(decided) == 1, payloads
    assert [codes(p) for p in payloads if not p["dealRegistration"]] == [
        [(["input", "id"], "INVALID_TRANSITION")]
    ]
    row = await stored(owner_sessions, registered["id"])
    assert (row.status.value, row.version) == (decided[0]["dealRegistration"]["status"], 2)
    assert len(await events(owner_sessions, s.owner)) == 1


# --- what partners learn -------------------------------------------------------------------


async def test_the_registering_partner_learns_of_an_earlier_claim_but_never_whose(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    await factory.customer(first.owner, "Acme Corp", domain="acme.example")
    earlier = await register(client, first.partner_token, first.partnership_id)
    secrets = [
        str(first.partner.id),
        first.partner.name,
        first.partner.slug,
        first.partner.client.client_id,
        earlier["id"],
        str(uuid_of(earlier["id"])),
        first.partnership_id,
        str(uuid_of(first.partnership_id)),
    ]

    response = await tokens.graphql(
        client, second.partner_token, REGISTER, {"input": deal_input(second.partnership_id)}
    )
    later = response.json()["data"]["registerDeal"]["dealRegistration"]
    answers = [
        response.text,
        (await tokens.graphql(client, second.partner_token, LIST, {"first": 50})).text,
        (await tokens.graphql(client, second.partner_token, NODE, {"id": later["id"]})).text,
    ]

    assert later["claimedByAnotherPartner"] is True
    assert later["conflicts"] == []
    for answer in answers:
        for secret in secrets:
            assert secret not in answer, secret
    # The audit trail of the second partner records what it was told, and nothing more.
    [registered_event] = await events(owner_sessions, second.partner)
    assert registered_event.details["claimed_by_another_partner"] is True
    assert str(first.partner.id) not in json.dumps(registered_event.details)


async def test_a_second_partner_of_the_same_owner_sees_none_of_the_firsts_registrations(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    theirs = await register(client, first.partner_token, first.partnership_id)
    mine = await register(
        client,
        second.partner_token,
        second.partnership_id,
        customerName="Soylent",
        customerDomain=None,
    )

    assert ids(await listed(client, second.partner_token)) == [mine["id"]]
    assert await listed(client, second.partner_token, status="PENDING", side="PARTNER") == [
        await node(client, second.partner_token, mine["id"])
    ]
    assert await listed(client, second.partner_token, side="OWNER") == []
    real = await tokens.graphql(client, second.partner_token, NODE, {"id": theirs["id"]})
    absent = await tokens.graphql(client, second.partner_token, NODE, {"id": random_id()})
    assert real.content == absent.content == b'{"data":{"node":null}}'
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            REVIEW,
            {"input": {"id": theirs["id"], "decision": "REJECT", "reason": "mine"}},
            {"input": {"id": random_id(), "decision": "REJECT", "reason": "mine"}},
        ),
        (
            REGISTER,
            {"input": deal_input(first.partnership_id)},
            {"input": deal_input(random_id(NodeType.PARTNERSHIP))},
        ),
    ]
    for query, real_variables, absent_variables in pairs:
        real = await tokens.graphql(client, second.partner_token, query, real_variables)
        absent = await tokens.graphql(client, second.partner_token, query, absent_variables)
        assert (real.status_code, real.content) == (absent.status_code, absent.content), query
        assert b"NOT_FOUND" in real.content
    assert (await stored(owner_sessions, theirs["id"])).status is DealStatus.PENDING
    assert await registrations_by(owner_sessions, second.partner) == 1
    # The first partner likewise, and the owner sees both.
    assert ids(await listed(client, first.partner_token)) == [theirs["id"]]
    assert ids(await listed(client, first.owner_token)) == [theirs["id"], mine["id"]]


async def test_a_stranger_gets_exactly_the_answer_of_a_random_id(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)
    stranger = await factory.organisation("DrStranger")
    token = await token_of(client, stranger)

    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (NODE, {"id": registered["id"]}, {"id": random_id()}),
        (
            REVIEW,
            {"input": {"id": registered["id"], "decision": "APPROVE"}},
            {"input": {"id": random_id(), "decision": "APPROVE"}},
        ),
        (
            REGISTER,
            {"input": deal_input(s.partnership_id)},
            {"input": deal_input(random_id(NodeType.PARTNERSHIP))},
        ),
    ]
    for query, real_variables, absent_variables in pairs:
        real = await tokens.graphql(client, token, query, real_variables)
        absent = await tokens.graphql(client, token, query, absent_variables)
        assert (real.status_code, real.content) == (absent.status_code, absent.content), query
        assert b"NOT_FOUND" in real.content or real.json() == {"data": {"node": None}}

    assert await listed(client, token) == []
    assert (await stored(owner_sessions, registered["id"])).version == 1
    assert await registrations_by(owner_sessions, stranger) == 0
    assert await events(owner_sessions, stranger) == []


# --- sides, statuses, scopes ---------------------------------------------------------------


async def test_the_owner_side_cannot_register_and_the_partner_side_cannot_review(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        (s.owner_token, REGISTER, {"input": deal_input(s.partnership_id)}),
        (s.partner_token, REVIEW, {"input": {"id": registered["id"], "decision": "APPROVE"}}),
        (
            s.partner_token,
            REVIEW,
            {"input": {"id": registered["id"], "decision": "REJECT", "reason": "x"}},
        ),
    ]

    for token, query, variables in requests:
        response = await tokens.graphql(client, token, query, variables)
        assert graphql_codes(response) == ["FORBIDDEN"], query
        assert response.json()["data"] is None

    row = await stored(owner_sessions, registered["id"])
    assert (row.status, row.version) == (DealStatus.PENDING, 1)
    assert await counts(owner_sessions, s.owner) == (1, 0, 0)
    assert await registrations_by(owner_sessions, s.owner) == 0
    assert await events(owner_sessions, s.owner) == []
    assert len(await events(owner_sessions, s.partner)) == 1


@pytest.mark.parametrize(
    "status",
    [PartnershipStatus.INVITED, PartnershipStatus.SUSPENDED, PartnershipStatus.ENDED],
    ids=["invited", "suspended", "ended"],
)
async def test_a_partnership_that_is_not_active_takes_no_registration(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, status: PartnershipStatus
) -> None:
    s = await sharing(client, factory, owner_sessions, status)

    payload = (await data(client, s.partner_token, REGISTER, input=deal_input(s.partnership_id)))[
        "registerDeal"
    ]

    assert payload["dealRegistration"] is None
    assert codes(payload) == [(["input", "partnershipId"], "INVALID_TRANSITION")]
    assert status.value in payload["userErrors"][0]["message"]
    assert await counts(owner_sessions, s.owner) == (0, 0, 0)
    assert await events(owner_sessions, s.partner) == []


async def test_approval_waits_for_an_active_partnership_and_rejection_does_not(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    first = await register(client, s.partner_token, s.partnership_id)
    second = await register(client, s.partner_token, s.partnership_id, customerName="Hooli")
    suspended = (await data(client, s.owner_token, move(SUSPEND), id=s.partnership_id))[
        "suspendPartnership"
    ]
    assert suspended["userErrors"] == []

    held = await review(client, s.owner_token, first["id"], "APPROVE")
    assert codes(held) == [(["input", "id"], "INVALID_TRANSITION")]
    assert "SUSPENDED" in held["userErrors"][0]["message"]
    rejected = await review(client, s.owner_token, second["id"], "REJECT", reason="Paused")
    assert rejected["dealRegistration"]["status"] == "REJECTED"
    assert await counts(owner_sessions, s.owner) == (2, 0, 0)


async def test_scopes(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    await factory.customer(s.owner, "Acme Corp")
    registered = await register(client, s.partner_token, s.partnership_id)
    approve_input = {"input": {"id": registered["id"], "decision": "APPROVE"}}

    # Neither side's reading scope: nothing at all.
    unrelated = await token_of(client, s.owner, "cases:read")
    for query, variables in [
        (PLAIN_LIST, {}),
        (NODE, {"id": registered["id"]}),
        (REVIEW, approve_input),
    ]:
        response = await tokens.graphql(client, unrelated, query, variables)
        assert graphql_codes(response) == ["FORBIDDEN"], query
    partner_reader = await token_of(client, s.partner, "opportunities:read partners:read")
    response = await tokens.graphql(
        client, partner_reader, PLAIN_REGISTER, {"input": deal_input(s.partnership_id)}
    )
    assert graphql_codes(response) == ["FORBIDDEN"]

    # `deals:register` alone: the partner registers and reads its own.
    registrar = await token_of(client, s.partner, "deals:register")
    payload = (await data(client, registrar, PLAIN_REGISTER, input=deal_input(s.partnership_id)))[
        "registerDeal"
    ]
    assert payload["userErrors"] == []
    own = (await data(client, registrar, PLAIN_LIST))["dealRegistrations"]["edges"]
    assert len(own) == 2
    # ... but not the owner's queue if it is an owner too: that needs `opportunities:read`.
    assert (await data(client, await token_of(client, s.owner, "deals:register"), PLAIN_LIST))[
        "dealRegistrations"
    ]["edges"] == []

    # `opportunities:read` alone: the owner's queue, without the customers among the conflicts.
    reader = await token_of(client, s.owner, "opportunities:read")
    queue = (await data(client, reader, PLAIN_LIST))["dealRegistrations"]["edges"]
    assert [edge["node"]["conflicts"] for edge in queue] == [[], []]
    full = (await data(client, s.owner_token, PLAIN_LIST))["dealRegistrations"]["edges"]
    assert [[c["kind"] for c in edge["node"]["conflicts"]] for edge in full] == [
        ["CUSTOMER"],
        ["CUSTOMER"],
    ]
    response = await tokens.graphql(client, reader, REVIEW, approve_input)
    assert graphql_codes(response) == ["FORBIDDEN"]

    # `opportunities:write` reviews (without reading the queue), but making a customer needs
    # `customers:write` too.
    writer = await token_of(client, s.owner, "opportunities:write")
    response = await tokens.graphql(client, writer, BARE_REVIEW, approve_input)
    assert graphql_codes(response) == ["FORBIDDEN"]
    assert await counts(owner_sessions, s.owner) == (2, 1, 0)
    customer_id = gid(NodeType.CUSTOMER, s.owner.customers[0].id)
    with_customer = {"input": {**approve_input["input"], "customerId": customer_id}}
    approved = (await data(client, writer, BARE_REVIEW, **with_customer))["reviewDealRegistration"]
    assert approved == {
        "dealRegistration": {"id": registered["id"], "status": "APPROVED"},
        "userErrors": [],
    }

    anonymous = await client.post("/graphql", json={"query": PLAIN_LIST})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_list_pages_filters_and_both_sides_of_one_organisation(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """A distributor registers with its vendor and takes registrations from its resellers."""
    vendor = await sharing(client, factory, owner_sessions)
    distributor = vendor.partner
    reseller = await factory.organisation("DrReseller")
    downstream = await partnership_row(
        owner_sessions, distributor, reseller, PartnershipStatus.ACTIVE
    )
    reseller_token = await token_of(client, reseller)
    upstream = [
        await register(client, vendor.partner_token, vendor.partnership_id, customerName=name)
        for name in ("Alpha", "Beta")
    ]
    received = [
        await register(client, reseller_token, downstream, customerName=name)
        for name in ("Gamma", "Delta", "Epsilon")
    ]
    await review(client, vendor.partner_token, received[1]["id"], "REJECT", reason="No")
    token = vendor.partner_token

    everything = await listed(client, token)
    assert ids(everything) == ids([*upstream, *received])
    assert [each["side"] for each in everything] == ["PARTNER"] * 2 + ["OWNER"] * 3
    assert ids(await listed(client, token, side="OWNER")) == ids(received)
    assert ids(await listed(client, token, side="PARTNER")) == ids(upstream)
    assert ids(await listed(client, token, status="REJECTED")) == [received[1]["id"]]
    assert ids(await listed(client, token, side="OWNER", status="PENDING")) == [
        received[0]["id"],
        received[2]["id"],
    ]

    seen: list[str] = []
    after = None
    while True:
        page = (await data(client, token, LIST, first=2, after=after))["dealRegistrations"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids([*upstream, *received])


# --- bad input -----------------------------------------------------------------------------


async def test_register_input_errors_are_user_errors_that_write_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    cases: list[tuple[str, dict[str, Any], list[tuple[list[str], str]]]] = [
        ("empty name", {"customerName": ""}, [(["input", "customerName"], "REQUIRED")]),
        ("blank name", {"customerName": "   "}, [(["input", "customerName"], "REQUIRED")]),
        ("long name", {"customerName": "A" * 201}, [(["input", "customerName"], "TOO_LONG")]),
        (
            "bad domain",
            {"customerDomain": "not a domain"},
            [(["input", "customerDomain"], "INVALID")],
        ),
        (
            "bare word domain",
            {"customerDomain": "acme"},
            [(["input", "customerDomain"], "INVALID")],
        ),
        ("empty domain", {"customerDomain": ""}, [(["input", "customerDomain"], "INVALID")]),
        (
            "long domain",
            {"customerDomain": ("a" * 60 + ".") * 5 + "com"},
            [(["input", "customerDomain"], "TOO_LONG"), (["input", "customerDomain"], "INVALID")],
        ),
        ("lower-case currency", {"currency": "eur"}, [(["input", "currency"], "INVALID")]),
        ("long currency", {"currency": "EURO"}, [(["input", "currency"], "INVALID")]),
        ("negative amount", {"amount": "-1"}, [(["input", "amount"], "OUT_OF_RANGE")]),
        ("huge amount", {"amount": "1e16"}, [(["input", "amount"], "OUT_OF_RANGE")]),
        ("three decimals", {"amount": "10.123"}, [(["input", "amount"], "OUT_OF_RANGE")]),
        ("not a number", {"amount": "NaN"}, [(["input", "amount"], "OUT_OF_RANGE")]),
        (
            "closed in the past",
            {"expectedCloseDate": in_days(-5)},
            [(["input", "expectedCloseDate"], "OUT_OF_RANGE")],
        ),
        (
            "closing in a century",
            {"expectedCloseDate": in_days(36500)},
            [(["input", "expectedCloseDate"], "OUT_OF_RANGE")],
        ),
        ("empty product", {"product": " "}, [(["input", "product"], "REQUIRED")]),
        ("long product", {"product": "p" * 201}, [(["input", "product"], "TOO_LONG")]),
        (
            "several at once",
            {"customerName": "", "currency": "€", "amount": "-5", "product": ""},
            [
                (["input", "customerName"], "REQUIRED"),
                (["input", "amount"], "OUT_OF_RANGE"),
                (["input", "currency"], "INVALID"),
                (["input", "product"], "REQUIRED"),
            ],
        ),
        (
            "malformed partnership",
            {"partnershipId": "nope"},
            [(["input", "partnershipId"], "NOT_FOUND")],
        ),
        (
            "a registration id as partnership",
            {"partnershipId": random_id()},
            [(["input", "partnershipId"], "NOT_FOUND")],
        ),
    ]

    for name, overrides, expected in cases:
        payload = (
            await data(
                client, s.partner_token, REGISTER, input=deal_input(s.partnership_id, **overrides)
            )
        )["registerDeal"]
        assert payload["dealRegistration"] is None, name
        assert codes(payload) == expected, name

    assert await counts(owner_sessions, s.owner) == (0, 0, 0)
    assert await events(owner_sessions, s.partner) == []


async def test_review_input_errors_are_user_errors_that_write_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner, "Acme Corp")
    [opportunity] = await factory.opportunities(
        s.owner, customer, 1, stage=OpportunityStage.PROPOSAL
    )
    foreign = await factory.customer(await factory.organisation("DrElse"), "Acme Corp")
    registered = await register(client, s.partner_token, s.partnership_id)
    mine = gid(NodeType.CUSTOMER, customer.id)
    linked = gid(NodeType.OPPORTUNITY, opportunity.id)
    cases: list[tuple[str, dict[str, Any], list[tuple[list[str], str]]]] = [
        ("reject without reason", {"decision": "REJECT"}, [(["input", "reason"], "REQUIRED")]),
        (
            "reject with a blank reason",
            {"decision": "REJECT", "reason": "  "},
            [(["input", "reason"], "REQUIRED")],
        ),
        (
            "reject with a long reason",
            {"decision": "REJECT", "reason": "r" * 1001},
            [(["input", "reason"], "TOO_LONG")],
        ),
        (
            "reject with approval fields",
            {
                "decision": "REJECT",
                "reason": "no",
                "customerId": mine,
                "opportunityId": linked,
                "protectionDays": 5,
            },
            [
                (["input", "customerId"], "INVALID"),
                (["input", "opportunityId"], "INVALID"),
                (["input", "protectionDays"], "INVALID"),
            ],
        ),
        (
            "approve with a reason",
            {"decision": "APPROVE", "reason": "fine"},
            [(["input", "reason"], "INVALID")],
        ),
        (
            "approve with a customer and an opportunity",
            {"decision": "APPROVE", "customerId": mine, "opportunityId": linked},
            [(["input", "customerId"], "INVALID")],
        ),
        (
            "no protection",
            {"decision": "APPROVE", "protectionDays": 0},
            [(["input", "protectionDays"], "OUT_OF_RANGE")],
        ),
        (
            "too long a protection",
            {"decision": "APPROVE", "protectionDays": 366},
            [(["input", "protectionDays"], "OUT_OF_RANGE")],
        ),
        (
            "negative protection",
            {"decision": "APPROVE", "protectionDays": -1},
            [(["input", "protectionDays"], "OUT_OF_RANGE")],
        ),
        (
            "another organisation's customer",
            {"decision": "APPROVE", "customerId": gid(NodeType.CUSTOMER, foreign.id)},
            [(["input", "customerId"], "NOT_FOUND")],
        ),
        (
            "malformed customer",
            {"decision": "APPROVE", "customerId": "garbage"},
            [(["input", "customerId"], "NOT_FOUND")],
        ),
        (
            "an opportunity id as customer",
            {"decision": "APPROVE", "customerId": linked},
            [(["input", "customerId"], "NOT_FOUND")],
        ),
        (
            "malformed opportunity",
            {"decision": "APPROVE", "opportunityId": ""},
            [(["input", "opportunityId"], "NOT_FOUND")],
        ),
    ]

    for name, values, expected in cases:
        payload = await review(client, s.owner_token, registered["id"], **values)
        assert payload["dealRegistration"] is None, name
        assert codes(payload) == expected, name
    for malformed in ("garbage", "", random_id(), gid(NodeType.GRANT, uuid_of(registered["id"]))):
        payload = await review(client, s.owner_token, malformed, "REJECT", reason="x")
        assert codes(payload) == [(["input", "id"], "NOT_FOUND")], malformed

    row = await stored(owner_sessions, registered["id"])
    assert (row.status, row.version, row.reviewed_at) == (DealStatus.PENDING, 1, None)
    assert await counts(owner_sessions, s.owner) == (1, 1, 1)
    assert (await opportunity_row(owner_sessions, linked)).assigned_partnership_id is None
    assert await events(owner_sessions, s.owner) == []


@pytest.mark.parametrize(
    ("mutation", "override", "literal"),
    [
        ("register", {"amount": "lots"}, None),
        ("register", {"expectedCloseDate": "next tuesday"}, None),
        ("register", {"expectedCloseDate": "2026-02-30"}, None),
        ("register", {"customerName": None}, None),
        ("review", {"decision": "MAYBE"}, None),
        ("review", {"protectionDays": 2**31}, None),
        ("review", {"protectionDays": "ninety"}, None),
        (None, None, "{ dealRegistrations(first: 5, status: LOST) { edges { node { id } } } }"),
        (None, None, "{ dealRegistrations(first: 5, side: MIDDLE) { edges { node { id } } } }"),
    ],
    ids=[
        "amount",
        "date-words",
        "date-impossible",
        "name-null",
        "decision",
        "protection-overflow",
        "protection-text",
        "status-literal",
        "side-literal",
    ],
)
async def test_bad_enums_and_shapes_are_clear_errors(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    mutation: str | None,
    override: dict[str, Any] | None,
    literal: str | None,
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)
    if mutation == "register":
        variables = {"input": deal_input(s.partnership_id, **(override or {}))}
        response = await tokens.graphql(client, s.partner_token, REGISTER, variables)
    elif mutation == "review":
        variables = {"input": {"id": registered["id"], "decision": "APPROVE", **(override or {})}}
        response = await tokens.graphql(client, s.owner_token, REVIEW, variables)
    else:
        assert literal is not None
        response = await tokens.graphql(client, s.owner_token, literal)

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] in (
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",
    )
    assert await counts(owner_sessions, s.owner) == (1, 0, 0)
    assert (await stored(owner_sessions, registered["id"])).status is DealStatus.PENDING


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 0}, "first"), ({"first": 101}, "first"), ({"first": 5, "after": "nope"}, "after")],
    ids=["first-0", "first-101", "garbage-cursor"],
)
async def test_bad_page_arguments_are_bad_user_input(
    client: httpx.AsyncClient, factory: Factory, variables: dict[str, Any], field: str
) -> None:
    org = await factory.organisation("DrBadPage")

    response = await tokens.graphql(client, await token_of(client, org), LIST, variables)

    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [field]


# --- no N+1 --------------------------------------------------------------------------------


async def test_a_page_with_conflicts_and_claims_costs_the_same_statements_at_any_size(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    for index, name in enumerate(
        ("Initech", "Umbrella", "Cyberdyne", "Soylent", "Tyrell", "Wonka")
    ):
        customer = await factory.customer(first.owner, f"{name} Ltd")
        await factory.opportunities(first.owner, customer, 2, stage=OpportunityStage.PROPOSAL)
        for s in (first, second):
            await register(
                client,
                s.partner_token,
                s.partnership_id,
                customerName=name,
                customerDomain=f"company{index}.example",
            )
    query = f"""query ($first: Int!) {{ dealRegistrations(first: $first) {{ edges {{ node {{
        {FIELDS} }} }} }} }}"""

    statements = {}
    for size in (2, 12):
        with counting_statements() as seen:
            response = await tokens.graphql(client, first.owner_token, query, {"first": size})
        edges = response.json()["data"]["dealRegistrations"]["edges"]
        assert len(edges) == size
        # Its customer, the customer's two open opportunities, the other partner's registration.
        assert all(len(edge["node"]["conflicts"]) == 4 for edge in edges)
        statements[size] = len(seen)

    print(f"statements per request: {statements}")
    assert statements[2] == statements[12], statements
    assert statements[2] <= 12, statements


# --- the second wall: raw SQL as the application role --------------------------------------


async def enter(connection: AsyncConnection, org: Org) -> None:
    await connection.execute(
        text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
    )


async def test_rls_each_side_reads_only_its_own_registrations(
    app_engine: AsyncEngine, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    theirs = await register(client, first.partner_token, first.partnership_id)
    mine = await register(client, second.partner_token, second.partnership_id)
    stranger = await factory.organisation("DrRlsStranger")

    expected = {
        first.partner.id: {uuid_of(theirs["id"])},
        second.partner.id: {uuid_of(mine["id"])},
        stranger.id: set(),
        first.owner.id: {uuid_of(theirs["id"]), uuid_of(mine["id"])},
    }
    for org in (first.partner, second.partner, stranger, first.owner):
        async with app_engine.begin() as connection:
            await enter(connection, org)
            seen = set(await connection.scalars(text("SELECT id FROM deal_registrations")))
            assert seen == expected[org.id], org.name
            # The referee answers only the two sides of a registration, and only one bit.
            claimed = await connection.scalar(
                text("SELECT hub_deal_claimed_by_another(:owner, :id)"),
                {"owner": first.owner.id, "id": uuid_of(mine["id"])},
            )
            assert claimed is (org.id in (second.partner.id, first.owner.id)), org.name


async def test_rls_a_partner_cannot_update_or_delete_a_registration(
    app_engine: AsyncEngine, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)
    record_id = uuid_of(registered["id"])

    async with app_engine.begin() as connection:
        await enter(connection, s.partner)
        changed = await connection.execute(
            text(
                "UPDATE deal_registrations SET status = 'REJECTED', "
                "rejection_reason = 'withdrawn', reviewed_at = now(), reviewed_by = 'me' "
                "WHERE id = :id"
            ),
            {"id": record_id},
        )
        assert changed.rowcount == 0
    # Neither side may touch what was registered, when, or delete it: no privilege at all.
    for org in (s.partner, s.owner):
        for statement in (
            "UPDATE deal_registrations SET created_at = now() - interval '1 year' WHERE id = :id",
            "UPDATE deal_registrations SET amount = 1 WHERE id = :id",
            "DELETE FROM deal_registrations WHERE id = :id",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with app_engine.begin() as connection:
                    await enter(connection, org)
                    await connection.execute(text(statement), {"id": record_id})

    row = await stored(owner_sessions, registered["id"])
    assert (row.status, row.version, row.amount) == (DealStatus.PENDING, 1, Decimal("25000.50"))


_INSERT = (
    "INSERT INTO deal_registrations (org_id, id, partnership_id, partner_org_id, customer_name, "
    "amount, currency, expected_close_date, product, status, registered_by, version{extra}) "
    "VALUES (:owner, :id, :partnership, :partner, 'Acme', 1, 'EUR', :close, 'Widgets', "
    ":status, 'raw', 1{values})"
)


async def raw_insert(
    connection: AsyncConnection,
    owner: Org,
    partner: Org,
    partnership_id: str,
    status: str = "PENDING",
    extra: dict[str, str] | None = None,
) -> None:
    extra = extra or {}
    statement = _INSERT.format(
        extra="".join(f", {column}" for column in extra),
        values="".join(f", {value}" for value in extra.values()),
    )
    await connection.execute(
        text(statement),
        {
            "owner": owner.id,
            "id": uuid.uuid4(),
            "partnership": uuid_of(partnership_id),
            "partner": partner.id,
            "close": datetime.now(UTC).date() + timedelta(days=30),
            "status": status,
        },
    )


async def test_rls_a_partner_registers_only_pending_deals_through_its_active_partnerships(
    app_engine: AsyncEngine, factory: Factory, owner_sessions: Sessions
) -> None:
    owner, partner = await factory.organisation("DrRlsOwner"), await factory.organisation("DrRlsP")
    active = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.ACTIVE)
    other_owner = await factory.organisation("DrRlsOther")
    paused = await partnership_row(
        owner_sessions, other_owner, partner, PartnershipStatus.SUSPENDED
    )
    stranger = await factory.organisation("DrRlsStranger")
    strangers = await partnership_row(
        owner_sessions, other_owner, stranger, PartnershipStatus.ACTIVE
    )
    backdated = {"created_at": "now() - interval '1 year'"}
    # (case, who enters, owner, named partner, partnership, status, extra columns, error)
    refusals: list[tuple[str, Org, Org, Org, str, str, dict[str, str], str]] = [
        ("suspended", partner, other_owner, partner, paused, "PENDING", {}, "row-level security"),
        (
            "another organisation's partnership",
            partner,
            other_owner,
            stranger,
            strangers,
            "PENDING",
            {},
            "row-level security",
        ),
        ("the owner itself", owner, owner, partner, active, "PENDING", {}, "row-level security"),
        ("self-approved", partner, owner, partner, active, "APPROVED", {}, "row-level security"),
        ("backdated", partner, owner, partner, active, "PENDING", backdated, "permission denied"),
    ]

    for case, actor, row_owner, row_partner, partnership_id, status, extra, error in refusals:
        with pytest.raises(DBAPIError, match=error):
            async with app_engine.begin() as connection:
                await enter(connection, actor)
                await raw_insert(connection, row_owner, row_partner, partnership_id, status, extra)
        assert await counts(owner_sessions, row_owner) == (0, 0, 0), case

    # The refusals are the policies', not a malformed statement's: the same INSERT through the
    # partner's ACTIVE partnership is accepted.
    async with app_engine.begin() as connection:
        await enter(connection, partner)
        await raw_insert(connection, owner, partner, active)
    assert await counts(owner_sessions, owner) == (1, 0, 0)
    assert await counts(owner_sessions, other_owner) == (0, 0, 0)
