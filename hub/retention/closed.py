"""Which records are closed for good, and deleting them with what hangs off them.

Closed, by kind, and since when (the clock the period runs on):
- opportunities at CLOSED_WON or CLOSED_LOST, since their last change (`updated_at`; closing
  is a change, and a closed opportunity that is still being edited is still in use); with the
  deal registrations approved into them and the explicit grant entries naming them;
- cases at CLOSED, since `closed_at` (or their last change, for a case closed before that
  column was kept); with all their comments, shared and internal, and explicit grant entries;
- deal registrations REJECTED, since their review (`reviewed_at`).

Nothing else is touched: open opportunities, cases in any other state (RESOLVED included: it
may still be reopened), pending and approved registrations, customers and contacts (privacy
erasure handles personal data), and every row of another organisation (each statement names
the organisation, and row-level security holds the transaction to it). The audit trail of a
deleted record stays in the ledger until the audit period removes it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer, Uuid

_CLOSED_OPPORTUNITIES = text(
    "SELECT o.id FROM opportunities o WHERE o.org_id = :org"
    " AND o.stage IN ('CLOSED_WON', 'CLOSED_LOST')"
    " AND o.updated_at < now() - make_interval(days => :days) FOR UPDATE"
).bindparams(bindparam("org", type_=Uuid()), bindparam("days", type_=Integer()))
_CLOSED_CASES = text(
    "SELECT c.id FROM cases c WHERE c.org_id = :org AND c.status = 'CLOSED'"
    " AND coalesce(c.closed_at, c.updated_at) < now() - make_interval(days => :days)"
    " FOR UPDATE"
).bindparams(bindparam("org", type_=Uuid()), bindparam("days", type_=Integer()))
_REGISTRATIONS = text(
    "DELETE FROM deal_registrations d WHERE d.org_id = :org AND ("
    " (d.status = 'REJECTED'"
    " AND coalesce(d.reviewed_at, d.created_at) < now() - make_interval(days => :days))"
    " OR d.opportunity_id = ANY(:ids))"
).bindparams(
    bindparam("org", type_=Uuid()),
    bindparam("days", type_=Integer()),
    bindparam("ids", type_=ARRAY(Uuid())),
)
_BY_IDS = {
    # Table and column names are the constants below, never input.
    table: text(f"DELETE FROM {table} WHERE org_id = :org AND {column} = ANY(:ids)").bindparams(  # noqa: S608
        bindparam("org", type_=Uuid()), bindparam("ids", type_=ARRAY(Uuid()))
    )
    for table, column in (
        ("case_comments", "case_id"),
        ("grant_records", "record_id"),
        ("opportunities", "id"),
        ("cases", "id"),
    )
}


async def delete_closed_records(
    session: AsyncSession, org_id: uuid.UUID, days: int
) -> dict[str, int]:
    """Delete `org_id`'s records closed more than `days` ago; counts by kind.

    The closed records are locked first, so one that is reopened meanwhile either waits for
    this transaction or is seen reopened and kept; then what hangs off them goes, then they.
    """
    window = {"org": org_id, "days": days}
    opportunities = list((await session.scalars(_CLOSED_OPPORTUNITIES, window)).all())
    cases = list((await session.scalars(_CLOSED_CASES, window)).all())

    async def delete(statement: object, ids: list[uuid.UUID]) -> int:
        result = await session.execute(statement, {"org": org_id, "ids": ids})  # type: ignore[call-overload]
        return int(getattr(result, "rowcount", 0))

    registrations = await delete(_REGISTRATIONS.bindparams(days=days), opportunities)
    return {
        "deal_registrations": registrations,
        "case_comments": await delete(_BY_IDS["case_comments"], cases),
        "grant_entries": await delete(_BY_IDS["grant_records"], opportunities + cases),
        "opportunities": await delete(_BY_IDS["opportunities"], opportunities),
        "cases": await delete(_BY_IDS["cases"], cases),
    }
