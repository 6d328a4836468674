"""What `hub audit verify`, `hub audit seal` and `hub retention run` do, on the owner's connection.

Each organisation gets its own transaction: a proof reads one consistent snapshot (REPEATABLE
READ, read only), and a retention run commits or fails per organisation. On a terminal a
progress bar shows the events proved (hub/progress.py); the result of each chain is one plain
line on stdout either way, which is all a pipe or a log sees.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.audit.models import HUB_ORG
from hub.audit.sealer import seal_everything
from hub.audit.verify import (
    ChainReport,
    UnsealedReport,
    chain_length,
    chains,
    verify_chain,
    verify_unsealed,
)
from hub.db import create_engine, session_factory
from hub.errors import HubError
from hub.orgs.lookup import find_organisation
from hub.orgs.models import Organisation
from hub.progress import progress
from hub.retention.apply import RetentionOutcome, apply_policy, organisations_with_policies

_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


class UnknownOrganisation(HubError):
    """`--org` names no organisation, by id or by slug."""


async def verify_chains(owner_url: str, org: str | None) -> int:
    engine = create_engine(owner_url, pool_size=1)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            names = await _names(session)
            targets = [await _resolve(session, org)] if org else await chains(session)
        broken = 0
        for org_id in targets:
            report, unsealed = await _verify_one(sessions, org_id, names)
            print(_verified(report, unsealed, names), flush=True)
            broken += 0 if report.intact and unsealed.intact else 1
    finally:
        await engine.dispose()
    if broken:
        print(f"{broken} of {len(targets)} chains broken")
        return 1
    print(f"{len(targets)} chain{'s' if len(targets) != 1 else ''} intact")
    return 0


async def seal_disclosures(owner_url: str) -> int:
    """Seal every disclosure waiting now; 1 if some stayed behind chains others held."""
    engine = create_engine(owner_url, pool_size=1)
    try:
        sealed, left = await seal_everything(session_factory(engine))
    finally:
        await engine.dispose()
    count = f"sealed {sealed} disclosure{'s' if sealed != 1 else ''}"
    if left:
        print(f"{count}; {left} still waiting: their chains stayed locked")
        return 1
    print(f"{count}; none waiting")
    return 0


async def apply_retention(owner_url: str, org: str | None) -> int:
    engine = create_engine(owner_url, pool_size=1)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            names = await _names(session)
            if org:
                targets = [await _resolve(session, org)]
            else:
                targets = await organisations_with_policies(session)
        refused = 0
        for org_id in targets:
            async with sessions() as session, session.begin():
                total = await chain_length(session, org_id)
                with progress(f"retention {names.get(org_id, org_id)}", total) as tracker:
                    outcome = await apply_policy(session, org_id, progress=tracker.advance)
            print(_applied(outcome, names), flush=True)
            refused += 1 if outcome.refused is not None else 0
    finally:
        await engine.dispose()
    print(f"retention applied to {len(targets) - refused} of {len(targets)} organisations")
    return 1 if refused else 0


async def _verify_one(
    sessions: async_sessionmaker[AsyncSession], org_id: uuid.UUID, names: dict[uuid.UUID, str]
) -> tuple[ChainReport, UnsealedReport]:
    """The chain and the disclosures waiting for it, in one snapshot: a row the sealer moves
    meanwhile is proved in one place or the other, never in both or neither."""
    async with sessions() as session, session.begin():
        await session.execute(_SNAPSHOT)
        total = await chain_length(session, org_id)
        with progress(f"verify {names.get(org_id, org_id)}", total) as tracker:
            report = await verify_chain(session, org_id, progress=tracker.advance)
        return report, await verify_unsealed(session, org_id)


async def _names(session: AsyncSession) -> dict[uuid.UUID, str]:
    rows = (await session.execute(select(Organisation.id, Organisation.slug))).all()
    names = {row.id: row.slug for row in rows}
    names[HUB_ORG] = "hub"
    return names


async def _resolve(session: AsyncSession, org: str) -> uuid.UUID:
    """An organisation by its id or its slug (`hub` is the hub's own chain)."""
    if org in ("hub", str(HUB_ORG)):
        return HUB_ORG
    found = await find_organisation(session, org)
    if found is None:
        raise UnknownOrganisation(f"no organisation with id or slug '{org}'")
    return found.id


def _range(report: ChainReport) -> str:
    start = f"checkpoint at event {report.start}" if report.start else "genesis"
    return f"from {start} to head {report.head}"


def _verified(report: ChainReport, unsealed: UnsealedReport, names: dict[uuid.UUID, str]) -> str:
    label = f"{names.get(report.org_id, '?')} ({report.org_id})"
    if report.broken is not None:
        event = report.broken.event_id or "-"
        return (
            f"{label}: BROKEN at event {report.broken.seq} (event id {event}): "
            f"{report.broken.reason}; {report.events} events proved before it, {_range(report)}"
        )
    proved = f"{report.events} events proved {_range(report)}"
    if unsealed.broken is not None:
        broken = unsealed.broken
        return (
            f"{label}: BROKEN at unsealed disclosure {broken.pending_id} (event id "
            f"{broken.event_id}): {broken.reason}; chain intact, {proved}, "
            f"{unsealed.disclosures} unsealed disclosures proved before it"
        )
    waiting = (
        f", {unsealed.disclosures} unsealed disclosures proved" if unsealed.disclosures else ""
    )
    return f"{label}: intact, {proved}{waiting}"


def _applied(outcome: RetentionOutcome, names: dict[uuid.UUID, str]) -> str:
    label = f"{names.get(outcome.org_id, '?')} ({outcome.org_id})"
    if outcome.refused is not None:
        return (
            f"{label}: REFUSED, the chain does not verify at event {outcome.refused.seq}: "
            f"{outcome.refused.reason}; nothing cut or deleted"
        )
    if not outcome.changed:
        return f"{label}: nothing to do"
    cut = (
        f"cut {outcome.events_cut} audit events up to event {outcome.cut_seq} (checkpoint)"
        if outcome.events_cut
        else "no audit events cut"
    )
    deleted = ", ".join(f"{count} {kind}" for kind, count in outcome.records_deleted.items())
    return f"{label}: {cut}; deleted {deleted or 'no closed records'}"
