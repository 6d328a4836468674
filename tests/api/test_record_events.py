"""Every write of a CRM record is audited as a field-level diff, with no personal value kept.

Covers: each owner mutation (createCustomer, updateCustomer, addContact, setConsent,
createOpportunity, updateOpportunity, createCase, transitionCase, addCaseComment, rateCase)
writes exactly its record events with the exact diff, read as raw rows by the database owner;
no personal value (a contact's name, e-mail, phone, job title; case subjects and descriptions,
comment bodies, notes) is anywhere in the chain; a partner's CONTRIBUTE and WRITE changes land
in the owner's chain with the partner as actor and nothing in the partner's own; a deal approval
records what it creates or links; refused mutations (FORBIDDEN, user errors) record nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select, text

from hub.cases.models import Case
from resolvers.ids import NodeType
from tests import tokens
from tests.api.test_deal_registration import approve, register
from tests.api.test_partner_contributions import (
    COMMENT,
    CREATE_CASE,
    CREATE_OPPORTUNITY,
    RATE,
    TRANSITION,
    UPDATE_OPPORTUNITY,
    forbidden,
    payload_of,
    send,
    set_access,
)
from tests.factories import Factory, Org
from tests.sealing import seal
from tests.sharing import ERRORS, Sessions, build_world, data, gid, sharing, uuid_of

CHANGED = {"changed": True}

CREATE_CUSTOMER = f"""mutation ($input: CreateCustomerInput!) {{ createCustomer(input: $input) {{
    customer {{ id version }} {ERRORS} }} }}"""
UPDATE_CUSTOMER = f"""mutation ($input: UpdateCustomerInput!) {{ updateCustomer(input: $input) {{
    customer {{ id version }} {ERRORS} }} }}"""
ADD_CONTACT = f"""mutation ($input: AddContactInput!) {{ addContact(input: $input) {{
    contact {{ id }} {ERRORS} }} }}"""
CONSENT = f"""mutation ($input: SetConsentInput!) {{ setConsent(input: $input) {{
    customer {{ id }} {ERRORS} }} }}"""
OWNER_CREATE_OPPORTUNITY = f"""mutation ($input: CreateOpportunityInput!) {{
    createOpportunity(input: $input) {{ opportunity {{ id version }} {ERRORS} }} }}"""
OWNER_UPDATE_OPPORTUNITY = f"""mutation ($input: UpdateOpportunityInput!) {{
    updateOpportunity(input: $input) {{ opportunity {{ id version }} {ERRORS} }} }}"""
OWNER_CREATE_CASE = f"""mutation ($input: CreateCaseInput!) {{ createCase(input: $input) {{
    case {{ id version }} {ERRORS} }} }}"""

# Personal values the tests write; none may ever reach the ledger.
PERSONAL = (
    "Grace Hopper",
    "grace@navy.example",
    "+1 555 0100",
    "Rear Admiral",
    "Grace cannot sign in",
    "Her phone is +1 555 0100",
    "Called Grace back",
    "Grace prefers mornings",
    "Ring Grace on Monday",
    # A customer's name and an opportunity's name may name a person too (ADR 0013).
    "Audit Ltd",
    "Audit deal",
    "Partner-sourced audited deal",
)


# --- helpers -------------------------------------------------------------------------------


async def chain(sessions: Sessions, org_id: uuid.UUID, after: int = 0) -> list[dict[str, Any]]:
    """The raw rows of an organisation's chain after `after`, in order, as the database owner,
    partners' disclosures waiting to be sealed into it sealed first."""
    await seal(sessions, org_id)
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT * FROM audit_events WHERE org_id = :org AND seq > :after ORDER BY seq"),
            {"org": org_id, "after": after},
        )
        return [dict(row) for row in rows.mappings()]


async def head(sessions: Sessions, org_id: uuid.UUID) -> int:
    """Where the organisation's chain ends now."""
    rows = await chain(sessions, org_id)
    return int(rows[-1]["seq"]) if rows else 0


def records(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["type"].startswith("record.")]


def summary(row: dict[str, Any]) -> tuple[str, dict[str, Any], set[uuid.UUID]]:
    return row["type"], row["details"], set(row["record_ids"])


def assert_no_personal_value(rows: Sequence[dict[str, Any]]) -> None:
    stored = json.dumps(rows, default=str)
    for value in PERSONAL:
        assert value not in stored, value


