"""Partners writing into an owner's records: CONTRIBUTE changes, WRITE creates, distributor cases.

Covers: with CONTRIBUTE a partner changes an opportunity's stage, next step and expected close
date and nothing else (FORBIDDEN, nothing written); READ changes nothing; with WRITE it creates
opportunities for the owner within the grant's selection, never naming the owner's people or
writing internal notes; a distributor with a SERVICE WRITE grant raises a case on the owner,
tracks it (status, SLA timestamps, SHARED comments), comments, and rates it once closed; a second
partner and a stranger get NOT_FOUND exactly like a random id throughout.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from hub.cases.models import Case, CaseComment
from hub.opportunities.models import Opportunity
from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.factories import Factory
from tests.sharing import (
    ERRORS,
    NODE,
    SECRET,
    Sessions,
    World,
    build_world,
    data,
    grant,
    uuid_of,
)

UPDATE_GRANT = f"""mutation ($input: UpdateGrantInput!) {{ updateGrant(input: $input) {{
    grant {{ id version access }} {ERRORS} }} }}"""
UPDATE_OPPORTUNITY = f"""mutation ($input: UpdateOpportunityInput!) {{
    updateOpportunity(input: $input) {{
    opportunity {{ id stage nextStep expectedCloseDate internalNotes version }} {ERRORS} }} }}"""
CREATE_OPPORTUNITY = f"""mutation ($input: CreateOpportunityInput!) {{
    createOpportunity(input: $input) {{
    opportunity {{ id name source internalNotes owner {{ id }} customer {{ id }} }}
    {ERRORS} }} }}"""
CREATE_CASE = f"""mutation ($input: CreateCaseInput!) {{ createCase(input: $input) {{
    case {{ id status priority firstResponseDueAt resolutionDueAt raisedBy {{ id name }}
    customer {{ id }} }} {ERRORS} }} }}"""
TRANSITION = f"""mutation ($input: TransitionCaseInput!) {{ transitionCase(input: $input) {{
    case {{ id status }} {ERRORS} }} }}"""
COMMENT = f"""mutation ($input: AddCaseCommentInput!) {{ addCaseComment(input: $input) {{
    comment {{ id body visibility }} {ERRORS} }} }}"""
RATE = f"""mutation ($input: RateCaseInput!) {{ rateCase(input: $input) {{
    case {{ id satisfactionScore }} {ERRORS} }} }}"""
CASE = """query ($id: ID!) { node(id: $id) { ... on Case { id status firstRespondedAt
    resolvedAt closedAt satisfactionScore raisedBy { id } comments { body visibility } } } }"""


async def set_access(client: httpx.AsyncClient, world: World, name: str, access: str) -> None:
    grant = world.grants[name]
    payload = (
        await data(
            client,
            world.token["owner"],
            UPDATE_GRANT,
            input={"grantId": grant["id"], "version": grant["version"], "access": access},
        )
    )["updateGrant"]
    assert payload["userErrors"] == [], payload
    world.grants[name] = payload["grant"]


async def send(
    client: httpx.AsyncClient, world: World, who: str, query: str, **variables: Any
) -> dict[str, Any]:
    response = await tokens.graphql(client, world.token[who], query, variables)
    assert response.status_code == 200, response.text
    return dict(response.json())


def forbidden(body: dict[str, Any]) -> bool:
    return [error["extensions"]["code"] for error in body.get("errors", [])] == ["FORBIDDEN"]


def payload_of(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    return dict(next(iter(body["data"].values())))


async def stored_opportunity(sessions: Sessions, world: World, name: str) -> Opportunity:
    async with sessions() as session:
        return (
            await session.scalars(select(Opportunity).where(Opportunity.id == world.ids[name]))
        ).one()


async def count(
    sessions: Sessions, model: type[Opportunity | Case | CaseComment], world: World
) -> int:
    async with sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(model).where(model.org_id == world.owner.id)
        )
    return int(total or 0)


async def test_contribute_changes_only_the_fields_partners_may_touch(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    change = {"opportunityId": world.gid("oP"), "version": 1, "stage": "NEGOTIATION"}

    # READ: the partner knows the record, so FORBIDDEN; nothing written.
    assert forbidden(await send(client, world, "partner", UPDATE_OPPORTUNITY, input=change))
    assert (await stored_opportunity(owner_sessions, world, "oP")).version == 1

    await set_access(client, world, "gOpp", "CONTRIBUTE")
    updated = payload_of(
        await send(
            client,
            world,
            "partner",
            UPDATE_OPPORTUNITY,
            input={**change, "nextStep": "Demo on Friday", "expectedCloseDate": "2027-03-31"},
        )
    )
    assert updated["userErrors"] == []
    assert updated["opportunity"] == {
        "id": world.gid("oP"),
        "stage": "NEGOTIATION",
        "nextStep": "Demo on Friday",
        "expectedCloseDate": "2027-03-31",
        "internalNotes": None,  # the answer to a partner carries no internal notes either
        "version": 2,
    }
    stored = await stored_opportunity(owner_sessions, world, "oP")
    assert (stored.stage, stored.next_step, stored.internal_notes) == (
        "NEGOTIATION",
        "Demo on Friday",
        SECRET,
    )

    # Anything else is FORBIDDEN and writes nothing, alone or mixed with allowed fields.
    for extra in ({"name": "Mine now"}, {"amount": "1.00"}, {"internalNotes": "x"}, {}):
        attempt = {**change, "version": 2, "stage": "PROPOSAL", **extra}
        if not extra:
            attempt = {"opportunityId": world.gid("oP"), "version": 2}
        assert forbidden(await send(client, world, "partner", UPDATE_OPPORTUNITY, input=attempt))
    assert (await stored_opportunity(owner_sessions, world, "oP")).version == 2

    # A stale version is a conflict, not a silent overwrite.
    stale = payload_of(await send(client, world, "partner", UPDATE_OPPORTUNITY, input=change))
    assert [error["code"] for error in stale["userErrors"]] == ["STALE"]

    # The second partner and a stranger get exactly the answer of a random id.
    random = {**change, "opportunityId": encode_id(NodeType.OPPORTUNITY, uuid.uuid4())}
    for who in ("second", "stranger"):
        missing = await send(client, world, who, UPDATE_OPPORTUNITY, input=random)
        assert await send(client, world, who, UPDATE_OPPORTUNITY, input=change) == missing
        assert payload_of(missing)["userErrors"][0]["code"] == "NOT_FOUND"


async def test_write_creates_for_the_owner_within_the_selection(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    new = {
        "customerId": world.gid("cEu"),
        "name": "Partner-sourced deal",
        "amount": "12000.00",
        "currency": "EUR",
        "stage": "QUALIFICATION",
    }
    before = await count(owner_sessions, Opportunity, world)
    # READ cannot create.
    assert forbidden(await send(client, world, "partner", CREATE_OPPORTUNITY, input=new))

    await set_access(client, world, "gOpp", "WRITE")
    for refused in (
        {"internalNotes": "x"},
        {"ownerId": encode_id(NodeType.USER, world.owner.admin.id)},
    ):
        assert forbidden(
            await send(client, world, "partner", CREATE_OPPORTUNITY, input={**new, **refused})
        )
    assert await count(owner_sessions, Opportunity, world) == before

    created = payload_of(await send(client, world, "partner", CREATE_OPPORTUNITY, input=new))
    assert created["userErrors"] == []
    opportunity = created["opportunity"]
    assert opportunity["source"] == "PARTNER_REGISTERED"
    assert (opportunity["owner"], opportunity["internalNotes"]) == (None, None)
    assert opportunity["customer"]["id"] == world.gid("cEu")
    # It is the owner's record, assigned to the partnership, and the partner sees it.
    async with owner_sessions() as session:
        row = (
            await session.scalars(
                select(Opportunity).where(Opportunity.name == "Partner-sourced deal")
            )
        ).one()
    assert row.org_id == world.owner.id
    assert row.assigned_partnership_id == uuid_of(world.partnership["partner"])
    assert opportunity["id"] in (await world.listed_ids(client, "partner"))["opportunities"]
    assert opportunity["id"] in (await world.listed_ids(client, "owner"))["opportunities"]
    assert opportunity["id"] not in (await world.listed_ids(client, "second"))["opportunities"]

    # A customer the partner cannot see answers like a missing one; so it does for the second.
    for who, customer in (("partner", "cNone"), ("second", "cEu"), ("stranger", "cEu")):
        random = {**new, "customerId": encode_id(NodeType.CUSTOMER, uuid.uuid4())}
        missing = await send(client, world, who, CREATE_OPPORTUNITY, input=random)
        attempt = await send(
            client, world, who, CREATE_OPPORTUNITY, input={**new, "customerId": world.gid(customer)}
        )
        assert attempt == missing
        assert payload_of(missing)["userErrors"][0]["code"] == "NOT_FOUND"
    assert await count(owner_sessions, Opportunity, world) == before + 1


async def test_a_distributor_raises_tracks_comments_on_and_rates_a_case(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    new = {
        "customerId": world.gid("cEu"),
        "subject": "Scanner offline",
        "description": "Site 4 cannot scan.",
        "priority": "URGENT",
    }
    cases_before = await count(owner_sessions, Case, world)
    # CONTRIBUTE cannot raise cases: creating needs WRITE.
    assert forbidden(await send(client, world, "partner", CREATE_CASE, input=new))
    await set_access(client, world, "gCase", "WRITE")
    refused = {**new, "assigneeId": encode_id(NodeType.USER, world.owner.admin.id)}
    assert forbidden(await send(client, world, "partner", CREATE_CASE, input=refused))
    assert await count(owner_sessions, Case, world) == cases_before

    raised = payload_of(await send(client, world, "partner", CREATE_CASE, input=new))
    assert raised["userErrors"] == []
    case = raised["case"]
    assert (case["status"], case["priority"]) == ("NEW", "URGENT")
    assert case["raisedBy"]["id"] == encode_id(NodeType.ORGANISATION, world.partner.id)
    assert case["firstResponseDueAt"] < case["resolutionDueAt"]
    assert case["id"] in (await world.listed_ids(client, "partner"))["cases"]
    assert case["id"] in (await world.listed_ids(client, "owner"))["cases"]
    case_id = case["id"]

    # The partner comments (SHARED only) but cannot move the case along.
    said = payload_of(
        await send(
            client, world, "partner", COMMENT, input={"caseId": case_id, "body": "Any news?"}
        )
    )
    assert said["comment"]["visibility"] == "SHARED"
    internal = {"caseId": case_id, "body": "psst", "visibility": "INTERNAL"}
    assert forbidden(await send(client, world, "partner", COMMENT, input=internal))
    assert forbidden(
        await send(
            client, world, "partner", TRANSITION, input={"caseId": case_id, "status": "OPEN"}
        )
    )
    # A partner's comment is not the owner's first response.
    tracked = (await data(client, world.token["partner"], CASE, id=case_id))["node"]
    assert tracked["firstRespondedAt"] is None

    # The owner answers (internally too), works and closes the case; the partner tracks it.
    for visibility, body in (("INTERNAL", "Escalate to field team"), ("SHARED", "Technician sent")):
        await data(
            client,
            world.token["owner"],
            COMMENT,
            input={"caseId": case_id, "body": body, "visibility": visibility},
        )
    not_closed = payload_of(
        await send(client, world, "partner", RATE, input={"caseId": case_id, "score": 5})
    )
    assert [error["code"] for error in not_closed["userErrors"]] == ["INVALID_TRANSITION"]
    for status in ("OPEN", "RESOLVED", "CLOSED"):
        moved = await data(
            client, world.token["owner"], TRANSITION, input={"caseId": case_id, "status": status}
        )
        assert moved["transitionCase"]["userErrors"] == []
    tracked = (await data(client, world.token["partner"], CASE, id=case_id))["node"]
    assert tracked["status"] == "CLOSED"
    assert None not in (tracked["firstRespondedAt"], tracked["resolvedAt"], tracked["closedAt"])
    assert [comment["body"] for comment in tracked["comments"]] == ["Any news?", "Technician sent"]

    # Rating: 1 to 5, by the partner; the second partner cannot reach the case at all.
    bad = payload_of(
        await send(client, world, "partner", RATE, input={"caseId": case_id, "score": 9})
    )
    assert [error["code"] for error in bad["userErrors"]] == ["OUT_OF_RANGE"]
    rated = payload_of(
        await send(client, world, "partner", RATE, input={"caseId": case_id, "score": 5})
    )
    assert rated["case"]["satisfactionScore"] == 5
    random = encode_id(NodeType.CASE, uuid.uuid4())
    for who in ("second", "stranger"):
        missing = await send(client, world, who, RATE, input={"caseId": random, "score": 1})
        assert (
            await send(client, world, who, RATE, input={"caseId": case_id, "score": 1}) == missing
        )
        assert (await data(client, world.token[who], NODE, id=case_id))["node"] is None
    assert (await data(client, world.token["owner"], CASE, id=case_id))["node"][
        "satisfactionScore"
    ] == 5


async def test_raising_a_case_needs_a_service_grant(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions, grants=False)
    await grant(
        client,
        world,
        "partner",
        "gCust",
        recordType="CUSTOMERS",
        selection="EXPLICIT",
        recordIds=[world.gid("cEu")],
    )
    await grant(
        client, world, "partner", "gSales", recordType="CASES", selection="ASSIGNED", access="WRITE"
    )
    new = {"customerId": world.gid("cEu"), "subject": "x", "description": "y"}
    before = await count(owner_sessions, Case, world)
    assert forbidden(await send(client, world, "partner", CREATE_CASE, input=new))
    assert await count(owner_sessions, Case, world) == before
