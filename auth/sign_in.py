"""The portal sign-in: GET/POST /oauth/authorize, as server-rendered pages without JavaScript.

A browser arrives with an authorization request. authlib validates it (client, exact redirect
URI, response type, scopes, our PKCE rule); what cannot be redirected safely is shown as an
error page, the rest goes back to the client as an OAuth error. A person then signs in to the
client's organisation and approves what the client may do for them: the requested scopes, cut
to what the client is allowed and what the person's role permits.

The sign-in session lives in a signed cookie scoped to /oauth (HttpOnly, SameSite=Lax, Secure
outside local development); every form carries the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidScopeError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.bridge import audit, current, on_loop
from auth.grants import Approval
from auth.pages import Page, csrf_token_matches, protect, read_form, render
from auth.server import (
    HubAuthorizationServer,
    StarletteOAuth2Request,
    protocol_parameters_are_clean,
)
from hub.access.policy import ROLE_SCOPES
from hub.access.scopes import SCOPE_DESCRIPTIONS, Scope, parse_scopes
from hub.audit.record import EventType
from hub.orgs import sign_in as accounts
from hub.orgs.credentials import normalise_email

SIGN_IN_LIFETIME = timedelta(minutes=30)
# The authorization request travels through the forms as hidden fields, and only these.
AUTHORIZATION_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


@dataclass(frozen=True)
class _SignedIn:
    user_id: uuid.UUID


def sign_in_routes(server: Any) -> list[Route]:
    """`server` is a callable returning the running HubAuthorizationServer."""

    async def authorize(request: Request) -> Response:
        authorization_server: HubAuthorizationServer = server()
        session = request.session
        session.setdefault("csrf", secrets.token_urlsafe(32))
        form: dict[str, str] = {}
        if request.method == "POST":
            form = dict(await read_form(request))
            if not csrf_token_matches(form.get("csrf_token", ""), session["csrf"]):
                return render(request, _error("This form has expired. Please start again."))
        decide = partial(_decide, authorization_server, form=form, session=session)
        outcome = await authorization_server.run(request, decide)
        if isinstance(outcome, Response):
            protect(outcome)
            return outcome
        return render(request, outcome)

    return [Route("/oauth/authorize", authorize, methods=["GET", "POST"])]


def _decide(
    server: HubAuthorizationServer,
    request: StarletteOAuth2Request,
    *,
    form: dict[str, str],
    session: dict[str, Any],
) -> Response | Page:
    """Runs in the worker thread: validate the request, then sign in, consent or redirect."""
    if not protocol_parameters_are_clean(request):
        return _error("The authorization request contains characters it may not contain.")
    try:
        grant = server.get_consent_grant(request)
    except OAuth2Error as error:
        if error.redirect_uri:
            return server.handle_error_response(request, error)
        audit(EventType.TOKEN_REFUSED, error=error.error, description=error.description)
        return _error(error.description or "The authorization request is not valid.")
    org_id = grant.client.org_id  # a validated grant has an identified client
    params = [
        (name, request.payload.data[name])
        for name in AUTHORIZATION_PARAMETERS
        if name in request.payload.data
    ]
    names = on_loop(accounts.sign_in_page, org_id, grant.client.get_client_id())
    signed_in = _signed_in_user(session, org_id)
    action = form.get("action")
    # The forms of these pages may end at the client: its validated redirect URI's origin.
    back = (_origin(request.payload.redirect_uri),)

    if action == "sign_in":
        return _sign_in(server, request, form, session, org_id, params, names, back)
    if signed_in is None:
        return _sign_in_page(session, params, names, back)
    user = on_loop(accounts.active_user, org_id, signed_in.user_id)
    if user is None:
        session.pop("user", None)
        return _sign_in_page(session, params, names, back)
    offered = parse_scopes(grant.request.scope) & ROLE_SCOPES[user.role]
    if action == "deny":
        denied: Response = server.create_authorization_response(request, None, grant)
        return denied
    if action == "approve":
        if not offered:
            refusal = InvalidScopeError(
                "The user's role permits none of the requested scopes.",
                redirect_uri=request.payload.redirect_uri,
                state=request.payload.state,
            )
            refused: Response = server.handle_error_response(request, refusal)
            return refused
        approval = Approval(user.id, " ".join(sorted(scope.value for scope in offered)))
        approved: Response = server.create_authorization_response(request, approval, grant)
        return approved
    return Page(
        "consent.html",
        {
            "organisation": names.organisation,
            "client_name": names.client_name,
            "user_name": user.display_name,
            "scopes": [(scope.value, SCOPE_DESCRIPTIONS[scope]) for scope in _ordered(offered)],
            "params": params,
            "csrf_token": session["csrf"],
            "redirect_host": urlsplit(request.payload.redirect_uri).netloc,
        },
        form_targets=back,
    )


def _origin(uri: str) -> str:
    """scheme://host[:port] of a URI, as a CSP source names it."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _sign_in(
    server: HubAuthorizationServer,
    request: StarletteOAuth2Request,
    form: dict[str, str],
    session: dict[str, Any],
    org_id: uuid.UUID,
    params: list[tuple[str, str]],
    names: accounts.SignInPage,
    back: tuple[str, ...],
) -> Response | Page:
    email, password = form.get("email", ""), form.get("password", "")
    result = on_loop(accounts.sign_in, org_id, email, password, current().now)
    if result.user is None:
        audit(
            EventType.SIGN_IN_FAILED,
            reason=result.refusal.value if result.refusal else None,
            email_sha256=hashlib.sha256(normalise_email(email).encode()).hexdigest(),
        )
        if result.locked_now:
            audit(
                EventType.ACCOUNT_LOCKED, locked_for_seconds=int(accounts.LOCK_FOR.total_seconds())
            )
        return _sign_in_page(
            session, params, names, back, email=email, error=_refusal_message(result)
        )
    audit(EventType.SIGN_IN_SUCCEEDED, user_id=result.user.id)
    # A new session identity on sign-in: a token planted before it is worth nothing after.
    session.clear()
    session["csrf"] = secrets.token_urlsafe(32)
    session["user"] = {
        "org": str(org_id),
        "id": str(result.user.id),
        "at": int(current().now.timestamp()),
    }
    return RedirectResponse("/oauth/authorize?" + urlencode(params), status_code=303)


