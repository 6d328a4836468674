"""Disclosures wait unsealed without any lock, and sealing chains them in exactly once (ADR 0016).

The sharing world of tests/sharing.py: `partner` receives cEu (with contact pEu) and oP, `second`
receives oQ; the stranger is partnered with nobody. The shared test app seals nothing in the
background, so what waits stays waiting until a test (or a reader of the trail) seals it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.app import create_app
from hub.audit.chain import canonical, link, text_digest
from hub.audit.record import Event, EventType, document_of
from hub.audit.sealer import seal_everything, seal_pending
from hub.audit.verify import verify_chain, verify_unsealed
from hub.retention.apply import apply_policy
from hub.settings import Settings
from tests import tokens
from tests.api.test_record_events import CREATE_CUSTOMER
from tests.audit.test_access_trail import trail
from tests.audit.test_ledger import tamper
from tests.factories import Factory
from tests.privacy.world import ERASE, EXPORT
from tests.retention.ledger import set_policy
from tests.sealing import seal
from tests.sharing import Sessions, World, build_world, data

CUSTOMERS = "{ customers(first: 50) { edges { node { id name contacts { fullName } } } } }"
OPPORTUNITIES = "{ opportunities(first: 50) { edges { node { id name } } } }"
REPORT = """query ($id: ID!) { disclosureReport(subjectId: $id) {
    partners { name } entries { subjectId field times } } }"""
EVENTS = """{ auditEvents(first: 100, filter: {types: ["disclosure"]}) {
    edges { node { id actor { organisationId } } } } }"""

# Long enough for a loaded 2-core machine to answer a read; a read that waited on the lock
# held here would never answer before the lock is let go.
PROMPTLY = 20.0


@pytest.fixture
async def world(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> World:
    return await build_world(client, factory, owner_sessions)


async def waiting(sessions: Sessions, owner: uuid.UUID) -> list[dict[str, Any]]:
    """The disclosures waiting for `owner`'s chain, in id order."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT id, actor_org_id, event_id, document, digest"
                " FROM audit_pending_disclosures WHERE org_id = :org ORDER BY id"
            ),
            {"org": owner},
        )
        return [dict(row) for row in rows.mappings()]


async def chained_disclosures(sessions: Sessions, owner: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the disclosure events in `owner`'s chain, in chain order."""
    async with sessions() as session:
        found = await session.scalars(
            text(
                "SELECT id FROM audit_events WHERE org_id = :org AND type = 'disclosure'"
                " ORDER BY seq"
            ),
            {"org": owner},
        )
        return list(found.all())


async def index_rows(sessions: Sessions, owner: uuid.UUID) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT subject_id, partner_org_id, field, times FROM disclosures"
                " WHERE org_id = :org ORDER BY subject_id, partner_org_id, field"
            ),
            {"org": owner},
        )
        return [tuple(row) for row in rows]


# --- a read writes a waiting row, sealing chains it ----------------------------------------


