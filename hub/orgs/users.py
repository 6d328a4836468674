"""An organisation's own people, managed by its admins: invite, disable, list; and accepting
an invitation, the one step that runs before the invited person can be an actor.

An invitation token is random and shown once: the hub keeps only its SHA-256 digest, which is
enough to find the invitation and useless to anyone who reads the table.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Role
from hub.access.rls import enter_organisation
from hub.access.writes import insert_owned, insert_owned_unless_taken
from hub.audit.record import Event, EventType, record, record_act
from hub.errors import InvalidInput, UserErrorCode
from hub.orgs.credentials import digest_token, hash_secret, normalise_email
from hub.orgs.models import Invitation, Organisation, User
from hub.pagination import Page, PageRequest, fetch_page
from hub.validation import Checks

INVITATION_LIFETIME = timedelta(days=7)
# Where an invited person accepts; the route lives in the auth layer, the link is made here.
INVITATION_PATH = "/oauth/invitation"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
MAX_EMAIL_LENGTH = 320
MAX_DISPLAY_NAME_LENGTH = 200

# One answer for a wrong, expired or used token, so the answer says nothing about which.
_INVALID_INVITATION = "This invitation is not valid. Ask your administrator for a new one."


@dataclass(frozen=True)
class InviteUser:
    email: str
    display_name: str
    role: Role


@dataclass(frozen=True)
class DisableUser:
    user_id: uuid.UUID


@dataclass(frozen=True)
class InvitedUser:
    """The new user and the clear invitation token: the only time the token leaves the hub."""

    user: User
    invitation_token: str


@dataclass(frozen=True)
class PendingInvitation:
    """What the acceptance page may show to the holder of a usable token, and only to them."""

    organisation: str
    email: str


def invitation_url(base_url: str, org_id: uuid.UUID, token: str) -> str:
    """The link an admin sends: the organisation and the clear token, url-encoded."""
    query = urlencode({"org": str(org_id), "token": token})
    return f"{base_url.rstrip('/')}{INVITATION_PATH}?{query}"


def invitation_terms() -> tuple[str, dict[str, Any]]:
    """A new invitation's clear token, and what its row keeps: the token's digest and when it
    expires."""
    token = secrets.token_urlsafe(32)
    return token, {
        "token_hash": digest_token(token),
        "expires_at": datetime.now(UTC) + INVITATION_LIFETIME,
    }


async def list_users(session: AsyncSession, actor: Actor, page: PageRequest) -> Page[User]:
    """The organisation's people, oldest first, disabled and invited ones included."""
    access.require_admin(actor)
    statement = access.select_owned(actor, User)
    return await fetch_page(session, User, statement, [User.created_at], False, page)


async def pending_invitations(
    session: AsyncSession, actor: Actor, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Invitation]:
    """Each user's invitation that can still be accepted; for the per-request loader."""
    access.require_admin(actor)
    statement = access.select_owned(actor, Invitation).where(
        Invitation.user_id.in_(set(user_ids)),
        Invitation.accepted_at.is_(None),
        Invitation.expires_at > datetime.now(UTC),
    )
    return {invitation.user_id: invitation for invitation in await session.scalars(statement)}


async def invite_user(session: AsyncSession, actor: Actor, command: InviteUser) -> InvitedUser:
    """Create a user without a password and an invitation to choose one.

    The user cannot sign in until the invitation is accepted: there is no password to match.
    The role may not carry scopes the inviting admin does not hold (`grantable_scopes`).
    """
    access.require_admin(actor)
    email = normalise_email(command.email)
    checks = Checks()
    checks.text("email", email, max_length=MAX_EMAIL_LENGTH, required=True)
    if email:
        checks.pattern("email", email, "email")
    checks.text(
        "displayName", command.display_name, max_length=MAX_DISPLAY_NAME_LENGTH, required=True
    )
    if not access.ROLE_SCOPES[command.role] <= access.grantable_scopes(actor):
        checks.fail(
            "role",
            UserErrorCode.INVALID,
            "You cannot invite someone with rights you do not hold yourself.",
        )
    checks.done()
    user = await insert_owned_unless_taken(
        session,
        actor,
        User,
        ["email"],
        email=email,
        display_name=command.display_name.strip(),
        role=command.role,
        password_hash=None,
    )
    if user is None:
        raise InvalidInput.on(
            "email", UserErrorCode.DUPLICATE, "Someone in your organisation has this address."
        )
    token, terms = invitation_terms()
    await insert_owned(session, actor, Invitation, user_id=user.id, **terms)
    await _audit(session, actor, EventType.USER_INVITED, user, role=user.role.value)
    return InvitedUser(user, token)


