"""Sealing waiting disclosures into their owners' chains (ADR 0016).

A partner read records its disclosure in `audit_pending_disclosures` without taking the owner's
chain-head lock; sealing appends it to the owner's chain and folds it into the disclosure index,
through the ledger's definer functions:

- every hub process runs `run_sealer` in the background: `hub_audit_seal`, one statement in a
  transaction of its own, each interval (at once again while a round fills its batch). Chains
  another sealer or an append holds are skipped, so processes never wait on each other;
- `hub audit seal` seals everything pending when it starts (`seal_everything`);
- whoever reads the trail (`auditEvents`, `myAccessTrail`, the disclosure report, export,
  erasure, retention) first calls `seal_own` in its own transaction, so its answer includes
  every disclosure committed before it, sealed or not.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import bindparam, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import BigInteger, Integer

log = logging.getLogger(__name__)

# Rows one background round seals at most: a round's transaction stays short.
BATCH = 1_000

_SEAL = text("SELECT hub_audit_seal(:max_rows)").bindparams(bindparam("max_rows", type_=Integer()))
_SEAL_OWN = text("SELECT hub_audit_seal_own()")
_MAY_RECLAIM = text(
    "SELECT CASE WHEN current_setting('server_version_num')::int >= 170000"
    " THEN has_table_privilege('audit_pending_disclosures', 'MAINTAIN') ELSE false END"
)
_RECLAIM = text("VACUUM (SKIP_LOCKED, TRUNCATE FALSE) audit_pending_disclosures")
_LAST_WAITING = text("SELECT max(id) FROM audit_pending_disclosures")
_STILL_WAITING = text(
    "SELECT count(*) FROM audit_pending_disclosures WHERE id <= :last"
).bindparams(bindparam("last", type_=BigInteger()))


async def seal_pending(session: AsyncSession, max_rows: int = BATCH) -> int:
    """Seal up to `max_rows` waiting disclosures of chains nobody holds; how many were sealed."""
    sealed: int = await session.scalar(_SEAL, {"max_rows": max_rows}) or 0
    return sealed


async def seal_own(session: AsyncSession) -> int:
    """Seal every waiting disclosure the transaction's organisation (`hub.org_id`) may read:
    those filed in its chain and those it made in other organisations' chains.

    Waits for those chains' heads, which this transaction then holds until it ends: readers of
    the trail call it first, so what they read is exact.
    """
    sealed: int = await session.scalar(_SEAL_OWN) or 0
    return sealed


async def seal_everything(
    sessions: async_sessionmaker[AsyncSession], *, patience: float = 60.0
) -> tuple[int, int]:
    """Seal every disclosure waiting when called, on a connection that sees every organisation.

    A chain held by others is tried again until `patience` seconds have passed. Returns how many
    were sealed (later arrivals included) and how many of those waiting at the start still are.
    """
    async with sessions() as session:
        last = await session.scalar(_LAST_WAITING)
    if last is None:
        return 0, 0
    deadline = time.monotonic() + patience
    sealed = 0
    while True:
        async with sessions() as session, session.begin():
            round_sealed = await seal_pending(session)
        sealed += round_sealed
        async with sessions() as session:
            left: int = await session.scalar(_STILL_WAITING, {"last": last}) or 0
        if not left:
            return sealed, 0
        if not round_sealed:
            if time.monotonic() > deadline:
                return sealed, left
            await asyncio.sleep(0.05)


async def may_reclaim(session: AsyncSession) -> bool:
    """Whether this role may vacuum the waiting disclosures' table (`reclaim`)."""
    allowed: bool = await session.scalar(_MAY_RECLAIM) or False
    return allowed


async def reclaim(session: AsyncSession) -> None:
    """Vacuum the waiting disclosures' table, outside a transaction: the space of the rows just
    sealed becomes free for the next reads' rows, which otherwise extend the table and queue on
    its extension lock (migration 20261208_pending_space_reused). Skipped while another
    process vacuums it."""
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    await session.execute(_RECLAIM)


async def run_sealer(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Seal in the background until cancelled: a round each `interval` seconds, or at once
    again when a round sealed a full batch; after a round that sealed anything, the space
    of what it sealed is reclaimed (where the role may). A failed round is logged and
    retried."""
    failing = False
    reclaiming: bool | None = None  # not known until the database answers
    while True:
        try:
            async with sessions() as session:
                # One statement, its own transaction: a round costs one round trip, and its
                # statement is told apart from the requests' (the read path's benchmark).
                await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                if reclaiming is None:
                    reclaiming = await may_reclaim(session)
                sealed = await seal_pending(session)
                if sealed and reclaiming:
                    await reclaim(session)
        except (SQLAlchemyError, OSError):
            if not failing:
                log.exception("sealing disclosures failed; retrying every %s s", interval)
            failing = True
            sealed = 0
        else:
            if failing:
                log.info("sealing disclosures resumed")
            failing = False
        if sealed < BATCH:
            await asyncio.sleep(interval)
