"""Deal registrations: the type, the `dealRegistrations` list, registerDeal and
reviewDealRegistration.

Who may do what (the partner registers and reads its own, the owner reads its queue and reviews,
nobody else sees anything) is decided by the service and the access layer; a registration of
others answers exactly like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import strawberry

from hub.access.partnerships import side_of
from hub.deals import service
from hub.deals.conflicts import Conflict, ConflictKind
from hub.deals.models import DealRegistration as DealRegistrationRecord
from hub.errors import NotFound
from resolvers import deals as resolve
from resolvers.ids import NodeType, decode_id, encode_id
from resolvers.outcome import Outcome
from schema.base import Connection, Info, Node, UserError, to_connection, user_errors
from schema.enums import DealStatus, Decision, Side
from schema.opportunities import Opportunity
from schema.organisations import Organisation, organisation_of
from schema.partnerships import Partnership

_CONFLICT_NODE_TYPES: dict[ConflictKind, NodeType] = {
    ConflictKind.CUSTOMER: NodeType.CUSTOMER,
    ConflictKind.OPPORTUNITY: NodeType.OPPORTUNITY,
    ConflictKind.REGISTRATION: NodeType.DEAL_REGISTRATION,
}


@strawberry.type(
    description="A record of the owner's that looks like the registered deal: the same "
    "normalised domain, or company names (without legal forms such as Ltd or Corp) with "
    "trigram similarity of at least 0.5."
)
class DealConflict:
    kind: ConflictKind = strawberry.field(
        description="CUSTOMER; OPPORTUNITY (open, of such a customer); REGISTRATION (another "
        "partner's, PENDING or APPROVED)."
    )
    id: strawberry.ID = strawberry.field(
        description="Global id of the Customer, Opportunity or DealRegistration."
    )
    name: str = strawberry.field(
        description="The customer's, the opportunity's or the registered customer name."
    )
    domain: str | None
    similarity: float = strawberry.field(
        description="Trigram similarity of the normalised company names, 0 to 1."
    )
    same_domain: bool

    @staticmethod
    def from_conflict(conflict: Conflict) -> DealConflict:
        node_type = _CONFLICT_NODE_TYPES[conflict.kind]
        return DealConflict(
            kind=conflict.kind,
            id=strawberry.ID(encode_id(node_type, conflict.record_id)),
            name=conflict.name,
            domain=conflict.domain,
            similarity=conflict.similarity,
            same_domain=conflict.same_domain,
        )


@strawberry.type(
    description="A deal a partner registered with an owner: PENDING until the owner approves "
    "(an opportunity is linked or created, assigned to the partnership, and the deal protected "
    "for a while) or rejects it with a reason. Seen by the owner and by the partner that made "
    "it, never by another partner."
)
class DealRegistration(Node):
    status: DealStatus
    customer_name: str
    customer_domain: str | None = strawberry.field(
        description="As stored: lower case, without `www.`."
    )
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code.")
    expected_close_date: date
    product: str
    registered_at: datetime = strawberry.field(
        description="When the database wrote it: the order in which the first to register wins."
    )
    registered_by: str = strawberry.field(description="`user:<id>` or `client:<OAuth client id>`.")
    reviewed_at: datetime | None
    reviewed_by: str | None = strawberry.field(
        description="`user:<id>` or `client:<OAuth client id>` of the owner's reviewer."
    )
    rejection_reason: str | None
    protected_until: datetime | None = strawberry.field(
        description="An approved deal is the partner's until then; after it the deal is free."
    )
    version: int
    record_id: strawberry.Private[uuid.UUID]
    owner_org_id: strawberry.Private[uuid.UUID]
    partner_org_id: strawberry.Private[uuid.UUID]
    partnership_id: strawberry.Private[uuid.UUID]
    opportunity_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="OWNER if it is in the caller's queue, PARTNER if it made it.")
    def side(self, info: Info) -> Side:
        return side_of(info.context.actor, self.owner_org_id)

    @strawberry.field(description="The organisation it is registered with.")
    async def owner(self, info: Info) -> Organisation:
        return await organisation_of(info, self.owner_org_id)

    @strawberry.field(description="The organisation that registered it.")
    async def partner(self, info: Info) -> Organisation:
        return await organisation_of(info, self.partner_org_id)

    @strawberry.field(description="The partnership it was registered through.")
    async def partnership(self, info: Info) -> Partnership:
        record = await info.context.loaders.partnership.load(self.partnership_id)
        if record is None:  # both sides of a visible registration see its partnership
            raise NotFound()
        return Partnership.from_record(record)

    @strawberry.field(
        description="The opportunity an approval linked or created; null while none is, or "
        "when the caller may not see it."
    )
    async def opportunity(self, info: Info) -> Opportunity | None:
        if self.opportunity_id is None:
            return None
        record = await info.context.loaders.opportunity.load(self.opportunity_id)
        return Opportunity.from_record(record) if record else None

    @strawberry.field(
        description="Another partner registered what looks like the same deal first and its "
        "claim stands (pending, or approved and still protected): this PENDING registration "
        "cannot be approved now. Never says which partner or registration. False once reviewed."
    )
    async def claimed_by_another_partner(self, info: Info) -> bool:
        return bool(await info.context.loaders.registration_claimed.load(self.record_id))

    @strawberry.field(
        description="For the owner's reviewer: the possible conflicts of a PENDING registration "
        "(customers only with `customers:read`), best first, at most 10 of each kind. Always an "
        "empty list for the partner side, and once the registration is reviewed."
    )
    async def conflicts(self, info: Info) -> list[DealConflict]:
        found = await info.context.loaders.conflicts_of_registration.load(self.record_id)
        return [DealConflict.from_conflict(conflict) for conflict in found]

    @staticmethod
    def from_record(record: DealRegistrationRecord) -> DealRegistration:
        return DealRegistration(
            id=strawberry.ID(encode_id(NodeType.DEAL_REGISTRATION, record.id)),
            status=record.status,
            customer_name=record.customer_name,
            customer_domain=record.customer_domain,
            amount=record.amount,
            currency=record.currency,
            expected_close_date=record.expected_close_date,
            product=record.product,
            registered_at=record.created_at,
            registered_by=record.registered_by,
            reviewed_at=record.reviewed_at,
            reviewed_by=record.reviewed_by,
            rejection_reason=record.rejection_reason,
            protected_until=record.protected_until,
            version=record.version,
            record_id=record.id,
            owner_org_id=record.org_id,
            partner_org_id=record.partner_org_id,
            partnership_id=record.partnership_id,
            opportunity_id=record.opportunity_id,
        )


@strawberry.input
class RegisterDealInput:
    partnership_id: strawberry.ID = strawberry.field(
        description="An ACTIVE partnership on which you are the partner."
    )
    customer_name: str = strawberry.field(description="1 to 200 characters.")
    amount: Decimal = strawberry.field(description="Zero or more; at most 16 digits, 2 decimals.")
    currency: str = strawberry.field(description="ISO 4217 code, such as EUR.")
    expected_close_date: date = strawberry.field(
        description="Not in the past, at most ten years ahead."
    )
    product: str = strawberry.field(description="1 to 200 characters.")
    customer_domain: str | None = strawberry.field(
        default=None, description="Such as acme.com; stored in lower case without `www.`."
    )

    def to_command(self) -> service.RegisterDeal:
        return service.RegisterDeal(
            partnership_id=decode_id(
                self.partnership_id, NodeType.PARTNERSHIP, field="partnershipId"
            ),
            customer_name=self.customer_name,
            customer_domain=self.customer_domain,
            amount=self.amount,
            currency=self.currency,
            expected_close_date=self.expected_close_date,
            product=self.product,
        )


@strawberry.input(
    description="APPROVE links `opportunityId` (open, yours) or creates an opportunity for "
    "`customerId` (yours), or without either for a new customer made from the registered name "
    "and domain (needs `customers:write`); REJECT needs a `reason`."
)
class ReviewDealRegistrationInput:
    id: strawberry.ID
    decision: Decision
    reason: str | None = strawberry.field(
        default=None, description="REJECT only, and required there: 1 to 1000 characters."
    )
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="APPROVE only.")
    opportunity_id: strawberry.ID | None = strawberry.field(
        default=None, description="APPROVE only; not with `customerId`."
    )
    protection_days: int | None = strawberry.field(
        default=None, description="APPROVE only: 1 to 365, 90 when omitted."
    )

    def to_command(self) -> service.ReviewDealRegistration:
        return service.ReviewDealRegistration(
            registration_id=decode_id(self.id, NodeType.DEAL_REGISTRATION),
            decision=self.decision,
            reason=self.reason,
            customer_id=_optional(self.customer_id, NodeType.CUSTOMER, "customerId"),
            opportunity_id=_optional(self.opportunity_id, NodeType.OPPORTUNITY, "opportunityId"),
            protection_days=self.protection_days,
        )


def _optional(global_id: strawberry.ID | None, node_type: NodeType, field: str) -> uuid.UUID | None:
    return decode_id(global_id, node_type, field=field) if global_id is not None else None


@strawberry.type
class DealRegistrationPayload:
    deal_registration: DealRegistration | None
    user_errors: list[UserError]

    @staticmethod
    def from_outcome(outcome: Outcome[DealRegistrationRecord]) -> DealRegistrationPayload:
        return DealRegistrationPayload(
            deal_registration=(
                DealRegistration.from_record(outcome.value) if outcome.value else None
            ),
            user_errors=user_errors(outcome.errors),
        )


@strawberry.type
class DealQuery:
    @strawberry.field(
        description="The owner's queue (with `opportunities:read`) and the caller's own "
        "registrations as a partner (with `deals:register`), first registered first."
    )
    async def deal_registrations(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        status: DealStatus | None = None,
        side: Side | None = None,
    ) -> Connection[DealRegistration]:
        where = service.DealRegistrationFilter(status=status, side=side)
        page = await resolve.list_registrations(info.context, where, first, after)
        return to_connection(page, DealRegistration.from_record)


@strawberry.type
class DealMutation:
    @strawberry.mutation(
        description="Partner side of an ACTIVE partnership: register a deal with its owner "
        "(`deals:register`). `claimedByAnotherPartner` on the result says whether another "
        "partner registered what looks like the same deal first."
    )
    async def register_deal(self, info: Info, input: RegisterDealInput) -> DealRegistrationPayload:
        outcome = await resolve.register_deal(info.context, input.to_command)
        return DealRegistrationPayload.from_outcome(outcome)

    @strawberry.mutation(
        description="Owner side: approve or reject a PENDING registration "
        "(`opportunities:write`). The first to register wins: a registration claimed by another "
        "partner's cannot be approved (DUPLICATE) until that one is rejected or its protection "
        "ends."
    )
    async def review_deal_registration(
        self, info: Info, input: ReviewDealRegistrationInput
    ) -> DealRegistrationPayload:
        outcome = await resolve.review_registration(info.context, input.to_command)
        return DealRegistrationPayload.from_outcome(outcome)
