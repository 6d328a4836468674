"""The disclosure report: who received which fields of a customer or contact, when, how often.

Read from the `disclosures` index the ledger keeps with each disclosure event, never from the
ledger itself, so its cost follows the number of partners and fields, not of disclosures. The
owner's disclosures still waiting are sealed (and so folded into the index) first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access.actor import Actor
from hub.access.policy import require_scope
from hub.access.scopes import Scope
from hub.audit.models import Disclosure
from hub.audit.sealer import seal_own
from hub.customers.models import Customer
from hub.privacy.subjects import PrivacySubject


@dataclass(frozen=True)
class DisclosureReport:
    subject: PrivacySubject
    entries: list[Disclosure]

    @property
    def partner_ids(self) -> list[uuid.UUID]:
        return sorted({entry.partner_org_id for entry in self.entries})

    @property
    def first_at(self) -> datetime | None:
        return min((entry.first_at for entry in self.entries), default=None)

    @property
    def last_at(self) -> datetime | None:
        return max((entry.last_at for entry in self.entries), default=None)


async def disclosure_report(
    session: AsyncSession, actor: Actor, subject: PrivacySubject
) -> DisclosureReport:
    """Per partner, subject, field and grant; `NotFound` when the subject is not the caller's."""
    require_scope(actor, Scope.AUDIT_READ)
    await access.get_owned(session, actor, subject.model, subject.subject_id, field="subjectId")
    await seal_own(session)  # the disclosures not sealed yet are folded in first
    matches = (
        Disclosure.customer_id if subject.model is Customer else Disclosure.subject_id
    ) == subject.subject_id
    statement = (
        select(Disclosure)
        .where(Disclosure.org_id == actor.org_id, matches)
        .order_by(
            Disclosure.partner_org_id,
            Disclosure.subject_kind.desc(),
            Disclosure.subject_id,
            Disclosure.field,
            Disclosure.grant_id,
        )
    )
    return DisclosureReport(subject, list((await session.scalars(statement)).all()))
