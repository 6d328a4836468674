"""Opportunities: type, inputs, payloads, and the Query/Mutation fields."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

import strawberry

from hub.opportunities import service
from hub.opportunities.exposure import OPPORTUNITY
from hub.opportunities.models import Opportunity as OpportunityRecord
from resolvers import opportunities as resolve
from resolvers.ids import NodeType, decode_id
from schema.base import (
    Connection,
    Info,
    Node,
    OrderDirection,
    UserError,
    to_connection,
    user_errors,
)
from schema.customers import Customer
from schema.enums import OpportunitySource, OpportunityStage
from schema.exposed_fields import PlainFields
from schema.inputs import OWNER_FILTER, maybe, optional_id, owner_filter
from schema.users import User


@strawberry.type
class Opportunity(Node):
    name: str
    stage: OpportunityStage
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code.")
    probability: int
    expected_close_date: date | None
    source: OpportunitySource
    next_step: str | None
    internal_notes: str | None = strawberry.field(
        description="Never shared with partners: null on an opportunity another organisation "
        "shares with the caller."
    )
    version: int
    created_at: datetime
    updated_at: datetime
    customer_id: strawberry.Private[uuid.UUID]
    owner_user_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        record = await info.context.loaders.customer.load(self.customer_id)
        return Customer.from_record(record) if record else None

    @strawberry.field
    async def owner(self, info: Info) -> User | None:
        if self.owner_user_id is None:
            return None
        record = await info.context.loaders.user.load(self.owner_user_id)
        return User.from_record(record) if record else None

    @staticmethod
    def from_record(record: OpportunityRecord) -> Opportunity:
        return Opportunity(
            **_PLAIN_FIELDS.of(record),
            customer_id=record.customer_id,
            owner_user_id=record.owner_user_id,
        )


_PLAIN_FIELDS = PlainFields(Opportunity, OPPORTUNITY)


@strawberry.enum
class OpportunityOrderField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    NAME = "NAME"
    AMOUNT = "AMOUNT"
    EXPECTED_CLOSE_DATE = "EXPECTED_CLOSE_DATE"


@strawberry.input
class OpportunityOrder:
    field: OpportunityOrderField = OpportunityOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@strawberry.input
class OpportunityFilter:
    owner: strawberry.ID | None = strawberry.field(default=None, description=OWNER_FILTER)
    stage: OpportunityStage | None = None
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The user responsible for the opportunity."
    )
    customer_id: strawberry.ID | None = None
    search: str | None = strawberry.field(default=None, description="Part of the name.")


@strawberry.input
class CreateOpportunityInput:
    customer_id: strawberry.ID
    name: str
    amount: Decimal
    currency: str
    stage: OpportunityStage = OpportunityStage.PROSPECTING
    probability: int = 10
    expected_close_date: date | None = None
    owner_id: strawberry.ID | None = None
    next_step: str | None = None
    internal_notes: str | None = None

    def to_command(self) -> service.CreateOpportunity:
        owner = self.owner_id
        return service.CreateOpportunity(
            customer_id=decode_id(self.customer_id, NodeType.CUSTOMER, field="customerId"),
            name=self.name,
            amount=self.amount,
            currency=self.currency,
            stage=self.stage,
            probability=self.probability,
            expected_close_date=self.expected_close_date,
            owner_user_id=decode_id(owner, NodeType.USER, field="ownerId") if owner else None,
            next_step=self.next_step,
            internal_notes=self.internal_notes,
        )


@strawberry.input
class UpdateOpportunityInput:
    opportunity_id: strawberry.ID
    version: int = strawberry.field(description="The version you read; a stale one is refused.")
    name: str | None = strawberry.UNSET
    stage: OpportunityStage | None = strawberry.UNSET
    amount: Decimal | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    probability: int | None = strawberry.UNSET
    expected_close_date: date | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    next_step: str | None = strawberry.UNSET
    internal_notes: str | None = strawberry.UNSET

    def to_command(self) -> service.UpdateOpportunity:
        owner = maybe(self.owner_id)
        return service.UpdateOpportunity(
            opportunity_id=decode_id(
                self.opportunity_id, NodeType.OPPORTUNITY, field="opportunityId"
            ),
            version=self.version,
            name=maybe(self.name, "name", nullable=False),
            stage=maybe(self.stage, "stage", nullable=False),
            amount=maybe(self.amount, "amount", nullable=False),
            currency=maybe(self.currency, "currency", nullable=False),
            probability=maybe(self.probability, "probability", nullable=False),
            expected_close_date=maybe(self.expected_close_date),
            owner_user_id=(
                decode_id(owner, NodeType.USER, field="ownerId")
                if isinstance(owner, str)
                else owner
            ),
            next_step=maybe(self.next_step),
            internal_notes=maybe(self.internal_notes),
        )


def opportunity_list_arguments(
    filter: OpportunityFilter | None, order_by: OpportunityOrder | None
) -> tuple[service.OpportunityFilter, service.OpportunityOrder]:
    """The list's arguments as the service takes them (also for the compiled read)."""
    where = filter or OpportunityFilter()
    order = order_by or OpportunityOrder()
    return (
        service.OpportunityFilter(
            owner_org_id=owner_filter(where.owner),
            stage=where.stage,
            owner_user_id=optional_id(where.owner_id, NodeType.USER, "ownerId"),
            customer_id=optional_id(where.customer_id, NodeType.CUSTOMER, "customerId"),
            search=where.search,
        ),
        service.OpportunityOrder(order.field.value, order.direction is OrderDirection.DESC),
    )


@strawberry.type
class OpportunityPayload:
    opportunity: Opportunity | None
    user_errors: list[UserError]


@strawberry.type
class OpportunityQuery:
    @strawberry.field(
        description="Opportunities of the caller's organisation, and those owners share with "
        "it as their partner under a live grant."
    )
    async def opportunities(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: OpportunityFilter | None = None,
        order_by: OpportunityOrder | None = None,
    ) -> Connection[Opportunity]:
        where, order = opportunity_list_arguments(filter, order_by)
        page = await resolve.list_opportunities(info.context, where, order, first, after)
        return to_connection(page, Opportunity.from_record)


@strawberry.type
class OpportunityMutation:
    @strawberry.mutation
    async def create_opportunity(
        self, info: Info, input: CreateOpportunityInput
    ) -> OpportunityPayload:
        outcome = await resolve.create_opportunity(info.context, input.to_command)
        opportunity = Opportunity.from_record(outcome.value) if outcome.value else None
        return OpportunityPayload(opportunity=opportunity, user_errors=user_errors(outcome.errors))

    @strawberry.mutation
    async def update_opportunity(
        self, info: Info, input: UpdateOpportunityInput
    ) -> OpportunityPayload:
        outcome = await resolve.update_opportunity(info.context, input.to_command)
        opportunity = Opportunity.from_record(outcome.value) if outcome.value else None
        return OpportunityPayload(opportunity=opportunity, user_errors=user_errors(outcome.errors))
