"""Privacy operations (scope `privacy:manage`): export and erase a customer's or contact's
personal data, and the notices that tell partners an erasure happened."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from hub.errors import NotFound
from hub.privacy import erasure, export, notices
from hub.privacy.models import PrivacyNotice as PrivacyNoticeRecord
from hub.privacy.subjects import PrivacySubject
from resolvers import privacy as resolve
from resolvers.ids import NodeType, decode_id, encode_id
from schema.base import Connection, Info, UserError, to_connection, user_errors
from schema.organisations import Organisation, organisation_of


def _subject_global_id(kind: str, subject_id: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(encode_id(NodeType(kind), subject_id))


@strawberry.type(description="Everything the hub holds about one customer or contact.")
class PersonalDataExport:
    subject_id: strawberry.ID
    document: JSON = strawberry.field(
        description="One JSON document: `subject`, `organisationId`, `exportedAt`, and "
        "`tables`, one list of rows per table (customers, contacts, opportunities, cases, "
        "case_comments, deal_registrations, grant_records, disclosures, audit_events, "
        "privacy_notices) with the table's own column names."
    )

    @staticmethod
    def from_export(found: export.PersonalDataExport) -> PersonalDataExport:
        return PersonalDataExport(
            subject_id=_subject_global_id(found.subject.kind, found.subject.subject_id),
            document=JSON(found.document),
        )


@strawberry.type(description="Records of one kind whose personal fields were anonymised.")
class ErasedRecords:
    kind: str = strawberry.field(description="Customer, Contact, Opportunity, Case, ...")
    count: int
    fields: list[str] = strawberry.field(
        description="The fields anonymised, as the API names them."
    )


@strawberry.type(description="What an erasure did; the erased values are gone.")
class PersonalDataErasure:
    subject_id: strawberry.ID
    already_erased: bool = strawberry.field(
        description="True when there was nothing left to erase: nothing changed, nobody was "
        "told again."
    )
    erased: list[ErasedRecords]
    notified_partner_ids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(
        description="The partner organisations told by a privacy notice this time: those the "
        "disclosure report names for the subject, and no other."
    )
    async def notified_partners(self, info: Info) -> list[Organisation]:
        return [await organisation_of(info, org_id) for org_id in self.notified_partner_ids]

    @staticmethod
    def from_erasure(done: erasure.Erasure) -> PersonalDataErasure:
        return PersonalDataErasure(
            subject_id=_subject_global_id(done.subject.kind, done.subject.subject_id),
            already_erased=done.already_erased,
            erased=[
                ErasedRecords(kind=group.kind, count=len(group.ids), fields=list(group.fields))
                for group in done.records
            ],
            notified_partner_ids=done.notified_partner_ids,
        )


@strawberry.type(
    description="An owner telling a partner that personal data the partner received was erased."
)
class PrivacyNotice:
    id: strawberry.ID
    owner_id: strawberry.ID = strawberry.field(description="The organisation that erased it.")
    partner_id: strawberry.ID = strawberry.field(description="The organisation told.")
    subject_id: strawberry.ID = strawberry.field(
        description="The customer or contact erased (its global id in the owner's data)."
    )
    subject_kind: str = strawberry.field(description="Customer or Contact.")
    fields: list[str] = strawberry.field(
        description="What this partner had received, as `Kind.field` (' (masked)' when it "
        "crossed masked); never a value."
    )
    notified_at: datetime
    acknowledged_at: datetime | None
    owner_org_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The owner organisation, while the caller can still see it.")
    async def owner(self, info: Info) -> Organisation | None:
        try:
            return await organisation_of(info, self.owner_org_id)
        except NotFound:
            return None

    @staticmethod
    def from_record(record: PrivacyNoticeRecord) -> PrivacyNotice:
        return PrivacyNotice(
            id=strawberry.ID(encode_id(NodeType.PRIVACY_NOTICE, record.id)),
            owner_id=strawberry.ID(encode_id(NodeType.ORGANISATION, record.org_id)),
            partner_id=strawberry.ID(encode_id(NodeType.ORGANISATION, record.partner_org_id)),
            subject_id=_subject_global_id(record.subject_kind, record.subject_id),
            subject_kind=record.subject_kind,
            fields=list(record.fields),
            notified_at=record.created_at,
            acknowledged_at=record.acknowledged_at,
            owner_org_id=record.org_id,
        )


@strawberry.input
class PrivacyNoticeFilter:
    acknowledged: bool | None = strawberry.field(
        default=None, description="Only acknowledged (true) or unacknowledged (false) notices."
    )
    sent: bool = strawberry.field(
        default=False,
        description="Owner side: the notices your organisation sent, instead of those it received.",
    )

    def to_filter(self) -> notices.NoticeFilter:
        return notices.NoticeFilter(acknowledged=self.acknowledged, sent=self.sent)


@strawberry.input
class ErasePersonalDataInput:
    subject_id: strawberry.ID = strawberry.field(
        description="One of your customers (with all its contacts) or contacts."
    )

    def to_command(self) -> PrivacySubject:
        return resolve.subject_of(self.subject_id)


@strawberry.input
class AcknowledgePrivacyNoticeInput:
    id: strawberry.ID

    def to_command(self) -> notices.AcknowledgeNotice:
        return notices.AcknowledgeNotice(decode_id(self.id, NodeType.PRIVACY_NOTICE))


@strawberry.type
class ErasePersonalDataPayload:
    erasure: PersonalDataErasure | None
    user_errors: list[UserError]


@strawberry.type
class AcknowledgePrivacyNoticePayload:
    notice: PrivacyNotice | None
    already_acknowledged: bool = strawberry.field(
        description="True when the notice had been acknowledged before: nothing changed."
    )
    user_errors: list[UserError]


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="Owner side, scope `privacy:manage`: everything the hub holds about your "
        "customer (with its contacts, opportunities, cases, comments, registrations, consent, "
        "grant records, disclosures, audit events and notices) or contact `subjectId`, as one "
        "JSON document. Audited as `privacy.exported`. Null when the subject is not yours, "
        "exactly as for a missing one."
    )
    async def export_personal_data(
        self, info: Info, subject_id: strawberry.ID
    ) -> PersonalDataExport | None:
        found = await resolve.export_personal_data(info.context, resolve.subject_of(subject_id))
        return PersonalDataExport.from_export(found) if found else None

    @strawberry.field(
        description="Scope `privacy:manage`: the privacy notices owners sent your organisation "
        "(or, with `sent`, the ones it sent), newest first."
    )
    async def privacy_notices(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: PrivacyNoticeFilter | None = None,
    ) -> Connection[PrivacyNotice]:
        where = (filter or PrivacyNoticeFilter()).to_filter()
        page = await resolve.list_notices(info.context, where, first, after)
        return to_connection(page, PrivacyNotice.from_record)


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Owner side, scope `privacy:manage`: anonymise the personal data of your "
        "customer (its name and domain, every contact, and the free text of its opportunities, "
        "cases and comments) or contact, in place, keeping amounts, stages, statuses and dates; "
        "record it (`privacy.erased`) and send a privacy notice to every partner that received "
        "the data. Erasing again changes nothing and says `alreadyErased`."
    )
    async def erase_personal_data(
        self, info: Info, input: ErasePersonalDataInput
    ) -> ErasePersonalDataPayload:
        outcome = await resolve.erase_personal_data(info.context, input.to_command)
        erased = PersonalDataErasure.from_erasure(outcome.value) if outcome.value else None
        return ErasePersonalDataPayload(erasure=erased, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(
        description="Partner side, scope `privacy:manage`: acknowledge a privacy notice "
        "addressed to your organisation. Once: a second acknowledgement changes nothing and "
        "says `alreadyAcknowledged`."
    )
    async def acknowledge_privacy_notice(
        self, info: Info, input: AcknowledgePrivacyNoticeInput
    ) -> AcknowledgePrivacyNoticePayload:
        outcome = await resolve.acknowledge_notice(info.context, input.to_command)
        done = outcome.value
        return AcknowledgePrivacyNoticePayload(
            notice=PrivacyNotice.from_record(done.notice) if done else None,
            already_acknowledged=done.already_acknowledged if done else False,
            user_errors=user_errors(outcome.errors),
        )
