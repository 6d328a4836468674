"""The audit trail: `auditEvents`, the caller organisation's own chain, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NewType

import strawberry
from strawberry.scalars import JSON

from hub.audit import events
from hub.audit.events import RecordedEvent
from resolvers import audit as resolve
from resolvers.ids import NodeType, decode_any_id, encode_id
from schema.base import Connection, Info, to_connection
from schema.inputs import optional_id
from schema.organisations import Organisation, organisation_of

BigInt = NewType("BigInt", int)
# Given to the schema's `scalar_map` (schema/__init__.py).
BIG_INT = strawberry.scalar(
    name="BigInt",
    description="A whole number that may pass GraphQL's 32-bit Int, as a JSON number.",
    serialize=int,
    parse_value=int,
)


@strawberry.type(description="Who acted: an organisation, and its user or its API client.")
class AuditActor:
    organisation_id: strawberry.ID | None = strawberry.field(
        description="The acting organisation's global id: the caller's own, or a partner's "
        "acting on the caller's records."
    )
    user_id: strawberry.ID | None = strawberry.field(
        description="The acting user's global id, when a person acted."
    )
    client_id: str | None = strawberry.field(description="The OAuth client id it acted through.")


@strawberry.type(
    description="One event of the organisation's tamper-evident audit ledger (hash-chained "
    "per organisation; `hub audit verify` proves the chain)."
)
class AuditEvent:
    id: strawberry.ID
    seq: BigInt = strawberry.field(description="Its place in the organisation's chain, from 1.")
    type: str = strawberry.field(
        description="What happened, such as `record.updated`, `grant.created` or `disclosure`."
    )
    occurred_at: datetime
    actor: AuditActor
    request_id: str | None = strawberry.field(description="The request it happened in.")
    source_address: str | None = strawberry.field(description="The IP address it came from.")
    record_ids: list[uuid.UUID] = strawberry.field(
        description="The ids of the records it concerns (the uuid inside their global ids): "
        "for a record event the record and the records it belongs to, such as its customer."
    )
    details: JSON = strawberry.field(
        description="What happened in detail. A record event holds `record` {type, id, "
        "version} and `changes` {field: {from, to}}, a personal field as {changed: true}: "
        "personal values are never kept in the ledger."
    )
    hash: str = strawberry.field(
        description="The chain's SHA-256 after this event, in hex: sha256(previous hash || "
        "seq || sha256(canonical event))."
    )

    @staticmethod
    def from_record(event: RecordedEvent) -> AuditEvent:
        return AuditEvent(
            id=strawberry.ID(encode_id(NodeType.AUDIT_EVENT, event.id)),
            seq=BigInt(event.seq),
            type=event.type,
            occurred_at=event.occurred_at,
            actor=AuditActor(
                organisation_id=_global(NodeType.ORGANISATION, event.actor_org_id),
                user_id=_global(NodeType.USER, event.actor_user_id),
                client_id=event.actor_client_id,
            ),
            request_id=event.request_id,
            source_address=event.source_address,
            record_ids=event.record_ids,
            details=JSON(event.details),
            hash=event.hash.hex(),
        )


def _global(node_type: NodeType, record_id: uuid.UUID | None) -> strawberry.ID | None:
    return None if record_id is None else strawberry.ID(encode_id(node_type, record_id))


@strawberry.type(
    description="One time the caller's organisation, as a partner, received or changed an "
    "owner's records: an event of the owner's ledger that the caller itself caused."
)
class AccessTrailEvent:
    id: strawberry.ID
    type: str = strawberry.field(
        description="`disclosure` (records it received: per grant and purpose, the record ids "
        "and the fields that crossed) or `record.created` / `record.updated` (a change it made)."
    )
    occurred_at: datetime
    actor: AuditActor
    request_id: str | None = strawberry.field(description="The request it happened in.")
    source_address: str | None = strawberry.field(description="The IP address it came from.")
    record_ids: list[uuid.UUID] = strawberry.field(
        description="The ids of the owner's records it concerns, as the caller knows them."
    )
    details: JSON
    owner_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The owner organisation whose records these were.")
    async def owner(self, info: Info) -> Organisation:
        return await organisation_of(info, self.owner_id)

    @staticmethod
    def from_record(event: RecordedEvent) -> AccessTrailEvent:
        return AccessTrailEvent(
            id=strawberry.ID(encode_id(NodeType.AUDIT_EVENT, event.id)),
            type=event.type,
            occurred_at=event.occurred_at,
            actor=AuditActor(
                organisation_id=_global(NodeType.ORGANISATION, event.actor_org_id),
                user_id=_global(NodeType.USER, event.actor_user_id),
                client_id=event.actor_client_id,
            ),
            request_id=event.request_id,
            source_address=event.source_address,
            record_ids=event.record_ids,
            details=JSON(event.details),
            owner_id=event.org_id,
        )


@strawberry.input(description="Every condition given must hold.")
class AuditEventFilter:
    types: list[str] | None = strawberry.field(
        default=None, description="Any of these event types, such as `record.updated`."
    )
    actor_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Events a user (its global id) caused."
    )
    actor_client_id: str | None = strawberry.field(
        default=None, description="Events caused through an OAuth client (its client id)."
    )
    actor_organisation_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Events an organisation (its global id) caused: a partner, on your records.",
    )
    record: strawberry.ID | None = strawberry.field(
        default=None,
        description="Events concerning a record (its global id), also once the record is gone.",
    )
    occurred_from: datetime | None = strawberry.field(
        default=None, name="from", description="At or after this time (with a time zone)."
    )
    occurred_to: datetime | None = strawberry.field(
        default=None, name="to", description="Before this time (with a time zone)."
    )

    def to_filter(self) -> events.AuditEventFilter:
        return events.AuditEventFilter(
            types=tuple(self.types or ()),
            actor_user_id=optional_id(self.actor_user_id, NodeType.USER, "actorUserId"),
            actor_client_id=self.actor_client_id,
            actor_org_id=optional_id(
                self.actor_organisation_id, NodeType.ORGANISATION, "actorOrganisationId"
            ),
            record_id=(
                decode_any_id(self.record, field="record")[1] if self.record is not None else None
            ),
            occurred_from=self.occurred_from,
            occurred_to=self.occurred_to,
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="The caller organisation's own audit trail, newest first (scope "
        "`audit:read`): what its people and clients did, and what partners did to its records. "
        "What it did to another owner's records, as that owner's partner, is in the owner's trail."
    )
    async def audit_events(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: AuditEventFilter | None = None,
    ) -> Connection[AuditEvent]:
        where = (filter or AuditEventFilter()).to_filter()
        page = await resolve.list_audit_events(info.context, where, first, after)
        return to_connection(page, AuditEvent.from_record)

    @strawberry.field(
        description="Partner side (scope `audit:read`): your organisation's own accesses to "
        "owners' data, newest first — each response that gave it an owner's records (which "
        "records, which fields, under which grant and purpose) and each change it made to "
        "them. Owners' internal events never appear here. The filter's `actorOrganisationId` "
        "is always your own organisation."
    )
    async def my_access_trail(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: AuditEventFilter | None = None,
    ) -> Connection[AccessTrailEvent]:
        where = (filter or AuditEventFilter()).to_filter()
        page = await resolve.list_access_trail(info.context, where, first, after)
        return to_connection(page, AccessTrailEvent.from_record)
