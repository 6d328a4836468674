"""The invitation page: GET/POST /oauth/invitation, where an invited person chooses a password.

`inviteUser` hands an admin a link carrying the organisation id and a one-time token. The page
is server-rendered and works without JavaScript, like the sign-in pages, and shares their
signed /oauth cookie: every form carries the session's CSRF token, so a page on another site
cannot submit it through the person's browser. Whether a token is wrong, expired, used or
belongs to a disabled user, the page says the same words (they come from the service); only
the holder of a usable token sees whose invitation it is.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.pages import Page, csrf_token_matches, read_form, render
from hub.errors import InvalidInput
from hub.orgs import users

__all__ = ["invitation_routes"]

Sessions = Callable[[], async_sessionmaker[AsyncSession]]

BROKEN_LINK = (
    "This invitation link is incomplete. Open the whole link from your invitation again, "
    "or ask your administrator for a new one."
)
EXPIRED_FORM = "This form has expired. Please enter your new password again."
PASSWORDS_DIFFER = "The two passwords are not the same."


@dataclass(frozen=True)
class _Link:
    """The invitation a link or a form names."""

    org_id: uuid.UUID
    token: str


def invitation_routes(sessions: Sessions) -> list[Route]:
    """`sessions` is a callable returning the running hub's session factory."""

    async def invitation(request: Request) -> Response:
        csrf = request.session.setdefault("csrf", secrets.token_urlsafe(32))
        if request.method == "GET":
            link = _link(request.query_params)
            if link is None:
                return render(request, _unusable(BROKEN_LINK))
            return render(request, await _show(sessions, link, csrf))
        form = dict(await read_form(request))
        link = _link(form)
        if link is None:
            return render(request, _unusable(BROKEN_LINK))
        if not csrf_token_matches(form.get("csrf_token", ""), csrf):
            return render(request, await _show(sessions, link, csrf, error=EXPIRED_FORM))
        password = form.get("password", "")
        if password != form.get("password_confirmation", ""):
            page = await _show(sessions, link, csrf, confirmation_error=PASSWORDS_DIFFER)
            return render(request, page)
        try:
            async with sessions()() as session, session.begin():
                user = await users.accept_invitation(
                    session,
                    link.org_id,
                    link.token,
                    password,
                    request_id=getattr(request.state, "request_id", None),
                    source_address=request.client.host if request.client else None,
                )
        except InvalidInput as refused:
            password_error = _message_on("password", refused)
            if password_error is None:
                return render(request, _unusable(_first_message(refused)))
            return render(request, await _show(sessions, link, csrf, password_error=password_error))
        return render(request, Page("invitation_done.html", {"email": user.email}))

    return [Route(users.INVITATION_PATH, invitation, methods=["GET", "POST"])]


def _link(fields: Mapping[str, str]) -> _Link | None:
    """The organisation and token from the query or the form; None when either is unusable."""
    token = fields.get("token", "")
    try:
        org_id = uuid.UUID(fields.get("org", ""))
    except ValueError:
        return None
    return _Link(org_id, token) if token else None


async def _show(
    sessions: Sessions,
    link: _Link,
    csrf: str,
    *,
    error: str | None = None,
    password_error: str | None = None,
    confirmation_error: str | None = None,
) -> Page:
    """The form, named for whom it invites; an unusable invitation gets its refusal instead.

    The invitation is looked up afresh each time: a page never shows a name a form field
    could have planted, and a token spent meanwhile is refused before anyone types again.
    """
    try:
        async with sessions()() as session, session.begin():
            pending = await users.pending_invitation(session, link.org_id, link.token)
    except InvalidInput as refused:
        return _unusable(_first_message(refused))
    refused_now = error or password_error or confirmation_error
    return Page(
        "invitation.html",
        {
            "action": users.INVITATION_PATH,
            "invitation": pending,
            "org": str(link.org_id),
            "token": link.token,
            "csrf_token": csrf,
            "min_length": users.MIN_PASSWORD_LENGTH,
            "max_length": users.MAX_PASSWORD_LENGTH,
            "error": error,
            "password_error": password_error,
            "confirmation_error": confirmation_error,
        },
        status=400 if refused_now else 200,
    )


def _unusable(message: str) -> Page:
    """The page without a form: nothing typed into it could succeed."""
    return Page("invitation.html", {"invitation": None, "error": message}, status=400)


def _message_on(field: str, refused: InvalidInput) -> str | None:
    return next((error.message for error in refused.errors if error.field == (field,)), None)


def _first_message(refused: InvalidInput) -> str:
    """The service's words for a refused token: one message for every reason."""
    return refused.errors[0].message
