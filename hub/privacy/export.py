"""Everything the hub holds about a customer or contact, as one JSON document (DESIGN 4).

One function serves `exportPersonalData` and `hub privacy export`. The document has one list of
rows per table, keyed by the table's name, each row with the table's own column names:

- the customer and its contacts (a contact: its own row), the customer's opportunities, cases,
  case comments and the deal registrations approved into its opportunities; its consent is the
  customer row's `consent_purposes`;
- explicit grant records naming the customer, its opportunities or cases, and the share index
  rows saying with which partner, under which grants, the customer and its records are shared;
- the disclosure index rows about it (which partner received which field, when, how often);
- the audit events that name it, found through `audit_event_records`: id, chain position,
  type, time and actor, with only the ids of this subject's records (an event never holds a
  personal value, and the other records it names belong to other subjects);
- the privacy notices sent about it.

Only the caller's own rows are read (`org_id`), so another organisation's records never appear,
and exporting is itself audited (`privacy.exported`, references and row counts only).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.audit.models import AuditEvent, AuditEventRecord, Disclosure
from hub.audit.record import EventType, record_act
from hub.audit.sealer import seal_own
from hub.cases.models import Case, CaseComment
from hub.customers.models import Contact, Customer
from hub.db import Base
from hub.deals.models import DealRegistration
from hub.grants.models import GrantRecord
from hub.grants.shares import CaseShare, CustomerShare, OpportunityShare
from hub.opportunities.models import Opportunity
from hub.privacy.models import PrivacyNotice
from hub.privacy.subjects import PrivacySubject, ResolvedSubject, resolve_subject

# The tables an export reads, in the order the document lists them.
EXPORTED_TABLES: tuple[str, ...] = (
    "customers",
    "contacts",
    "opportunities",
    "cases",
    "case_comments",
    "deal_registrations",
    "grant_records",
    "customer_shares",
    "opportunity_shares",
    "case_shares",
    "disclosures",
    "audit_events",
    "privacy_notices",
)

# Tables whose rows are about a customer as a whole, never about one of its contacts.
_THE_COMPANYS = frozenset(
    {"customers", "opportunities", "cases", "customer_shares", "opportunity_shares", "case_shares"}
)

# What of an event an export shows: never `details`, which may name other subjects' records.
_EVENT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.seq,
    AuditEvent.type,
    AuditEvent.created_at,
    AuditEvent.actor_org_id,
    AuditEvent.actor_user_id,
    AuditEvent.actor_client_id,
    AuditEvent.request_id,
    AuditEvent.record_ids,
)


@dataclass(frozen=True)
class PersonalDataExport:
    subject: ResolvedSubject
    document: dict[str, Any]

    @property
    def row_counts(self) -> dict[str, int]:
        tables: dict[str, list[Any]] = self.document["tables"]
        return {name: len(rows) for name, rows in tables.items()}


async def export_personal_data(
    session: AsyncSession,
    actor: Actor,
    subject: PrivacySubject,
    *,
    progress: Callable[[int], None] | None = None,
) -> PersonalDataExport:
    """The subject's document; `NotFound` when the subject is not the caller's.

    `progress` hears each table as it is read (the CLI's bar).
    """
    found = await resolve_subject(session, actor, subject)
    await seal_own(session)  # the disclosure index and the events, with every read committed
    reader = _Reader(session, found)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in EXPORTED_TABLES:
        tables[name] = await reader.read(name)
        if progress is not None:
            progress(1)
    document = {
        "subject": {
            "kind": found.kind,
            "id": str(found.subject_id),
            "customerId": str(found.customer_id),
        },
        "organisationId": str(found.org_id),
        "exportedAt": datetime.now(UTC).isoformat(),
        "tables": tables,
    }
    result = PersonalDataExport(found, document)
    await record_act(
        session,
        actor,
        EventType.PERSONAL_DATA_EXPORTED,
        {"subject": {"type": found.kind, "id": found.subject_id}, "rows": result.row_counts},
        record_ids=found.record_ids,
    )
    return result


class _Reader:
    """Reads one table's rows about the subject; remembers the ids later tables hang from."""

    def __init__(self, session: AsyncSession, subject: ResolvedSubject) -> None:
        self.session = session
        self.subject = subject
        self.org_id = subject.org_id
        self.ids: dict[str, list[uuid.UUID]] = {}

    async def read(self, name: str) -> list[dict[str, Any]]:
        subject = self.subject
        whole = subject.is_customer
        if name in _THE_COMPANYS and not whole:
            # A contact is not its company: nothing of these tables is about the person alone.
            self.ids[name] = []
            return []
        if name == "customers":
            return await self._rows(Customer.id == subject.customer_id, name)
        if name == "contacts":
            condition = (
                Contact.customer_id == subject.customer_id
                if whole
                else Contact.id == subject.subject_id
            )
            return await self._rows(condition, name)
        if name == "opportunities":
            return await self._rows(Opportunity.customer_id == subject.customer_id, name)
        if name == "cases":
            return await self._rows(Case.customer_id == subject.customer_id, name)
        if name == "case_comments":
            return await self._rows(CaseComment.case_id.in_(self.ids["cases"]), name)
        if name == "deal_registrations":
            return await self._rows(
                DealRegistration.opportunity_id.in_(self.ids["opportunities"]),
                name,
            )
        if name == "grant_records":
            named = self.ids["customers"] + self.ids["opportunities"] + self.ids["cases"]
            return await self._rows(GrantRecord.record_id.in_(named), name)
        if name == "customer_shares":
            return await self._rows(CustomerShare.customer_id == subject.customer_id, name)
        if name == "opportunity_shares":
            shared = OpportunityShare.opportunity_id.in_(self.ids["opportunities"])
            return await self._rows(shared, name)
        if name == "case_shares":
            return await self._rows(CaseShare.case_id.in_(self.ids["cases"]), name)
        if name == "disclosures":
            condition = (
                Disclosure.customer_id == subject.customer_id
                if whole
                else Disclosure.subject_id == subject.subject_id
            )
            return await self._rows(condition, name)
        if name == "audit_events":
            return await self._events()
        if name == "privacy_notices":
            return await self._rows(
                PrivacyNotice.subject_id.in_(subject.record_ids),
                name,
            )
        raise ValueError(name)

    async def _rows(self, condition: ColumnElement[bool], name: str) -> list[dict[str, Any]]:
        table = Base.metadata.tables[name]
        statement = select(table).where(table.c.org_id == self.org_id, condition)
        if "id" in table.c:
            statement = statement.order_by(table.c.id)
        rows = [dict(row) for row in (await self.session.execute(statement)).mappings()]
        if "id" in table.c:
            self.ids[name] = [row["id"] for row in rows]
        return [_plain_row(row) for row in rows]

    def _about(self) -> list[uuid.UUID]:
        """Every record of the subject's that an event may name."""
        ids = [*self.subject.record_ids]
        for name in ("opportunities", "cases", "case_comments", "deal_registrations"):
            ids.extend(self.ids.get(name, []))
        return list(dict.fromkeys(ids))

    async def _events(self) -> list[dict[str, Any]]:
        about = self._about()
        event_ids = (
            select(AuditEventRecord.event_id)
            .where(AuditEventRecord.org_id == self.org_id, AuditEventRecord.record_id.in_(about))
            .distinct()
        )
        statement = (
            select(*_EVENT_COLUMNS)
            .where(AuditEvent.org_id == self.org_id, AuditEvent.id.in_(event_ids))
            .order_by(AuditEvent.seq)
        )
        known = set(about)
        rows = []
        for row in (await self.session.execute(statement)).mappings():
            event = dict(row)
            event["record_ids"] = [rid for rid in event["record_ids"] if rid in known]
            rows.append(_plain_row(event))
        return rows


def _plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row.items()}


def _plain(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_plain(item) for item in value]
    return str(value)
