"""The sign-in and consent pages at /oauth/authorize, as a browser sees them.

Headers and cookies, answers that reveal nothing about which addresses exist, the throttle and
the lock, CSRF, consent cut to the person's role, and requests too broken to redirect.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.access.actor import Role
from hub.access.scopes import SCOPE_DESCRIPTIONS, Scope
from hub.app import create_app
from hub.audit.models import AuditEvent
from hub.oauth.models import AuthorizationCode
from hub.orgs.models import ApiClient, SignInThrottle
from hub.settings import Settings
from tests.auth.browser import Authorization, exchange, hidden_fields, sign_in
from tests.factories import PASSWORD, Factory, Org, Person, Portal

Sessions = async_sessionmaker[AsyncSession]

WRONG = "Wrong e-mail or password."
_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.DOTALL)
_SCOPE_ITEM = re.compile(r'<li>(.*?) <span class="muted">\((.*?)\)</span></li>')


# --- fixtures and helpers ---------------------------------------------------------------------


def _browser(app: Starlette, base_url: str = "http://localhost") -> httpx.AsyncClient:
    """A browser: it sees a crash as the 500 page a server sends, not as an exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh cookie jar per test: one person at one browser."""
    async with _browser(app) as http:
        yield http


@pytest.fixture
async def https_app(settings: Settings, app_url: str) -> AsyncIterator[Starlette]:
    """The same hub, configured with an https issuer, started with its own lifespan."""
    application = create_app(settings.model_copy(update={"issuer": "https://hub.example"}), app_url)
    async with application.router.lifespan_context(application):
        yield application


@dataclass(frozen=True)
class Scene:
    org: Org
    person: Person
    portal: Portal
    authorization: Authorization


async def _scene(
    factory: Factory, *, role: Role = Role.SALES, scope: str = "customers:read"
) -> Scene:
    org = await factory.organisation("Pages")
    person = await factory.person(org, role=role)
    portal = await factory.portal(org)
    return Scene(org, person, portal, Authorization(portal, scope=scope))


def _error_of(page: str) -> str | None:
    found = _ERROR.search(page)
    return html.unescape(found.group(1)) if found else None


def _is_sign_in_page(page: str) -> bool:
    return 'name="password"' in page and hidden_fields(page).get("action") == "sign_in"


def _is_consent_page(page: str) -> bool:
    return 'value="approve"' in page or 'value="deny"' in page


async def _attempt(
    browser: httpx.AsyncClient, authorization: Authorization, email: str, password: str
) -> httpx.Response:
    """What a person does at the sign-in page: load it, type, submit."""
    page = await browser.get(authorization.url())
    assert page.status_code == 200, page.text
    assert _is_sign_in_page(page.text), page.text
    return await browser.post(
        "/oauth/authorize",
        data={**hidden_fields(page.text), "email": email, "password": password},
    )


def _refused(response: httpx.Response) -> str:
    """The message of a refused sign-in: the sign-in page again, with an error."""
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert _is_sign_in_page(response.text)
    message = _error_of(response.text)
    assert message is not None, response.text
    return message


async def _still_signed_out(browser: httpx.AsyncClient, authorization: Authorization) -> None:
    page = await browser.get(authorization.url())
    assert page.status_code == 200
    assert _is_sign_in_page(page.text)
    assert not _is_consent_page(page.text)


async def _signed_in(response: httpx.Response, browser: httpx.AsyncClient) -> str:
    """A successful sign-in redirects to the consent page; returns that page."""
    assert response.status_code == 303, response.text
    consent = await browser.get(response.headers["location"])
    assert consent.status_code == 200
    assert _is_consent_page(consent.text), consent.text
    return consent.text


async def _time_passes(sessions: Sessions, org: Org, email: str, by: timedelta) -> None:
    """Move an address's throttle into the past, as if `by` had gone by since its failures."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.org_id == org.id, SignInThrottle.email == email.lower())
            .values(
                last_failed_at=SignInThrottle.last_failed_at - by,
                locked_until=SignInThrottle.locked_until - by,
            )
        )


async def _failures(sessions: Sessions, org: Org, email: str) -> int | None:
    async with sessions() as session:
        return await session.scalar(
            select(SignInThrottle.failures).where(
                SignInThrottle.org_id == org.id, SignInThrottle.email == email.lower()
            )
        )


