"""`erasePersonalData`: personal fields anonymised in place, aggregates kept, the erasure
recorded, the owner's chain still proven, exactly the partners that received the data told,
and a second erasure a no-op."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hub.audit.verify import verify_chain
from resolvers.ids import NodeType
from tests import tokens
from tests.api.test_partner_contributions import COMMENT
from tests.api.test_record_events import (
    ADD_CONTACT,
    CREATE_CUSTOMER,
    OWNER_CREATE_CASE,
    OWNER_CREATE_OPPORTUNITY,
    UPDATE_CUSTOMER,
)
from tests.factories import Factory
from tests.privacy.world import PrivacyWorld, build_privacy_world, counts, erase
from tests.sharing import Sessions, data, gid, grant, uuid_of

ERASED = "[erased]"


@pytest.fixture
async def pw(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> PrivacyWorld:
    return await build_privacy_world(client, factory, owner_sessions)


async def customer_state(sessions: Sessions, pw: PrivacyWorld, name: str) -> dict[str, Any]:
    """What the owner holds of one customer, as the database owner reads it."""
    customer = pw.world.ids[name]
    queries = {
        "customer": "SELECT name, domain, lifecycle_stage, region, industry, consent_purposes,"
        " version FROM customers WHERE id = :c",
        "contacts": "SELECT full_name, email, phone, job_title FROM contacts"
        " WHERE customer_id = :c ORDER BY id",
        "opportunities": "SELECT name, next_step, internal_notes, stage, amount, currency,"
        " probability, expected_close_date, source FROM opportunities"
        " WHERE customer_id = :c ORDER BY id",
        "cases": "SELECT subject, description, status, priority, raised_by_org_id"
        " FROM cases WHERE customer_id = :c ORDER BY id",
        "comments": "SELECT m.body, m.visibility FROM case_comments m JOIN cases k"
        " ON k.org_id = m.org_id AND k.id = m.case_id WHERE k.customer_id = :c ORDER BY m.id",
    }
    async with sessions() as session:
        return {
            key: [
                dict(row) for row in (await session.execute(text(sql), {"c": customer})).mappings()
            ]
            for key, sql in queries.items()
        }


async def notices(sessions: Sessions, pw: PrivacyWorld) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT partner_org_id, subject_id, subject_kind, customer_id, fields,"
                " acknowledged_at FROM privacy_notices WHERE org_id = :org ORDER BY subject_id"
            ),
            {"org": pw.owner.id},
        )
        return [dict(row) for row in rows.mappings()]


async def test_erasing_a_customer_anonymises_in_place_and_keeps_aggregates(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    before = await customer_state(owner_sessions, pw, "cEu")
    untouched = await customer_state(owner_sessions, pw, "cUs")

    payload = await erase(client, world.token["owner"], world.gid("cEu"))
    assert payload["userErrors"] == []
    erasure = payload["erasure"]
    assert erasure["subjectId"] == world.gid("cEu")
    assert erasure["alreadyErased"] is False
    assert {group["kind"]: (group["count"], group["fields"]) for group in erasure["erased"]} == {
        "Customer": (1, ["domain", "name"]),
        "Contact": (1, ["email", "fullName", "jobTitle", "phone"]),
        "Opportunity": (2, ["internalNotes", "name", "nextStep"]),
        "Case": (2, ["description", "subject"]),
        "CaseComment": (2, ["body"]),
    }

    after = await customer_state(owner_sessions, pw, "cEu")
    assert after["customer"] == [
        {**before["customer"][0], "name": ERASED, "domain": None, "version": 2}
    ]
    assert after["contacts"] == [
        {"full_name": ERASED, "email": None, "phone": None, "job_title": None}
    ]
    assert after["opportunities"] == [
        {**row, "name": ERASED, "next_step": None, "internal_notes": None}
        for row in before["opportunities"]
    ]
    assert after["cases"] == [
        {**row, "subject": ERASED, "description": ERASED} for row in before["cases"]
    ]
    assert after["comments"] == [{**row, "body": ERASED} for row in before["comments"]]
    # Counts, amounts and stages are what they were; another customer is untouched.
    assert {key: len(value) for key, value in after.items()} == {
        key: len(value) for key, value in before.items()
    }
    assert await customer_state(owner_sessions, pw, "cUs") == untouched


async def test_the_erasure_is_recorded_and_the_chain_still_verifies(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    await erase(client, world.token["owner"], world.gid("cEu"))
    async with owner_sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT details, record_ids, actor_client_id FROM audit_events"
                    " WHERE org_id = :org AND type = 'privacy.erased'"
                ),
                {"org": world.owner.id},
            )
        ).all()
        report = await verify_chain(session, world.owner.id)
    [(details, record_ids, client_id)] = rows
    assert client_id == world.owner.client.client_id
    assert details["subject"] == {"type": "Customer", "id": str(world.ids["cEu"])}
    assert details["erased"]["Contact"] == {
        "ids": [str(world.ids["pEu"])],
        "fields": ["email", "fullName", "jobTitle", "phone"],
    }
    assert details["notifiedPartnerIds"] == [str(world.partner.id)]
    assert {world.ids["cEu"], world.ids["pEu"], world.ids["oP"], world.ids["kP"]} <= set(record_ids)
    assert report.intact and report.events == report.head > 0


async def test_notices_reach_exactly_the_partners_in_the_disclosure_report(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    report = await data(
        client,
        world.token["owner"],
        "query ($id: ID!) { disclosureReport(subjectId: $id) { partners { id } } }",
        id=world.gid("cEu"),
    )
    reported = {partner["id"] for partner in report["disclosureReport"]["partners"]}
    assert reported == {gid(NodeType.ORGANISATION, world.partner.id)}

    payload = await erase(client, world.token["owner"], world.gid("cEu"))
    assert {org["id"] for org in payload["erasure"]["notifiedPartners"]} == reported
    [notice] = await notices(owner_sessions, pw)
    assert notice["partner_org_id"] == world.partner.id
    assert (notice["subject_id"], notice["subject_kind"]) == (world.ids["cEu"], "Customer")
    assert notice["fields"] == [
        "Contact.email (masked)",
        "Contact.fullName",
        "Customer.id",
        "Customer.name",
    ]
    assert notice["acknowledged_at"] is None

    # Erasing a contact of the customer the second partner received tells that partner only.
    payload = await erase(client, world.token["owner"], world.gid("pUs"))
    assert [org["id"] for org in payload["erasure"]["notifiedPartners"]] == [
        gid(NodeType.ORGANISATION, world.second.id)
    ]
    by_partner = {row["partner_org_id"]: row for row in await notices(owner_sessions, pw)}
    assert set(by_partner) == {world.partner.id, world.second.id}
    assert by_partner[world.second.id]["fields"] == ["Contact.fullName"]
    assert pw.quiet.id not in by_partner


async def test_a_partner_that_received_only_the_customers_opportunities_is_told(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    """Erasure anonymises an opportunity's name: a partner that saw only that has seen the
    customer's data, and hears of the erasure."""
    world = pw.world
    await grant(
        client,
        world,
        "quiet",
        "qOpp",
        recordType="OPPORTUNITIES",
        selection="EXPLICIT",
        recordIds=[world.gid("oOpen")],
    )
    await data(
        client, pw.quiet_token, "{ opportunities(first: 5) { edges { node { name stage } } } }"
    )

    payload = await erase(client, world.token["owner"], world.gid("cEu"))

    notified = {org["id"] for org in payload["erasure"]["notifiedPartners"]}
    assert notified == {
        gid(NodeType.ORGANISATION, world.partner.id),
        gid(NodeType.ORGANISATION, pw.quiet.id),
    }
    by_partner = {row["partner_org_id"]: row for row in await notices(owner_sessions, pw)}
    assert by_partner[pw.quiet.id]["fields"] == ["Opportunity.name", "Opportunity.stage"]


