"""A request's first statement: enter the organisation, judge the token, read the live grants.

Every statement is a network round trip plus Python (DESIGN 8), and every request needs these
three things before anything else, so they are one statement: `hub.org_id` is set for the
transaction (row-level security keys on it), the caller's checks run (the token's standing),
and the live grants made to the organisation are read and set as `hub.grant_ids`.

The setting is made in a MATERIALIZED common table expression, and everything that must see it
is a subquery tied to that expression's row (`after`), so PostgreSQL evaluates it only once the
row, and with it the setting, exists. Should a plan ever do otherwise, row-level security would
hide the rows the checks look for and the request would be refused: it fails closed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Label, RowMapping, Select, Uuid, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.received import grant_ids_setting, joined_ids, live_grants, remember
from hub.access.rls import ORG_SETTING

Checks = Callable[[ColumnElement[bool]], Sequence[Label[Any]]]

# One statement per shape of checks (a handful: which parts a token names), built on first use;
# every value is a bind parameter, so building and caching it is paid once per process.
_STATEMENTS: dict[Hashable, Select[Any]] = {}


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
    values = {"entered_org": str(org_id), "receiving_org": org_id, **parameters}
    rows = (await session.execute(statement, values)).mappings().all()
    remember(session, org_id, rows)
    first: RowMapping = rows[0]
    return first


def _statement(checks: Checks) -> Select[Any]:
    entered = (
        select(func.set_config(ORG_SETTING, bindparam("entered_org"), True).label("org"))
        .cte("entered")
        .prefix_with("MATERIALIZED")
    )
    after = entered.c.org.is_not(None)
    live = live_grants(bindparam("receiving_org", type_=Uuid()), after).lateral("live")
    grant_ids = grant_ids_setting(joined_ids(live.c.id).over())
    return (
        select(*checks(after), grant_ids.label("grant_ids"), live)
        .select_from(entered.outerjoin(live, true()))
        .order_by(live.c.id)
    )
