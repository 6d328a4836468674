"""Cases and comments: types, inputs, payloads, and the Query/Mutation fields."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry

from hub.cases import service
from hub.cases.exposure import CASE
from hub.cases.models import Case as CaseRecord
from hub.cases.models import CaseComment as CaseCommentRecord
from resolvers import cases as resolve
from resolvers.ids import NodeType, decode_id, encode_id
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
from schema.enums import CasePriority, CaseStatus, CommentVisibility
from schema.exposed_fields import PlainFields
from schema.inputs import OWNER_FILTER, optional_id, owner_filter
from schema.organisations import Organisation
from schema.users import User


@strawberry.type
class CaseComment:
    id: strawberry.ID
    body: str
    visibility: CommentVisibility
    created_at: datetime

    @staticmethod
    def from_record(record: CaseCommentRecord) -> CaseComment:
        return CaseComment(
            id=strawberry.ID(encode_id(NodeType.CASE_COMMENT, record.id)),
            body=record.body,
            visibility=record.visibility,
            created_at=record.created_at,
        )


@strawberry.type
class Case(Node):
    subject: str
    description: str
    priority: CasePriority
    status: CaseStatus
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction_score: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    record_id: strawberry.Private[uuid.UUID]
    customer_id: strawberry.Private[uuid.UUID]
    assignee_user_id: strawberry.Private[uuid.UUID | None]
    raised_by_org_id: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="The organisation that raised the case: the owner, or the caller when it "
        "raised it as a partner (another partner's case shows as the owner's)."
    )
    async def raised_by(self, info: Info) -> Organisation | None:
        record = await info.context.loaders.organisation.load(self.raised_by_org_id)
        return Organisation.from_record(record) if record else None

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        record = await info.context.loaders.customer.load(self.customer_id)
        return Customer.from_record(record) if record else None

    @strawberry.field
    async def assignee(self, info: Info) -> User | None:
        if self.assignee_user_id is None:
            return None
        record = await info.context.loaders.user.load(self.assignee_user_id)
        return User.from_record(record) if record else None

    @strawberry.field
    async def comments(self, info: Info) -> list[CaseComment]:
        comments = await info.context.loaders.comments_of_case.load(self.record_id)
        return [CaseComment.from_record(comment) for comment in comments]

    @staticmethod
    def from_record(record: CaseRecord) -> Case:
        return Case(
            **_PLAIN_FIELDS.of(record),
            record_id=record.id,
            customer_id=record.customer_id,
            assignee_user_id=record.assignee_user_id,
            raised_by_org_id=record.raised_by_org_id,
        )


_PLAIN_FIELDS = PlainFields(Case, CASE)


@strawberry.enum
class CaseOrderField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    PRIORITY = "PRIORITY"
    RESOLUTION_DUE_AT = "RESOLUTION_DUE_AT"


@strawberry.input
class CaseOrder:
    field: CaseOrderField = CaseOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@strawberry.input
class CaseFilter:
    owner: strawberry.ID | None = strawberry.field(default=None, description=OWNER_FILTER)
    status: CaseStatus | None = None
    priority: CasePriority | None = None
    customer_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    search: str | None = strawberry.field(default=None, description="Part of the subject.")


@strawberry.input
class CreateCaseInput:
    customer_id: strawberry.ID
    subject: str
    description: str
    priority: CasePriority = CasePriority.NORMAL
    assignee_id: strawberry.ID | None = None

    def to_command(self) -> service.CreateCase:
        assignee = self.assignee_id
        return service.CreateCase(
            customer_id=decode_id(self.customer_id, NodeType.CUSTOMER, field="customerId"),
            subject=self.subject,
            description=self.description,
            priority=self.priority,
            assignee_user_id=(
                decode_id(assignee, NodeType.USER, field="assigneeId") if assignee else None
            ),
        )


@strawberry.input
class TransitionCaseInput:
    case_id: strawberry.ID
    status: CaseStatus
    version: int | None = strawberry.field(
        default=None, description="If given, the move is refused when the case has changed."
    )
    satisfaction_score: int | None = strawberry.field(
        default=None, description="1 to 5, only when closing."
    )

    def to_command(self) -> service.TransitionCase:
        return service.TransitionCase(
            case_id=decode_id(self.case_id, NodeType.CASE, field="caseId"),
            status=self.status,
            version=self.version,
            satisfaction_score=self.satisfaction_score,
        )


@strawberry.input
class AddCaseCommentInput:
    case_id: strawberry.ID
    body: str
    visibility: CommentVisibility = CommentVisibility.SHARED

    def to_command(self) -> service.AddCaseComment:
        return service.AddCaseComment(
            case_id=decode_id(self.case_id, NodeType.CASE, field="caseId"),
            body=self.body,
            visibility=self.visibility,
        )


@strawberry.input(description="Rate a closed case, 1 (poor) to 5 (excellent).")
class RateCaseInput:
    case_id: strawberry.ID
    score: int

    def to_command(self) -> service.RateCase:
        return service.RateCase(
            case_id=decode_id(self.case_id, NodeType.CASE, field="caseId"), score=self.score
        )


@strawberry.type
class CasePayload:
    case: Case | None
    user_errors: list[UserError]


@strawberry.type
class AddCaseCommentPayload:
    comment: CaseComment | None
    user_errors: list[UserError]


@strawberry.type
class CaseQuery:
    @strawberry.field(
        description="Cases of the caller's organisation, and those owners share with it as "
        "their partner under a live grant."
    )
    async def cases(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: CaseFilter | None = None,
        order_by: CaseOrder | None = None,
    ) -> Connection[Case]:
        where, order = case_list_arguments(filter, order_by)
        page = await resolve.list_cases(info.context, where, order, first, after)
        return to_connection(page, Case.from_record)


def case_list_arguments(
    filter: CaseFilter | None, order_by: CaseOrder | None
) -> tuple[service.CaseFilter, service.CaseOrder]:
    """The list's arguments as the service takes them (also for the compiled read)."""
    where = filter or CaseFilter()
    order = order_by or CaseOrder()
    return (
        service.CaseFilter(
            owner_org_id=owner_filter(where.owner),
            status=where.status,
            priority=where.priority,
            customer_id=optional_id(where.customer_id, NodeType.CUSTOMER, "customerId"),
            assignee_user_id=optional_id(where.assignee_id, NodeType.USER, "assigneeId"),
            search=where.search,
        ),
        service.CaseOrder(order.field.value, order.direction is OrderDirection.DESC),
    )


