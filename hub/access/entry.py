"""A request's first statement: enter the organisation, judge the token, read the live grants.

Every statement is a network round trip plus Python (DESIGN 8), and every request needs these
three things before anything else, so they are one statement: `hub.org_id` is set for the
transaction (row-level security keys on it), the caller's checks run (the token's standing),
and the live grants made to the organisation are read and set as `hub.grant_ids`.

The setting is made in a MATERIALIZED common table expression, and everything that must see it
is a subquery tied to that expression's row (`after`), so PostgreSQL evaluates it only once the
row, and with it the setting, exists. Should a plan ever do otherwise, row-level security would
hide the rows the checks look for and the request would be refused: it fails closed.

Every row also carries the `fingerprint` of the whole answer (checks and grants). A caller judged
live is remembered with it (`Admission`), and its next compiled read runs this same statement on
the driver (`driver_entry`) with no session at all (ADR 0020): the read proceeds only where the
entry answers exactly as it did when the caller was judged, so a revocation, a disabled user or
a changed grant still bites on the very next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Label,
    RowMapping,
    Select,
    Uuid,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.received import (
    ReceivedGrant,
    grant_ids_setting,
    joined_ids,
    live_grants,
    remember,
    remembered,
)
from hub.access.rls import ORG_SETTING
from hub.driver_sql import DriverStatement, driver_statement

Checks = Callable[[ColumnElement[bool]], Sequence[Label[Any]]]

# One statement per shape of checks (a handful: which parts a token names), built on first use;
# every value is a bind parameter, so building and caching it is paid once per process.
_STATEMENTS: dict[Hashable, Select[Any]] = {}

# The entry of each shape as the driver runs it, compiled the first time a request enters.
_DRIVER: dict[Hashable, DriverStatement] = {}

# How PostgreSQL plans the transaction's later statements. A kept read's statement is the same
# SQL for every request of its key, but PostgreSQL planned it anew on each (its generic plan
# costed higher than the custom ones): 0.6 ms of an owner's page, 1.9 of a partner's, more
# than running it. An admitted caller's read uses the generic plan, made once per connection
# while the organisation is entered; the usual way leaves PostgreSQL to choose.
_PLANS, _GENERIC = "plan_cache_mode", "force_generic_plan"


@dataclass(frozen=True)
class Admission:
    """A caller as its last request's entry judged it: the actor (without that request's own
    id and address), its received grants, and the entry's shape, `fingerprint` and the values
    its next reads enter with (the same, but for generic plans)."""

    actor: Actor
    grants: tuple[ReceivedGrant, ...]
    shape: Hashable
    values: Mapping[str, Any]
    fingerprint: str

    def admits(self, rows: Sequence[Mapping[str, Any]]) -> bool:
        """Whether the entry (`driver_entry(self.shape)`) answered as when this was judged."""
        return bool(rows) and rows[0]["fingerprint"] == self.fingerprint


async def enter_request(
    session: AsyncSession,
    org_id: uuid.UUID,
    checks: Checks,
    parameters: Mapping[str, Any],
    *,
    shape: Hashable,
) -> RowMapping:
    """Enter `org_id` for this transaction, run `checks(after)` and read the received grants.

    `checks` builds the caller's columns for statements of this `shape`, bound by `parameters`.
    Returns the checks' columns (by label); the grants are kept for `received_grants`.
    """
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = _statement(checks)
        dialect = session.get_bind().dialect
        # The values a request gives are the binds without one of their own.
        _DRIVER[shape] = driver_statement(statement, dialect, lambda bind: bind.required)
    values = _values(org_id, parameters, plans="auto")
    rows = (await session.execute(statement, values)).mappings().all()
    remember(session, org_id, rows)
    first: RowMapping = rows[0]
    return first


def admission(
    session: AsyncSession,
    actor: Actor,
    checks: RowMapping,
    parameters: Mapping[str, Any],
    *,
    shape: Hashable,
) -> Admission:
    """The caller `enter_request` (with these `parameters` and `shape`) just judged as `actor`."""
    grants = remembered(session, actor.org_id)
    if grants is None:
        raise RuntimeError("admission asked before the request's entry")
    values = _values(actor.org_id, parameters, plans=_GENERIC)
    return Admission(actor, grants, shape, values, checks["fingerprint"])


def _values(org_id: uuid.UUID, parameters: Mapping[str, Any], *, plans: str) -> dict[str, Any]:
    """What the entry binds: the organisation, how later statements are planned, the checks'."""
    return {"entered_org": str(org_id), "receiving_org": org_id, _PLANS: plans, **parameters}


def driver_entry(shape: Hashable) -> DriverStatement | None:
    """The entry of this shape as the driver runs it; None before a request entered with it."""
    return _DRIVER.get(shape)


def _statement(checks: Checks) -> Select[Any]:
    entered = (
        select(
            func.set_config(ORG_SETTING, bindparam("entered_org"), True).label("org"),
            func.set_config("plan_cache_mode", bindparam(_PLANS), True).label("plans"),
        )
        .cte("entered")
        .prefix_with("MATERIALIZED")
    )
    after = entered.c.org.is_not(None)
    live = live_grants(bindparam("receiving_org", type_=Uuid()), after).lateral("live")
    # In the grants' order, so the answer (and its fingerprint) is the same for the same grants.
    grant_ids = grant_ids_setting(joined_ids(live.c.id).over(order_by=live.c.id, rows=(None, None)))
    answer = (
        select(*checks(after), grant_ids.label("grant_ids"), live)
        .select_from(entered.outerjoin(live, true()))
        .cte("answer")
    )
    # The whole answer, every row's text in the grants' order, on each row.
    whole = func.string_agg(literal_column("answer::text"), literal(";"))
    fingerprint = func.md5(whole.over(order_by=answer.c.id, rows=(None, None)))
    return select(answer, fingerprint.label("fingerprint")).order_by(answer.c.id)
