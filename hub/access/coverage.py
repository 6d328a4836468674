"""What one live grant shares, as a SQL predicate on the shared table's own columns (ADR 0008).

Each predicate names the owner first, so the owner's indexes serve it: an ASSIGNED grant on
opportunities is `(org_id, assigned_partnership_id)`, an EXPLICIT one the grant's record list.
The part a partner cannot evaluate itself (the customer's consent and the customer attributes of
a segment) is the set `hub_grant_customer_ids(grant)`, computed by PostgreSQL as a definer
function that re-checks the grant is live. Row-level security asks the same of every row.

The same pieces, one by one, explain a grant to its owner (`selected`, `consented`): the owner
reads its own grants and customers, so it evaluates the selection and the two halves of
`hub_customer_fits` directly, with the predicates and SQL functions the partner's reads run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Table,
    Uuid,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute

from hub.access.received import ReceivedGrant
from hub.cases.models import Case, CaseComment, CommentVisibility
from hub.customers.models import Contact, Customer
from hub.db import TenantModel
from hub.grants.models import Access, Grant, GrantRecord, RecordType, Selection
from hub.grants.segments import Segment, SegmentKey
from hub.opportunities.models import Opportunity

Predicate = Callable[[ReceivedGrant], ColumnElement[bool]]


def _customers_reached(grant: ReceivedGrant) -> Any:
    """The owner's customers this grant reaches: consented to its purpose, fitting its segment."""
    return select(func.hub_grant_customer_ids(literal(grant.id, Uuid)).column_valued())


def _explicit_records(grant: ReceivedGrant) -> Any:
    return select(GrantRecord.record_id).where(
        GrantRecord.org_id == grant.owner_id, GrantRecord.grant_id == grant.id
    )


