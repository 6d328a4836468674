"""The index of events by record: kept by the ledger itself, readable only by its organisation.

Events are appended the way the hub appends them (as the application role, chained in at
commit); a retention cut is made the way retention makes it (a checkpoint, then a DELETE).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.access.rls import enter_organisation
from hub.audit.record import Event, EventType, record
from hub.db import session_factory
from tests.factories import Factory

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def app_sessions(app_engine: AsyncEngine) -> Sessions:
    return session_factory(app_engine)


async def append(sessions: Sessions, org_id: uuid.UUID, *records: list[uuid.UUID]) -> None:
    """One event per list of record ids, in one transaction of `org_id`."""
    async with sessions() as session, session.begin():
        await enter_organisation(session, org_id)
        for record_ids in records:
            await record(
                session,
                Event(type=EventType.RECORD_UPDATED, org_id=org_id, record_ids=record_ids),
            )


async def indexed(owner_engine: AsyncEngine, org_id: uuid.UUID) -> set[tuple[uuid.UUID, int]]:
    """(record, seq of its event) for every row of the organisation's index."""
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT x.record_id, e.seq FROM audit_event_records x JOIN audit_events e "
                "ON e.org_id = x.org_id AND e.id = x.event_id AND e.created_at = x.created_at "
                "WHERE x.org_id = :org"
            ),
            {"org": org_id},
        )
        return {(row.record_id, row.seq) for row in rows}


async def test_appending_indexes_each_record_of_each_event_once(
    app_sessions: Sessions, owner_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("IdxAppend")
    a, b = uuid.uuid4(), uuid.uuid4()
    await append(app_sessions, org.id, [a, b], [a, a], [])
    assert await indexed(owner_engine, org.id) == {(a, 1), (b, 1), (a, 2)}


async def test_only_the_organisation_reads_its_index_and_nobody_writes_it(
    app_engine: AsyncEngine, app_sessions: Sessions, factory: Factory
) -> None:
    mine, theirs = await factory.organisation("IdxMine"), await factory.organisation("IdxTheirs")
    shared = uuid.uuid4()
    await append(app_sessions, mine.id, [shared])
    await append(app_sessions, theirs.id, [shared], [shared])
    query = text("SELECT org_id FROM audit_event_records WHERE record_id = :record")
    async with app_engine.begin() as connection:
        assert (await connection.scalars(query, {"record": shared})).all() == []
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(mine.id)}
        )
        assert (await connection.scalars(query, {"record": shared})).all() == [mine.id]
    for statement in (
        "INSERT INTO audit_event_records VALUES (:org, :record, now(), :record)",
        "DELETE FROM audit_event_records WHERE org_id = :org",
        "UPDATE audit_event_records SET record_id = :record WHERE org_id = :org",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with app_engine.begin() as connection:
                await connection.execute(
                    text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(mine.id)}
                )
                await connection.execute(text(statement), {"org": mine.id, "record": shared})


async def test_a_retention_cut_takes_the_index_rows_of_the_events_it_deletes(
    app_sessions: Sessions, owner_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("IdxCut")
    kept, gone = uuid.uuid4(), uuid.uuid4()
    await append(app_sessions, org.id, [gone, kept], [gone], [kept])
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_checkpoints (org_id, seq, hash, cut_before) "
                "SELECT org_id, seq, hash, :now FROM audit_events WHERE org_id = :org AND seq = 2"
            ),
            {"org": org.id, "now": datetime.now(UTC)},
        )
        await connection.execute(
            text("DELETE FROM audit_events WHERE org_id = :org AND seq <= 2"), {"org": org.id}
        )
    assert await indexed(owner_engine, org.id) == {(kept, 3)}
    async with owner_engine.connect() as connection:
        orphans = await connection.scalar(
            text("SELECT count(*) FROM audit_event_records WHERE org_id = :org"), {"org": org.id}
        )
    assert orphans == 1