async def test_a_partner_read_waits_unsealed_and_sealing_chains_it(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    await data(client, world.token["partner"], CUSTOMERS)
    await data(client, world.token["second"], OPPORTUNITIES)

    rows = await waiting(owner_sessions, world.owner.id)
    # One row per request and owner, each the partner's, nothing in the chain or the index yet.
    assert [row["actor_org_id"] for row in rows] == [
        world.partner.id,
        world.partner.id,
        world.second.id,
    ]
    assert await chained_disclosures(owner_sessions, world.owner.id) == []
    assert await index_rows(owner_sessions, world.owner.id) == []

    assert await seal(owner_sessions, world.owner.id) == 3

    assert await waiting(owner_sessions, world.owner.id) == []
    assert await chained_disclosures(owner_sessions, world.owner.id) == [
        row["event_id"] for row in rows
    ]
    async with owner_sessions() as session:
        report = await verify_chain(session, world.owner.id)
    assert report.intact, report
    customer, contact = world.ids["cEu"], world.ids["pEu"]
    partner, second, opportunity = world.partner.id, world.second.id, world.ids["oQ"]
    assert await index_rows(owner_sessions, world.owner.id) == sorted(
        [
            (customer, partner, "id", 2),
            (customer, partner, "name", 2),
            (contact, partner, "fullName", 2),
            (opportunity, second, "id", 1),
            (opportunity, second, "name", 1),
        ]
    )


async def test_the_chained_event_is_the_document_the_read_wrote(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    """Same canonical text, same digest: the sealed event rehashes to its link like any other."""
    await data(client, world.token["partner"], OPPORTUNITIES)
    [row] = await waiting(owner_sessions, world.owner.id)
    await seal(owner_sessions, world.owner.id)
    async with owner_sessions() as session:
        stored = (
            await session.execute(
                text(
                    "SELECT e.seq, e.hash, p.hash AS previous FROM audit_events e"
                    " JOIN audit_events p ON p.org_id = e.org_id AND p.seq = e.seq - 1"
                    " WHERE e.org_id = :org AND e.id = :id"
                ),
                {"org": world.owner.id, "id": row["event_id"]},
            )
        ).one()
    assert bytes(row["digest"]) == text_digest(row["document"])
    assert bytes(stored.hash) == link(bytes(stored.previous), stored.seq, bytes(row["digest"]))


# --- a read never waits on the owner's chain -----------------------------------------------


@pytest.fixture
async def held_chain_head(
    owner_engine: AsyncEngine, world: World
) -> AsyncIterator[AsyncConnection]:
    """Another transaction holds the owner's chain head, as an append does until it commits."""
    async with owner_engine.connect() as connection:
        transaction = await connection.begin()
        head = await connection.scalar(
            text("SELECT seq FROM audit_chain_heads WHERE org_id = :org FOR UPDATE"),
            {"org": world.owner.id},
        )
        assert head is not None  # the world's grants are in the chain already
        try:
            yield connection
        finally:
            await transaction.rollback()


async def test_partner_reads_complete_while_the_owners_chain_head_is_locked(
    client: httpx.AsyncClient,
    owner_sessions: Sessions,
    world: World,
    held_chain_head: AsyncConnection,
) -> None:
    reads = [
        data(client, world.token["partner" if number % 2 else "second"], OPPORTUNITIES)
        for number in range(8)
    ]
    await asyncio.wait_for(asyncio.gather(*reads), PROMPTLY)
    assert len(await waiting(owner_sessions, world.owner.id)) == 8

    # A sealer skips the held chain this round instead of waiting for it.
    async with owner_sessions() as session, session.begin():
        await asyncio.wait_for(seal_pending(session), PROMPTLY)
    assert len(await waiting(owner_sessions, world.owner.id)) == 8
    assert await chained_disclosures(owner_sessions, world.owner.id) == []


async def test_an_owners_write_does_wait_for_the_held_head(
    client: httpx.AsyncClient, world: World, owner_engine: AsyncEngine
) -> None:
    """The control: what still appends at commit queues on the lock the reads above pass by."""
    async with owner_engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            text("SELECT seq FROM audit_chain_heads WHERE org_id = :org FOR UPDATE"),
            {"org": world.owner.id},
        )
        write = asyncio.create_task(
            data(client, world.token["owner"], CREATE_CUSTOMER, input={"name": "Queued Ltd"})
        )
        await asyncio.sleep(1.5)
        assert not write.done()
        await transaction.rollback()
    created = await asyncio.wait_for(write, PROMPTLY)
    assert created["createCustomer"]["userErrors"] == []


# --- sealers never seal a row twice, and never wait on each other --------------------------


def disclosure_document(owner: uuid.UUID, partner: uuid.UUID, customer: uuid.UUID) -> str:
    grant = {
        "grant_id": str(uuid.uuid5(owner, "grant")),
        "purpose": "SALES",
        "records": [
            {
                "kind": "Customer",
                "ids": [str(customer)],
                "customer_ids": [str(customer)],
                "fields": ["name"],
            }
        ],
    }
    event = Event(
        type=EventType.DISCLOSURE,
        org_id=owner,
        actor_org_id=partner,
        client_id="sealing-test",
        record_ids=[customer],
        details={"partner_org_id": str(partner), "grants": [grant]},
    )
    return canonical(document_of(event))


async def disclose(app_engine: AsyncEngine, partner: uuid.UUID, documents: list[str]) -> None:
    """Write waiting disclosures as the application role does at a read's commit."""
    async with app_engine.begin() as connection:
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(partner)}
        )
        await connection.execute(
            text(
                "INSERT INTO audit_pending_disclosures (document)"
                " SELECT unnest(CAST(:documents AS text[]))"
            ),
            {"documents": documents},
        )


