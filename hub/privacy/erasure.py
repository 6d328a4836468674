"""Erasing a customer's or a contact's personal data: anonymised in place, aggregates kept.

What is anonymised is exactly what the ledger never keeps (`hub.audit.changes.personal_fields`,
the one definition of personal data: what the exposure maps declare `personal`, the personal
fields of the types without a map, and unbounded text): a field that may be empty becomes NULL,
one that may not becomes `ERASED`. Everything else stays (amounts, stages, statuses,
priorities, dates, counts, consent, segment attributes), so reports and the disclosure index
keep adding up.

- A contact: its own row (name, e-mail, phone, job title).
- A customer: its name and domain, every contact of it, the name, next step and internal notes
  of its opportunities, the subject and description of its cases, the body of every comment on
  them, and the customer name and domain on deal registrations approved into its opportunities.

Each changed row gets a new `version`, so a client holding the old one meets a conflict. The
erasure is recorded as `privacy.erased` in the owner's chain (references and field names only),
and every partner the disclosure index says received the subject's data gets one privacy notice
(`hub_privacy_notify`, a definer function: the application role cannot write another
organisation's notices itself); disclosures still waiting to be sealed are folded into the
index first. Erasing again finds nothing to change, records nothing, tells nobody twice and
says it was already erased. The ledger is never changed: it never held a personal value, so
every chain still verifies.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text, Uuid

from hub.access.actor import Actor
from hub.audit.changes import personal_fields
from hub.audit.record import EventType, record_act
from hub.audit.sealer import seal_own
from hub.cases.models import Case, CaseComment
from hub.customers.models import Contact, Customer
from hub.db import TenantModel
from hub.deals.models import DealRegistration
from hub.opportunities.models import Opportunity
from hub.privacy.subjects import PrivacySubject, ResolvedSubject, resolve_subject

# What a personal field that may not be empty reads after erasure.
ERASED = "[erased]"

_NOTIFY = text("SELECT hub_privacy_notify(:subject, :kind)").bindparams(
    bindparam("subject", type_=Uuid()), bindparam("kind", type_=Text())
)


@dataclass(frozen=True)
class ErasedRecords:
    """Records of one kind whose personal fields were anonymised, and which fields those are."""

    kind: str
    ids: tuple[uuid.UUID, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Erasure:
    subject: ResolvedSubject
    already_erased: bool
    records: list[ErasedRecords]
    notified_partner_ids: list[uuid.UUID]


def anonymised_values(model: type[TenantModel]) -> dict[str, str | None]:
    """What each personal field of `model` becomes: NULL if it may be empty, else `ERASED`."""
    columns = model.__table__.c
    return {
        key: None if columns[key].nullable else ERASED for key in sorted(personal_fields(model))
    }


async def erase_personal_data(
    session: AsyncSession, actor: Actor, subject: PrivacySubject
) -> Erasure:
    """Anonymise the subject; `NotFound` when it is not the caller's."""
    found = await resolve_subject(session, actor, subject, lock=True)
    records: list[ErasedRecords] = []
    for model, condition in _scope(found):
        ids = await _anonymise(session, found.org_id, model, condition)
        if ids:
            fields = tuple(_camel(key) for key in anonymised_values(model))
            records.append(ErasedRecords(model.__name__, ids, fields))
    if not records:
        return Erasure(found, already_erased=True, records=[], notified_partner_ids=[])
    # Partners whose reads wait to be sealed received the data too: fold them in first. After
    # the rows are locked, as a commit's append would take the chain: rows, then chain head.
    await seal_own(session)
    notified = sorted(
        (await session.scalars(_NOTIFY, {"subject": found.subject_id, "kind": found.kind})).all()
    )
    erased_ids = [record_id for group in records for record_id in group.ids]
    await record_act(
        session,
        actor,
        EventType.PERSONAL_DATA_ERASED,
        {
            "subject": {"type": found.kind, "id": found.subject_id},
            "erased": {
                group.kind: {"ids": list(group.ids), "fields": list(group.fields)}
                for group in records
            },
            "notifiedPartnerIds": notified,
        },
        record_ids=list(dict.fromkeys([*found.record_ids, *erased_ids])),
    )
    return Erasure(found, already_erased=False, records=records, notified_partner_ids=notified)


def _scope(
    found: ResolvedSubject,
) -> Sequence[tuple[type[TenantModel], ColumnElement[bool]]]:
    """Which rows of which tables are about the subject, in the order they are erased."""
    if not found.is_customer:
        return [(Contact, Contact.id == found.subject_id)]
    customer = found.customer_id
    cases = select(Case.id).where(Case.org_id == found.org_id, Case.customer_id == customer)
    opportunities = select(Opportunity.id).where(
        Opportunity.org_id == found.org_id, Opportunity.customer_id == customer
    )
    return [
        (Customer, Customer.id == customer),
        (Contact, Contact.customer_id == customer),
        (Opportunity, Opportunity.customer_id == customer),
        (Case, Case.customer_id == customer),
        (CaseComment, CaseComment.case_id.in_(cases.scalar_subquery())),
        (DealRegistration, DealRegistration.opportunity_id.in_(opportunities.scalar_subquery())),
    ]


async def _anonymise(
    session: AsyncSession,
    org_id: uuid.UUID,
    model: type[TenantModel],
    condition: ColumnElement[bool],
) -> tuple[uuid.UUID, ...]:
    """Anonymise the rows not anonymised yet; the ids of those that changed."""
    values: dict[str, Any] = anonymised_values(model)
    columns = model.__table__.c
    differs = or_(*(columns[key].is_distinct_from(value) for key, value in values.items()))
    if "version" in columns:
        values["version"] = columns["version"] + 1
    statement = (
        update(model)
        .where(columns["org_id"] == org_id, condition, differs)
        .values(**values)
        .returning(columns["id"])
        .execution_options(synchronize_session=False)
    )
    return tuple(sorted((await session.scalars(statement)).all()))


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
