"""Changing and creating records: who may, decided before any write (ADR 0008).

An organisation changes and creates its own records freely (scopes permitting). A partner
changes an owner's record only under a live CONTRIBUTE grant that shares it, and only what
partners may touch; it creates a record for an owner only under a live WRITE grant whose
selection covers the new record. Row-level security and the `partner_columns` trigger repeat
both rules in PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from sqlalchemy import Uuid, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.coverage import admits, grants_for
from hub.access.received import ReceivedGrant, received_grants
from hub.access.visibility import get_owned, get_visible, select_visible
from hub.cases.models import Case
from hub.customers.models import Customer, Purpose
from hub.db import TenantModel
from hub.errors import Forbidden, NotFound
from hub.exposure_maps import partner_writable_columns
from hub.grants.models import Access, Selection
from hub.grants.segments import SegmentKey
from hub.opportunities.models import Opportunity

M = TypeVar("M", bound=TenantModel)

# What a partner may do to an owner's record under CONTRIBUTE that is no column of it
# ("shared_comments": add a SHARED comment). The columns are the exposure map's to declare.
_PARTNER_ACTIONS: dict[type[TenantModel], frozenset[str]] = {
    Case: frozenset({"shared_comments"}),
}

# How a refusal says what a partner may change.
_PARTNER_MAY_CHANGE_DESCRIBED: dict[type[TenantModel], str] = {
    Opportunity: "the stage, next step and expected close date of an opportunity",
    Case: "SHARED comments and the satisfaction rating of a case",
}

# What a partner may set on a record it creates for an owner under WRITE: never the owner's
# people or internal notes.
PARTNER_MAY_SET: dict[type[TenantModel], tuple[frozenset[str], str]] = {
    Opportunity: (
        frozenset(
            {
                "name",
                "stage",
                "amount",
                "currency",
                "probability",
                "expected_close_date",
                "next_step",
            }
        ),
        "an opportunity's name, stage, amount, currency, probability, close date and next step",
    ),
    Case: (
        frozenset({"subject", "description", "priority"}),
        "a case's subject, description and priority",
    ),
}

# Purposes under which a partner may create records of a kind: raising a case is service.
CREATE_PURPOSES: dict[type[TenantModel], frozenset[Purpose]] = {
    Case: frozenset({Purpose.SERVICE}),
}


async def get_to_change(
    session: AsyncSession,
    actor: Actor,
    model: type[M],
    record_id: uuid.UUID,
    *,
    changing: Collection[str] = (),
    lock: bool = False,
    field: str = "id",
) -> M:
    """A record the actor may change in the attributes `changing`, locked if asked.

    Its own organisation's record, always. Another organisation's record shared with the actor:
    only under a CONTRIBUTE grant and only what partners may touch, or `Forbidden` (the actor
    knows it exists). Anything else answers `NotFound`, like an absent record.
    """
    try:
        return await get_owned(session, actor, model, record_id, lock=lock, field=field)
    except NotFound:
        pass
    described = _PARTNER_MAY_CHANGE_DESCRIBED.get(model, "")
    if changing and set(changing) <= partner_may_change(model):
        statement = (await select_visible(session, actor, model, at_least=Access.CONTRIBUTE)).where(
            model.id == record_id
        )
        if lock:
            statement = statement.with_for_update()
        record = (await session.scalars(statement)).one_or_none()
        if record is not None:
            return record
        refusal = "Changing a shared record needs a live CONTRIBUTE grant."
    else:
        refusal = f"A partner may change only {described}." if described else _ONLY_THE_OWNER
    # Refused: FORBIDDEN if the actor can see the record at all, else `NotFound` like any other.
    await get_visible(session, actor, model, record_id, field=field)
    raise Forbidden(refusal)


_ONLY_THE_OWNER = "Only the owner of this record may change it."


@cache
def partner_may_change(model: type[TenantModel]) -> frozenset[str]:
    """What a partner may change on an owner's `model` record under CONTRIBUTE, by attribute:
    the columns its exposure map declares partner-writable (`Exposed.partner_writable`, which
    the `partner_columns` trigger repeats in PostgreSQL), and `_PARTNER_ACTIONS`."""
    return partner_writable_columns(model) | _PARTNER_ACTIONS.get(model, frozenset())


@dataclass(frozen=True, slots=True)
class Creation:
    """Where a new record goes: the organisation that will own it, and the grant that lets a
    partner create it (None when the actor creates for its own organisation)."""

    owner_id: uuid.UUID
    grant: ReceivedGrant | None = None


async def creating_for(
    session: AsyncSession,
    actor: Actor,
    model: type[TenantModel],
    customer_id: uuid.UUID,
    attributes: Mapping[SegmentKey, str | None],
    *,
    setting: Collection[str] = (),
    field: str = "customerId",
) -> Creation:
    """Who will own a new `model` record of this customer, with these segment attributes.

    The actor's own customer: its own organisation. A customer an owner shares with it: that
    owner, if the actor sets only what partners may (`setting`, besides the customer) and a live
    WRITE grant (of a purpose allowed for the kind) admits the new record; else `Forbidden`. A
    customer it cannot see: `NotFound`.
    """
    customer = await get_visible(session, actor, Customer, customer_id, field=field)
    if customer.org_id == actor.org_id:
        return Creation(actor.org_id)
    allowed, described = PARTNER_MAY_SET.get(model, (frozenset(), ""))
    if not set(setting) <= allowed:
        raise Forbidden(f"A partner may set only {described}.")
    purposes = CREATE_PURPOSES.get(model)
    candidates = [
        grant
        for grant in grants_for(model, await received_grants(session, actor), Access.WRITE)
        if grant.owner_id == customer.org_id
        and grant.selection is not Selection.EXPLICIT
        and (purposes is None or grant.purpose in purposes)
    ]
    if candidates:
        statement = union_all(
            *(
                select(literal(grant.id, Uuid)).where(admits(grant, customer_id, attributes))
                for grant in candidates
            )
        )
        admitting = set((await session.scalars(statement)).all())
        # An ASSIGNED grant first: the new record is then plainly the partner's own.
        for grant in sorted(candidates, key=lambda g: g.selection is not Selection.ASSIGNED):
            if grant.id in admitting:
                return Creation(customer.org_id, grant)
    purpose = f" {'/'.join(sorted(purposes))}" if purposes else ""
    raise Forbidden(
        f"Creating this for its owner needs a live{purpose} WRITE grant whose selection covers it."
    )