async def seal_on(connection: AsyncConnection, max_rows: int) -> int:
    sealed = await connection.scalar(text("SELECT hub_audit_seal(:rows)"), {"rows": max_rows})
    assert isinstance(sealed, int)
    return sealed


async def test_two_sealers_at_once_seal_every_row_exactly_once(
    client: httpx.AsyncClient,
    factory: Factory,
    app_engine: AsyncEngine,
    owner_sessions: Sessions,
    world: World,
) -> None:
    other = await build_world(client, factory, owner_sessions)
    await seal_everything(owner_sessions)  # only this test's rows wait from here on
    owners = {world.owner.id: world, other.owner.id: other}
    documents: dict[uuid.UUID, list[str]] = {owner: [] for owner in owners}
    for _ in range(30):
        for owner, where in owners.items():
            document = disclosure_document(owner, where.partner.id, where.ids["cEu"])
            documents[owner].append(document)
            await disclose(app_engine, where.partner.id, [document])
    event_ids = {
        owner: [uuid.UUID(text_of["id"]) for text_of in map(_load, texts)]
        for owner, texts in documents.items()
    }

    # The first sealer takes the oldest chain (world's) and holds its head; the second, at the
    # same time, skips that chain without waiting and seals the other one whole.
    async with app_engine.connect() as first, app_engine.connect() as second:
        first_transaction = await first.begin()
        assert await seal_on(first, 10) == 10
        second_transaction = await second.begin()
        assert await asyncio.wait_for(seal_on(second, 1_000), PROMPTLY) == 30
        await second_transaction.commit()
        await first_transaction.commit()

    # Then two sealers race in small rounds until nothing waits.
    async def drain() -> int:
        total = 0
        while True:
            async with app_engine.begin() as connection:
                sealed = await seal_on(connection, 3)
            total += sealed
            if not sealed:
                return total

    assert sum(await asyncio.gather(drain(), drain())) == 20

    for owner, expected in event_ids.items():
        assert await waiting(owner_sessions, owner) == []
        assert await chained_disclosures(owner_sessions, owner) == expected  # each once, in order
        async with owner_sessions() as session:
            report = await verify_chain(session, owner)
        assert report.intact, report
        customer = owners[owner].ids["cEu"]
        assert await index_rows(owner_sessions, owner) == [
            (customer, owners[owner].partner.id, "name", 30)
        ]


def _load(document: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(document)
    return loaded


# --- the second wall on waiting rows --------------------------------------------------------


async def as_app(app_engine: AsyncEngine, org: uuid.UUID, statement: str, **values: Any) -> Any:
    async with app_engine.begin() as connection:
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org)}
        )
        return (await connection.execute(text(statement), values)).all()


