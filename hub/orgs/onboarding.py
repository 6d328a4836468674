"""A new organisation on the hub, made by its operator: the organisation and its first
administrator, who gets in by a one-time invitation (`hub org create`).

Run as the database owner (the operator's command, before any organisation can act), in one
transaction: the organisation, the administrator without a password, the invitation to choose
one (the same invitation an admin's `inviteUser` makes), and the event that says so, filed in
the new organisation's own chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Role
from hub.access.rls import enter_organisation
from hub.audit.record import Event, EventType, record
from hub.errors import InvalidInput, UserErrorCode
from hub.orgs.credentials import normalise_email
from hub.orgs.models import Invitation, Organisation, User
from hub.orgs.users import MAX_DISPLAY_NAME_LENGTH, MAX_EMAIL_LENGTH, invitation_terms
from hub.validation import Checks

MAX_NAME_LENGTH = 200
# Lower-case letters and digits, words joined by single hyphens: it appears in URLs and in the
# identity provider's claims.
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 80


@dataclass(frozen=True)
class CreateOrganisation:
    name: str
    slug: str
    admin_email: str


@dataclass(frozen=True)
class CreatedOrganisation:
    """The organisation, its first administrator and the clear invitation token: the only
    time the token leaves the hub."""

    organisation: Organisation
    admin: User
    invitation_token: str


async def create_organisation(
    session: AsyncSession, command: CreateOrganisation
) -> CreatedOrganisation:
    """Make the organisation and invite its first administrator. A slug already taken, or a
    name, slug or address that is not one, is refused (`InvalidInput`) and nothing is made."""
    name, slug, email = command.name.strip(), command.slug, normalise_email(command.admin_email)
    checks = Checks()
    checks.text("name", name, max_length=MAX_NAME_LENGTH, required=True)
    checks.text("slug", slug, max_length=MAX_SLUG_LENGTH, required=True)
    if slug and not _SLUG.match(slug):
        checks.fail(
            "slug",
            UserErrorCode.INVALID,
            f"Expected lower-case letters and digits joined by hyphens, not {slug!r}.",
        )
    checks.text("adminEmail", email, max_length=MAX_EMAIL_LENGTH, required=True)
    if email:
        checks.pattern("adminEmail", email, "email")
    checks.done()
    taken = await session.scalar(select(Organisation.id).where(Organisation.slug == slug))
    if taken is not None:
        raise InvalidInput.on(
            "slug", UserErrorCode.DUPLICATE, f"An organisation with the slug {slug!r} exists."
        )
    organisation = Organisation(name=name, slug=slug)
    session.add(organisation)
    await session.flush()
    # The transaction acts in the new organisation: its event is filed in its own chain.
    await enter_organisation(session, organisation.id)
    admin = User(
        org_id=organisation.id,
        email=email,
        display_name=email.split("@")[0][:MAX_DISPLAY_NAME_LENGTH],
        role=Role.ADMIN,
        password_hash=None,
    )
    session.add(admin)
    await session.flush()
    token, terms = invitation_terms()
    session.add(Invitation(org_id=organisation.id, user_id=admin.id, **terms))
    await session.flush()
    await record(
        session,
        Event(
            EventType.ORGANISATION_CREATED,
            org_id=organisation.id,
            details={"name": name, "slug": slug, "admin_user_id": str(admin.id)},
        ),
    )
    return CreatedOrganisation(organisation, admin, token)
