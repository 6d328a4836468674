"""The invitation page at /oauth/invitation, as the invited person's browser sees it.

From the link `inviteUser` hands out to a password that signs in through the real
authorization-code flow; one message for every unusable token; CSRF, matching and length
checks that write nothing; broken links that are a 400 page, never a crash; headers and cookie.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.access.actor import Role
from hub.audit.models import AuditEvent
from hub.audit.record import EventType
from hub.orgs.credentials import verify_secret
from hub.orgs.models import Invitation, User
from hub.settings import Settings
from resolvers.ids import decode_any_id
from tests import tokens
from tests.auth.browser import Authorization, approve, exchange, hidden_fields
from tests.factories import Factory, Org, Person

Sessions = async_sessionmaker[AsyncSession]

INVITE = """mutation ($input: InviteUserInput!) { inviteUser(input: $input) {
    user { id email } invitationToken invitationUrl userErrors { field message code } } }"""
VIEWER = "{ viewer { userId user { email } } }"

NEW_PASSWORD = "a long enough passphrase"
INVALID = "This invitation is not valid. Ask your administrator for a new one."
BROKEN = (
    "This invitation link is incomplete. Open the whole link from your invitation again, "
    "or ask your administrator for a new one."
)
EXPIRED_FORM = "This form has expired. Please enter your new password again."
_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.DOTALL)


# --- fixtures and helpers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Invited:
    """An invitation as the admin received it from the API."""

    org: Org
    user_id: uuid.UUID
    email: str
    token: str
    url: str


def _browser(app: Starlette, base_url: str) -> httpx.AsyncClient:
    """A browser: it sees a crash as the 500 page a server sends, not as an exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def browser(app: Starlette, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The invited person's browser, at the hub's public address, with its own cookie jar."""
    async with _browser(app, settings.issuer) as http:
        yield http


async def _invite(client: httpx.AsyncClient, org: Org, email: str) -> Invited:
    """What an admin does: inviteUser through GraphQL with the organisation's admin client."""
    token = await tokens.client_credentials(client, org.client)
    response = await tokens.graphql(
        client,
        token,
        INVITE,
        {"input": {"email": email, "displayName": "Ingrid Invited", "role": "SALES"}},
    )
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["inviteUser"]
    assert payload["userErrors"] == [], payload
    return Invited(
        org=org,
        user_id=decode_any_id(payload["user"]["id"])[1],
        email=payload["user"]["email"],
        token=payload["invitationToken"],
        url=payload["invitationUrl"],
    )


@pytest.fixture
async def invited(client: httpx.AsyncClient, factory: Factory) -> Invited:
    org = await factory.organisation("Invitation")
    return await _invite(client, org, f"ingrid-{uuid.uuid4().hex[:8]}@example.com")


def _errors(page: str) -> list[str]:
    return [html.unescape(message) for message in _ERROR.findall(page)]


def _has_form(page: str) -> bool:
    return 'name="password"' in page and 'name="password_confirmation"' in page


async def _open(browser: httpx.AsyncClient, invited: Invited) -> dict[str, str]:
    """Open the link as handed out; the form's hidden fields."""
    page = await browser.get(invited.url)
    assert page.status_code == 200, page.text
    assert _has_form(page.text), page.text
    return hidden_fields(page.text)


async def _submit(
    browser: httpx.AsyncClient, form: dict[str, str], password: str, confirmation: str | None = None
) -> httpx.Response:
    data = {
        **form,
        "password": password,
        "password_confirmation": password if confirmation is None else confirmation,
    }
    return await browser.post("/oauth/invitation", data=data)


def _refused(response: httpx.Response) -> list[str]:
    """A refusal: HTTP 400 and at least one message."""
    assert response.status_code == 400, response.text
    messages = _errors(response.text)
    assert messages, response.text
    return messages


async def _stored(sessions: Sessions, user_id: uuid.UUID) -> tuple[str | None, datetime | None]:
    """The user's password hash and when their invitation was accepted, read as the owner."""
    async with sessions() as session:
        user = (await session.scalars(select(User).where(User.id == user_id))).one()
        invitation = (
            await session.scalars(select(Invitation).where(Invitation.user_id == user_id))
        ).one()
        return user.password_hash, invitation.accepted_at


async def _activations(sessions: Sessions, org: Org) -> list[AuditEvent]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == org.id, AuditEvent.type == EventType.USER_ACTIVATED.value
            )
        )
        return list(rows)


async def _nothing_written(sessions: Sessions, invited: Invited) -> None:
    assert await _stored(sessions, invited.user_id) == (None, None)
    assert await _activations(sessions, invited.org) == []


async def _set_invitation(sessions: Sessions, invited: Invited, **values: Any) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Invitation).where(Invitation.user_id == invited.user_id).values(**values)
        )