async def test_the_application_role_writes_only_its_own_disclosures_and_changes_none(
    app_engine: AsyncEngine, owner_sessions: Sessions, world: World
) -> None:
    owner, partner, second = world.owner.id, world.partner.id, world.second.id
    stranger = world.stranger.id
    mine = disclosure_document(owner, partner, world.ids["cEu"])
    await disclose(app_engine, partner, [mine])  # the control: its own disclosure goes in

    count = "SELECT count(*) FROM audit_pending_disclosures WHERE org_id = :owner"
    assert await as_app(app_engine, owner, count, owner=owner) == [(1,)]
    assert await as_app(app_engine, partner, count, owner=owner) == [(1,)]
    for other in (second, stranger):
        assert await as_app(app_engine, other, count, owner=owner) == [(0,)], other

    for statement in (
        "UPDATE audit_pending_disclosures SET document = document",
        "DELETE FROM audit_pending_disclosures",
        "TRUNCATE audit_pending_disclosures",
        "INSERT INTO audit_pending_disclosures (document, digest) VALUES ('{}', '\\x00')",
        "SELECT hub_audit_seal_chain(hub_current_org(), 1)",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            await as_app(app_engine, partner, statement)

    refusals = {
        # Another organisation's disclosure, written by the stranger: row-level security.
        (stranger, disclosure_document(owner, partner, world.ids["cEu"])): "row-level security",
        # Its own, but into the chain of an owner it is not partnered with.
        (partner, disclosure_document(stranger, partner, world.ids["cEu"])): "may not be recorded",
        # Only disclosures wait to be sealed.
        (
            partner,
            canonical(document_of(Event(type=EventType.CONSENT_CHANGED, org_id=partner))),
        ): "only disclosure events",
    }
    for (writer, document), refusal in refusals.items():
        with pytest.raises(DBAPIError, match=refusal):
            await disclose(app_engine, writer, [document])
    assert len(await waiting(owner_sessions, owner)) == 1
    assert await waiting(owner_sessions, stranger) == []


async def test_not_even_the_database_owner_changes_a_waiting_disclosure(
    app_engine: AsyncEngine, owner_engine: AsyncEngine, world: World
) -> None:
    await disclose(
        app_engine,
        world.partner.id,
        [disclosure_document(world.owner.id, world.partner.id, world.ids["cEu"])],
    )
    for statement in (
        "UPDATE audit_pending_disclosures SET document = document WHERE org_id = :org",
        "DELETE FROM audit_pending_disclosures WHERE org_id = :org",
        "TRUNCATE audit_pending_disclosures",
    ):
        async with owner_engine.begin() as connection:
            with pytest.raises(DBAPIError, match="never changed"):
                await connection.execute(text(statement), {"org": world.owner.id})


# --- verify proves waiting rows too ---------------------------------------------------------


async def tamper_waiting(owner_engine: AsyncEngine, statement: str, **values: object) -> None:
    """A waiting disclosure changed as only the database owner can, its guard switched off."""
    await tamper(owner_engine, statement, table="audit_pending_disclosures", **values)


async def test_verify_names_an_edited_waiting_disclosure_and_sealing_keeps_the_evidence(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    await data(client, world.token["second"], OPPORTUNITIES)
    first, edited = await waiting(owner_sessions, world.owner.id)
    async with owner_sessions() as session:
        intact = await verify_unsealed(session, world.owner.id)
    assert intact.intact and intact.disclosures == 2

    await tamper_waiting(
        owner_engine,
        "UPDATE audit_pending_disclosures SET document = replace(document, '\"name\"', '\"id\"')"
        " WHERE org_id = :org AND id = :id",
        org=world.owner.id,
        id=edited["id"],
    )
    async with owner_sessions() as session:
        found = await verify_unsealed(session, world.owner.id)
    assert found.broken is not None
    assert (found.broken.pending_id, found.broken.event_id) == (edited["id"], edited["event_id"])
    assert "edited" in found.broken.reason and found.disclosures == 1

    # A column beside the document edited alone is found as well.
    await tamper_waiting(
        owner_engine,
        "UPDATE audit_pending_disclosures SET actor_org_id = :other WHERE id = :id",
        other=world.stranger.id,
        id=first["id"],
    )
    async with owner_sessions() as session:
        found = await verify_unsealed(session, world.owner.id)
    assert found.broken is not None and found.broken.pending_id == first["id"]
    await tamper_waiting(
        owner_engine,
        "UPDATE audit_pending_disclosures SET actor_org_id = :partner WHERE id = :id",
        partner=world.partner.id,
        id=first["id"],
    )

    # Sealed by the digest taken at insert, the edited event breaks the chain where it lands.
    await seal(owner_sessions, world.owner.id)
    async with owner_sessions() as session:
        report = await verify_chain(session, world.owner.id)
    assert report.broken is not None
    assert report.broken.event_id == edited["event_id"] and "edited" in report.broken.reason


async def test_a_seal_that_cannot_fold_leaves_every_row_waiting(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    async with owner_engine.begin() as connection:
        await connection.execute(text("ALTER TABLE disclosures RENAME TO disclosures_away"))
    try:
        with pytest.raises(DBAPIError, match="disclosures"):
            await seal(owner_sessions, world.owner.id)
    finally:
        async with owner_engine.begin() as connection:
            await connection.execute(text("ALTER TABLE disclosures_away RENAME TO disclosures"))
    assert len(await waiting(owner_sessions, world.owner.id)) == 1
    assert await chained_disclosures(owner_sessions, world.owner.id) == []
    assert await seal(owner_sessions, world.owner.id) == 1


# --- readers of the trail seal first --------------------------------------------------------


async def test_audit_events_and_the_access_trail_include_unsealed_reads(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    [row] = await waiting(owner_sessions, world.owner.id)
    [entry] = await trail(client, world.token["partner"])
    assert (entry["type"], entry["requestId"]) == (
        "disclosure",
        _load(row["document"])["request_id"],
    )
    assert await waiting(owner_sessions, world.owner.id) == []

    await data(client, world.token["second"], OPPORTUNITIES)
    listed = (await data(client, world.token["owner"], EVENTS))["auditEvents"]["edges"]
    assert len(listed) == 2 and await waiting(owner_sessions, world.owner.id) == []


async def test_the_report_and_the_export_include_unsealed_reads(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    report = (await data(client, world.token["owner"], REPORT, id=world.gid("cEu")))[
        "disclosureReport"
    ]
    assert [partner["name"] for partner in report["partners"]] == [world.partner.name]
    assert {entry["field"] for entry in report["entries"]} == {"id", "name", "fullName"}

    await data(client, world.token["partner"], CUSTOMERS)
    exported = (await data(client, world.token["owner"], EXPORT, id=world.gid("cEu")))[
        "exportPersonalData"
    ]["document"]["tables"]
    assert {row["times"] for row in exported["disclosures"]} == {2}
    assert await waiting(owner_sessions, world.owner.id) == []


async def test_an_erasure_tells_a_partner_whose_read_was_not_sealed_yet(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    assert len(await waiting(owner_sessions, world.owner.id)) == 1
    erased = (
        await data(client, world.token["owner"], ERASE, input={"subjectId": world.gid("cEu")})
    )["erasePersonalData"]
    assert [partner["name"] for partner in erased["erasure"]["notifiedPartners"]] == [
        world.partner.name
    ]


async def test_a_retention_run_seals_the_chain_it_proves_and_cuts(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    await data(client, world.token["partner"], CUSTOMERS)
    await set_policy(owner_sessions, world.owner.id, audit_events_days=30)
    async with owner_sessions() as session, session.begin():
        outcome = await apply_policy(session, world.owner.id)
    assert outcome.refused is None
    assert await waiting(owner_sessions, world.owner.id) == []
    assert len(await chained_disclosures(owner_sessions, world.owner.id)) == 1


# --- each hub process seals in the background -----------------------------------------------


async def _read_with_background_sealing(
    settings: Settings, app_url: str, owner_sessions: Sessions, world: World
) -> None:
    """A partner's read on a hub that seals every 0.2 s, until its disclosure is chained (or
    10 s have passed)."""
    sealing = settings.model_copy(update={"seal_interval_seconds": 0.2})
    app = create_app(sealing, app_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            partner = await tokens.client_credentials(http, world.partner.client)
            await data(http, partner, CUSTOMERS)
            for _ in range(100):
                if await chained_disclosures(owner_sessions, world.owner.id):
                    break
                await asyncio.sleep(0.1)


async def test_the_hub_seals_in_the_background_within_seconds(
    settings: Settings, app_url: str, owner_sessions: Sessions, world: World
) -> None:
    await _read_with_background_sealing(settings, app_url, owner_sessions, world)
    assert len(await chained_disclosures(owner_sessions, world.owner.id)) == 1
    assert await waiting(owner_sessions, world.owner.id) == []


async def _vacuums(sessions: Sessions) -> int:
    async with sessions() as session:
        count: int = await session.scalar(
            text(
                "SELECT vacuum_count FROM pg_stat_all_tables"
                " WHERE relid = 'audit_pending_disclosures'::regclass"
            )
        )
        return count


async def test_the_background_sealer_frees_the_space_of_what_it_sealed(
    settings: Settings, app_url: str, owner_sessions: Sessions, world: World
) -> None:
    """Sealed rows' space is vacuumed for the next reads (ADR 0021): the application role may
    (MAINTAIN, PostgreSQL 17 and later), and the sealer does after a round that sealed."""
    before = await _vacuums(owner_sessions)
    await _read_with_background_sealing(settings, app_url, owner_sessions, world)
    # Statistics reach the shared counters when the sealer's backend is idle or gone.
    for _ in range(100):
        if await _vacuums(owner_sessions) > before:
            break
        await asyncio.sleep(0.1)
    assert await _vacuums(owner_sessions) > before
    assert await waiting(owner_sessions, world.owner.id) == []


async def test_the_application_role_may_vacuum_waiting_disclosures_and_no_other_table(
    app_engine: AsyncEngine,
) -> None:
    async with app_engine.connect() as connection:
        privileges = await connection.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
                " AND has_table_privilege(c.oid, 'MAINTAIN')"
            )
        )
        assert [row[0] for row in privileges] == ["audit_pending_disclosures"]