async def disable_user(session: AsyncSession, actor: Actor, command: DisableUser) -> User:
    """Disable a user; idempotent, so a repeat changes and records nothing.

    An admin cannot disable themself: the last admin could otherwise lock everyone out.
    """
    access.require_admin(actor)
    user = await access.get_owned(session, actor, User, command.user_id, lock=True, field="userId")
    if user.disabled_at is not None:
        return user
    if user.id == actor.user_id:
        raise InvalidInput.on("userId", UserErrorCode.INVALID, "You cannot disable yourself.")
    user.disabled_at = datetime.now(UTC)
    await session.flush()
    await _audit(session, actor, EventType.USER_DISABLED, user)
    return user


async def accept_invitation(
    session: AsyncSession,
    org_id: uuid.UUID,
    token: str,
    password: str,
    *,
    request_id: str | None = None,
    source_address: str | None = None,
) -> User:
    """Set the invited user's password with a one-time token, before any actor exists.

    The organisation comes from the sign-in page's URL, not from a token, so it is entered
    here for row-level security; a token of another organisation then simply is not found.
    A wrong, expired or used token, and a disabled user, all get the same error.
    """
    checks = Checks()
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        checks.fail(
            "password",
            UserErrorCode.OUT_OF_RANGE,
            f"Between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters.",
        )
    checks.done()
    await enter_organisation(session, org_id)
    now = datetime.now(UTC)
    invitation, user = await _usable_invitation(session, org_id, token, now, lock=True)
    user.password_hash = hash_secret(password)
    invitation.accepted_at = now
    await session.flush()
    await record(
        session,
        Event(
            type=EventType.USER_ACTIVATED,
            org_id=org_id,
            user_id=user.id,
            request_id=request_id,
            source_address=source_address,
            details={"user_id": str(user.id)},
        ),
    )
    return user


async def pending_invitation(
    session: AsyncSession, org_id: uuid.UUID, token: str
) -> PendingInvitation:
    """Whom a token invites, for the page where they choose a password; changes nothing.

    Only a usable token reveals the organisation's name and the address: an organisation id
    alone, which anyone who once saw a link knows, tells a guesser nothing. Refusals are
    `accept_invitation`'s, word for word, so the page cannot tell the cases apart either.
    """
    await enter_organisation(session, org_id)
    _, user = await _usable_invitation(session, org_id, token, datetime.now(UTC), lock=False)
    name = select(Organisation.name).where(Organisation.id == org_id)
    organisation = (await session.execute(name)).scalar_one()  # the invitation's key holds
    return PendingInvitation(organisation=organisation, email=user.email)


async def _usable_invitation(
    session: AsyncSession, org_id: uuid.UUID, token: str, now: datetime, *, lock: bool
) -> tuple[Invitation, User]:
    """The unused, unexpired invitation `token` opens in `org_id` (entered), and its user.

    `lock` holds both rows until the transaction ends, so two submissions of one token
    cannot both set a password.
    """
    statement = select(Invitation).where(
        Invitation.org_id == org_id, Invitation.token_hash == digest_token(token)
    )
    invitation = (
        await session.scalars(statement.with_for_update() if lock else statement)
    ).one_or_none()
    user = None
    if invitation is not None and invitation.accepted_at is None and invitation.expires_at > now:
        user_statement = select(User).where(User.org_id == org_id, User.id == invitation.user_id)
        user = await session.scalar(user_statement.with_for_update() if lock else user_statement)
    if invitation is None or user is None or user.disabled_at is not None:
        raise InvalidInput.on("token", UserErrorCode.INVALID, _INVALID_INVITATION)
    return invitation, user


async def _audit(
    session: AsyncSession, actor: Actor, event_type: EventType, user: User, **details: object
) -> None:
    """Who did what to which user. Details name the user by id: no address, token or hash."""
    await record_act(session, actor, event_type, {"user_id": str(user.id), **details})
