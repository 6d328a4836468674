"""The demo seed, written into databases of its own on the session's embedded server.

The shared test database holds other tests' organisations, so each seed here gets a fresh
database (migrated like production) and drops it afterwards: counts are then exact.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access.scopes import ALL_SCOPES, Scope
from hub.app import create_app
from hub.cases.models import CasePriority, CaseStatus
from hub.db import app_role_url, create_engine, session_factory
from hub.demo import DemoAlreadySeeded, DemoCredentials, seed_demo
from hub.embedded import EmbeddedPostgres
from hub.migrate import upgrade
from hub.opportunities.models import OpportunityStage
from hub.orgs.credentials import verify_secret
from hub.settings import Settings
from tests import tokens

# A fixed anchor: two seeds agree even when the test runs across midnight.
DEMO_NOW = datetime(2026, 11, 23, tzinfo=UTC)

SOFTWARE_OWNER = "Northwind Software"
HARDWARE_OWNER = "Contoso Hardware"
DISTRIBUTOR = "Fabrikam Distribution"
RESELLER = "Litware Resellers"
SUPPLIER = "Adventure Works Supply"
OWNERS = {SOFTWARE_OWNER, HARDWARE_OWNER}
ORGANISATIONS = [SOFTWARE_OWNER, HARDWARE_OWNER, DISTRIBUTOR, RESELLER, SUPPLIER]

# Every table the seed writes, except api_clients, whose ids and secrets are random on purpose.
SEEDED_TABLES = (
    "organisations",
    "users",
    "partnerships",
    "customers",
    "contacts",
    "opportunities",
    "cases",
    "case_comments",
    "grants",
    "grant_records",
    "deal_registrations",
)


@dataclass(frozen=True)
class DemoDatabase:
    engine: AsyncEngine
    credentials: DemoCredentials


@pytest.fixture(scope="module")
async def owner_admin(postgres: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    """An owner connection outside transactions, for CREATE and DROP DATABASE."""
    engine = create_engine(postgres.owner_url, pool_size=1).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    yield engine
    await engine.dispose()


async def create_migrated_database(
    postgres: EmbeddedPostgres, admin: AsyncEngine
) -> tuple[str, str]:
    """A new database on the session server, migrated to head; returns (name, owner URL)."""
    name = f"hub_demo_{uuid.uuid4().hex[:12]}"
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres.owner_url).set(database=name).render_as_string(hide_password=False)
    # alembic's env.py runs its own event loop, which cannot nest inside this one.
    await asyncio.to_thread(upgrade, url)
    return name, url


async def drop_database(admin: AsyncEngine, name: str) -> None:
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
async def seeded_databases(
    postgres: EmbeddedPostgres, owner_admin: AsyncEngine
) -> AsyncIterator[list[DemoDatabase]]:
    """Two fresh databases, each seeded once with the same seed and anchor."""
    names: list[str] = []
    engines: list[AsyncEngine] = []
    databases: list[DemoDatabase] = []
    try:
        for _ in range(2):
            name, url = await create_migrated_database(postgres, owner_admin)
            names.append(name)
            engines.append(create_engine(url, pool_size=1))
            async with session_factory(engines[-1])() as session, session.begin():
                credentials = await seed_demo(session, now=DEMO_NOW)
            databases.append(DemoDatabase(engines[-1], credentials))
        yield databases
    finally:
        for engine in engines:
            await engine.dispose()
        for name in names:
            await drop_database(owner_admin, name)


@pytest.fixture(scope="module")
def demo(seeded_databases: list[DemoDatabase]) -> DemoDatabase:
    return seeded_databases[0]


async def fetch(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(sql))).all())


async def per_owner(engine: AsyncEngine, sql: str) -> dict[str, Any]:
    """`sql` selects (organisation name, value) rows grouped by organisation."""
    return {name: value for name, value in await fetch(engine, sql)}


async def test_five_organisations_two_owners_three_partners(demo: DemoDatabase) -> None:
    names = [row.name for row in await fetch(demo.engine, "SELECT name FROM organisations")]
    owners = await fetch(
        demo.engine,
        "SELECT DISTINCT o.name FROM partnerships p JOIN organisations o ON o.id = p.org_id",
    )
    partners = await fetch(
        demo.engine,
        "SELECT DISTINCT o.name FROM partnerships p"
        " JOIN organisations o ON o.id = p.partner_org_id",
    )

    assert sorted(names) == sorted(ORGANISATIONS)
    assert {row.name for row in owners} == OWNERS
    # The design's two owners: a software vendor and a hardware manufacturer.
    assert {row.name.split()[-1] for row in owners} == {"Software", "Hardware"}
    assert {row.name for row in partners} == {DISTRIBUTOR, RESELLER, SUPPLIER}


async def test_partnerships_by_role(demo: DemoDatabase) -> None:
    """One distributor works for both owners; the reseller and supplier for the software one."""
    rows = await fetch(
        demo.engine,
        """
        SELECT owner.name AS owner, partner.name AS partner, p.role, p.status
        FROM partnerships p
        JOIN organisations owner ON owner.id = p.org_id
        JOIN organisations partner ON partner.id = p.partner_org_id
        """,
    )

    assert {tuple(row) for row in rows} == {
        (SOFTWARE_OWNER, DISTRIBUTOR, "DISTRIBUTOR", "ACTIVE"),
        (HARDWARE_OWNER, DISTRIBUTOR, "DISTRIBUTOR", "ACTIVE"),
        (SOFTWARE_OWNER, RESELLER, "RESELLER", "ACTIVE"),
        (SOFTWARE_OWNER, SUPPLIER, "SUPPLIER", "ACTIVE"),
    }
    assert len(rows) == 4


async def test_only_owners_hold_crm_records(demo: DemoDatabase) -> None:
    for table in ("customers", "opportunities", "cases"):
        holders = await fetch(
            demo.engine,
            f"SELECT DISTINCT o.name FROM {table} t JOIN organisations o ON o.id = t.org_id",  # noqa: S608
        )
        assert {row.name for row in holders} == OWNERS, table


async def test_each_owner_has_customers_with_contacts(demo: DemoDatabase) -> None:
    customers = await per_owner(
        demo.engine,
        "SELECT o.name, count(*) FROM customers c JOIN organisations o ON o.id = c.org_id"
        " GROUP BY o.name",
    )
    without_contacts = await fetch(
        demo.engine,
        "SELECT c.id FROM customers c WHERE NOT EXISTS"
        " (SELECT 1 FROM contacts k WHERE k.org_id = c.org_id AND k.customer_id = c.id)",
    )
    contacts = await per_owner(
        demo.engine,
        "SELECT o.name, count(*) FROM contacts k JOIN organisations o ON o.id = k.org_id"
        " GROUP BY o.name",
    )

    assert set(customers) == OWNERS
    assert all(count >= 200 for count in customers.values()), customers
    assert without_contacts == []
    assert all(contacts[owner] >= customers[owner] for owner in OWNERS), contacts


async def test_each_owner_has_opportunities_in_every_stage(demo: DemoDatabase) -> None:
    counts = await per_owner(
        demo.engine,
        "SELECT o.name, count(*) FROM opportunities x JOIN organisations o ON o.id = x.org_id"
        " GROUP BY o.name",
    )
    stages = await per_owner(
        demo.engine,
        "SELECT o.name, array_agg(DISTINCT x.stage) FROM opportunities x"
        " JOIN organisations o ON o.id = x.org_id GROUP BY o.name",
    )

    assert set(counts) == OWNERS
    assert all(count >= 500 for count in counts.values()), counts
    for owner in OWNERS:
        assert set(stages[owner]) == {stage.value for stage in OpportunityStage}, owner


async def test_each_owner_has_cases_in_every_status_and_priority(demo: DemoDatabase) -> None:
    counts = await per_owner(
        demo.engine,
        "SELECT o.name, count(*) FROM cases c JOIN organisations o ON o.id = c.org_id"
        " GROUP BY o.name",
    )
    statuses = await per_owner(
        demo.engine,
        "SELECT o.name, array_agg(DISTINCT c.status) FROM cases c"
        " JOIN organisations o ON o.id = c.org_id GROUP BY o.name",
    )
    priorities = await per_owner(
        demo.engine,
        "SELECT o.name, array_agg(DISTINCT c.priority) FROM cases c"
        " JOIN organisations o ON o.id = c.org_id GROUP BY o.name",
    )

    assert set(counts) == OWNERS
    assert all(count >= 200 for count in counts.values()), counts
    for owner in OWNERS:
        assert set(statuses[owner]) == {status.value for status in CaseStatus}, owner
        assert set(priorities[owner]) == {priority.value for priority in CasePriority}, owner


async def test_one_api_client_per_organisation(demo: DemoDatabase) -> None:
    rows = await fetch(
        demo.engine,
        "SELECT o.name, a.client_id, a.secret_hash, a.allowed_scopes"
        " FROM api_clients a JOIN organisations o ON o.id = a.org_id",
    )
    stored = {row.name: row for row in rows}
    issued = {client.organisation: client for client in demo.credentials.clients}

    assert len(rows) == len(ORGANISATIONS)
    assert set(stored) == set(ORGANISATIONS)
    assert set(issued) == set(ORGANISATIONS)
    for name, client in issued.items():
        assert stored[name].client_id == client.client_id
        assert verify_secret(stored[name].secret_hash, client.client_secret)
        assert sorted(stored[name].allowed_scopes) == sorted(client.scopes)


async def test_owner_clients_hold_every_scope_and_partners_read_only_crm(
    demo: DemoDatabase,
) -> None:
    for client in demo.credentials.clients:
        scopes = set(client.scopes)
        if client.organisation in OWNERS:
            assert scopes == ALL_SCOPES, client.organisation
        else:
            assert Scope.CUSTOMERS_READ in scopes, client.organisation
            assert Scope.CUSTOMERS_WRITE not in scopes, client.organisation
            assert Scope.PARTNERS_MANAGE not in scopes, client.organisation


async def test_seed_is_deterministic(seeded_databases: list[DemoDatabase]) -> None:
    """Same seed, same anchor: every seeded row is identical, ids and timestamps included."""
    first, second = seeded_databases

    for table in SEEDED_TABLES:
        # Table names are the constants above, never input.
        sql = f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"  # noqa: S608
        [(count, digest)] = await fetch(first.engine, sql)
        assert count > 0, table
        assert await fetch(second.engine, sql) == [(count, digest)], table

    names = "SELECT name FROM customers ORDER BY name"
    assert await fetch(first.engine, names) == await fetch(second.engine, names)


async def test_clients_differ_between_seeds(seeded_databases: list[DemoDatabase]) -> None:
    """Client ids and secrets come from `secrets`, so a copied demo never shares credentials."""
    first, second = (database.credentials.clients for database in seeded_databases)

    assert [client.organisation for client in first] == [client.organisation for client in second]
    assert {client.client_id for client in first}.isdisjoint(client.client_id for client in second)


async def test_seeding_again_raises_and_writes_nothing(demo: DemoDatabase) -> None:
    before = await fetch(demo.engine, "SELECT count(*) FROM organisations")

    async with session_factory(demo.engine)() as session, session.begin():
        with pytest.raises(DemoAlreadySeeded):
            await seed_demo(session, now=DEMO_NOW)

    assert await fetch(demo.engine, "SELECT count(*) FROM organisations") == before


def test_credentials_json_has_the_shape_the_cli_writes(demo: DemoDatabase) -> None:
    document = demo.credentials.to_json()

    assert json.loads(json.dumps(document)) == document
    assert list(document) == ["clients"]
    clients = document["clients"]
    assert isinstance(clients, list)
    assert [client["organisation"] for client in clients] == ORGANISATIONS
    assert [client["role"] for client in clients] == [
        "OWNER",
        "OWNER",
        "DISTRIBUTOR",
        "RESELLER",
        "SUPPLIER",
    ]
    for client, issued in zip(clients, demo.credentials.clients, strict=True):
        assert set(client) == {"organisation", "role", "client_id", "client_secret", "scopes"}
        assert client["client_id"] == issued.client_id
        assert client["client_secret"] == issued.client_secret
        assert client["scopes"] == list(issued.scopes)
        assert all(isinstance(scope, str) for scope in client["scopes"])


SHARED = """query {
    dealRegistrations(first: 20) { edges { node { status claimedByAnotherPartner
        conflicts { kind } } } }
    customers(first: 100) { edges { node { id contacts { email phone } } } }
    opportunities(first: 100) { edges { node { id internalNotes } } }
    cases(first: 100) { edges { node { id raisedBy { name } } } }
    grants(first: 50) { edges { node { recordType selection purpose live } } } }"""


async def test_each_partner_sees_sharing_at_work_with_its_printed_credentials(
    demo: DemoDatabase,
) -> None:
    """Through the API, as a new user would: each partner's client sees what its grants share."""
    owner_url = demo.engine.url.render_as_string(hide_password=False)
    app = create_app(
        Settings(issuer="http://hub.test", audience="partner-hub"), app_role_url(owner_url, None)
    )
    seen: dict[str, dict[str, list[dict[str, Any]]]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            for client in demo.credentials.clients:
                if client.organisation == HARDWARE_OWNER:
                    continue
                token = await tokens.client_credentials(http, client)  # type: ignore[arg-type]
                response = await tokens.graphql(http, token, SHARED)
                assert "errors" not in response.json(), response.text
                seen[client.organisation] = {
                    name: [edge["node"] for edge in page["edges"]]
                    for name, page in response.json()["data"].items()
                }

    litware, adventure, fabrikam = seen[RESELLER], seen[SUPPLIER], seen[DISTRIBUTOR]
    # Litware: its assigned deals (no internal notes) and their customers, e-mail masked.
    assert litware["opportunities"] and litware["customers"]
    assert {node["internalNotes"] for node in litware["opportunities"]} == {None}
    contacts = [contact for node in litware["customers"] for contact in node["contacts"]]
    assert contacts and all(
        "•" in contact["email"] and contact["phone"] is None for contact in contacts
    )
    assert sorted(grant["live"] for grant in litware["grants"]) == [False, True, True]
    # Adventure Works: six named customers for marketing, phone masked; its revoked case grant
    # shows nothing.
    assert len(adventure["customers"]) == 6 and not adventure["cases"]
    contacts = [contact for node in adventure["customers"] for contact in node["contacts"]]
    assert contacts and all(
        "@" in contact["email"] and "•" not in contact["email"] for contact in contacts
    )
    assert all(contact["phone"] is None or "•" in contact["phone"] for contact in contacts)
    assert {grant["selection"] for grant in adventure["grants"]} == {"EXPLICIT", "SEGMENT"}
    # Fabrikam: the cases it raised for both owners, and each owner's regional segment.
    assert {node["raisedBy"]["name"] for node in fabrikam["cases"]} == {DISTRIBUTOR}
    assert fabrikam["customers"] and fabrikam["opportunities"]
    # Litware's claim on a company Adventure Works registered first is flagged, never named.
    assert sorted(node["claimedByAnotherPartner"] for node in litware["dealRegistrations"]) == [
        False,
        True,
    ]
    # Northwind's review queue shows the conflicts: an existing customer, another registration.
    queue = seen[SOFTWARE_OWNER]["dealRegistrations"]
    assert {node["status"] for node in queue} == {"PENDING"} and len(queue) == 3
    kinds = {conflict["kind"] for node in queue for conflict in node["conflicts"]}
    assert {"CUSTOMER", "REGISTRATION"} <= kinds
    del seen[SOFTWARE_OWNER]
    purposes = {grant["purpose"] for grants in seen.values() for grant in grants["grants"]}
    assert purposes == {"SALES", "SERVICE", "MARKETING"}


RECEIVED = """{ grants(first: 50) { edges { node { recordType live
    partnership { side owner { id name } } } } } }"""
LISTED = {"OPPORTUNITIES": "opportunities", "CUSTOMERS": "customers", "CASES": "cases"}


async def test_every_live_grant_of_the_demo_shares_something(demo: DemoDatabase) -> None:
    """Each demo partner sees records of every owner that gives it a live grant, of each type
    that grant shares: no grant selects a value the owner's data never has."""
    owner_url = demo.engine.url.render_as_string(hide_password=False)
    app = create_app(
        Settings(issuer="http://hub.test", audience="partner-hub"), app_role_url(owner_url, None)
    )
    seen: set[tuple[str, str, str]] = set()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            for client in demo.credentials.clients:
                token = await tokens.client_credentials(http, client)  # type: ignore[arg-type]
                grants = (await tokens.graphql(http, token, RECEIVED)).json()["data"]["grants"]
                nodes = [edge["node"] for edge in grants["edges"]]
                received = {
                    (owner["id"], owner["name"], node["recordType"])
                    for node in nodes
                    if node["live"] and node["partnership"]["side"] == "PARTNER"
                    for owner in (node["partnership"]["owner"],)
                }
                for owner_id, owner_name, record_type in sorted(received):
                    field = LISTED[record_type]
                    query = (
                        f"query ($owner: ID!) {{ {field}(first: 1, filter: {{owner: $owner}})"
                        " { edges { node { id } } } }"
                    )
                    answer = await tokens.graphql(http, token, query, {"owner": owner_id})
                    edges = answer.json()["data"][field]["edges"]
                    assert edges, f"{client.organisation} sees no {field} of {owner_name}"
                    seen.add((client.organisation, owner_name, record_type))
    # Fabrikam distributes for both owners: opportunities of each.
    assert {owner for partner, owner, kind in seen if partner == DISTRIBUTOR} == {
        SOFTWARE_OWNER,
        HARDWARE_OWNER,
    }
    assert len({partner for partner, _, _ in seen}) == 3