def _assert_protected(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"


# --- the whole way: invited, password chosen, signed in -----------------------------------------


async def test_invited_person_sets_a_password_and_signs_in_through_the_portal(
    client: httpx.AsyncClient,
    app: Starlette,
    browser: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    settings: Settings,
) -> None:
    org = await factory.organisation("Joining")
    portal = await factory.portal(org)
    invited = await _invite(client, org, "Nora.New@Example.com")
    assert invited.url == f"{settings.issuer}/oauth/invitation?" + urlencode(
        {"org": str(org.id), "token": invited.token}
    )

    page = await browser.get(invited.url)
    assert page.status_code == 200, page.text
    assert org.name in page.text
    assert "nora.new@example.com" in page.text
    form = hidden_fields(page.text)
    assert form["org"] == str(org.id)
    assert form["token"] == invited.token
    assert len(form["csrf_token"]) >= 32
    assert await _stored(owner_sessions, invited.user_id) == (None, None)  # opening spends nothing

    done = await browser.post(
        "/oauth/invitation",
        data={**form, "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD},
        headers={"X-Request-ID": "invitation-accept-1"},
    )

    assert done.status_code == 200, done.text
    assert "you can now sign in" in done.text
    assert "nora.new@example.com" in done.text
    assert _errors(done.text) == []
    password_hash, accepted_at = await _stored(owner_sessions, invited.user_id)
    assert verify_secret(password_hash, NEW_PASSWORD)
    assert accepted_at is not None
    [activated] = await _activations(owner_sessions, org)
    assert activated.actor_user_id == invited.user_id
    assert activated.request_id == "invitation-accept-1"
    assert str(activated.source_address) == "127.0.0.1"

    # Then they sign in at their partner portal: /oauth/authorize, consent, token. (authlib
    # allows plain http only on localhost, so this browser talks to the hub there.)
    person = Person(invited.user_id, org.id, invited.email, NEW_PASSWORD, Role.SALES)
    authorization = Authorization(portal, scope="customers:read")
    async with _browser(app, "http://localhost") as portal_browser:
        code = await approve(portal_browser, authorization, person)
        issued = await exchange(portal_browser, authorization, code)
    assert issued.status_code == 200, issued.text
    viewer = await tokens.graphql(client, issued.json()["access_token"], VIEWER)
    assert viewer.json()["data"]["viewer"]["user"] == {"email": invited.email}


async def test_an_invitation_works_once(
    browser: httpx.AsyncClient, invited: Invited, owner_sessions: Sessions
) -> None:
    form = await _open(browser, invited)
    assert (await _submit(browser, form, NEW_PASSWORD)).status_code == 200

    again = await _submit(browser, form, "another long passphrase")

    assert _refused(again) == [INVALID]
    assert not _has_form(again.text)
    reopened = await browser.get(invited.url)
    assert _refused(reopened) == [INVALID]
    assert not _has_form(reopened.text)
    password_hash, _ = await _stored(owner_sessions, invited.user_id)
    assert verify_secret(password_hash, NEW_PASSWORD)
    assert not verify_secret(password_hash, "another long passphrase")
    assert len(await _activations(owner_sessions, invited.org)) == 1


# --- tokens that cannot be used ---------------------------------------------------------------


async def test_wrong_foreign_expired_and_disabled_invitations_answer_alike(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    factory: Factory,
    invited: Invited,
    owner_sessions: Sessions,
) -> None:
    other = await _invite(client, await factory.organisation("Elsewhere"), "o@example.com")
    form = await _open(browser, invited)  # a real form, whose fields the person then alters
    answers: dict[str, tuple[httpx.Response, httpx.Response]] = {}

    async def try_(case: str, org_id: uuid.UUID, token: str) -> None:
        query = urlencode({"org": str(org_id), "token": token})
        opened = await browser.get(f"/oauth/invitation?{query}")
        posted = await _submit(browser, {**form, "org": str(org_id), "token": token}, NEW_PASSWORD)
        answers[case] = (opened, posted)

    await try_("wrong token", invited.org.id, "x" * len(invited.token))
    await try_("token of another organisation", invited.org.id, other.token)
    await try_("another organisation's id", other.org.id, invited.token)
    await try_("unknown organisation", uuid.uuid4(), invited.token)
    await _set_invitation(
        owner_sessions, invited, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    await try_("expired", invited.org.id, invited.token)
    await _set_invitation(owner_sessions, invited, expires_at=datetime.now(UTC) + timedelta(days=1))
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(User).where(User.id == invited.user_id).values(disabled_at=datetime.now(UTC))
        )
    await try_("disabled user", invited.org.id, invited.token)

    for case, (opened, posted) in answers.items():
        for response in (opened, posted):
            assert _refused(response) == [INVALID], case
            assert not _has_form(response.text), case
            assert invited.org.name not in response.text, case
            assert other.org.name not in response.text, case
            assert invited.email not in response.text, case
    await _nothing_written(owner_sessions, invited)
    await _nothing_written(owner_sessions, other)


# --- checks on the form -----------------------------------------------------------------------


@pytest.mark.parametrize("csrf", ["missing", "wrong", "non-ascii", "another session's"])
async def test_a_form_without_the_sessions_csrf_token_writes_nothing(
    app: Starlette,
    browser: httpx.AsyncClient,
    invited: Invited,
    owner_sessions: Sessions,
    settings: Settings,
    csrf: str,
) -> None:
    form = await _open(browser, invited)
    genuine = form["csrf_token"]
    if csrf == "missing":
        del form["csrf_token"]
    elif csrf == "wrong":
        form["csrf_token"] = "x" * len(genuine)
    elif csrf == "non-ascii":
        form["csrf_token"] = "é" * len(genuine)
    else:
        async with _browser(app, settings.issuer) as other_browser:
            form["csrf_token"] = (await _open(other_browser, invited))["csrf_token"]
        assert form["csrf_token"] != genuine

    refused = await _submit(browser, form, NEW_PASSWORD)

    assert _refused(refused) == [EXPIRED_FORM]
    assert _has_form(refused.text)  # the token is still good: the person may simply retry
    await _nothing_written(owner_sessions, invited)
    retried = await _submit(browser, hidden_fields(refused.text), NEW_PASSWORD)
    assert retried.status_code == 200, retried.text
    assert verify_secret((await _stored(owner_sessions, invited.user_id))[0], NEW_PASSWORD)


async def test_passwords_that_differ_are_refused(
    browser: httpx.AsyncClient, invited: Invited, owner_sessions: Sessions
) -> None:
    form = await _open(browser, invited)

    refused = await _submit(browser, form, NEW_PASSWORD, NEW_PASSWORD + "!")

    assert _refused(refused) == ["The two passwords are not the same."]
    assert _has_form(refused.text)
    assert invited.org.name in refused.text
    assert NEW_PASSWORD not in refused.text  # a password is never echoed back
    await _nothing_written(owner_sessions, invited)


@pytest.mark.parametrize("password", ["", "eleven char", "x" * 201])
async def test_a_password_of_the_wrong_length_is_refused(
    browser: httpx.AsyncClient, invited: Invited, owner_sessions: Sessions, password: str
) -> None:
    form = await _open(browser, invited)

    refused = await _submit(browser, form, password)

    assert _refused(refused) == ["Between 12 and 200 characters."]
    assert _has_form(refused.text)
    await _nothing_written(owner_sessions, invited)
    # The refusal did not spend the invitation.
    assert (await _submit(browser, hidden_fields(refused.text), NEW_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "link",
    [
        {"org": "not-a-uuid", "token": "t"},
        {"org": "", "token": "t"},
        {"token": "t"},
        {"org": "{org}"},
        {"org": "{org}", "token": ""},
        {},
    ],
    ids=["bad org", "empty org", "no org", "no token", "empty token", "nothing"],
)
async def test_a_broken_link_is_a_400_page(
    browser: httpx.AsyncClient,
    invited: Invited,
    owner_sessions: Sessions,
    link: dict[str, str],
) -> None:
    fields = {name: value.replace("{org}", str(invited.org.id)) for name, value in link.items()}
    form = await _open(browser, invited)
    posted_fields = {"csrf_token": form["csrf_token"], **fields}

    opened = await browser.get("/oauth/invitation", params=fields)
    posted = await _submit(browser, posted_fields, NEW_PASSWORD)

    for response in (opened, posted):
        assert _refused(response) == [BROKEN]
        assert not _has_form(response.text)
        _assert_protected(response)
    await _nothing_written(owner_sessions, invited)


# --- the page itself ---------------------------------------------------------------------------


async def test_every_answer_is_protected_and_the_cookie_is_httponly_and_lax(
    browser: httpx.AsyncClient, invited: Invited
) -> None:
    page = await browser.get(invited.url)
    assert page.status_code == 200, page.text
    _assert_protected(page)
    [cookie] = [
        value for value in page.headers.get_list("set-cookie") if value.startswith("hub_session=")
    ]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/oauth"} <= attributes
    assert "secure" not in attributes  # the test issuer is http: local development

    form = hidden_fields(page.text)
    refused = await _submit(browser, form, NEW_PASSWORD, "something else entirely")
    assert refused.status_code == 400
    _assert_protected(refused)
    done = await _submit(browser, form, NEW_PASSWORD)
    assert done.status_code == 200, done.text
    _assert_protected(done)
    spent = await browser.get(invited.url)
    assert spent.status_code == 400
    _assert_protected(spent)