async def test_erasing_again_changes_nothing_and_says_so(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    first = await erase(client, world.token["owner"], world.gid("cEu"))
    assert first["erasure"]["alreadyErased"] is False
    state = await customer_state(owner_sessions, pw, "cEu")
    before = await counts(owner_sessions, world.owner, world.partner, world.second, pw.quiet)

    for subject in ("cEu", "pEu"):  # the contact went with its customer
        again = await erase(client, world.token["owner"], world.gid(subject))
        assert again["userErrors"] == []
        assert again["erasure"]["alreadyErased"] is True
        assert again["erasure"]["erased"] == []
        assert again["erasure"]["notifiedPartners"] == []

    assert await customer_state(owner_sessions, pw, "cEu") == state
    assert (
        await counts(owner_sessions, world.owner, world.partner, world.second, pw.quiet) == before
    )


async def test_values_written_through_the_api_never_reach_the_ledger(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """Distinctive values written with every CRM mutation, then erased: the whole
    `audit_events` table (every organisation's chain) holds none of them."""
    org = await factory.organisation("Ledger")
    token = await tokens.client_credentials(client, org.client)
    values = {
        "customer": "Quillon Vantablack Ltd",
        "renamed": "Quillon Vantablack Holdings",
        "domain": "quillon-vantablack.example",
        "contact": "Quillon Vantablack",
        "email": "quillon@vantablack.example",
        "phone": "+49 30 1234 98765",
        "job": "Head of Vantablack",
        "opportunity": "Vantablack renewal",
        "next_step": "Send Quillon the quote",
        "notes": "Quillon hates calls",
        "subject": "Quillon locked out",
        "description": "Quillon's badge no longer opens the vault",
        "comment": "Rang Quillon at home",
    }

    async def write(query: str, **variables: Any) -> dict[str, Any]:
        payload: dict[str, Any] = next(
            iter((await data(client, token, query, **variables)).values())
        )
        assert payload["userErrors"] == [], payload
        return payload

    created = await write(
        CREATE_CUSTOMER,
        input={"name": values["customer"], "domain": values["domain"], "region": "EMEA"},
    )
    customer = created["customer"]["id"]
    await write(
        UPDATE_CUSTOMER, input={"customerId": customer, "version": 1, "name": values["renamed"]}
    )
    await write(
        ADD_CONTACT,
        input={
            "customerId": customer,
            "fullName": values["contact"],
            "email": values["email"],
            "phone": values["phone"],
            "jobTitle": values["job"],
        },
    )
    await write(
        OWNER_CREATE_OPPORTUNITY,
        input={
            "customerId": customer,
            "name": values["opportunity"],
            "amount": "700",
            "currency": "EUR",
            "nextStep": values["next_step"],
            "internalNotes": values["notes"],
        },
    )
    case = await write(
        OWNER_CREATE_CASE,
        input={
            "customerId": customer,
            "subject": values["subject"],
            "description": values["description"],
        },
    )
    await write(COMMENT, input={"caseId": case["case"]["id"], "body": values["comment"]})
    payload = await erase(client, token, customer)
    assert payload["erasure"]["alreadyErased"] is False
    exported = await data(
        client,
        token,
        "query ($id: ID!) { exportPersonalData(subjectId: $id) { document } }",
        id=customer,
    )
    assert values["customer"] not in json.dumps(exported)

    async with owner_sessions() as session:
        ledger = await session.scalar(
            text("SELECT string_agg(details::text, '') FROM audit_events")
        )
        events = await session.scalar(
            text("SELECT count(*) FROM audit_events WHERE org_id = :org AND type LIKE 'record.%'"),
            {"org": org.id},
        )
    assert events >= 6  # every write above, each recorded
    for name, value in values.items():
        assert value not in ledger, name
    assert str(uuid_of(customer)) in ledger
