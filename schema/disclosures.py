"""`disclosureReport`: which partners received which fields of one of the caller's customers (its
contacts, opportunities and cases included) or contacts, under which grant and purpose, first and
last time, how often."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import strawberry

from hub.audit import report
from hub.audit.models import Disclosure
from resolvers import disclosures as resolve
from resolvers.ids import NodeType, encode_id
from resolvers.privacy import subject_of
from schema.base import Info
from schema.enums import Purpose
from schema.organisations import Organisation, organisation_of


@strawberry.type(description="One field of one subject as one partner received it under one grant.")
class DisclosureEntry:
    subject_id: strawberry.ID = strawberry.field(
        description="The record whose field crossed: the customer, or one of its contacts, "
        "opportunities or cases."
    )
    grant_id: strawberry.ID = strawberry.field(description="The grant it crossed under.")
    purpose: Purpose
    field: str = strawberry.field(
        description="The field as the API names it; ' (masked)' when it crossed masked."
    )
    first_at: datetime
    last_at: datetime
    times: int = strawberry.field(description="How many responses carried it.")
    partner_org_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The partner organisation that received it.")
    async def partner(self, info: Info) -> Organisation:
        return await organisation_of(info, self.partner_org_id)

    @staticmethod
    def from_record(row: Disclosure) -> DisclosureEntry:
        return DisclosureEntry(
            subject_id=strawberry.ID(encode_id(NodeType(row.subject_kind), row.subject_id)),
            grant_id=strawberry.ID(encode_id(NodeType.GRANT, row.grant_id)),
            purpose=Purpose(row.purpose),
            field=row.field,
            first_at=row.first_at,
            last_at=row.last_at,
            times=row.times,
            partner_org_id=row.partner_org_id,
        )


@strawberry.type(
    description="Who has seen this customer's data: every partner organisation that received "
    "fields of the customer or of its contacts, opportunities and cases (or of one contact), "
    "from the disclosure index."
)
class DisclosureReport:
    subject_id: strawberry.ID
    entries: list[DisclosureEntry] = strawberry.field(
        description="Per partner, subject, field and grant; empty when nothing ever crossed."
    )
    first_at: datetime | None = strawberry.field(description="The first disclosure, if any.")
    last_at: datetime | None = strawberry.field(description="The latest disclosure, if any.")
    partner_ids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The partner organisations that received any of it.")
    async def partners(self, info: Info) -> list[Organisation]:
        return list(
            await asyncio.gather(*(organisation_of(info, partner) for partner in self.partner_ids))
        )

    @staticmethod
    def from_report(subject_id: str, found: report.DisclosureReport) -> DisclosureReport:
        return DisclosureReport(
            subject_id=strawberry.ID(subject_id),
            entries=[DisclosureEntry.from_record(row) for row in found.entries],
            first_at=found.first_at,
            last_at=found.last_at,
            partner_ids=found.partner_ids,
        )


@strawberry.type
class DisclosureQuery:
    @strawberry.field(
        description="Owner side, scope `audit:read`: which partner organisations received which "
        "fields of your customer (with its contacts, opportunities and cases) or contact "
        "`subjectId`, under which grant and purpose, first and last time, how often. Null "
        "when the subject is not yours, exactly as for a missing one."
    )
    async def disclosure_report(
        self, info: Info, subject_id: strawberry.ID
    ) -> DisclosureReport | None:
        found = await resolve.disclosure_report(info.context, subject_of(subject_id))
        return DisclosureReport.from_report(subject_id, found) if found else None
