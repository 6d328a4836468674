"""Cases: raising, moving through the state machine, and commenting."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Creation, Scope
from hub.access.writes import insert_created
from hub.audit.changes import record_created, record_updated, snapshot
from hub.cases.models import Case, CaseComment, CasePriority, CaseStatus, CommentVisibility
from hub.cases.states import SLA_TARGETS, can_transition
from hub.errors import Conflict, InvalidInput, UserErrorCode
from hub.grants.segments import SegmentKey
from hub.orgs.models import User
from hub.pagination import Listing, Page, PageRequest, fetch_listing, ranked
from hub.search import contains_text
from hub.validation import Checks


@dataclass(frozen=True)
class CaseFilter:
    owner_org_id: uuid.UUID | None = None
    status: CaseStatus | None = None
    priority: CasePriority | None = None
    customer_id: uuid.UUID | None = None
    assignee_user_id: uuid.UUID | None = None
    search: str | None = None


@dataclass(frozen=True)
class CaseOrder:
    field: str = "CREATED_AT"
    descending: bool = True


_ORDER_COLUMNS = {
    "CREATED_AT": Case.created_at,
    "UPDATED_AT": Case.updated_at,
    "PRIORITY": ranked(Case.priority, list(CasePriority)),
    "RESOLUTION_DUE_AT": Case.resolution_due_at,
}


@dataclass(frozen=True)
class CreateCase:
    customer_id: uuid.UUID
    subject: str
    description: str
    priority: CasePriority = CasePriority.NORMAL
    assignee_user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class TransitionCase:
    case_id: uuid.UUID
    status: CaseStatus
    version: int | None = None
    satisfaction_score: int | None = None


@dataclass(frozen=True)
class RateCase:
    case_id: uuid.UUID
    score: int


@dataclass(frozen=True)
class AddCaseComment:
    case_id: uuid.UUID
    body: str
    visibility: CommentVisibility = CommentVisibility.SHARED


async def list_cases(
    session: AsyncSession,
    actor: Actor,
    where: CaseFilter,
    order: CaseOrder,
    page: PageRequest,
) -> Page[Case]:
    listing = await case_listing(session, actor, where, order)
    found = await fetch_listing(session, listing, page)
    return await access.disclose_page(session, actor, Case, found)


async def case_listing(
    session: AsyncSession, actor: Actor, where: CaseFilter, order: CaseOrder
) -> Listing[Case]:
    """The cases the actor may list, filtered, in the order asked: what a page is taken from."""
    access.require_scope(actor, Scope.CASES_READ)
    sources = await access.select_listed(session, actor, Case, owner=where.owner_org_id)
    conditions: list[ColumnElement[bool]] = []
    if where.status is not None:
        conditions.append(Case.status == where.status)
    if where.priority is not None:
        conditions.append(Case.priority == where.priority)
    if where.customer_id is not None:
        conditions.append(Case.customer_id == where.customer_id)
    if where.assignee_user_id is not None:
        conditions.append(Case.assignee_user_id == where.assignee_user_id)
    if where.search:
        conditions.append(contains_text(Case.subject, where.search))
    return Listing(
        Case,
        [source.where(*conditions) for source in sources],
        [_ORDER_COLUMNS[order.field]],
        order.descending,
    )


async def select_one_visible(
    session: AsyncSession, actor: Actor, record_id: uuid.UUID
) -> Select[Case]:
    """The statement of one case the actor may see: no row if it may not."""
    access.require_scope(actor, Scope.CASES_READ)
    statement = await access.select_visible(session, actor, Case)
    return statement.where(access.is_record(Case, record_id))


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Case]:
    access.require_scope(actor, Scope.CASES_READ)
    found = await access.get_visible_many(session, actor, Case, ids)
    return await access.disclose_by_id(session, actor, Case, found)


async def comments_of(
    session: AsyncSession, actor: Actor, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[CaseComment]]:
    """Comments of many cases in one statement, oldest first."""
    access.require_scope(actor, Scope.CASES_READ)
    statement = (
        (await access.select_visible(session, actor, CaseComment))
        .where(CaseComment.case_id.in_(set(case_ids)))
        .order_by(CaseComment.created_at, CaseComment.id)
    )
    rows = (await session.scalars(statement)).all()
    grouped: dict[uuid.UUID, list[CaseComment]] = defaultdict(list)
    for comment in await access.disclose(session, actor, CaseComment, rows):
        grouped[comment.case_id].append(comment)
    return grouped


async def create_case(session: AsyncSession, actor: Actor, command: CreateCase) -> Case:
    """Open a case with SLA targets taken from its priority."""
    access.require_scope(actor, Scope.CASES_WRITE)
    checks = Checks()
    checks.text("subject", command.subject, max_length=200, required=True)
    checks.text("description", command.description, max_length=20_000, required=True)
    checks.done()
    creation = await access.creating_for(
        session,
        actor,
        Case,
        command.customer_id,
        {SegmentKey.STATUS: CaseStatus.NEW, SegmentKey.PRIORITY: command.priority},
        setting={"subject", "description", "priority"}
        | ({"assignee_user_id"} if command.assignee_user_id is not None else set()),
    )
    if command.assignee_user_id is not None:
        await access.get_owned(session, actor, User, command.assignee_user_id, field="assigneeId")
    now = datetime.now(UTC)
    first_response, resolution = SLA_TARGETS[command.priority]
    case = await insert_created(
        session,
        creation,
        Case,
        customer_id=command.customer_id,
        subject=command.subject.strip(),
        description=command.description,
        priority=command.priority,
        status=CaseStatus.NEW,
        raised_by_org_id=actor.org_id,
        raised_by_user_id=actor.user_id,
        raised_by_client_id=actor.client_id,
        assignee_user_id=command.assignee_user_id,
        first_response_due_at=now + first_response,
        resolution_due_at=now + resolution,
    )
    await record_created(session, actor, case)
    return (await access.disclose(session, actor, Case, [case]))[0]


async def transition_case(session: AsyncSession, actor: Actor, command: TransitionCase) -> Case:
    """Move a case along the state machine, stamping the SLA timestamps it reaches."""
    access.require_scope(actor, Scope.CASES_WRITE)
    case = await access.get_to_change(
        session, actor, Case, command.case_id, changing={"status"}, lock=True, field="caseId"
    )
    if command.version is not None and case.version != command.version:
        raise Conflict()
    if not can_transition(case.status, command.status):
        raise InvalidInput.on(
            "status",
            UserErrorCode.INVALID_TRANSITION,
            f"A case cannot move from {case.status.value} to {command.status.value}.",
        )
    if command.satisfaction_score is not None:
        if command.status is not CaseStatus.CLOSED:
            raise InvalidInput.on(
                "satisfactionScore", UserErrorCode.INVALID, "Only given when closing a case."
            )
        checks = Checks()
        checks.between("satisfactionScore", command.satisfaction_score, 1, 5)
        checks.done()
    before = snapshot(case)
    now = datetime.now(UTC)
    if case.first_responded_at is None and command.status is not CaseStatus.NEW:
        case.first_responded_at = now
    if command.status is CaseStatus.RESOLVED:
        case.resolved_at = now
    elif command.status is CaseStatus.CLOSED:
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
        case.satisfaction_score = command.satisfaction_score
    elif command.status is CaseStatus.OPEN and case.status in (
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    ):
        case.resolved_at = None
        case.closed_at = None
        case.satisfaction_score = None
    case.status = command.status
    case.version += 1
    await session.flush()
    await session.refresh(case)
    await record_updated(session, actor, case, before)
    return case


async def add_comment(session: AsyncSession, actor: Actor, command: AddCaseComment) -> CaseComment:
    access.require_scope(actor, Scope.CASES_WRITE)
    checks = Checks()
    checks.text("body", command.body, max_length=20_000, required=True)
    checks.done()
    shared = command.visibility is CommentVisibility.SHARED
    case = await access.get_to_change(
        session,
        actor,
        Case,
        command.case_id,
        changing={"shared_comments" if shared else "internal_comments"},
        lock=True,
        field="caseId",
    )
    # The owner's first SHARED answer is the first response the SLA measures.
    by_owner = case.org_id == actor.org_id
    first_response = by_owner and shared and case.first_responded_at is None
    before = snapshot(case)
    if first_response:
        case.first_responded_at = datetime.now(UTC)
    comment = await insert_created(
        session,
        Creation(case.org_id),
        CaseComment,
        case_id=case.id,
        author_org_id=actor.org_id,
        author_user_id=actor.user_id,
        author_client_id=actor.client_id,
        visibility=command.visibility,
        body=command.body,
    )
    await record_created(session, actor, comment, related=[case.customer_id])
    if first_response:
        await record_updated(session, actor, case, before)
    return (await access.disclose(session, actor, CaseComment, [comment]))[0]


async def rate_case(session: AsyncSession, actor: Actor, command: RateCase) -> Case:
    """Record satisfaction with a closed case: its owner, or a partner that contributes to it."""
    access.require_scope(actor, Scope.CASES_WRITE)
    checks = Checks()
    checks.between("score", command.score, 1, 5)
    checks.done()
    case = await access.get_to_change(
        session,
        actor,
        Case,
        command.case_id,
        changing={"satisfaction_score"},
        lock=True,
        field="caseId",
    )
    if case.status is not CaseStatus.CLOSED:
        raise InvalidInput.on(
            "caseId", UserErrorCode.INVALID_TRANSITION, "Only a closed case can be rated."
        )
    before = snapshot(case)
    case.satisfaction_score = command.score
    case.version += 1
    await session.flush()
    await session.refresh(case)
    await record_updated(session, actor, case, before)
    return (await access.disclose(session, actor, Case, [case]))[0]
