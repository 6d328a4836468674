"""The ledger: append-only for every role, hash-chained per organisation, provable by verify.

Events are appended the way the hub appends them (recorded in a transaction as the application
role, chained in at commit); tampering is done the way an attacker with the database owner's
password would (switching the guard trigger off).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.access.rls import enter_organisation
from hub.audit.chain import canonical
from hub.audit.ledger import pending
from hub.audit.models import HUB_ORG
from hub.audit.record import Event, EventType, record
from hub.audit.verify import verify_chain
from hub.db import session_factory
from tests.factories import Factory

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def app_sessions(app_engine: AsyncEngine) -> Sessions:
    return session_factory(app_engine)


async def append(
    sessions: Sessions, org_id: uuid.UUID, count: int = 1, *, chain: uuid.UUID | None = None
) -> None:
    """`count` events recorded in one transaction as `org_id`, filed in `chain` (its own)."""
    async with sessions() as session, session.begin():
        await enter_organisation(session, org_id)
        for number in range(count):
            await record(
                session,
                Event(
                    type=EventType.CONSENT_CHANGED,
                    org_id=chain or org_id,
                    actor_org_id=org_id,
                    details={"number": number, "name": "Zoë ✓", "amount": "12.50"},
                    record_ids=[uuid.uuid4()],
                ),
            )


async def tamper(
    owner_engine: AsyncEngine, statement: str, *, table: str = "audit_events", **values: object
) -> None:
    """What only the database owner can do: switch the guard off, change a row, switch it on."""
    async with owner_engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await connection.execute(text(statement), values)
        await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


async def test_events_chain_in_order_and_verify(
    app_sessions: Sessions, owner_sessions: Sessions, factory: Factory
) -> None:
    org = await factory.organisation("Chain")
    await append(app_sessions, org.id, 3)
    await append(app_sessions, org.id, 2)
    async with owner_sessions() as session:
        seqs = (
            await session.scalars(
                text("SELECT seq FROM audit_events WHERE org_id = :org ORDER BY seq"),
                {"org": org.id},
            )
        ).all()
        report = await verify_chain(session, org.id)
    assert seqs == [1, 2, 3, 4, 5]
    assert report.intact and report.events == 5 and report.head == 5


async def test_the_application_role_cannot_change_or_remove_events(
    app_engine: AsyncEngine, app_sessions: Sessions, factory: Factory
) -> None:
    org = await factory.organisation("AppendOnly")
    await append(app_sessions, org.id)
    for statement in (
        "UPDATE audit_events SET type = 'nothing.happened'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "INSERT INTO audit_events (org_id, id, seq, hash, type, details)"
        " VALUES (hub_current_org(), gen_random_uuid(), 99, '\\x00', 'forged', '{}')",
        "UPDATE audit_chain_heads SET seq = 0",
    ):
        async with app_engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
            )
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(statement))


async def test_not_even_the_database_owner_changes_events_while_the_guard_is_on(
    owner_engine: AsyncEngine, app_sessions: Sessions, factory: Factory
) -> None:
    org = await factory.organisation("Guarded")
    await append(app_sessions, org.id)
    for statement in (
        "UPDATE audit_events SET type = 'nothing.happened' WHERE org_id = :org",
        "DELETE FROM audit_events WHERE org_id = :org",
    ):
        async with owner_engine.begin() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.execute(text(statement), {"org": org.id})
    async with owner_engine.begin() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text("TRUNCATE audit_events"))


async def test_verify_names_the_first_edited_event(
    owner_engine: AsyncEngine, app_sessions: Sessions, owner_sessions: Sessions, factory: Factory
) -> None:
    org = await factory.organisation("Edited")
    await append(app_sessions, org.id, 6)
    await tamper(
        owner_engine,
        "UPDATE audit_events SET details = jsonb_set(details, '{amount}', '\"0.01\"')"
        " WHERE org_id = :org AND seq IN (4, 5)",
        org=org.id,
    )
    async with owner_sessions() as session:
        report = await verify_chain(session, org.id)
        fourth = await session.scalar(
            text("SELECT id FROM audit_events WHERE org_id = :org AND seq = 4"), {"org": org.id}
        )
    assert report.broken is not None
    assert (report.broken.seq, report.broken.event_id) == (4, fourth)
    assert "edited" in report.broken.reason
    assert report.events == 3


async def test_verify_finds_a_deleted_event_and_a_cut_off_end(
    owner_engine: AsyncEngine, app_sessions: Sessions, owner_sessions: Sessions, factory: Factory
) -> None:
    inside, end = await factory.organisation("Gap"), await factory.organisation("Cut")
    await append(app_sessions, inside.id, 5)
    await append(app_sessions, end.id, 5)
    await tamper(
        owner_engine, "DELETE FROM audit_events WHERE org_id = :org AND seq = 2", org=inside.id
    )
    await tamper(
        owner_engine, "DELETE FROM audit_events WHERE org_id = :org AND seq = 5", org=end.id
    )
    async with owner_sessions() as session:
        gap = await verify_chain(session, inside.id)
        cut = await verify_chain(session, end.id)
    assert gap.broken is not None and gap.broken.seq == 2 and "missing" in gap.broken.reason
    assert cut.broken is not None and cut.broken.seq == 5 and "head" in cut.broken.reason


async def test_a_rewritten_hash_breaks_the_next_link(
    owner_engine: AsyncEngine, app_sessions: Sessions, owner_sessions: Sessions, factory: Factory
) -> None:
    """Editing an event and its own hash to match still breaks the chain at that event."""
    org = await factory.organisation("Rehashed")
    await append(app_sessions, org.id, 3)
    await tamper(
        owner_engine,
        "UPDATE audit_events SET type = 'nothing.happened', hash = sha256(hash)"
        " WHERE org_id = :org AND seq = 2",
        org=org.id,
    )
    async with owner_sessions() as session:
        report = await verify_chain(session, org.id)
    assert report.broken is not None and report.broken.seq == 2


async def test_eight_concurrent_appenders_keep_every_chain_valid(
    app_engine: AsyncEngine, owner_sessions: Sessions, factory: Factory
) -> None:
    """Eight connections append at once to two organisations' chains and the hub's own."""
    first, second = await factory.organisation("BusyA"), await factory.organisation("BusyB")
    sessions = session_factory(app_engine)
    orgs = [first.id, second.id] * 4

    async def appender(org_id: uuid.UUID, index: int) -> None:
        for _ in range(10):
            async with sessions() as session, session.begin():
                await enter_organisation(session, org_id)
                for chain in (org_id, HUB_ORG)[: 1 + index % 2]:
                    await record(
                        session,
                        Event(type=EventType.TOKEN_ISSUED, org_id=chain, details={"i": index}),
                    )

    await asyncio.gather(*(appender(org, index) for index, org in enumerate(orgs)))
    async with owner_sessions() as session:
        for org in (first.id, second.id):
            report = await verify_chain(session, org)
            assert report.intact, report
            assert report.events == 40
        hub = await verify_chain(session, HUB_ORG)
        assert hub.intact, hub


async def test_an_open_append_holds_its_own_chain_and_no_other(
    app_engine: AsyncEngine, owner_sessions: Sessions, factory: Factory
) -> None:
    """Appending locks one organisation's chain head: a second organisation appends meanwhile,
    while a second append to the same chain waits for the first transaction to end."""
    first, second = await factory.organisation("HeldA"), await factory.organisation("HeldB")
    sessions = session_factory(app_engine)

    async def append_now(session: AsyncSession, org_id: uuid.UUID) -> None:
        """Chain an event in at once, as COMMIT would, leaving the transaction open."""
        await enter_organisation(session, org_id)
        await record(session, Event(type=EventType.CONSENT_CHANGED, org_id=org_id))
        documents = pending(session.sync_session)
        await session.execute(
            text("SELECT hub_audit_append(:chain, :events)"),
            {"chain": org_id, "events": [canonical(document) for document in documents]},
        )
        documents.clear()

    async with sessions() as holder, holder.begin():
        await append_now(holder, first.id)
        async with sessions() as other, other.begin():
            await other.execute(text("SET LOCAL lock_timeout = '2s'"))
            await append_now(other, second.id)  # another chain: no wait
        with pytest.raises(DBAPIError, match="lock timeout"):
            async with sessions() as same, same.begin():
                await same.execute(text("SET LOCAL lock_timeout = '200ms'"))
                await append_now(same, first.id)
    await append(sessions, first.id)
    async with owner_sessions() as session:
        for org, events in ((first.id, 2), (second.id, 1)):
            report = await verify_chain(session, org)
            assert report.intact and report.events == events, report


async def test_an_event_that_cannot_be_appended_fails_its_work(
    app_sessions: Sessions, owner_sessions: Sessions, factory: Factory
) -> None:
    """An organisation may not file events in a stranger's chain; the commit fails whole."""
    org, stranger = await factory.organisation("Writer"), await factory.organisation("Stranger")
    customer_id = uuid.uuid4()
    with pytest.raises(DBAPIError, match="may not be appended"):
        async with app_sessions() as session, session.begin():
            await enter_organisation(session, org.id)
            await session.execute(
                text(
                    "INSERT INTO customers (org_id, id, name, lifecycle_stage)"
                    " VALUES (:org, :id, 'Lost Ltd', 'PROSPECT')"
                ),
                {"org": org.id, "id": customer_id},
            )
            await record(session, Event(type=EventType.CONSENT_CHANGED, org_id=stranger.id))
    async with owner_sessions() as session:
        written = await session.scalar(
            text("SELECT count(*) FROM customers WHERE id = :id"), {"id": customer_id}
        )
        events = await session.scalar(
            text("SELECT count(*) FROM audit_events WHERE org_id IN (:a, :b)"),
            {"a": org.id, "b": stranger.id},
        )
    assert written == 0 and events == 0


async def test_a_rolled_back_savepoint_takes_its_events_along(
    app_sessions: Sessions, owner_sessions: Sessions, factory: Factory
) -> None:
    org = await factory.organisation("Savepoint")
    async with app_sessions() as session, session.begin():
        await enter_organisation(session, org.id)
        await record(session, Event(type=EventType.GRANT_CREATED, org_id=org.id))
        savepoint = await session.begin_nested()
        await record(session, Event(type=EventType.GRANT_REVOKED, org_id=org.id))
        await savepoint.rollback()
        kept = await session.begin_nested()
        await record(session, Event(type=EventType.GRANT_UPDATED, org_id=org.id))
        await kept.commit()
    async with owner_sessions() as session:
        types = (
            await session.scalars(
                text("SELECT type FROM audit_events WHERE org_id = :org ORDER BY seq"),
                {"org": org.id},
            )
        ).all()
    assert types == ["grant.created", "grant.updated"]