@strawberry.type
class CaseMutation:
    @strawberry.mutation
    async def create_case(self, info: Info, input: CreateCaseInput) -> CasePayload:
        outcome = await resolve.create_case(info.context, input.to_command)
        case = Case.from_record(outcome.value) if outcome.value else None
        return CasePayload(case=case, user_errors=user_errors(outcome.errors))

    @strawberry.mutation
    async def transition_case(self, info: Info, input: TransitionCaseInput) -> CasePayload:
        outcome = await resolve.transition_case(info.context, input.to_command)
        case = Case.from_record(outcome.value) if outcome.value else None
        return CasePayload(case=case, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(
        description="Record satisfaction with a closed case: its owner, or a partner with a "
        "CONTRIBUTE grant on it (a distributor rating the cases it raised)."
    )
    async def rate_case(self, info: Info, input: RateCaseInput) -> CasePayload:
        outcome = await resolve.rate_case(info.context, input.to_command)
        case = Case.from_record(outcome.value) if outcome.value else None
        return CasePayload(case=case, user_errors=user_errors(outcome.errors))

    @strawberry.mutation
    async def add_case_comment(
        self, info: Info, input: AddCaseCommentInput
    ) -> AddCaseCommentPayload:
        outcome = await resolve.add_case_comment(info.context, input.to_command)
        comment = CaseComment.from_record(outcome.value) if outcome.value else None
        return AddCaseCommentPayload(comment=comment, user_errors=user_errors(outcome.errors))
