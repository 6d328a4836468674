"""Every response that gives a partner owner data is a disclosure event: exactly what crossed.

Disclosures wait to be sealed into the owner's chain (ADR 0016); the helpers here seal the
owner's chain before reading it or the disclosure index from SQL, the API's readers seal first
on their own.

The sharing world of tests/sharing.py: the partner receives cEu (not cNone: no consent) under an
EXPLICIT CUSTOMERS grant with fullName VISIBLE, email MASKED, phone and jobTitle HIDDEN; oP
under an ASSIGNED OPPORTUNITIES grant; kP under an ASSIGNED CASES grant (SERVICE).
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.verify import verify_chain
from resolvers.ids import NodeType
from tests import tokens
from tests.factories import Factory
from tests.sealing import seal
from tests.sharing import Sessions, World, build_world, data, gid, uuid_of


@pytest.fixture
async def world(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> World:
    return await build_world(client, factory, owner_sessions)


async def disclosures(sessions: Sessions, world: World) -> list[dict[str, Any]]:
    """The owner's disclosure events, oldest first, as stored once sealed."""
    await seal(sessions, world.owner.id)
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT actor_org_id, actor_client_id, request_id, host(source_address) AS"
                " source_address, record_ids, details"
                " FROM audit_events WHERE org_id = :org AND type = 'disclosure' ORDER BY seq"
            ),
            {"org": world.owner.id},
        )
        return [dict(row) for row in rows.mappings()]


