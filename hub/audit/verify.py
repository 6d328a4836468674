"""Proving an organisation's chain: every event, in order, hashes to the link stored with it.

Reads the chain as a stream (memory stays flat however long it is), from the latest retention
checkpoint or from the start, and stops at the first broken link: an event whose content no
longer hashes to its link (edited), a number missing from the sequence (deleted), or a chain
that ends before its recorded head (cut off at the end).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, DateTime, String, Uuid

from hub.audit.chain import GENESIS, envelope_of_row, event_digest, link

BATCH = 5_000

_EVENTS = (
    text(
        "SELECT org_id, id, seq, hash, type, actor_org_id, actor_user_id, actor_client_id,"
        " request_id, source_address, record_ids, details, created_at FROM audit_events"
        " WHERE org_id = :org AND seq > :after ORDER BY seq"
    )
    .columns(
        org_id=Uuid(),
        id=Uuid(),
        seq=BigInteger(),
        hash=BYTEA(),
        type=String(),
        actor_org_id=Uuid(),
        actor_user_id=Uuid(),
        actor_client_id=String(),
        request_id=String(),
        source_address=INET(),
        record_ids=ARRAY(Uuid()),
        details=JSONB(),
        created_at=DateTime(timezone=True),
    )
    .execution_options(yield_per=BATCH)
)
_CHECKPOINT = text(
    "SELECT seq, hash FROM audit_checkpoints WHERE org_id = :org ORDER BY seq DESC LIMIT 1"
)
_HEAD = text("SELECT seq, hash FROM audit_chain_heads WHERE org_id = :org")
_CHAINS = text("SELECT org_id FROM audit_chain_heads ORDER BY org_id")


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


async def chains(session: AsyncSession) -> list[uuid.UUID]:
    """Every organisation with a chain, the hub's own included."""
    return list((await session.scalars(_CHAINS)).all())


async def chain_length(session: AsyncSession, org_id: uuid.UUID) -> int:
    """How many events a proof of this chain reads (for a progress bar)."""
    start, _ = await _start(session, org_id)
    head = (await session.execute(_HEAD, {"org": org_id})).one_or_none()
    return 0 if head is None else head.seq - start


async def verify_chain(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Walk `org_id`'s chain; `progress` hears how many events each batch proved."""
    start, previous = await _start(session, org_id)
    head = (await session.execute(_HEAD, {"org": org_id})).one_or_none()
    expected, counted, since_report = start + 1, 0, 0
    broken: BrokenLink | None = None
    result = await session.stream(_EVENTS, {"org": org_id, "after": start})
    async for row in result.mappings():
        if row["seq"] != expected:
            broken = BrokenLink(expected, None, f"event {expected} is missing (deleted)")
            break
        previous = link(previous, row["seq"], event_digest(envelope_of_row(row)))
        if previous != row["hash"]:
            broken = BrokenLink(
                row["seq"], row["id"], f"event {row['seq']} does not match its hash (edited)"
            )
            break
        expected += 1
        counted += 1
        since_report += 1
        if progress is not None and since_report == BATCH:
            progress(since_report)
            since_report = 0
    await result.close()
    if progress is not None and since_report:
        progress(since_report)
    last = expected - 1
    if broken is None and head is not None and (head.seq != last or head.hash != previous):
        broken = BrokenLink(
            last + 1, None, f"the chain ends at event {last} but its head is at {head.seq}"
        )
    return ChainReport(org_id, counted, start, head.seq if head else 0, broken)


async def _start(session: AsyncSession, org_id: uuid.UUID) -> tuple[int, bytes]:
    checkpoint = (await session.execute(_CHECKPOINT, {"org": org_id})).one_or_none()
    return (checkpoint.seq, bytes(checkpoint.hash)) if checkpoint else (0, GENESIS)