def _signed_in_user(session: dict[str, Any], org_id: uuid.UUID) -> _SignedIn | None:
    """The user signed in to this organisation within the last half hour, if any."""
    entry = session.get("user")
    if not isinstance(entry, dict) or entry.get("org") != str(org_id):
        return None
    if current().now.timestamp() - int(entry.get("at", 0)) > SIGN_IN_LIFETIME.total_seconds():
        return None
    try:
        return _SignedIn(uuid.UUID(str(entry["id"])))
    except (KeyError, ValueError):
        return None


def _sign_in_page(
    session: dict[str, Any],
    params: list[tuple[str, str]],
    names: accounts.SignInPage,
    back: tuple[str, ...],
    *,
    email: str = "",
    error: str | None = None,
) -> Page:
    return Page(
        "sign_in.html",
        {
            "organisation": names.organisation,
            "client_name": names.client_name,
            "params": params,
            "csrf_token": session["csrf"],
            "email": email,
            "error": error,
        },
        form_targets=back,
    )


def _refusal_message(result: accounts.SignInResult) -> str:
    """The same words whether or not the address belongs to a user."""
    seconds = int(result.retry_after.total_seconds()) + 1 if result.retry_after else 0
    if result.refusal is accounts.Refusal.LOCKED:
        minutes = -(-seconds // 60)  # rounded up
        return f"Too many failed attempts. Sign-in is locked for {minutes} minutes."
    if result.refusal is accounts.Refusal.TOO_SOON:
        return f"Too many attempts. Please wait {seconds} seconds and try again."
    return "Wrong e-mail or password."


def _error(message: str) -> Page:
    return Page("error.html", {"message": message}, status=400)


def _ordered(scopes: frozenset[Scope]) -> list[Scope]:
    return [scope for scope in Scope if scope in scopes]