async def _events(sessions: Sessions, org: Org, event_type: str) -> list[AuditEvent]:
    async with sessions() as session:
        statement = (
            select(AuditEvent)
            .where(AuditEvent.org_id == org.id, AuditEvent.type == event_type)
            .order_by(AuditEvent.created_at)
        )
        return list((await session.scalars(statement)).all())


def _ghost() -> str:
    return f"ghost-{uuid.uuid4().hex[:8]}@example.com"


def _redirected_error(response: httpx.Response, scene: Scene) -> dict[str, list[str]]:
    """A 302 back to the registered redirect URI; returns its query."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == scene.portal.redirect_uri
    query = parse_qs(location.query)
    assert query["state"] == [scene.authorization.state]
    assert "code" not in query
    return query


def _cookie_attributes(response: httpx.Response, name: str) -> set[str]:
    [cookie] = [
        value for value in response.headers.get_list("set-cookie") if value.startswith(f"{name}=")
    ]
    return {part.strip().lower() for part in cookie.split(";")[1:]}


def _assert_protected(response: httpx.Response) -> None:
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# --- the page itself ---------------------------------------------------------------------------


async def test_sign_in_page_headers_and_cookie(
    browser: httpx.AsyncClient, factory: Factory, https_app: Starlette
) -> None:
    scene = await _scene(factory)
    page = await browser.get(scene.authorization.url())
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    fields = hidden_fields(page.text)
    assert len(fields["csrf_token"]) >= 32
    assert fields["state"] == scene.authorization.state
    assert fields["code_challenge"] == scene.authorization.challenge
    assert scene.org.name in page.text
    _assert_protected(page)
    assert page.headers["referrer-policy"] == "no-referrer"

    attributes = _cookie_attributes(page, "hub_session")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/oauth" in attributes
    assert "secure" not in attributes  # the issuer is http: local development

    async with _browser(https_app, "https://hub.example") as secure_browser:
        secure_page = await secure_browser.get(scene.authorization.url())
    assert secure_page.status_code == 200, secure_page.text
    secure_attributes = _cookie_attributes(secure_page, "hub_session")
    assert "secure" in secure_attributes
    assert {"httponly", "samesite=lax", "path=/oauth"} <= secure_attributes


async def test_wrong_password_unknown_address_and_disabled_user_answer_alike(
    app: Starlette, factory: Factory
) -> None:
    scene = await _scene(factory)
    disabled = await factory.person(scene.org, disabled=True)
    # The control: the same page with the right password signs in.
    async with _browser(app) as browser:
        await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)
    attempts = {
        "wrong password": (scene.person.email, "not the password"),
        "unknown address": (_ghost(), PASSWORD),
        "disabled user": (disabled.email, PASSWORD),
    }
    answers: dict[str, tuple[int, str]] = {}
    for reason, (email, password) in attempts.items():
        async with _browser(app) as browser:
            response = await _attempt(browser, scene.authorization, email, password)
            assert _refused(response) == WRONG, reason
            csrf = hidden_fields(response.text)["csrf_token"]
            body = response.text.replace(csrf, "CSRF").replace(html.escape(email), "EMAIL")
            answers[reason] = (response.status_code, body)
            await _still_signed_out(browser, scene.authorization)
    assert answers["wrong password"] == answers["unknown address"] == answers["disabled user"]


# --- throttle and lock -------------------------------------------------------------------------


async def test_three_failures_make_the_next_attempt_wait_for_known_and_unknown_addresses(
    app: Starlette, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    stories: dict[str, list[str]] = {}
    for email in (scene.person.email, _ghost()):
        async with _browser(app) as browser:
            messages = [
                _refused(await _attempt(browser, scene.authorization, email, "wrong"))
                for _ in range(3)
            ]
            # Even the right password is not checked while the address must wait.
            early = await _attempt(browser, scene.authorization, email, PASSWORD)
            messages.append(_refused(early))
            await _still_signed_out(browser, scene.authorization)
            assert await _failures(owner_sessions, scene.org, email) == 3

            # Once the delay is over, the address may try again (and fail again).
            await _time_passes(owner_sessions, scene.org, email, timedelta(minutes=2))
            messages.append(_refused(await _attempt(browser, scene.authorization, email, "x")))
            assert await _failures(owner_sessions, scene.org, email) == 4
            stories[email] = messages

    known, unknown = stories.values()
    assert known[:3] == [WRONG] * 3
    assert re.fullmatch(r"Too many attempts\. Please wait \d+ seconds and try again\.", known[3])
    assert known[4] == WRONG
    assert known == unknown


async def test_ten_failures_lock_the_address_for_known_and_unknown_addresses(
    app: Starlette, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    stories: dict[str, list[str]] = {}
    for email in (scene.person.email, _ghost()):
        async with _browser(app) as browser:
            messages = await _fail_ten_times(browser, scene, owner_sessions, email)
            # Locked: the right password is refused, now and after the throttle's delay.
            messages.append(_refused(await _attempt(browser, scene.authorization, email, PASSWORD)))
            await _time_passes(owner_sessions, scene.org, email, timedelta(minutes=2))
            messages.append(_refused(await _attempt(browser, scene.authorization, email, PASSWORD)))
            await _still_signed_out(browser, scene.authorization)
            assert await _failures(owner_sessions, scene.org, email) == 10

            # The lock ends when its 15 minutes are over: the address is checked again.
            await _time_passes(owner_sessions, scene.org, email, timedelta(minutes=14))
            messages.append(_refused(await _attempt(browser, scene.authorization, email, "x")))
            assert await _failures(owner_sessions, scene.org, email) == 11
            stories[email] = messages

    known, unknown = stories.values()
    assert known[:10] == [WRONG] * 10
    for message in known[10:12]:
        assert re.fullmatch(
            r"Too many failed attempts\. Sign-in is locked for \d+ minutes\.", message
        )
    assert known[12] == WRONG
    assert known == unknown
    locks = await _events(owner_sessions, scene.org, "account.locked")
    assert len(locks) == 2
    assert {event.details["locked_for_seconds"] for event in locks} == {900}


async def _fail_ten_times(
    browser: httpx.AsyncClient, scene: Scene, sessions: Sessions, email: str
) -> list[str]:
    """Ten wrong passwords, each after the throttle's delay: the tenth locks the address."""
    messages = []
    for _ in range(10):
        await _time_passes(sessions, scene.org, email, timedelta(minutes=2))
        messages.append(_refused(await _attempt(browser, scene.authorization, email, "wrong")))
    assert await _failures(sessions, scene.org, email) == 10
    return messages