def crossed(event: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    """(grant id, purpose, kind) → {"<record id>: <field>", ...} from one disclosure event."""
    result: dict[tuple[str, str, str], set[str]] = {}
    for grant in event["details"]["grants"]:
        for group in grant["records"]:
            key = (grant["grant_id"], grant["purpose"], group["kind"])
            for record_id in group["ids"]:
                result.setdefault(key, set()).update(
                    f"{record_id}:{name}" for name in group["fields"] or [""]
                )
    return result


async def test_a_partner_list_records_exactly_the_records_and_fields_returned(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    query = """{ customers(first: 50) { edges { node {
        id name contacts { fullName email phone jobTitle } } } } }"""
    answer = await data(client, world.token["partner"], query)
    nodes = [edge["node"] for edge in answer["customers"]["edges"]]
    assert [uuid_of(node["id"]) for node in nodes] == [world.ids["cEu"]]

    [event] = await disclosures(owner_sessions, world)
    grant = str(uuid_of(world.grants["gCust"]["id"]))
    customer, contact = str(world.ids["cEu"]), str(world.ids["pEu"])
    assert crossed(event) == {
        (grant, "SALES", "Customer"): {f"{customer}:id", f"{customer}:name"},
        (grant, "SALES", "Contact"): {f"{contact}:email (masked)", f"{contact}:fullName"},
    }
    assert event["actor_org_id"] == world.partner.id
    assert event["actor_client_id"] == world.partner.client.client_id
    assert event["request_id"]
    assert event["source_address"] == "127.0.0.1"  # the test client's address
    assert sorted(event["record_ids"]) == sorted([world.ids["cEu"], world.ids["pEu"]])
    assert event["details"]["partner_org_id"] == str(world.partner.id)


async def test_withheld_fields_never_count_and_unselected_fields_do_not_either(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await data(
        client,
        world.token["partner"],
        "{ opportunities(first: 50) { edges { node { id internalNotes stage } } } }",
    )
    [event] = await disclosures(owner_sessions, world)
    opportunity = str(world.ids["oP"])
    assert crossed(event) == {
        (str(uuid_of(world.grants["gOpp"]["id"])), "SALES", "Opportunity"): {
            f"{opportunity}:id",
            f"{opportunity}:stage",
        }
    }


async def test_nested_records_and_fragments_count_under_their_own_grants(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    query = """query ($id: ID!) { node(id: $id) { id
        ... on Case { subject comments { body } customer { name } } } }"""
    await data(client, world.token["partner"], query, id=world.gid("kP"))
    [event] = await disclosures(owner_sessions, world)
    case, customer = str(world.ids["kP"]), str(world.ids["cEu"])
    result = crossed(event)
    gcase = str(uuid_of(world.grants["gCase"]["id"]))
    assert result[(gcase, "SERVICE", "Case")] == {f"{case}:id", f"{case}:subject"}
    [comment] = result[(gcase, "SERVICE", "CaseComment")]
    assert comment.endswith(":body")
    assert result[(str(uuid_of(world.grants["gCust"]["id"])), "SALES", "Customer")] == {
        f"{customer}:name"
    }


async def test_owners_reading_their_own_records_disclose_nothing(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await world.lists(client, "owner")
    await world.lists(client, "stranger")
    assert await disclosures(owner_sessions, world) == []


async def test_the_disclosure_index_counts_first_and_last_time(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    query = "{ customers(first: 50) { edges { node { name contacts { email } } } } }"
    for _ in range(3):
        await data(client, world.token["partner"], query)
    await seal(owner_sessions, world.owner.id)
    async with owner_sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT subject_id, customer_id, subject_kind, partner_org_id, grant_id,"
                    " purpose, field, times, first_at < last_at AS later"
                    " FROM disclosures WHERE org_id = :org ORDER BY subject_kind, field"
                ),
                {"org": world.owner.id},
            )
        ).all()
    grant = uuid_of(world.grants["gCust"]["id"])
    partner, customer, contact = world.partner.id, world.ids["cEu"], world.ids["pEu"]
    assert [tuple(row) for row in rows] == [
        (contact, customer, "Contact", partner, grant, "SALES", "email (masked)", 3, True),
        (customer, customer, "Customer", partner, grant, "SALES", "name", 3, True),
    ]


async def test_a_disclosure_that_cannot_be_recorded_fails_the_response(
    client: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    owner_sessions: Sessions,
    world: World,
) -> None:
    """The table disclosures wait in is gone for a moment: nothing may go out unaudited."""
    waiting = "audit_pending_disclosures"
    async with owner_engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {waiting} RENAME TO disclosures_away"))
    try:
        response = await tokens.graphql(
            client, world.token["partner"], "{ customers(first: 5) { edges { node { name } } } }"
        )
    finally:
        async with owner_engine.begin() as connection:
            await connection.execute(text(f"ALTER TABLE disclosures_away RENAME TO {waiting}"))
    assert response.status_code == 500
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert "Customer" not in response.text and "name" not in str(body["data"])
    assert await disclosures(owner_sessions, world) == []


async def test_disclosures_keep_the_owners_chain_intact(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    for who in ("partner", "second", "partner"):
        await world.lists(client, who)
    async with owner_sessions() as session:
        report = await verify_chain(session, world.owner.id)
    assert report.intact, report
    events = await disclosures(owner_sessions, world)
    assert [event["actor_org_id"] for event in events] == [
        world.partner.id,
        world.second.id,
        world.partner.id,
    ]
    assert all(
        isinstance(uuid.UUID(event["details"]["partner_org_id"]), uuid.UUID) for event in events
    )


REPORT = """query ($id: ID!) { disclosureReport(subjectId: $id) {
    subjectId firstAt lastAt partners { id name }
    entries { partner { name } subjectId grantId purpose field times firstAt lastAt } } }"""


async def test_the_disclosure_report_answers_who_has_seen_a_customer(
    client: httpx.AsyncClient, world: World
) -> None:
    query = "{ customers(first: 50) { edges { node { name contacts { fullName email } } } } }"
    await data(client, world.token["partner"], query)
    await data(client, world.token["partner"], query)
    await data(client, world.token["second"], query)  # its grant reaches no consenting customer

    report = (await data(client, world.token["owner"], REPORT, id=world.gid("cEu")))[
        "disclosureReport"
    ]
    grant = world.grants["gCust"]["id"]
    assert [partner["name"] for partner in report["partners"]] == [world.partner.name]
    assert [
        (e["partner"]["name"], e["subjectId"], e["grantId"], e["purpose"], e["field"], e["times"])
        for e in report["entries"]
    ] == [
        (world.partner.name, world.gid("cEu"), grant, "SALES", "name", 2),
        (world.partner.name, world.gid("pEu"), grant, "SALES", "email (masked)", 2),
        (world.partner.name, world.gid("pEu"), grant, "SALES", "fullName", 2),
    ]
    assert report["firstAt"] < report["lastAt"]

    contact = (await data(client, world.token["owner"], REPORT, id=world.gid("pEu")))[
        "disclosureReport"
    ]
    assert [entry["field"] for entry in contact["entries"]] == ["email (masked)", "fullName"]
    untouched = (await data(client, world.token["owner"], REPORT, id=world.gid("cUs")))[
        "disclosureReport"
    ]
    assert untouched["entries"] == [] and untouched["partners"] == []
    assert untouched["firstAt"] is None


async def test_the_report_covers_the_customers_opportunities_and_cases(
    client: httpx.AsyncClient, world: World
) -> None:
    """A partner that received only a customer's opportunities, or only its cases, has seen
    that customer's data all the same."""
    await data(
        client,
        world.token["second"],
        "{ opportunities(first: 50) { edges { node { name stage } } } }",
    )
    await data(
        client, world.token["partner"], "{ cases(first: 50) { edges { node { subject } } } }"
    )

    us = (await data(client, world.token["owner"], REPORT, id=world.gid("cUs")))["disclosureReport"]
    assert [partner["name"] for partner in us["partners"]] == [world.second.name]
    assert [(e["subjectId"], e["grantId"], e["field"], e["times"]) for e in us["entries"]] == [
        (world.gid("oQ"), world.grants["hOpp"]["id"], "name", 1),
        (world.gid("oQ"), world.grants["hOpp"]["id"], "stage", 1),
    ]
    eu = (await data(client, world.token["owner"], REPORT, id=world.gid("cEu")))["disclosureReport"]
    assert [
        (e["partner"]["name"], e["subjectId"], e["purpose"], e["field"]) for e in eu["entries"]
    ] == [(world.partner.name, world.gid("kP"), "SERVICE", "subject")]


async def test_the_index_equals_the_ledger_folded_afresh(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, owner_sessions: Sessions, world: World
) -> None:
    """Migration 20261206_disclosure_records folds the opportunities and cases already in the
    ledger into the index: done again on this owner's events, it rebuilds exactly the rows
    the appends kept."""
    for who, query in (
        ("partner", "{ opportunities(first: 50) { edges { node { name nextStep } } } }"),
        ("second", "{ opportunities(first: 50) { edges { node { name amount } } } }"),
        ("partner", "{ cases(first: 50) { edges { node { subject status } } } }"),
        ("partner", "{ opportunities(first: 50) { edges { node { name } } } }"),
    ):
        await data(client, world.token[who], query)
    assert await seal(owner_sessions, world.owner.id) == 4
    path = Path(__file__).parents[2] / "migrations/versions/20261206_disclosure_records.py"
    spec = importlib.util.spec_from_file_location("disclosure_records", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    rows = text(
        "SELECT subject_id, customer_id, subject_kind, partner_org_id, grant_id, purpose, field,"
        " first_at, last_at, times FROM disclosures WHERE org_id = :org"
        " AND subject_kind IN ('Opportunity', 'Case') ORDER BY subject_id, partner_org_id, field"
    )
    async with owner_engine.begin() as connection:
        kept = (await connection.execute(rows, {"org": world.owner.id})).all()
        await connection.execute(
            text(
                "DELETE FROM disclosures WHERE org_id = :org AND subject_kind IN"
                " ('Opportunity', 'Case')"
            ),
            {"org": world.owner.id},
        )
        await connection.execute(text(migration._FOLD_EARLIER))
        folded = (await connection.execute(rows, {"org": world.owner.id})).all()
    assert len(kept) == 6  # oP name and nextStep, oQ name and amount, kP subject and status
    assert folded == kept


async def test_the_disclosure_report_is_the_owners_alone(
    client: httpx.AsyncClient, world: World
) -> None:
    await data(client, world.token["partner"], "{ customers(first: 5) { edges { node { id } } } }")
    for who in ("partner", "second", "stranger"):
        answer = await data(client, world.token[who], REPORT, id=world.gid("cEu"))
        assert answer == {"disclosureReport": None}, who
    missing = await data(
        client, world.token["owner"], REPORT, id=gid(NodeType.CUSTOMER, uuid.uuid4())
    )
    assert missing == {"disclosureReport": None}


async def test_the_disclosure_report_needs_audit_read(
    client: httpx.AsyncClient, world: World
) -> None:
    token = await tokens.client_credentials(client, world.owner.client, "customers:read")
    response = await tokens.graphql(client, token, REPORT, {"id": world.gid("cEu")})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "subject", ["", "not-an-id", "T3Bwb3J0dW5pdHk6MQ==", "SOPPORTUNITY", "\u00e9"]
)
async def test_a_bad_subject_id_is_a_clear_error(
    client: httpx.AsyncClient, world: World, subject: str
) -> None:
    opportunity = world.gid("oP")
    response = await tokens.graphql(
        client,
        world.token["owner"],
        REPORT,
        {"id": opportunity if subject == "SOPPORTUNITY" else subject},
    )
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "customers or contacts" in error["message"]
