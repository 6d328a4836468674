"""Who an external identity provider's token speaks for: a hub organisation and one of its users.

The provider names the organisation by its slug and the person by e-mail address, in claims
the operator configures. Nothing is created on the fly: the organisation must exist and the
person must be an enabled user of it (invited by an admin as usual), so the provider can only
vouch for people the organisation itself admitted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.rls import enter_organisation
from hub.orgs.credentials import normalise_email
from hub.orgs.lookup import find_organisation_by_slug
from hub.orgs.models import User


@dataclass(frozen=True)
class Member:
    org_id: uuid.UUID
    user_id: uuid.UUID


async def find_member(session: AsyncSession, org_slug: str, email: str) -> Member | None:
    """The enabled user with this address in the organisation with this slug, if any.

    Enters the organisation for the rest of the transaction: users are read through row-level
    security, so a user of another organisation is never found.
    """
    organisation = await find_organisation_by_slug(session, org_slug)
    if organisation is None:
        return None
    org_id = organisation.id
    await enter_organisation(session, org_id)
    user_id = await session.scalar(
        select(User.id).where(
            User.org_id == org_id,
            User.email == normalise_email(email),
            User.disabled_at.is_(None),
        )
    )
    return Member(org_id=org_id, user_id=user_id) if user_id is not None else None