async def test_a_mistyped_password_does_not_block_the_next_sign_in(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    scene = await _scene(factory)
    assert _refused(await _attempt(browser, scene.authorization, scene.person.email, "typo")) == (
        WRONG
    )
    await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)


async def test_after_the_wait_the_right_password_signs_in(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    email = scene.person.email
    for _ in range(3):
        _refused(await _attempt(browser, scene.authorization, email, "wrong"))
    assert "Please wait" in _refused(await _attempt(browser, scene.authorization, email, PASSWORD))
    await _time_passes(owner_sessions, scene.org, email, timedelta(minutes=2))
    await _signed_in(await _attempt(browser, scene.authorization, email, PASSWORD), browser)
    # The counter starts again from nothing.
    assert not await _failures(owner_sessions, scene.org, email)


async def test_after_the_lock_the_right_password_signs_in(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    email = scene.person.email
    await _fail_ten_times(browser, scene, owner_sessions, email)
    assert "locked" in _refused(await _attempt(browser, scene.authorization, email, PASSWORD))
    await _time_passes(owner_sessions, scene.org, email, timedelta(minutes=16))
    await _signed_in(await _attempt(browser, scene.authorization, email, PASSWORD), browser)
    # The counter starts again from nothing.
    assert not await _failures(owner_sessions, scene.org, email)


async def test_the_lock_message_states_the_locks_real_length(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    email = scene.person.email
    await _fail_ten_times(browser, scene, owner_sessions, email)
    message = _refused(await _attempt(browser, scene.authorization, email, PASSWORD))
    assert message == "Too many failed attempts. Sign-in is locked for 15 minutes."


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", ["missing", "wrong", "non-ASCII", "another session's"])
async def test_sign_in_without_the_sessions_csrf_token_is_refused(
    app: Starlette,
    browser: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    csrf: str,
) -> None:
    scene = await _scene(factory)
    page = await browser.get(scene.authorization.url())
    form = {**hidden_fields(page.text), "email": scene.person.email, "password": PASSWORD}
    if csrf == "missing":
        del form["csrf_token"]
    elif csrf == "wrong":
        form["csrf_token"] = "x" * len(form["csrf_token"])
    elif csrf == "non-ASCII":
        form["csrf_token"] = "é" * len(form["csrf_token"])
    else:
        async with _browser(app) as other:
            form["csrf_token"] = hidden_fields((await other.get(scene.authorization.url())).text)[
                "csrf_token"
            ]
        assert form["csrf_token"] != hidden_fields(page.text)["csrf_token"]

    response = await browser.post("/oauth/authorize", data=form)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "This form has expired" in response.text
    _assert_protected(response)
    await _still_signed_out(browser, scene.authorization)
    assert await _events(owner_sessions, scene.org, "sign_in.succeeded") == []
    assert await _events(owner_sessions, scene.org, "sign_in.failed") == []

    # The control: the same browser with the right token signs in.
    await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)
    assert len(await _events(owner_sessions, scene.org, "sign_in.succeeded")) == 1


async def test_approval_without_the_csrf_token_issues_no_code(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    consent = await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)
    form = {**hidden_fields(consent), "action": "approve", "csrf_token": "forged"}
    response = await browser.post("/oauth/authorize", data=form)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    async with owner_sessions() as session:
        codes = await session.scalar(
            select(func.count())
            .select_from(AuthorizationCode)
            .where(AuthorizationCode.client_id == scene.portal.client_id)
        )
    assert codes == 0


# --- consent -----------------------------------------------------------------------------------


async def test_consent_lists_scopes_in_words_cut_to_the_role(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    scene = await _scene(factory, role=Role.SUPPORT, scope="opportunities:write cases:write")
    consent = await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)
    assert _SCOPE_ITEM.findall(consent) == [
        (html.escape(SCOPE_DESCRIPTIONS[Scope.CASES_WRITE]), "cases:write")
    ]
    assert SCOPE_DESCRIPTIONS[Scope.OPPORTUNITIES_WRITE] not in consent
    _assert_protected(await browser.get(scene.authorization.url()))

    answer = await browser.post(
        "/oauth/authorize", data={**hidden_fields(consent), "action": "approve"}
    )
    code = _redirected_code(answer, scene)
    issued = await exchange(client, scene.authorization, code)
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "cases:write"


async def test_consent_describes_every_requested_scope(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    requested = [Scope.AUDIT_READ, Scope.CUSTOMERS_READ, Scope.CASES_WRITE]
    scene = await _scene(factory, role=Role.ADMIN, scope=" ".join(requested))
    consent = await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)
    in_order = [scope for scope in Scope if scope in requested]
    assert _SCOPE_ITEM.findall(consent) == [
        (html.escape(SCOPE_DESCRIPTIONS[scope]), scope.value) for scope in in_order
    ]


def _redirected_code(response: httpx.Response, scene: Scene) -> str:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == scene.portal.redirect_uri
    query = parse_qs(location.query)
    assert query["state"] == [scene.authorization.state]
    return query["code"][0]


async def test_deny_redirects_with_access_denied(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    consent = await _signed_in(await sign_in(browser, scene.authorization, scene.person), browser)
    answer = await browser.post(
        "/oauth/authorize", data={**hidden_fields(consent), "action": "deny"}
    )
    query = _redirected_error(answer, scene)
    assert query["error"] == ["access_denied"]
    async with owner_sessions() as session:
        codes = await session.scalar(
            select(func.count())
            .select_from(AuthorizationCode)
            .where(AuthorizationCode.client_id == scene.portal.client_id)
        )
    assert codes == 0


# --- bad authorization requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        "unknown client_id",
        "redirect_uri one character off",
        "redirect_uri with an extra query",
        "missing redirect_uri",
        "missing client_id",
    ],
)
async def test_unredirectable_requests_get_an_error_page(
    browser: httpx.AsyncClient, factory: Factory, broken: str
) -> None:
    scene = await _scene(factory)
    registered = scene.portal.redirect_uri
    cases: dict[str, dict[str, str | None]] = {
        "unknown client_id": {"client_id": "hub_nobody"},
        "redirect_uri one character off": {"redirect_uri": registered[:-1] + "X"},
        "redirect_uri with an extra query": {"redirect_uri": registered + "?next=evil"},
        "missing redirect_uri": {"redirect_uri": None},
        "missing client_id": {"client_id": None},
    }
    overrides = cases[broken]
    response = await browser.get(scene.authorization.url(**overrides))
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "This sign-in request cannot continue" in response.text
    assert not _is_sign_in_page(response.text)
    _assert_protected(response)


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        ("missing code_challenge", "invalid_request"),
        ("code_challenge_method=plain", "invalid_request"),
        ("missing code_challenge_method", "invalid_request"),
        ("response_type=token", "unsupported_response_type"),
        ("unknown scope", "invalid_scope"),
    ],
)
async def test_redirectable_errors_go_back_to_the_registered_uri(
    browser: httpx.AsyncClient, factory: Factory, broken: str, error: str
) -> None:
    scene = await _scene(factory)
    cases: dict[str, dict[str, str | None]] = {
        "missing code_challenge": {"code_challenge": None},
        "code_challenge_method=plain": {
            "code_challenge": scene.authorization.verifier,
            "code_challenge_method": "plain",
        },
        "missing code_challenge_method": {"code_challenge_method": None},
        "response_type=token": {"response_type": "token"},
        "unknown scope": {"scope": "customers:read everything:all"},
    }
    overrides = cases[broken]
    response = await browser.get(scene.authorization.url(**overrides))
    query = _redirected_error(response, scene)
    assert query["error"] == [error]


