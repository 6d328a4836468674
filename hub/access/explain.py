"""Why one of the owner's records does or does not reach a partner (issue 5, point 9).

Every grant the owner made to that partner for the record's type is judged, each on the same
conditions the partner's reads apply (ADR 0008): live (`is_live`'s three parts), selected (the
predicate of `hub.access.coverage`, or `hub_selects_customer`, and the segment's customer
conditions) and consented (the customer's consent to the grant's purpose). The owner reads all of
its own rows, so one statement evaluates every condition of every grant as a column; nothing
here restates a rule, so an explanation cannot disagree with what the partner is given.

A contact is judged by its customer, under CUSTOMERS grants, as the partner's reads judge it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Row, Select, and_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.coverage import consented, selected
from hub.access.grants import (
    not_expired,
    not_revoked,
    partnership_active,
    partnership_status,
    select_grants,
)
from hub.access.partnerships import Side, select_partnerships
from hub.access.received import ReceivedGrant
from hub.access.visibility import get_owned
from hub.cases.models import Case
from hub.customers.models import Contact, Customer
from hub.db import TenantModel
from hub.errors import NotFound
from hub.grants.masking import PersonalField, combined_policy
from hub.grants.models import FieldVisibility, Grant, RecordType
from hub.opportunities.models import Opportunity
from hub.partnerships.models import Partnership, PartnershipStatus


class AccessReason(enum.StrEnum):
    """Why a grant does not share a record; NO_GRANT: there is no grant of its type at all."""

    NO_GRANT = "NO_GRANT"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    PARTNERSHIP_NOT_ACTIVE = "PARTNERSHIP_NOT_ACTIVE"
    NOT_SELECTED = "NOT_SELECTED"
    CONSENT_MISSING = "CONSENT_MISSING"


# The records an explanation speaks of, and the type of grant that shares each.
EXPLAINED: dict[type[TenantModel], RecordType] = {
    Customer: RecordType.CUSTOMERS,
    Contact: RecordType.CUSTOMERS,
    Opportunity: RecordType.OPPORTUNITIES,
    Case: RecordType.CASES,
}
# A grant's conditions on a record: grant id; not revoked, not expired, partnership active, its
# status; selected, consented.
_Row = Row[uuid.UUID, bool, bool, bool, PartnershipStatus, bool, bool]
_Conditions = Select[uuid.UUID, bool, bool, bool, PartnershipStatus, bool, bool]
# Records whose contacts' personal fields a field policy governs (a customer's, or the contact).
_WITH_PERSONAL_FIELDS = frozenset({Customer, Contact})


@dataclass(frozen=True)
class GrantVerdict:
    """One grant judged for one record: it covers the record when no reason stands against it."""

    grant: Grant
    partnership_status: PartnershipStatus
    reasons: tuple[AccessReason, ...]

    @property
    def covers(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class AccessExplanation:
    """The verdicts, oldest grant first, and the field policy the covering grants give.

    `fields` is empty for opportunities and cases: they carry no personal fields.
    """

    verdicts: tuple[GrantVerdict, ...]
    fields: dict[PersonalField, FieldVisibility]

    @property
    def visible(self) -> bool:
        return any(verdict.covers for verdict in self.verdicts)

    @property
    def reasons(self) -> tuple[AccessReason, ...]:
        """Why the record is not visible: every reason some grant gave, in a fixed order."""
        if self.visible:
            return ()
        if not self.verdicts:
            return (AccessReason.NO_GRANT,)
        given = {reason for verdict in self.verdicts for reason in verdict.reasons}
        return tuple(reason for reason in AccessReason if reason in given)


async def explain_access(
    session: AsyncSession,
    actor: Actor,
    model: type[TenantModel],
    record_id: uuid.UUID,
    partner_org_id: uuid.UUID,
    *,
    record_field: str = "recordId",
    partner_field: str = "partnerId",
) -> AccessExplanation:
    """Judge every grant the actor's organisation made to the partner for this record's type.

    Only the organisation's own records: one shared with it, another's or an absent one is
    `NotFound`, alike. So is a partner it has no partnership with (as owner, in any status).
    """
    record_type = EXPLAINED.get(model)
    if record_type is None:
        raise NotFound(record_field)
    record = await get_owned(session, actor, model, record_id, field=record_field)
    await _require_partner(session, actor, partner_org_id, partner_field)
    grants = list(
        await session.scalars(
            select_grants(actor)
            .where(
                Grant.org_id == actor.org_id,
                Grant.partner_org_id == partner_org_id,
                Grant.record_type == record_type,
            )
            .order_by(Grant.created_at, Grant.id)
        )
    )
    verdicts = await _verdicts(session, model, record.id, grants, record_field)
    fields: dict[PersonalField, FieldVisibility] = {}
    if model in _WITH_PERSONAL_FIELDS:
        fields = combined_policy(
            verdict.grant.field_policy for verdict in verdicts if verdict.covers
        )
    return AccessExplanation(verdicts=tuple(verdicts), fields=fields)


async def _require_partner(
    session: AsyncSession, actor: Actor, partner_org_id: uuid.UUID, field: str
) -> None:
    statement = (
        select_partnerships(actor, Side.OWNER)
        .where(Partnership.partner_org_id == partner_org_id)
        .with_only_columns(Partnership.id)
        .limit(1)
    )
    if (await session.scalars(statement)).first() is None:
        raise NotFound(field)


async def _verdicts(
    session: AsyncSession,
    model: type[TenantModel],
    record_id: uuid.UUID,
    grants: Sequence[Grant],
    record_field: str,
) -> list[GrantVerdict]:
    """All grants judged in one statement: a row of condition columns per grant."""
    if not grants:
        return []
    statement = union_all(*(_conditions(model, record_id, grant) for grant in grants))
    rows = {row.grant_id: row for row in await session.execute(statement)}
    if len(rows) != len(grants):
        # The record was deleted since it was read: it is absent now.
        raise NotFound(record_field)
    return [_verdict(grant, rows[grant.id]) for grant in grants]


def _conditions(model: type[TenantModel], record_id: uuid.UUID, grant: Grant) -> _Conditions:
    """One grant's conditions on one record, over the grant's row, the record and its customer."""
    statement = (
        select(
            Grant.id.label("grant_id"),
            not_revoked().label("not_revoked"),
            not_expired().label("not_expired"),
            partnership_active().label("partnership_active"),
            partnership_status().label("partnership_status"),
            selected(model, ReceivedGrant.of(grant)).label("selected"),
            consented().label("consented"),
        )
        .select_from(Grant)
        .join(Customer, Customer.org_id == Grant.org_id)
        .where(Grant.org_id == grant.org_id, Grant.id == grant.id)
    )
    if model is Customer:
        return statement.where(Customer.id == record_id)
    record = cast(type[Contact | Opportunity | Case], model)  # each has its customer_id
    return statement.join(
        record, and_(record.org_id == Customer.org_id, record.customer_id == Customer.id)
    ).where(record.id == record_id)


def _verdict(grant: Grant, row: _Row) -> GrantVerdict:
    """NULL counts as false, as it does in the WHERE clause of the partner's reads."""
    failed = (
        (AccessReason.REVOKED, row.not_revoked),
        (AccessReason.EXPIRED, row.not_expired),
        (AccessReason.PARTNERSHIP_NOT_ACTIVE, row.partnership_active),
        (AccessReason.NOT_SELECTED, row.selected),
        (AccessReason.CONSENT_MISSING, row.consented),
    )
    return GrantVerdict(
        grant=grant,
        partnership_status=PartnershipStatus(row.partnership_status),
        reasons=tuple(reason for reason, holds in failed if holds is not True),
    )
