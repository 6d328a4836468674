"""Who may export or erase personal data, and which privacy notices an organisation sees.

Exporting and erasing are the owner's, with scope `privacy:manage`: the subject must be a
customer or contact the caller's organisation owns, and one it does not own answers exactly
like one that does not exist. A notice is read by the organisation that sent it and the partner
it is addressed to, and acknowledged only by that partner; row-level security repeats each rule
(migration 20261206_privacy).
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.policy import require_scope
from hub.access.scopes import Scope
from hub.access.visibility import get_owned
from hub.customers.models import Contact, Customer
from hub.errors import NotFound
from hub.privacy.models import PrivacyNotice

S = TypeVar("S", Customer, Contact)


async def get_privacy_subject(
    session: AsyncSession,
    actor: Actor,
    model: type[S],
    subject_id: uuid.UUID,
    *,
    lock: bool = False,
) -> S:
    """The owned customer or contact whose personal data the actor may export or erase."""
    require_scope(actor, Scope.PRIVACY_MANAGE)
    return await get_owned(session, actor, model, subject_id, lock=lock, field="subjectId")


def select_received_notices(actor: Actor) -> Select[PrivacyNotice]:
    """The notices addressed to the actor's organisation, by any owner."""
    require_scope(actor, Scope.PRIVACY_MANAGE)
    return select(PrivacyNotice).where(PrivacyNotice.partner_org_id == actor.org_id)


def select_sent_notices(actor: Actor) -> Select[PrivacyNotice]:
    """The notices the actor's organisation sent to its partners."""
    require_scope(actor, Scope.PRIVACY_MANAGE)
    return select(PrivacyNotice).where(PrivacyNotice.org_id == actor.org_id)


async def get_received_notice(
    session: AsyncSession, actor: Actor, notice_id: uuid.UUID
) -> PrivacyNotice:
    """A notice addressed to the actor's organisation; any other answers `NotFound` (another
    partner's notice, one the actor sent, or none at all).

    Not locked: row-level security lets a partner lock (update) only a notice not yet
    acknowledged, so acknowledging is one conditional UPDATE instead.
    """
    statement = select_received_notices(actor).where(PrivacyNotice.id == notice_id)
    notice = (await session.scalars(statement)).one_or_none()
    if notice is None:
        raise NotFound("id")
    return notice