@pytest.mark.parametrize(
    ("parameter", "tail"),
    [("redirect_uri", '"'), ("redirect_uri", "\\"), ("redirect_uri", "ä"), ("response_type", '"')],
    ids=["quote-in-redirect_uri", "backslash-in-redirect_uri", "non-ascii-redirect_uri", "quote"],
)
async def test_odd_characters_in_the_request_get_an_answer_not_a_crash(
    browser: httpx.AsyncClient, factory: Factory, parameter: str, tail: str
) -> None:
    """authlib cannot put such characters in an error description (it raises ValueError)."""
    scene = await _scene(factory)
    valid = scene.authorization.params()[parameter]
    response = await browser.get(scene.authorization.url(**{parameter: valid + tail}))
    if parameter == "response_type" and response.status_code == 302:
        # The client and its redirect URI are valid: redirecting the error is allowed too.
        assert _redirected_error(response, scene)["error"] == ["unsupported_response_type"]
        return
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "This sign-in request cannot continue" in response.text
    _assert_protected(response)


async def test_a_disabled_client_gets_an_error_page(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    assert (await browser.get(scene.authorization.url())).status_code == 200
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(ApiClient)
            .where(ApiClient.client_id == scene.portal.client_id)
            .values(disabled_at=datetime.now(UTC))
        )
    response = await browser.get(scene.authorization.url())
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "This sign-in request cannot continue" in response.text


# --- audit ------------------------------------------------------------------------------------


async def test_a_failed_sign_in_is_audited_without_the_address_or_password(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    scene = await _scene(factory)
    typed = "  " + scene.person.email.upper()
    password = f"hunter2-{uuid.uuid4().hex}"
    assert _refused(await _attempt(browser, scene.authorization, typed, password)) == WRONG

    [event] = await _events(owner_sessions, scene.org, "sign_in.failed")
    assert event.actor_client_id == scene.portal.client_id
    assert event.request_id is not None
    assert str(event.source_address) == "127.0.0.1"
    assert event.details["reason"] == "wrong_credentials"
    expected = hashlib.sha256(scene.person.email.encode()).hexdigest()
    assert event.details["email_sha256"] == expected
    async with owner_sessions() as session:
        for secret in (scene.person.email, scene.person.email.split("@")[0], password):
            found = await session.scalar(
                text(
                    "SELECT count(*) FROM audit_events a "
                    "WHERE a.org_id = :org AND strpos(lower(a::text), lower(:secret)) > 0"
                ),
                {"org": scene.org.id, "secret": secret},
            )
            assert found == 0, secret
