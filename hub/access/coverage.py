"""What live grants share, as SQL the planner can drive from an index (ADR 0008, ADR 0017).

A partner reads an owner's rows through the share index (`hub.grants.shares`): one row per
(owner, record, partner) naming the owner's grants that select the record, kept exact by
PostgreSQL whenever a record, a customer or a grant changes. A row is shared with the actor when
its share row names one of the actor's live grants. Every condition names the owners it reads
from, so the owners' primary keys serve lookups by id; a list is taken from the share index in
its order (`listed`), so its cost follows the page and not the size of what is shared.
Row-level security asks the same of every row, with liveness computed by PostgreSQL.

What a grant would admit of a record a partner creates (`admits`), and the pieces that explain
a grant to its owner (`selected`, `consented`), still evaluate the grant's terms directly, with
the SQL functions the share index is maintained by.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Table,
    Uuid,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from hub.access.received import ReceivedGrant
from hub.cases.models import Case, CaseComment, CommentVisibility
from hub.customers.models import Contact, Customer
from hub.db import TenantModel
from hub.grants.models import Access, Grant, GrantRecord, RecordType, Selection
from hub.grants.segments import Segment, SegmentKey
from hub.grants.shares import CaseShare, CustomerShare, OpportunityShare
from hub.opportunities.models import Opportunity
from hub.pagination import Source

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


def _opportunity_selected(grant: ReceivedGrant) -> ColumnElement[bool]:
    if grant.selection is Selection.ASSIGNED:
        return Opportunity.assigned_partnership_id == grant.partnership_id
    if grant.selection is Selection.EXPLICIT:
        return Opportunity.id.in_(_explicit_records(grant))
    return segment_allows(grant.segment, SegmentKey.STAGE, Opportunity.stage)


def _case_selected(grant: ReceivedGrant) -> ColumnElement[bool]:
    if grant.selection is Selection.ASSIGNED:
        return Case.raised_by_org_id == grant.partner_org_id
    if grant.selection is Selection.EXPLICIT:
        return Case.id.in_(_explicit_records(grant))
    return and_(
        segment_allows(grant.segment, SegmentKey.STATUS, Case.status),
        segment_allows(grant.segment, SegmentKey.PRIORITY, Case.priority),
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


@dataclass(frozen=True)
class ShareIndex:
    """How rows of a shared table are found in the share index.

    `key` is the row's column naming the shared record (a contact is shared with its customer,
    a comment with its case); `order` pairs the share's copies of order keys with the record's
    columns, equal by construction, so a list ordered by the record's column is read from the
    share index in order (the join states the equality, and the planner takes the index's order
    for the record's). `only` narrows further (INTERNAL comments never cross).
    """

    record_type: RecordType
    share: type[OpportunityShare] | type[CaseShare] | type[CustomerShare]
    shared: InstrumentedAttribute[uuid.UUID]
    key: InstrumentedAttribute[uuid.UUID]
    order: Mapping[str, str] = field(default_factory=dict)
    only: Callable[[], ColumnElement[bool]] | None = None


# Which grants share which table, and how. Tables not named here are never shared.
SHARED: dict[type[TenantModel], ShareIndex] = {
    Customer: ShareIndex(
        RecordType.CUSTOMERS,
        CustomerShare,
        CustomerShare.customer_id,
        Customer.id,
        {"created_at": "created_at", "name": "name"},
    ),
    Contact: ShareIndex(
        RecordType.CUSTOMERS, CustomerShare, CustomerShare.customer_id, Contact.customer_id
    ),
    Opportunity: ShareIndex(
        RecordType.OPPORTUNITIES,
        OpportunityShare,
        OpportunityShare.opportunity_id,
        Opportunity.id,
        {"created_at": "created_at"},
    ),
    Case: ShareIndex(
        RecordType.CASES, CaseShare, CaseShare.case_id, Case.id, {"created_at": "created_at"}
    ),
    CaseComment: ShareIndex(
        RecordType.CASES,
        CaseShare,
        CaseShare.case_id,
        CaseComment.case_id,
        only=lambda: CaseComment.visibility == CommentVisibility.SHARED,
    ),
}


def grants_for(
    model: type[TenantModel],
    grants: tuple[ReceivedGrant, ...],
    at_least: Access = Access.READ,
) -> list[ReceivedGrant]:
    """The grants that share rows of `model` with at least the access `at_least`."""
    index = SHARED.get(model)
    if index is None:
        return []
    return [
        grant
        for grant in grants
        if grant.record_type is index.record_type and grant.access.includes(at_least)
    ]


def _grant_ids(grants: Sequence[ReceivedGrant]) -> ColumnElement[Any]:
    return bindparam(None, sorted({grant.id for grant in grants}), type_=ARRAY(Uuid()), unique=True)


def _owners(grants: Sequence[ReceivedGrant]) -> list[uuid.UUID]:
    return sorted({grant.owner_id for grant in grants})


def shared(model: type[TenantModel], grants: Sequence[ReceivedGrant]) -> ColumnElement[bool]:
    """The rows of `model` one of `grants` (received by one partner) shares with it.

    The owners are named, so a lookup by id reads the owners' primary keys; the share is then
    one primary-key lookup per row.
    """
    if not grants:
        return false()
    index = SHARED[model]
    share = index.share
    condition = and_(
        model.org_id.in_(_owners(grants)),
        exists().where(
            share.org_id == model.org_id,
            index.shared == index.key,
            share.partner_org_id == grants[0].partner_org_id,
            share.grant_ids.overlap(_grant_ids(grants)),
        ),
    )
    return and_(condition, index.only()) if index.only is not None else condition


def listed(
    model: type[TenantModel], grants: Sequence[ReceivedGrant], own: uuid.UUID | None
) -> list[Source[Any]]:
    """`own`'s rows and those `grants` share, as the sources of an ordered page.

    Shared rows are driven from the partner's share index in the order of its copied keys (the
    source's `keys`), own rows from the owner's index; a page takes its rows from each and
    merges them, whatever the size of the share.
    """
    index = SHARED[model]
    share = index.share
    shared_keys = (
        select(
            share.org_id,
            index.shared.label("id"),
            *(getattr(share, name).label(index.order[name]) for name in index.order),
        )
        .where(
            share.partner_org_id == grants[0].partner_org_id,
            share.org_id.in_(_owners(grants)),
            share.grant_ids.overlap(_grant_ids(grants)),
        )
        .subquery("visible")
    )
    # Joined on the record's id with the owners named: their primary keys serve the lookup, and
    # the planner estimates the join from the id (ids are random uuids, unique across owners).
    statement = select(model).join(
        shared_keys, and_(model.org_id.in_(_owners(grants)), index.key == shared_keys.c.id)
    )
    names = ["id", *index.order.values()]
    sources: list[Source[Any]] = []
    if own is not None:
        sources.append(Source(select(model).where(model.org_id == own)))
    sources.append(Source(statement, {name: shared_keys.c[name] for name in names}))
    return sources


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

    Everything the share index asks besides liveness and consent: the record's own selection,
    as `hub_grant_selects_opportunity` and `hub_grant_selects_case` test it, or its customer's,
    with
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
