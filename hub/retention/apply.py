"""Applying retention policies: cut the ledger at a checkpoint, delete closed records.

A maintenance job (`hub retention run`) on the owner's connection, one transaction per
organisation, keyed on that organisation (`hub.org_id`) like any request, so row-level
security holds it to that organisation's rows even on a role that does not bypass it, and the
ledger's own functions accept it. In that transaction, in this order:

1. Disclosures waiting to be sealed into the chain are sealed (ADR 0016), so the proof covers
   everything the cut can reach; the run holds the chain's head from here to its commit.
   Then the chain is proved: a chain that does not verify is never cut (cutting would destroy
   the evidence of the break, and the checkpoint would vouch for a hash nobody proved).
2. `hub_audit_cut` writes the checkpoint and deletes the events before it (ADR 0014).
3. Closed records past the period are deleted with what hangs off them (`closed.py`).
4. `retention.applied` records the counts and the cut in the organisation's own chain.

A run that finds nothing to do writes nothing, so running it again is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer, Uuid

from hub.access.rls import enter_organisation
from hub.audit.record import Event, EventType, record
from hub.audit.sealer import seal_own
from hub.audit.verify import BrokenLink, verify_chain
from hub.retention.closed import delete_closed_records
from hub.retention.models import RetentionPolicy

_CUT = text(
    "SELECT cut_seq, events_cut FROM hub_audit_cut(:org, now() - make_interval(days => :days))"
).bindparams(bindparam("org", type_=Uuid()), bindparam("days", type_=Integer()))


@dataclass(frozen=True)
class RetentionOutcome:
    org_id: uuid.UUID
    cut_seq: int | None = None
    events_cut: int = 0
    records_deleted: dict[str, int] = field(default_factory=dict)
    # Set when the chain did not verify: nothing was cut or deleted.
    refused: BrokenLink | None = None

    @property
    def changed(self) -> bool:
        return bool(self.events_cut or any(self.records_deleted.values()))


async def organisations_with_policies(session: AsyncSession) -> list[uuid.UUID]:
    """Organisations that set a period (maintenance connection: sees every organisation)."""
    return list(
        (
            await session.scalars(
                select(RetentionPolicy.org_id)
                .where(
                    (RetentionPolicy.audit_events_days.is_not(None))
                    | (RetentionPolicy.closed_records_days.is_not(None))
                )
                .order_by(RetentionPolicy.org_id)
            )
        ).all()
    )


async def apply_policy(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    progress: Callable[[int], None] | None = None,
) -> RetentionOutcome:
    """Apply `org_id`'s policy in the session's transaction (the caller commits)."""
    await enter_organisation(session, org_id)
    policy = await session.get(RetentionPolicy, org_id)
    if policy is None:
        return RetentionOutcome(org_id)
    cut_seq, events_cut = None, 0
    if policy.audit_events_days is not None:
        await seal_own(session)
        proof = await verify_chain(session, org_id, progress=progress)
        if proof.broken is not None:
            return RetentionOutcome(org_id, refused=proof.broken)
        cut = (await session.execute(_CUT, {"org": org_id, "days": policy.audit_events_days})).one()
        cut_seq, events_cut = cut.cut_seq, cut.events_cut
    deleted: dict[str, int] = {}
    if policy.closed_records_days is not None:
        deleted = await delete_closed_records(session, org_id, policy.closed_records_days)
    outcome = RetentionOutcome(org_id, cut_seq, events_cut, deleted)
    if outcome.changed:
        await record(
            session,
            Event(
                type=EventType.RETENTION_APPLIED,
                org_id=org_id,
                details={
                    "audit_events_days": policy.audit_events_days,
                    "closed_records_days": policy.closed_records_days,
                    "cut_seq": cut_seq,
                    "events_cut": events_cut,
                    "records_deleted": deleted,
                },
            ),
        )
    return outcome
