"""Rows as the actor may receive them: what crosses to a partner is decided here (ADR 0008).

An organisation's own rows pass unchanged. A row another organisation shares with the actor
becomes a detached copy without what never crosses (internal notes, the owner's people, other
partners' assignments and authorship) and with personal fields per the field policy of the
grants that cover it. Copies are transient: nothing a redaction does can be written back.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Uuid, inspect, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.coverage import covers, grants_for
from hub.access.received import ReceivedGrant, received_grants
from hub.cases.models import Case, CaseComment
from hub.customers.models import Contact
from hub.db import TenantModel
from hub.grants.masking import PersonalField, apply_policy, combined_policy
from hub.opportunities.models import Opportunity
from hub.pagination import Page

M = TypeVar("M", bound=TenantModel)

Redaction = Callable[[Any, Actor, Sequence[ReceivedGrant]], dict[str, Any]]

_CONTACT_COLUMNS = {
    PersonalField.FULL_NAME: "full_name",
    PersonalField.EMAIL: "email",
    PersonalField.PHONE: "phone",
    PersonalField.JOB_TITLE: "job_title",
}


def _opportunity(row: Opportunity, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
    own_partnerships = {grant.partnership_id for grant in grants}
    assigned = row.assigned_partnership_id
    return {
        "internal_notes": None,
        "owner_user_id": None,
        "assigned_partnership_id": assigned if assigned in own_partnerships else None,
    }


def _case(row: Case, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
    raised_here = row.raised_by_org_id == actor.org_id
    return {
        "assignee_user_id": None,
        # A case another partner raised shows as the owner's own.
        "raised_by_org_id": row.raised_by_org_id if raised_here else row.org_id,
        "raised_by_user_id": row.raised_by_user_id if raised_here else None,
        "raised_by_client_id": row.raised_by_client_id if raised_here else None,
    }


def _case_comment(
    row: CaseComment, actor: Actor, grants: Sequence[ReceivedGrant]
) -> dict[str, Any]:
    written_here = row.author_org_id == actor.org_id
    return {
        "author_org_id": row.author_org_id if written_here else row.org_id,
        "author_user_id": row.author_user_id if written_here else None,
        "author_client_id": row.author_client_id if written_here else None,
    }


def _contact(row: Contact, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
    policy = combined_policy(grant.field_policy for grant in grants)
    return {
        column: apply_policy(field, policy[field], getattr(row, column))
        for field, column in _CONTACT_COLUMNS.items()
    }


# Per shared table: what changes on the way out, and whether that needs the covering grants.
_REDACTIONS: dict[type[TenantModel], tuple[Redaction, bool]] = {
    Opportunity: (_opportunity, False),
    Case: (_case, False),
    CaseComment: (_case_comment, False),
    Contact: (_contact, True),
}


async def disclose(
    session: AsyncSession, actor: Actor, model: type[M], rows: Sequence[M]
) -> list[M]:
    """`rows` (read through the access layer) as `actor` may receive them, in order."""
    foreign = [row.id for row in rows if row.org_id != actor.org_id]
    redaction, per_record = _REDACTIONS.get(model, (None, False))
    if not foreign or redaction is None:
        return list(rows)
    # Field policy needs the grants that cover each row; the rest needs only the actor's own.
    covering = await covering_grants(session, actor, model, foreign) if per_record else {}
    received = await received_grants(session, actor)

    def grants_of(row: M) -> Sequence[ReceivedGrant]:
        return covering.get(row.id, []) if per_record else received

    return [
        row if row.org_id == actor.org_id else _detached(row, redaction(row, actor, grants_of(row)))
        for row in rows
    ]


async def disclose_page(
    session: AsyncSession, actor: Actor, model: type[M], page: Page[M]
) -> Page[M]:
    return replace(page, items=await disclose(session, actor, model, page.items))


async def disclose_by_id(
    session: AsyncSession, actor: Actor, model: type[M], rows: Mapping[uuid.UUID, M]
) -> dict[uuid.UUID, M]:
    disclosed = await disclose(session, actor, model, list(rows.values()))
    return {row.id: row for row in disclosed}


async def covering_grants(
    session: AsyncSession, actor: Actor, model: type[M], record_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ReceivedGrant]]:
    """Which of the actor's live grants share each of these records: one statement."""
    grants = grants_for(model, await received_grants(session, actor))
    if not grants or not record_ids:
        return {}
    by_id = {grant.id: grant for grant in grants}
    ids = list(set(record_ids))
    statement = union_all(
        *(
            select(model.id, literal(grant.id, Uuid).label("grant_id")).where(
                model.id.in_(ids), covers(model, grant)
            )
            for grant in grants
        )
    )
    covering: dict[uuid.UUID, list[ReceivedGrant]] = defaultdict(list)
    for record_id, grant_id in await session.execute(statement):
        covering[record_id].append(by_id[grant_id])
    return covering


def _detached(row: M, overrides: dict[str, Any]) -> M:
    """A transient copy of `row` with `overrides`: never added to the session, never flushed."""
    values = {column.key: getattr(row, column.key) for column in inspect(type(row)).column_attrs}
    values.update(overrides)
    return type(row)(**values)
