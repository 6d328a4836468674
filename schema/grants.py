"""Grants: the type, the `grants` list, and createGrant/updateGrant/revokeGrant.

Who may do what (the owner's admins change, both sides read, nobody else sees anything) is
decided by the service and the access layer; a grant of others answers exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import strawberry

from hub.errors import NotFound
from hub.grants import segments, service
from hub.grants.masking import combined_policy
from hub.grants.models import Grant as GrantRecord
from hub.values import UNSET, Maybe
from resolvers import grants as resolve
from resolvers.ids import NodeType, decode_any_id, decode_id, encode_id
from resolvers.outcome import Outcome
from schema.base import Connection, Info, Node, UserError, to_connection, user_errors
from schema.enums import Access, FieldVisibility, PersonalField, Purpose, RecordType, Selection
from schema.inputs import maybe, optional_id
from schema.partnerships import Partnership

T = TypeVar("T")
R = TypeVar("R")

# The global-id type of each kind of record a grant shares.
NODE_TYPES: dict[RecordType, NodeType] = {
    RecordType.CUSTOMERS: NodeType.CUSTOMER,
    RecordType.OPPORTUNITIES: NodeType.OPPORTUNITY,
    RecordType.CASES: NodeType.CASE,
}
_RECORD_TYPES = {node_type: record_type for record_type, node_type in NODE_TYPES.items()}

_ATTRIBUTES = (
    "region, country, industry, size and lifecycleStage (of the customer) for every record "
    "type; stage for opportunities; status and priority for cases."
)


@strawberry.type(description="The attribute has one of `values` (under `exclude`: none of them).")
class SegmentCondition:
    attribute: str
    values: list[str]


@strawberry.type(description="A SEGMENT rule: every `include` condition holds, no `exclude` one.")
class Segment:
    include: list[SegmentCondition]
    exclude: list[SegmentCondition]

    @staticmethod
    def from_json(data: dict[str, Any]) -> Segment:
        rule = segments.Segment.from_json(data)
        return Segment(include=_conditions(rule.include), exclude=_conditions(rule.exclude))


def _conditions(
    conditions: Mapping[segments.SegmentKey, tuple[str, ...]],
) -> list[SegmentCondition]:
    return [
        SegmentCondition(attribute=key.value, values=list(values))
        for key, values in conditions.items()
    ]


@strawberry.type(description="How one personal-data field of shared contacts reaches the partner.")
class FieldRule:
    field: PersonalField
    visibility: FieldVisibility


@strawberry.type(
    description="How an owner shares records of one type with a partner, for a purpose, with a "
    "field policy for personal data. Seen by the owner and by the partner it is made to."
)
class Grant(Node):
    record_type: RecordType
    access: Access = strawberry.field(
        description="READ; CONTRIBUTE = read, comment and update the fields partners may touch; "
        "WRITE = also create records within the selection."
    )
    selection: Selection = strawberry.field(
        description="ASSIGNED (records the partner is assigned to or raised), SEGMENT (a rule) "
        "or EXPLICIT (the `records` named)."
    )
    segment: Segment | None = strawberry.field(description="The rule of a SEGMENT grant, or null.")
    purpose: Purpose = strawberry.field(
        description="A record is shared only if its customer consented to this purpose."
    )
    field_policy: list[FieldRule] = strawberry.field(
        description="Every personal field; one the grant did not name is HIDDEN."
    )
    expires_at: datetime | None
    granted_by: str = strawberry.field(description="`user:<id>` or `client:<OAuth client id>`.")
    granted_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None = strawberry.field(
        description="`user:<id>` or `client:<OAuth client id>`."
    )
    live: bool = strawberry.field(
        description="Lets data flow now: not revoked, not expired, and its partnership ACTIVE."
    )
    version: int = strawberry.field(description="Give it back to updateGrant.")
    record_id: strawberry.Private[uuid.UUID]
    partnership_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The partnership it shares through.")
    async def partnership(self, info: Info) -> Partnership:
        record = await info.context.loaders.partnership.load(self.partnership_id)
        if record is None:  # both sides of a visible grant see its partnership
            raise NotFound()
        return Partnership.from_record(record)

    @strawberry.field(description="Global ids of the records an EXPLICIT grant names; else empty.")
    async def records(self, info: Info) -> list[strawberry.ID]:
        if self.selection is not Selection.EXPLICIT:
            return []
        record_ids = await info.context.loaders.records_of_grant.load(self.record_id)
        node_type = NODE_TYPES[self.record_type]
        return [strawberry.ID(encode_id(node_type, record_id)) for record_id in record_ids]

    @staticmethod
    def from_record(record: GrantRecord) -> Grant:
        if record.live is None:
            raise LookupError("A grant must be read through hub.access.select_grants.")
        policy = combined_policy([record.field_policy])
        return Grant(
            id=strawberry.ID(encode_id(NodeType.GRANT, record.id)),
            record_type=record.record_type,
            access=record.access,
            selection=record.selection,
            segment=Segment.from_json(record.segment) if record.segment is not None else None,
            purpose=record.purpose,
            field_policy=[
                FieldRule(field=field, visibility=seen) for field, seen in policy.items()
            ],
            expires_at=record.expires_at,
            granted_by=record.granted_by,
            granted_at=record.created_at,
            revoked_at=record.revoked_at,
            revoked_by=record.revoked_by,
            live=record.live,
            version=record.version,
            record_id=record.id,
            partnership_id=record.partnership_id,
        )


@strawberry.input(description="The attribute has one of `values`; with `negated`, none of them.")
class SegmentConditionInput:
    attribute: str = strawberry.field(description=f"One of: {_ATTRIBUTES}")
    values: list[str]
    negated: bool = False

    def to_condition(self) -> segments.Condition:
        return segments.Condition(
            key=self.attribute, values=tuple(self.values), negated=self.negated
        )


@strawberry.input(description="How one personal-data field reaches the partner.")
class FieldRuleInput:
    field: PersonalField
    visibility: FieldVisibility

    def to_rule(self) -> service.FieldRule:
        return service.FieldRule(field=self.field, visibility=self.visibility)


_SEGMENT = "Required for SEGMENT, refused otherwise."
_RECORD_IDS = "1 to 500 global ids of your records of `recordType`: required for EXPLICIT only."
_FIELD_POLICY = "At most one rule per field; a field without one is HIDDEN."


@strawberry.input
class CreateGrantInput:
    partnership_id: strawberry.ID = strawberry.field(description="Yours, as the owner.")
    record_type: RecordType
    access: Access
    selection: Selection
    purpose: Purpose
    segment: list[SegmentConditionInput] | None = strawberry.field(
        default=None, description=_SEGMENT
    )
    record_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=_RECORD_IDS)
    field_policy: list[FieldRuleInput] = strawberry.field(
        default_factory=list, description=_FIELD_POLICY
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="In the future, with a time zone; null never expires."
    )

    def to_command(self) -> service.CreateGrant:
        return service.CreateGrant(
            partnership_id=decode_id(
                self.partnership_id, NodeType.PARTNERSHIP, field="partnershipId"
            ),
            record_type=self.record_type,
            access=self.access,
            selection=self.selection,
            purpose=self.purpose,
            segment=_each(self.segment, SegmentConditionInput.to_condition),
            records=_each(self.record_ids, _record_ref),
            field_policy=tuple(rule.to_rule() for rule in self.field_policy),
            expires_at=self.expires_at,
        )


@strawberry.input(
    description="Change a grant's terms; omitted fields stay. The partnership, record type and "
    "selection never change: that is a new grant."
)
class UpdateGrantInput:
    grant_id: strawberry.ID
    version: int = strawberry.field(description="The version you read; a stale one is refused.")
    access: Access | None = strawberry.UNSET
    purpose: Purpose | None = strawberry.UNSET
    segment: list[SegmentConditionInput] | None = strawberry.field(
        default=strawberry.UNSET, description="A SEGMENT grant's new rule."
    )
    record_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="An EXPLICIT grant's whole new list: 1 to 500 global ids of your records of "
        "its type.",
    )
    field_policy: list[FieldRuleInput] | None = strawberry.field(
        default=strawberry.UNSET, description=f"The whole new policy. {_FIELD_POLICY}"
    )
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="In the future; null never expires."
    )

    def to_command(self) -> service.UpdateGrant:
        return service.UpdateGrant(
            grant_id=decode_id(self.grant_id, NodeType.GRANT, field="grantId"),
            version=self.version,
            access=maybe(self.access, "access", nullable=False),
            purpose=maybe(self.purpose, "purpose", nullable=False),
            segment=_maybe_each(self.segment, "segment", SegmentConditionInput.to_condition),
            records=_maybe_each(self.record_ids, "recordIds", _record_ref),
            field_policy=_maybe_each(self.field_policy, "fieldPolicy", FieldRuleInput.to_rule),
            expires_at=maybe(self.expires_at),
        )


@strawberry.input
class RevokeGrantInput:
    grant_id: strawberry.ID

    def to_command(self) -> service.RevokeGrant:
        return service.RevokeGrant(
            grant_id=decode_id(self.grant_id, NodeType.GRANT, field="grantId")
        )


def _record_ref(global_id: strawberry.ID) -> service.RecordRef:
    """A record id as named; an unreadable one is left for the service to refuse at its index."""
    try:
        node_type, record_id = decode_any_id(global_id)
    except NotFound:
        return service.RecordRef(record_type=None, record_id=None)
    return service.RecordRef(record_type=_RECORD_TYPES.get(node_type), record_id=record_id)


def _each(items: list[T] | None, convert: Callable[[T], R]) -> tuple[R, ...] | None:
    return None if items is None else tuple(convert(item) for item in items)


def _maybe_each(
    items: list[T] | None, field: str, convert: Callable[[T], R]
) -> Maybe[tuple[R, ...]]:
    """An omitted list stays UNSET; null is refused (these lists cannot be cleared)."""
    present = maybe(items, field, nullable=False)
    if present is UNSET:
        return UNSET
    return tuple(convert(item) for item in present)


@strawberry.type
class GrantPayload:
    grant: Grant | None
    user_errors: list[UserError]

    @staticmethod
    def from_outcome(outcome: Outcome[GrantRecord]) -> GrantPayload:
        return GrantPayload(
            grant=Grant.from_record(outcome.value) if outcome.value else None,
            user_errors=user_errors(outcome.errors),
        )


@strawberry.type
class GrantQuery:
    @strawberry.field(
        description="Grants the caller's organisation made and grants made to it, oldest first; "
        "needs `partners:read` or an admin. `live` keeps only grants that let data flow now "
        "(true) or only those that do not (false)."
    )
    async def grants(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        partnership_id: strawberry.ID | None = None,
        record_type: RecordType | None = None,
        live: bool | None = None,
    ) -> Connection[Grant]:
        where = service.GrantFilter(
            partnership_id=optional_id(partnership_id, NodeType.PARTNERSHIP, "partnershipId"),
            record_type=record_type,
            live=live,
        )
        page = await resolve.list_grants(info.context, where, first, after)
        return to_connection(page, Grant.from_record)


@strawberry.type
class GrantMutation:
    @strawberry.mutation(
        description="Owner side: share records of one type through a partnership that has not "
        "ENDED (data flows while it is ACTIVE)."
    )
    async def create_grant(self, info: Info, input: CreateGrantInput) -> GrantPayload:
        return GrantPayload.from_outcome(await resolve.create_grant(info.context, input.to_command))

    @strawberry.mutation(
        description="Owner side: narrow or widen a grant that is not revoked; audited as a diff."
    )
    async def update_grant(self, info: Info, input: UpdateGrantInput) -> GrantPayload:
        return GrantPayload.from_outcome(await resolve.update_grant(info.context, input.to_command))

    @strawberry.mutation(description="Owner side: end a grant for good, from the next request on.")
    async def revoke_grant(self, info: Info, input: RevokeGrantInput) -> GrantPayload:
        return GrantPayload.from_outcome(await resolve.revoke_grant(info.context, input.to_command))
