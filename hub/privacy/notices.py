"""Privacy notices as partners read them (`privacyNotices`) and acknowledge them.

A partner lists the notices addressed to it, newest first, on keyset pages; an owner may list
the notices it sent the same way. Acknowledging is the partner's, once: a second acknowledgement
changes nothing and says so (`already_acknowledged`), and a notice addressed to someone else
answers `NotFound`, like one that does not exist. Acknowledging is audited in the partner's own
chain (`privacy.notice_acknowledged`, the notice, owner and subject by reference).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hub.access.actor import Actor
from hub.access.privacy import (
    get_received_notice,
    select_received_notices,
    select_sent_notices,
)
from hub.audit.record import EventType, record_act
from hub.grants.service import actor_reference
from hub.pagination import Page, PageRequest, fetch_page
from hub.privacy.models import PrivacyNotice


@dataclass(frozen=True)
class NoticeFilter:
    """`acknowledged` None: both; `sent`: the notices the caller sent instead of received."""

    acknowledged: bool | None = None
    sent: bool = False


@dataclass(frozen=True)
class AcknowledgeNotice:
    notice_id: uuid.UUID


@dataclass(frozen=True)
class Acknowledgement:
    notice: PrivacyNotice
    already_acknowledged: bool


async def list_notices(
    session: AsyncSession, actor: Actor, where: NoticeFilter, page: PageRequest
) -> Page[PrivacyNotice]:
    statement = select_sent_notices(actor) if where.sent else select_received_notices(actor)
    if where.acknowledged is not None:
        statement = statement.where(
            PrivacyNotice.acknowledged_at.is_not(None)
            if where.acknowledged
            else PrivacyNotice.acknowledged_at.is_(None)
        )
    return await fetch_page(
        session, PrivacyNotice, statement, [PrivacyNotice.created_at], True, page
    )


async def acknowledge_notice(
    session: AsyncSession, actor: Actor, command: AcknowledgeNotice
) -> Acknowledgement:
    notice = await get_received_notice(session, actor, command.notice_id)
    if notice.acknowledged_at is not None:
        return Acknowledgement(notice, already_acknowledged=True)
    acknowledged = await session.execute(
        update(PrivacyNotice)
        .where(
            PrivacyNotice.org_id == notice.org_id,
            PrivacyNotice.id == notice.id,
            PrivacyNotice.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=func.now(), acknowledged_by=actor_reference(actor))
        .returning(PrivacyNotice.acknowledged_at, PrivacyNotice.acknowledged_by)
        .execution_options(synchronize_session=False)
    )
    row = acknowledged.one_or_none()
    if row is None:  # acknowledged meanwhile by another request of the same partner
        await session.refresh(notice)
        return Acknowledgement(notice, already_acknowledged=True)
    # What the UPDATE wrote, kept on the loaded notice without making it dirty again.
    set_committed_value(notice, "acknowledged_at", row.acknowledged_at)
    set_committed_value(notice, "acknowledged_by", row.acknowledged_by)
    await record_act(
        session,
        actor,
        EventType.PRIVACY_NOTICE_ACKNOWLEDGED,
        {
            "notice": {"id": notice.id, "ownerOrgId": notice.org_id},
            "subject": {"type": notice.subject_kind, "id": notice.subject_id},
        },
        record_ids=[notice.id, notice.subject_id],
    )
    return Acknowledgement(notice, already_acknowledged=False)
