"""Partnerships: the type, the `partnerships` list, and the lifecycle mutations.

Who may do what (owner or partner side, admins only for changes) is decided by the service;
a partnership of other organisations answers exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial

import strawberry

from hub.access import side_of
from hub.partnerships import service
from hub.partnerships.models import Partnership as PartnershipRecord
from resolvers import partnerships as resolve
from resolvers.ids import NodeType, decode_id, encode_id
from resolvers.outcome import Outcome
from schema.base import Connection, Info, Node, UserError, to_connection, user_errors
from schema.enums import PartnerRole, PartnershipStatus, Side
from schema.organisations import Organisation, organisation_of


@strawberry.type(
    description="An owner organisation and one partner: the partner's role and the lifecycle "
    "INVITED → ACTIVE ⇄ SUSPENDED → ENDED. Only ACTIVE lets data flow."
)
class Partnership(Node):
    role: PartnerRole
    status: PartnershipStatus
    created_at: datetime
    updated_at: datetime = strawberry.field(description="When it last changed, by either side.")
    owner_org_id: strawberry.Private[uuid.UUID]
    partner_org_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The caller's side: OWNER if its organisation invited.")
    def side(self, info: Info) -> Side:
        return side_of(info.context.actor, self.owner_org_id)

    @strawberry.field(description="The organisation that shares.")
    async def owner(self, info: Info) -> Organisation:
        return await organisation_of(info, self.owner_org_id)

    @strawberry.field(description="The organisation that receives.")
    async def partner(self, info: Info) -> Organisation:
        return await organisation_of(info, self.partner_org_id)

    @staticmethod
    def from_record(record: PartnershipRecord) -> Partnership:
        return Partnership(
            id=strawberry.ID(encode_id(NodeType.PARTNERSHIP, record.id)),
            role=record.role,
            status=record.status,
            created_at=record.created_at,
            updated_at=record.updated_at,
            owner_org_id=record.org_id,
            partner_org_id=record.partner_org_id,
        )


@strawberry.input
class InvitePartnerInput:
    partner_slug: str = strawberry.field(
        description="The partner organisation's slug, as its `viewer { organisation { slug } }`."
    )
    role: PartnerRole

    def to_command(self) -> service.InvitePartner:
        return service.InvitePartner(partner_slug=self.partner_slug, role=self.role)


@strawberry.input(description="The partnership to accept, suspend, resume or end.")
class ChangePartnershipInput:
    id: strawberry.ID

    def to_command(self, action: service.PartnershipAction) -> service.ChangePartnership:
        return service.ChangePartnership(
            partnership_id=decode_id(self.id, NodeType.PARTNERSHIP), action=action
        )


@strawberry.type
class PartnershipPayload:
    partnership: Partnership | None
    user_errors: list[UserError]

    @staticmethod
    def from_outcome(outcome: Outcome[PartnershipRecord]) -> PartnershipPayload:
        return PartnershipPayload(
            partnership=Partnership.from_record(outcome.value) if outcome.value else None,
            user_errors=user_errors(outcome.errors),
        )


async def _change(
    info: Info, input: ChangePartnershipInput, action: service.PartnershipAction
) -> PartnershipPayload:
    build = partial(input.to_command, action)
    return PartnershipPayload.from_outcome(await resolve.change_partnership(info.context, build))


@strawberry.type
class PartnershipQuery:
    @strawberry.field(
        description="Partnerships of the caller's organisation, as owner and as partner, oldest "
        "first; needs `partners:read` or an admin."
    )
    async def partnerships(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        side: Side | None = None,
        status: PartnershipStatus | None = None,
    ) -> Connection[Partnership]:
        where = service.PartnershipFilter(side=side, status=status)
        page = await resolve.list_partnerships(info.context, where, first, after)
        return to_connection(page, Partnership.from_record)


@strawberry.type
class PartnershipMutation:
    @strawberry.mutation(
        description="Owner side: invite an organisation, named by its slug, to partner in a role. "
        "An ENDED partnership with it is reopened."
    )
    async def invite_partner(self, info: Info, input: InvitePartnerInput) -> PartnershipPayload:
        outcome = await resolve.invite_partner(info.context, input.to_command)
        return PartnershipPayload.from_outcome(outcome)

    @strawberry.mutation(description="Partner side: INVITED → ACTIVE.")
    async def accept_partnership(
        self, info: Info, input: ChangePartnershipInput
    ) -> PartnershipPayload:
        return await _change(info, input, service.PartnershipAction.ACCEPT)

    @strawberry.mutation(description="Owner side: ACTIVE → SUSPENDED; data stops flowing at once.")
    async def suspend_partnership(
        self, info: Info, input: ChangePartnershipInput
    ) -> PartnershipPayload:
        return await _change(info, input, service.PartnershipAction.SUSPEND)

    @strawberry.mutation(description="Owner side: SUSPENDED → ACTIVE.")
    async def resume_partnership(
        self, info: Info, input: ChangePartnershipInput
    ) -> PartnershipPayload:
        return await _change(info, input, service.PartnershipAction.RESUME)

    @strawberry.mutation(
        description="Either side: INVITED, ACTIVE or SUSPENDED → ENDED (decline, leave or end)."
    )
    async def end_partnership(
        self, info: Info, input: ChangePartnershipInput
    ) -> PartnershipPayload:
        return await _change(info, input, service.PartnershipAction.END)