def moment(value: Any) -> str:
    return str(value.isoformat())


class Writer:
    """Sends mutations that must succeed and returns what each added to the owner's chain."""

    def __init__(self, client: httpx.AsyncClient, sessions: Sessions, org: Org, token: str):
        self.client, self.sessions, self.org, self.token = client, sessions, org, token

    async def __call__(self, query: str, **variables: Any) -> tuple[dict[str, Any], list[Any]]:
        before = await head(self.sessions, self.org.id)
        payload = next(iter((await data(self.client, self.token, query, **variables)).values()))
        assert payload["userErrors"] == [], payload
        return payload, await chain(self.sessions, self.org.id, before)


def reference(kind: str, record_id: uuid.UUID, version: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": kind, "id": str(record_id)}
    if version is not None:
        found["version"] = version
    return found


def created(**values: Any) -> dict[str, Any]:
    return {
        field: value if value == CHANGED else {"from": None, "to": value}
        for field, value in values.items()
    }


# --- owner mutations -----------------------------------------------------------------------


async def test_each_owner_mutation_records_its_exact_diff(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("RecOwner")
    token = await tokens.client_credentials(client, org.client)
    write = Writer(client, owner_sessions, org, token)
    me = {"actor_org_id": org.id, "actor_client_id": org.client.client_id, "actor_user_id": None}

    def acted_by_me(row: dict[str, Any]) -> None:
        assert {key: row[key] for key in me} == me
        assert row["org_id"] == org.id and row["request_id"]

    # createCustomer
    payload, rows = await write(
        CREATE_CUSTOMER,
        input={
            "name": "Audit Ltd",
            "lifecycleStage": "CUSTOMER",
            "region": "EMEA",
            "country": "DE",
            "consentPurposes": ["SERVICE", "SALES"],
        },
    )
    customer_id = uuid_of(payload["customer"]["id"])
    [row] = rows
    acted_by_me(row)
    assert summary(row) == (
        "record.created",
        {
            "record": reference("Customer", customer_id, 1),
            "changes": created(
                name=CHANGED,
                lifecycleStage="CUSTOMER",
                region="EMEA",
                country="DE",
                consentPurposes=["SALES", "SERVICE"],
            ),
        },
        {customer_id},
    )

    # updateCustomer: only what changed, from and to
    customer_gid = payload["customer"]["id"]
    _, [row] = await write(
        UPDATE_CUSTOMER,
        input={
            "customerId": customer_gid,
            "version": 1,
            "lifecycleStage": "CLIENT",
            "region": None,
        },
    )
    acted_by_me(row)
    assert summary(row) == (
        "record.updated",
        {
            "record": reference("Customer", customer_id, 2),
            "changes": {
                "lifecycleStage": {"from": "CUSTOMER", "to": "CLIENT"},
                "region": {"from": "EMEA", "to": None},
            },
        },
        {customer_id},
    )

    # addContact: every personal field marked, never its value
    payload, [row] = await write(
        ADD_CONTACT,
        input={
            "customerId": customer_gid,
            "fullName": "Grace Hopper",
            "email": "grace@navy.example",
            "phone": "+1 555 0100",
            "jobTitle": "Rear Admiral",
        },
    )
    contact_id = uuid_of(payload["contact"]["id"])
    acted_by_me(row)
    assert summary(row) == (
        "record.created",
        {
            "record": reference("Contact", contact_id),
            "changes": created(
                customerId=str(customer_id),
                fullName=CHANGED,
                email=CHANGED,
                phone=CHANGED,
                jobTitle=CHANGED,
            ),
        },
        {contact_id, customer_id},
    )

    # setConsent keeps its own event, now found by the customer's id too
    _, [row] = await write(
        CONSENT, input={"customerId": customer_gid, "purpose": "MARKETING", "given": True}
    )
    assert (row["type"], set(row["record_ids"])) == ("consent.changed", {customer_id})

    # createOpportunity and updateOpportunity
    payload, [row] = await write(
        OWNER_CREATE_OPPORTUNITY,
        input={
            "customerId": customer_gid,
            "name": "Audit deal",
            "amount": "1200.50",
            "currency": "EUR",
            "stage": "PROPOSAL",
            "probability": 40,
            "expectedCloseDate": "2027-01-31",
            "nextStep": "Ring Grace on Monday",
            "internalNotes": "Grace prefers mornings",
        },
    )
    opportunity_id = uuid_of(payload["opportunity"]["id"])
    acted_by_me(row)
    assert summary(row) == (
        "record.created",
        {
            "record": reference("Opportunity", opportunity_id, 1),
            "changes": created(
                customerId=str(customer_id),
                name=CHANGED,
                stage="PROPOSAL",
                amount="1200.50",
                currency="EUR",
                probability=40,
                expectedCloseDate="2027-01-31",
                source="DIRECT",
                nextStep=CHANGED,
                internalNotes=CHANGED,
            ),
        },
        {opportunity_id, customer_id},
    )
    _, [row] = await write(
        OWNER_UPDATE_OPPORTUNITY,
        input={
            "opportunityId": payload["opportunity"]["id"],
            "version": 1,
            "amount": "1500",
            "stage": "NEGOTIATION",
            "nextStep": None,
            "probability": 40,  # unchanged: not in the diff
        },
    )
    assert summary(row) == (
        "record.updated",
        {
            "record": reference("Opportunity", opportunity_id, 2),
            "changes": {
                "amount": {"from": "1200.50", "to": "1500.00"},
                "stage": {"from": "PROPOSAL", "to": "NEGOTIATION"},
                "nextStep": CHANGED,
            },
        },
        {opportunity_id, customer_id},
    )

    # createCase
    payload, [row] = await write(
        OWNER_CREATE_CASE,
        input={
            "customerId": customer_gid,
            "subject": "Grace cannot sign in",
            "description": "Her phone is +1 555 0100",
            "priority": "HIGH",
        },
    )
    case_gid = payload["case"]["id"]
    case_id = uuid_of(case_gid)
    async with owner_sessions() as session:
        case = (await session.scalars(select(Case).where(Case.id == case_id))).one()
    acted_by_me(row)
    assert summary(row) == (
        "record.created",
        {
            "record": reference("Case", case_id, 1),
            "changes": created(
                customerId=str(customer_id),
                subject=CHANGED,
                description=CHANGED,
                priority="HIGH",
                status="NEW",
                raisedByOrgId=str(org.id),
                raisedByClientId=org.client.client_id,
                firstResponseDueAt=moment(case.first_response_due_at),
                resolutionDueAt=moment(case.resolution_due_at),
            ),
        },
        {case_id, customer_id},
    )

    # addCaseComment: the comment; the owner's first SHARED answer also stamps the case
    payload, rows = await write(COMMENT, input={"caseId": case_gid, "body": "Called Grace back"})
    comment_id = uuid_of(payload["comment"]["id"])
    async with owner_sessions() as session:
        case = (await session.scalars(select(Case).where(Case.id == case_id))).one()
    assert [summary(row) for row in rows] == [
        (
            "record.created",
            {
                "record": reference("CaseComment", comment_id),
                "changes": created(
                    caseId=str(case_id),
                    authorOrgId=str(org.id),
                    authorClientId=org.client.client_id,
                    visibility="SHARED",
                    body=CHANGED,
                ),
            },
            {comment_id, case_id, customer_id},
        ),
        (
            "record.updated",
            {
                "record": reference("Case", case_id, 1),
                "changes": {
                    "firstRespondedAt": {"from": None, "to": moment(case.first_responded_at)}
                },
            },
            {case_id, customer_id},
        ),
    ]
    _, [row] = await write(
        COMMENT,
        input={"caseId": case_gid, "body": "Grace prefers mornings", "visibility": "INTERNAL"},
    )
    assert row["type"] == "record.created"
    assert row["details"]["changes"]["visibility"] == {"from": None, "to": "INTERNAL"}

    # transitionCase, with the timestamps each step stamps
    steps: list[tuple[dict[str, Any], list[str]]] = [
        ({"status": "OPEN"}, ["status"]),
        ({"status": "RESOLVED"}, ["resolvedAt", "status"]),
        ({"status": "CLOSED", "satisfactionScore": 4}, ["closedAt", "satisfactionScore", "status"]),
    ]
    version = 1
    for change, fields in steps:
        _, [row] = await write(TRANSITION, input={"caseId": case_gid, **change})
        version += 1
        assert row["type"] == "record.updated"
        assert row["details"]["record"] == reference("Case", case_id, version)
        assert sorted(row["details"]["changes"]) == fields
    assert row["details"]["changes"]["satisfactionScore"] == {"from": None, "to": 4}
    assert row["details"]["changes"]["status"] == {"from": "RESOLVED", "to": "CLOSED"}

    # rateCase
    _, [row] = await write(RATE, input={"caseId": case_gid, "score": 5})
    assert summary(row) == (
        "record.updated",
        {
            "record": reference("Case", case_id, version + 1),
            "changes": {"satisfactionScore": {"from": 4, "to": 5}},
        },
        {case_id, customer_id},
    )

    assert_no_personal_value(await chain(owner_sessions, org.id))


# --- partners ------------------------------------------------------------------------------


async def test_partner_changes_land_in_the_owners_chain_with_the_partner_as_actor(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    owner, partner = world.owner, world.partner
    partner_start = await head(owner_sessions, partner.id)
    as_partner = {
        "org_id": owner.id,
        "actor_org_id": partner.id,
        "actor_client_id": partner.client.client_id,
        "actor_user_id": None,
    }

    async def partner_writes(query: str, **variables: Any) -> list[dict[str, Any]]:
        before = await head(owner_sessions, owner.id)
        payload = payload_of(await send(client, world, "partner", query, **variables))
        assert payload["userErrors"] == [], payload
        rows = records(await chain(owner_sessions, owner.id, before))
        for row in rows:
            assert {key: row[key] for key in as_partner} == as_partner
        return rows

    # CONTRIBUTE on an opportunity: the stage and the next step (marked, not kept)
    await set_access(client, world, "gOpp", "CONTRIBUTE")
    [row] = await partner_writes(
        UPDATE_OPPORTUNITY,
        input={
            "opportunityId": world.gid("oP"),
            "version": 1,
            "stage": "NEGOTIATION",
            "nextStep": "Ring Grace on Monday",
        },
    )
    assert summary(row) == (
        "record.updated",
        {
            "record": reference("Opportunity", world.ids["oP"], 2),
            "changes": {"stage": {"from": "PROPOSAL", "to": "NEGOTIATION"}, "nextStep": CHANGED},
        },
        {world.ids["oP"], world.ids["cEu"]},
    )

    # CONTRIBUTE on a case: a SHARED comment (no first-response stamp: not the owner's answer)
    [row] = await partner_writes(
        COMMENT, input={"caseId": world.gid("kP"), "body": "Called Grace back"}
    )
    assert row["type"] == "record.created"
    assert row["details"]["record"]["type"] == "CaseComment"
    assert row["details"]["changes"]["authorOrgId"] == {"from": None, "to": str(partner.id)}
    assert row["details"]["changes"]["body"] == CHANGED
    assert {world.ids["kP"], world.ids["cEu"]} < set(row["record_ids"])

    # WRITE: a case and an opportunity created for the owner
    await set_access(client, world, "gCase", "WRITE")
    [row] = await partner_writes(
        CREATE_CASE,
        input={
            "customerId": world.gid("cEu"),
            "subject": "Grace cannot sign in",
            "description": "Her phone is +1 555 0100",
        },
    )
    assert (row["type"], row["details"]["record"]["type"]) == ("record.created", "Case")
    assert row["details"]["changes"]["raisedByOrgId"] == {"from": None, "to": str(partner.id)}
    await set_access(client, world, "gOpp", "WRITE")
    [row] = await partner_writes(
        CREATE_OPPORTUNITY,
        input={
            "customerId": world.gid("cEu"),
            "name": "Partner-sourced audited deal",
            "amount": "900",
            "currency": "EUR",
        },
    )
    assert (row["type"], row["details"]["record"]["type"]) == ("record.created", "Opportunity")
    assert row["details"]["changes"]["assignedPartnershipId"] == {
        "from": None,
        "to": str(uuid_of(world.partnership["partner"])),
    }

    # Rating a case the owner closed
    for status in ("RESOLVED", "CLOSED"):
        owner_move = await send(
            client, world, "owner", TRANSITION, input={"caseId": world.gid("kP"), "status": status}
        )
        assert payload_of(owner_move)["userErrors"] == []
    [row] = await partner_writes(RATE, input={"caseId": world.gid("kP"), "score": 5})
    assert row["details"]["changes"] == {"satisfactionScore": {"from": None, "to": 5}}

    # The partner's own chain holds none of it; nothing personal anywhere.
    assert records(await chain(owner_sessions, partner.id, partner_start)) == []
    assert_no_personal_value(await chain(owner_sessions, owner.id))
    assert_no_personal_value(await chain(owner_sessions, partner.id))


async def test_a_deal_approval_records_what_it_creates_or_links(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    registered = await register(client, s.partner_token, s.partnership_id)
    registration_id = uuid_of(registered["id"])
    before = await head(owner_sessions, s.owner.id)
    approved = await approve(client, s.owner_token, registered["id"])
    rows = await chain(owner_sessions, s.owner.id, before)
    assert [row["type"] for row in rows] == ["record.created", "record.created", "deal.approved"]
    customer, opportunity, approval = rows
    assert customer["details"]["record"]["type"] == "Customer"
    assert opportunity["details"]["record"]["type"] == "Opportunity"
    assert opportunity["details"]["changes"]["source"] == {"from": None, "to": "PARTNER_REGISTERED"}
    opportunity_id = uuid_of(approved["opportunity"]["id"])
    assert registration_id in customer["record_ids"]
    assert {registration_id, opportunity_id} <= set(opportunity["record_ids"])
    assert set(approval["record_ids"]) == {registration_id, opportunity_id}

    # Linking an open opportunity records its change.
    again = await register(client, s.partner_token, s.partnership_id, product="Other")
    before = await head(owner_sessions, s.owner.id)
    await approve(client, s.owner_token, again["id"], opportunityId=approved["opportunity"]["id"])
    rows = await chain(owner_sessions, s.owner.id, before)
    assert [row["type"] for row in rows] == ["record.updated", "deal.approved"]
    assert rows[0]["details"]["record"] == reference("Opportunity", opportunity_id, 2)
    assert uuid_of(again["id"]) in rows[0]["record_ids"]


# --- refusals ------------------------------------------------------------------------------


async def test_refused_mutations_record_no_event(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    owner_start = await head(owner_sessions, world.owner.id)
    read_only = await tokens.client_credentials(client, world.owner.client, "customers:read")

    async def refused(who: str, query: str, *, code: str, **variables: Any) -> None:
        before = await head(owner_sessions, world.owner.id)
        token = read_only if who == "read-only" else world.token[who]
        body = (await tokens.graphql(client, token, query, variables)).json()
        if code == "FORBIDDEN":
            assert forbidden(body), body
        else:
            assert [error["code"] for error in payload_of(body)["userErrors"]] == [code], body
        assert records(await chain(owner_sessions, world.owner.id, before)) == []

    customer = world.gid("cEu")
    await refused("read-only", CREATE_CUSTOMER, code="FORBIDDEN", input={"name": "No Scope"})
    await refused("owner", CREATE_CUSTOMER, code="REQUIRED", input={"name": "  "})
    await refused(
        "owner", UPDATE_CUSTOMER, code="STALE", input={"customerId": customer, "version": 9}
    )
    await refused(
        "owner",
        ADD_CONTACT,
        code="NOT_FOUND",
        input={"customerId": gid(NodeType.CUSTOMER, uuid.uuid4()), "fullName": "Grace Hopper"},
    )
    await refused(
        "owner",
        TRANSITION,
        code="INVALID_TRANSITION",
        input={"caseId": world.gid("kP"), "status": "CLOSED"},
    )
    await refused(
        "owner", RATE, code="INVALID_TRANSITION", input={"caseId": world.gid("kP"), "score": 3}
    )
    # A partner under READ, or beyond what CONTRIBUTE lets it touch
    change = {"opportunityId": world.gid("oP"), "version": 1, "stage": "NEGOTIATION"}
    await refused("partner", UPDATE_OPPORTUNITY, code="FORBIDDEN", input=change)
    await set_access(client, world, "gOpp", "CONTRIBUTE")
    await refused(
        "partner", UPDATE_OPPORTUNITY, code="FORBIDDEN", input={**change, "name": "Mine now"}
    )
    await refused("partner", UPDATE_OPPORTUNITY, code="STALE", input={**change, "version": 7})
    await refused(
        "partner",
        CREATE_CASE,
        code="FORBIDDEN",
        input={"customerId": customer, "subject": "x", "description": "Grace Hopper"},
    )
    await refused(
        "second",
        COMMENT,
        code="NOT_FOUND",
        input={"caseId": world.gid("kP"), "body": "Called Grace back"},
    )
    assert records(await chain(owner_sessions, world.owner.id, owner_start)) == []
    assert_no_personal_value(await chain(owner_sessions, world.owner.id))
