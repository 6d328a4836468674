"""Proving an organisation's chain: every event, in order, hashes to the link stored with it.

Disclosures waiting to be sealed (ADR 0016) are in no chain yet: each is proved on its own
(`verify_unsealed`), its document against the digest computed when it was written, and the
columns taken from it against the document.

Reads the chain as a stream (memory stays flat however long it is), from the latest retention
checkpoint or from the start, up to the head read when the proof began (events appended while
it runs are left for the next proof), and stops at the first broken link: an event whose
content no longer hashes to its link (edited), a number missing from the sequence (deleted),
or a chain that ends before its recorded head (cut off at the end).

The walk reads raw rows through the asyncpg connection under the session, with ids, times and
details as PostgreSQL's text, in batches from a server-side cursor: SQLAlchemy's result
mapping and per-row type conversion cost more than the hashing (about 3x on a million events;
see bench/audit_verify.py). The canonical text is rebuilt by `chain.canonical_of_stored`,
which a test holds equal to `canonical(envelope_of_row(...))`. Callers that need the reads to
agree with one another (a cut running at the same time) verify in a REPEATABLE READ
transaction, as `hub audit verify` does.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.chain import GENESIS, canonical_of_stored

BATCH = 10_000

# Text forms the canonical document uses as they are: ids, and the time in UTC to the
# microsecond exactly as `datetime.isoformat(timespec="microseconds")` writes it.
# `source_address` as a host's text (`::text` would add `/32`); an address with a network mask
# is no host address, and `chain.address` drops it as it did at append.
STORED_AS_TEXT = (
    "id::text, org_id::text, type, actor_org_id::text, actor_user_id::text,"
    " actor_client_id, request_id,"
    " CASE WHEN masklen(source_address) = CASE family(source_address) WHEN 4 THEN 32 ELSE 128 END"
    " THEN host(source_address) ELSE source_address::text END,"
    " record_ids::text[], details::text,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
)
_EVENTS = (
    f"SELECT seq, hash, {STORED_AS_TEXT} FROM audit_events"  # noqa: S608 (constants only)
    " WHERE org_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq"
)
_CHECKPOINT = text(
    "SELECT seq, hash FROM audit_checkpoints WHERE org_id = :org ORDER BY seq DESC LIMIT 1"
)
_HEAD = text("SELECT seq, hash FROM audit_chain_heads WHERE org_id = :org")
_BEYOND_HEAD = text(
    "SELECT seq, id FROM audit_events WHERE org_id = :org AND seq > :head ORDER BY seq LIMIT 1"
)
# Organisations with a chain, or with disclosures waiting for their first event.
_CHAINS = text(
    "SELECT org_id FROM audit_chain_heads"
    " UNION SELECT org_id FROM audit_pending_disclosures ORDER BY org_id"
)
_UNSEALED = text(
    "SELECT id, org_id, actor_org_id, event_id, created_at, document, digest"
    " FROM audit_pending_disclosures WHERE org_id = :org ORDER BY id"
).execution_options(yield_per=BATCH)


def canonical_of_text_row(row: Sequence[Any], at: int = 0) -> str:
    """The canonical text of an event read with `STORED_AS_TEXT`, its columns from `at` on."""
    return canonical_of_stored(
        id=row[at],
        org_id=row[at + 1],
        type=row[at + 2],
        actor_org_id=row[at + 3],
        actor_user_id=row[at + 4],
        actor_client_id=row[at + 5],
        request_id=row[at + 6],
        source_address=row[at + 7],
        record_ids=row[at + 8],
        details=row[at + 9],
        created_at=row[at + 10],
    )


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    event_id: uuid.UUID | None
    reason: str


@dataclass(frozen=True)
class ChainReport:
    org_id: uuid.UUID
    events: int
    # The sequence number the proof starts after (a retention checkpoint, or 0).
    start: int
    head: int
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class BrokenDisclosure:
    pending_id: int
    event_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class UnsealedReport:
    org_id: uuid.UUID
    disclosures: int  # proved before the first broken one, if any
    broken: BrokenDisclosure | None

    @property
    def intact(self) -> bool:
        return self.broken is None


async def chains(session: AsyncSession) -> list[uuid.UUID]:
    """Every organisation with a chain (the hub's own included) or a disclosure waiting."""
    return list((await session.scalars(_CHAINS)).all())


async def chain_length(session: AsyncSession, org_id: uuid.UUID) -> int:
    """How many events a proof of this chain reads (for a progress bar)."""
    start, _ = await _start(session, org_id)
    head = (await session.execute(_HEAD, {"org": org_id})).one_or_none()
    return 0 if head is None else max(head.seq - start, 0)


async def verify_chain(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Walk `org_id`'s chain; `progress` hears how many events each batch proved."""
    start, previous = await _start(session, org_id)
    head = (await session.execute(_HEAD, {"org": org_id})).one_or_none()
    head_seq = head.seq if head is not None else 0
    expected = start + 1
    broken: BrokenLink | None = None
    connection = await _driver_connection(session)
    sha256 = hashlib.sha256
    cursor = await connection.cursor(_EVENTS, org_id, start, head_seq)
    while broken is None:
        rows = await cursor.fetch(BATCH)
        if not rows:
            break
        proved = 0
        for row in rows:
            seq = row[0]
            if seq != expected:
                broken = BrokenLink(expected, None, f"event {expected} is missing (deleted)")
                break
            document = canonical_of_text_row(row, 2)
            previous = sha256(
                previous + seq.to_bytes(8, "big", signed=True) + sha256(document.encode()).digest()
            ).digest()
            if previous != row[1]:
                broken = BrokenLink(
                    seq, uuid.UUID(row[2]), f"event {seq} does not match its hash (edited)"
                )
                break
            expected += 1
            proved += 1
        if progress is not None and proved:
            progress(proved)
    last = expected - 1
    if broken is None and head is not None and (head_seq != last or head.hash != previous):
        broken = BrokenLink(
            last + 1, None, f"the chain ends at event {last} but its head is at {head_seq}"
        )
    if broken is None:
        broken = await _beyond_head(session, org_id, head_seq)
    return ChainReport(org_id, last - start, start, head_seq, broken)


async def verify_unsealed(session: AsyncSession, org_id: uuid.UUID) -> UnsealedReport:
    """Prove each disclosure waiting for `org_id`'s chain, in id order, up to the first edited.

    Its document must hash to the digest the insert computed (which the sealer will link it
    by), and the owner, actor, event id and time stored beside it must be the document's.
    """
    proved = 0
    rows = await session.stream(_UNSEALED, {"org": org_id})
    async for row in rows:
        reason = _unsealed_edit(row)
        if reason is not None:
            await rows.close()
            return UnsealedReport(org_id, proved, BrokenDisclosure(row.id, row.event_id, reason))
        proved += 1
    return UnsealedReport(org_id, proved, None)


def _unsealed_edit(row: Sequence[Any]) -> str | None:
    pending_id, org_id, actor_org_id, event_id, created_at, document, digest = row
    if hashlib.sha256(document.encode()).digest() != bytes(digest):
        return f"unsealed disclosure {pending_id} does not match its hash (edited)"
    try:
        event = json.loads(document)
        agrees = (
            event["type"] == "disclosure"
            and uuid.UUID(event["org_id"]) == org_id
            and uuid.UUID(event["actor_org_id"]) == actor_org_id
            and uuid.UUID(event["id"]) == event_id
            and datetime.fromisoformat(event["created_at"]) == created_at
        )
    except (ValueError, KeyError, TypeError):
        agrees = False
    if not agrees:
        return f"unsealed disclosure {pending_id} does not agree with its document (edited)"
    return None


async def _beyond_head(
    session: AsyncSession, org_id: uuid.UUID, head_seq: int
) -> BrokenLink | None:
    """An event past the head no append made (the head moves with every append).

    Read in the proof's own snapshot: under REPEATABLE READ an append committed meanwhile is
    not seen; under READ COMMITTED it would be reported here, so verify in REPEATABLE READ.
    """
    row = (await session.execute(_BEYOND_HEAD, {"org": org_id, "head": head_seq})).one_or_none()
    if row is None:
        return None
    return BrokenLink(
        row.seq, row.id, f"event {row.seq} lies beyond the chain's head {head_seq} (inserted)"
    )


async def _driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction (a cursor needs one)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _start(session: AsyncSession, org_id: uuid.UUID) -> tuple[int, bytes]:
    checkpoint = (await session.execute(_CHECKPOINT, {"org": org_id})).one_or_none()
    return (checkpoint.seq, bytes(checkpoint.hash)) if checkpoint else (0, GENESIS)
