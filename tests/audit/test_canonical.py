"""Python and PostgreSQL hash the same text for tricky values, and verify rebuilds that text.

The append function hashes the document Python wrote; verify rebuilds it from `jsonb`, which
keeps numbers as `numeric`, orders keys its own way and prints its own text. These values are
the ones where the two could drift apart.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.access.rls import enter_organisation
from hub.audit.chain import (
    canonical,
    canonical_of_stored,
    envelope_of_row,
    event_digest,
    jsonable,
    text_digest,
)
from hub.audit.record import Event, EventType, record
from hub.audit.verify import STORED_AS_TEXT, canonical_of_text_row, verify_chain
from hub.db import session_factory
from tests.factories import Factory

TRICKY: dict[str, object] = {
    "unicode": 'Zoë ✓ 😀 \u2028 "quoted" \\ back\x01\t\n',
    "nested": {"b": 1, "a": {"z": None, "y": [3, 2, {"d": 1, "c": [None]}]}},
    "keys": {"é": 1, "e": 2, "E": 3, "10": 4, "9": 5, "": 6, "aa": 7, "b": 8},
    "floats": [0.1, 0.30000000000000004, 1.5e-07, 1e16, 1.5e300, -0.0, 3.0, 2.5, -1e-300],
    "nulls": None,
    "big": [2**70, -(2**63), 10**30, 0],
    "not_numbers": [float("nan"), float("inf"), float("-inf")],
    "flags": [True, False],
    "empty": [{}, [], ""],
}

_STORED = f"SELECT {STORED_AS_TEXT} FROM audit_events WHERE org_id = :org ORDER BY seq"  # noqa: S608


async def test_stored_tricky_values_rehash_to_their_link(
    app_engine: AsyncEngine, owner_sessions: async_sessionmaker[AsyncSession], factory: Factory
) -> None:
    org = await factory.organisation("Canonical")
    async with session_factory(app_engine)() as session, session.begin():
        await enter_organisation(session, org.id)
        await record(
            session,
            Event(
                type=EventType.CONSENT_CHANGED,
                org_id=org.id,
                client_id='client "ü"',
                request_id="req\u00e9\n",
                source_address="2001:db8::1",
                details=TRICKY,
                record_ids=[uuid.uuid4(), uuid.uuid4(), uuid.uuid4()],
            ),
        )
        await record(
            session,
            Event(type=EventType.GRANT_CREATED, org_id=org.id, source_address="10.0.0.7"),
        )
    async with owner_sessions() as session:
        report = await verify_chain(session, org.id)
        mapped = (
            (
                await session.execute(
                    text("SELECT * FROM audit_events WHERE org_id = :org ORDER BY seq"),
                    {"org": org.id},
                )
            )
            .mappings()
            .all()
        )
        as_text = (await session.execute(text(_STORED), {"org": org.id})).all()
        for row, stored in zip(mapped, as_text, strict=True):
            python = canonical(envelope_of_row(row))
            fast = canonical_of_text_row(stored)
            assert fast == python
            # PostgreSQL's sha256 over the UTF-8 text is Python's.
            in_sql = await session.scalar(
                text("SELECT sha256(convert_to(:document, 'UTF8'))"), {"document": python}
            )
            assert bytes(in_sql) == text_digest(python) == event_digest(envelope_of_row(row))
    assert report.intact, report
    assert report.events == 2


def test_floats_are_kept_as_jsonb_gives_them_back() -> None:
    kept = jsonable(TRICKY)
    assert kept["floats"] == [
        *(0.1, 0.30000000000000004, 1.5e-07),
        *(10**16, 15 * 10**299, 0.0),
        *(3.0, 2.5, -1e-300),
    ]
    assert kept["not_numbers"] == ["NaN", "Infinity", "-Infinity"]
    assert kept["big"] == [2**70, -(2**63), 10**30, 0]


def test_the_fast_encoding_orders_keys_like_canonical() -> None:
    event_id, org_id = str(uuid.uuid4()), str(uuid.uuid4())
    records = sorted(str(uuid.uuid4()) for _ in range(3))
    document = {
        "org_id": org_id,
        "id": event_id,
        "type": "x.y",
        "actor_org_id": None,
        "actor_user_id": None,
        "actor_client_id": None,
        "request_id": None,
        "source_address": None,
        "record_ids": records,
        "details": jsonable(TRICKY),
        "created_at": "2026-12-06T00:00:00.000001+00:00",
    }
    fast = canonical_of_stored(
        id=event_id,
        org_id=org_id,
        type="x.y",
        actor_org_id=None,
        actor_user_id=None,
        actor_client_id=None,
        request_id=None,
        source_address=None,
        record_ids=list(reversed(records)),
        details=canonical(jsonable(TRICKY)),
        created_at="2026-12-06T00:00:00.000001+00:00",
    )
    assert fast == canonical(document)
    assert hashlib.sha256(fast.encode()).digest() == event_digest(document)