def segment_allows(
    segment: Segment | None,
    key: SegmentKey,
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> ColumnElement[bool]:
    """The rule's conditions on one record attribute; `hub_segment_allows` in SQL says the same.

    An `include` list demands one of its values (an empty attribute fails); an `exclude` list
    refuses its values (an empty attribute passes).
    """
    if segment is None:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if key in segment.include:
        conditions.append(column.in_(segment.include[key]))
    if key in segment.exclude:
        conditions.append(or_(column.is_(None), column.not_in(segment.exclude[key])))
    return and_(true(), *conditions)


def _customer(grant: ReceivedGrant) -> ColumnElement[bool]:
    return and_(Customer.org_id == grant.owner_id, Customer.id.in_(_customers_reached(grant)))


def _contact(grant: ReceivedGrant) -> ColumnElement[bool]:
    return and_(
        Contact.org_id == grant.owner_id, Contact.customer_id.in_(_customers_reached(grant))
    )


def _opportunity_selected(grant: ReceivedGrant) -> ColumnElement[bool]:
    if grant.selection is Selection.ASSIGNED:
        return Opportunity.assigned_partnership_id == grant.partnership_id
    if grant.selection is Selection.EXPLICIT:
        return Opportunity.id.in_(_explicit_records(grant))
    return segment_allows(grant.segment, SegmentKey.STAGE, Opportunity.stage)


def _opportunity(grant: ReceivedGrant) -> ColumnElement[bool]:
    return and_(
        Opportunity.org_id == grant.owner_id,
        _opportunity_selected(grant),
        Opportunity.customer_id.in_(_customers_reached(grant)),
    )


def _case_selected(grant: ReceivedGrant) -> ColumnElement[bool]:
    if grant.selection is Selection.ASSIGNED:
        return Case.raised_by_org_id == grant.partner_org_id
    if grant.selection is Selection.EXPLICIT:
        return Case.id.in_(_explicit_records(grant))
    return and_(
        segment_allows(grant.segment, SegmentKey.STATUS, Case.status),
        segment_allows(grant.segment, SegmentKey.PRIORITY, Case.priority),
    )


def _case(grant: ReceivedGrant) -> ColumnElement[bool]:
    return and_(
        Case.org_id == grant.owner_id,
        _case_selected(grant),
        Case.customer_id.in_(_customers_reached(grant)),
    )


def _case_comment(grant: ReceivedGrant) -> ColumnElement[bool]:
    """SHARED comments on a shared case; INTERNAL ones never cross."""
    return and_(
        CaseComment.org_id == grant.owner_id,
        CaseComment.visibility == CommentVisibility.SHARED,
        CaseComment.case_id.in_(select(Case.id).where(_case(grant))),
    )


def admits(
    grant: ReceivedGrant, customer_id: uuid.UUID, attributes: Mapping[SegmentKey, str | None]
) -> ColumnElement[bool]:
    """Whether a new record of this customer, with these attributes, falls inside `grant`.

    ASSIGNED admits what the partner creates (it is assigned to, or raised by, the partner);
    SEGMENT what its rule admits; EXPLICIT nothing, since it names records that exist.
    """
    if grant.selection is Selection.EXPLICIT:
        return false()
    conditions: list[ColumnElement[bool]] = [
        literal(customer_id, Uuid).in_(_customers_reached(grant))
    ]
    if grant.selection is Selection.SEGMENT:
        conditions.extend(
            segment_allows(grant.segment, key, literal(value)) for key, value in attributes.items()
        )
    return and_(*conditions)


# Which grants share which table, and how. Tables not named here are never shared.
SHARED: dict[type[TenantModel], tuple[RecordType, Predicate]] = {
    Customer: (RecordType.CUSTOMERS, _customer),
    Contact: (RecordType.CUSTOMERS, _contact),
    Opportunity: (RecordType.OPPORTUNITIES, _opportunity),
    Case: (RecordType.CASES, _case),
    CaseComment: (RecordType.CASES, _case_comment),
}


def grants_for(
    model: type[TenantModel],
    grants: tuple[ReceivedGrant, ...],
    at_least: Access = Access.READ,
) -> list[ReceivedGrant]:
    """The grants that share rows of `model` with at least the access `at_least`."""
    shared = SHARED.get(model)
    if shared is None:
        return []
    return [
        grant
        for grant in grants
        if grant.record_type is shared[0] and grant.access.includes(at_least)
    ]


def covers(model: type[TenantModel], grant: ReceivedGrant) -> ColumnElement[bool]:
    """The rows of `model` that `grant` shares."""
    return SHARED[model][1](grant)


# --- the same pieces one by one, on the owner's own rows ------------------------------------

# Whole-row references to the `grants` and `customers` rows of a statement, for the SQL
# functions that take a row (as the partner wall's definer functions do).
_GRANT_ROW = cast(Table, Grant.__table__).table_valued()
_CUSTOMER_ROW = cast(Table, Customer.__table__).table_valued()

# Records whose own columns a grant's selection tests; other shared records are selected by
# their customer (`hub_selects_customer`, as in `hub_grant_customer_ids`).
_RECORD_SELECTIONS: dict[type[TenantModel], Predicate] = {
    Opportunity: _opportunity_selected,
    Case: _case_selected,
}


def selected(model: type[TenantModel], grant: ReceivedGrant) -> ColumnElement[bool]:
    """Whether `grant`'s selection picks the `model` row of a statement over the owner's rows.

    Everything `covers` asks besides liveness and consent: the record's own selection, with the
    predicate the partner's reads use (an opportunity or case), or its customer's, with
    `hub_selects_customer` (a customer or contact); and the segment's customer conditions,
    `hub_customer_in_segment`. The statement's FROM must hold `grant`'s row of `grants`, the
    record's customer in `customers`, and the record itself. NULL (an unassigned opportunity
    under ASSIGNED) means no, as it does in a WHERE clause.
    """
    record_selection = _RECORD_SELECTIONS.get(model)
    if record_selection is not None:
        own = record_selection(grant)
    else:
        own = func.hub_selects_customer(_GRANT_ROW, Customer.id, type_=Boolean)
    return and_(own, func.hub_customer_in_segment(_GRANT_ROW, _CUSTOMER_ROW, type_=Boolean))


def consented() -> ColumnElement[bool]:
    """The statement's customer consented to its grant's purpose: `hub_customer_consented`."""
    return func.hub_customer_consented(_GRANT_ROW, _CUSTOMER_ROW, type_=Boolean)
