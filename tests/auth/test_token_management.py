"""Revocation (RFC 7009), introspection (RFC 7662), server metadata (RFC 8414), the key set,
and the audit trail the token endpoints leave: all over real HTTP with real tokens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.access.actor import Role
from hub.app import create_app
from hub.audit.models import HUB_ORG, AuditEvent
from hub.customers.models import Customer
from hub.keys.models import SigningKey
from hub.orgs.clients import ClientCredentials, register_client
from hub.orgs.models import ApiClient, User
from hub.settings import Settings
from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.auth.browser import Authorization, approve, client_auth, exchange, refresh
from tests.factories import Factory, Org, Person, Portal

VIEWER = "{ viewer { clientId userId } }"
CREATE_CUSTOMER = (
    'mutation { createCustomer(input: {name: "Revoked Ltd"}) '
    "{ customer { id } userErrors { code } } }"
)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}

Sessions = async_sessionmaker[AsyncSession]


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh cookie jar per test: one person at one browser."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


@pytest.fixture
async def https_app(settings: Settings, app_url: str) -> AsyncIterator[Starlette]:
    """The same hub, configured with an https issuer, started with its own lifespan."""
    application = create_app(settings.model_copy(update={"issuer": "https://hub.example"}), app_url)
    async with application.router.lifespan_context(application):
        yield application


@dataclass(frozen=True)
class UserTokens:
    """A person signed in through a portal, and the tokens the portal got for them."""

    org: Org
    person: Person
    portal: Portal
    access_token: str
    refresh_token: str
    code: str
    verifier: str


async def _user_tokens(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    *,
    confidential: bool = False,
    scope: str = "customers:read customers:write",
    org: Org | None = None,
) -> UserTokens:
    org = org or await factory.organisation("Tm")
    person = await factory.person(org, role=Role.SALES)
    portal = await factory.portal(org, confidential=confidential)
    authorization = Authorization(portal, scope=scope)
    code = await approve(browser, authorization, person)
    issued = await exchange(client, authorization, code)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    return UserTokens(
        org,
        person,
        portal,
        body["access_token"],
        body["refresh_token"],
        code,
        authorization.verifier,
    )


async def _second_client(sessions: Sessions, org: Org) -> ClientCredentials:
    """Another confidential client-credentials client of the same organisation."""
    async with sessions() as session, session.begin():
        return await register_client(session, org.id, "second client", ["customers:read"])


def _basic(credentials: ClientCredentials) -> httpx.BasicAuth:
    return httpx.BasicAuth(credentials.client_id, credentials.client_secret)


def _portal_auth(portal: Portal) -> tuple[dict[str, str], httpx.Auth]:
    """What a portal adds to an endpoint request to identify itself."""
    if portal.client_secret is None:
        return {"client_id": portal.client_id}, client_auth(portal)
    return {}, client_auth(portal)


async def _revoke(
    http: httpx.AsyncClient,
    token: str,
    auth: httpx.Auth,
    *,
    hint: str | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    data = {"token": token, **(extra or {})}
    if hint is not None:
        data["token_type_hint"] = hint
    return await http.post("/oauth/revoke", data=data, auth=auth)


async def _introspect(
    http: httpx.AsyncClient, token: str, auth: httpx.Auth, *, hint: str | None = None
) -> httpx.Response:
    data = {"token": token}
    if hint is not None:
        data["token_type_hint"] = hint
    return await http.post("/oauth/introspect", data=data, auth=auth)


async def _introspected(
    http: httpx.AsyncClient, token: str, auth: httpx.Auth, *, hint: str | None = None
) -> dict[str, Any]:
    response = await _introspect(http, token, auth, hint=hint)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _assert_unauthenticated(http: httpx.AsyncClient, token: str) -> None:
    response = await tokens.graphql(http, token, VIEWER)
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def _assert_works(http: httpx.AsyncClient, token: str) -> None:
    response = await tokens.graphql(http, token, VIEWER)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text


async def _customers(sessions: Sessions, org: Org) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.org_id == org.id)
        )
    return int(count or 0)


async def _create_customer(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await tokens.graphql(http, token, CREATE_CUSTOMER)


async def _hub_key(sessions: Sessions, kid: str) -> RSAKey:
    async with sessions() as session:
        key = await session.get(SigningKey, kid)
    assert key is not None
    return RSAKey.import_key(dict(key.private_jwk, kid=key.kid))


def _forge(key: RSAKey, org: Org, **overrides: Any) -> str:
    """An access token signed with the hub's own key, as the hub would have made it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "http://hub.test",
        "aud": "partner-hub",
        "sub": org.client.client_id,
        "client_id": org.client.client_id,
        "org": str(org.id),
        "scope": "customers:read",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 300,
        **overrides,
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid}
    return jwt.encode(header, claims, key)


async def _disable_client(sessions: Sessions, client_id: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(ApiClient)
            .where(ApiClient.client_id == client_id)
            .values(disabled_at=datetime.now(UTC))
        )


async def _disable_user(sessions: Sessions, person: Person) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.org_id == person.org_id, User.id == person.id)
            .values(disabled_at=datetime.now(UTC))
        )


async def _events(sessions: Sessions, **where: Any) -> list[AuditEvent]:
    async with sessions() as session:
        statement = select(AuditEvent).filter_by(**where).order_by(AuditEvent.created_at)
        return list((await session.scalars(statement)).all())


def _request_id() -> str:
    return f"tm-{uuid.uuid4().hex}"


# --- revocation (RFC 7009) ---------------------------------------------------------------------


async def test_revoked_client_credentials_token_is_refused_at_once_and_writes_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("RevCc")
    # A control: a live token of this client does write.
    live = await tokens.client_credentials(client, org.client)
    created = await _create_customer(client, live)
    assert created.json()["data"]["createCustomer"]["customer"]["id"], created.text
    assert await _customers(owner_sessions, org) == 1

    token = await tokens.client_credentials(client, org.client)
    await _assert_works(client, token)
    revoked = await _revoke(client, token, _basic(org.client))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {}

    await _assert_unauthenticated(client, token)
    attempt = await _create_customer(client, token)
    assert attempt.status_code == 401
    assert attempt.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await _customers(owner_sessions, org) == 1
    # Only that token: the other one of the same client still works.
    await _assert_works(client, live)


async def test_revoked_user_access_token_is_refused_at_once_and_writes_nothing(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    session = await _user_tokens(browser, client, factory)
    viewer = (await tokens.graphql(client, session.access_token, VIEWER)).json()
    assert viewer["data"]["viewer"]["userId"] == encode_id(NodeType.USER, session.person.id)

    extra, auth = _portal_auth(session.portal)
    revoked = await _revoke(client, session.access_token, auth, extra=extra)
    assert revoked.status_code == 200, revoked.text

    await _assert_unauthenticated(client, session.access_token)
    attempt = await _create_customer(client, session.access_token)
    assert attempt.status_code == 401
    assert await _customers(owner_sessions, session.org) == 0
    # The control: a token refreshed from the same approval still writes.
    renewed = await refresh(client, session.portal, session.refresh_token)
    assert renewed.status_code == 200, renewed.text
    created = await _create_customer(client, renewed.json()["access_token"])
    assert created.json()["data"]["createCustomer"]["customer"]["id"], created.text
    assert await _customers(owner_sessions, session.org) == 1


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
async def test_revoking_a_refresh_token_ends_its_family(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    hint: str | None,
) -> None:
    session = await _user_tokens(browser, client, factory)
    await _assert_works(client, session.access_token)

    extra, auth = _portal_auth(session.portal)
    request_id = _request_id()
    revoked = await client.post(
        "/oauth/revoke",
        data={
            "token": session.refresh_token,
            **({"token_type_hint": hint} if hint else {}),
            **extra,
        },
        auth=auth,
        headers={"X-Request-ID": request_id},
    )
    assert revoked.status_code == 200, revoked.text

    refused = await refresh(client, session.portal, session.refresh_token)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_grant"
    await _assert_unauthenticated(client, session.access_token)
    [event] = await _events(owner_sessions, request_id=request_id)
    assert event.type == "token.family_revoked"
    assert event.org_id == session.org.id
    assert event.actor_user_id == session.person.id
    assert event.details["reason"] == "refresh_token_revoked"


@pytest.mark.parametrize(
    "token",
    ["garbage", "", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000],
    ids=["garbage", "empty", "unsigned-jwt", "long"],
)
async def test_revoking_an_unknown_token_answers_200(
    client: httpx.AsyncClient, factory: Factory, token: str
) -> None:
    org = await factory.organisation("RevUnknown")
    live = await tokens.client_credentials(client, org.client)
    for hint in (None, "access_token", "refresh_token"):
        response = await _revoke(client, token, _basic(org.client), hint=hint)
        assert response.status_code == 200, (hint, response.text)
        assert response.json() == {}
    await _assert_works(client, live)


async def test_revocation_with_an_unsupported_hint_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("RevHint")
    token = await tokens.client_credentials(client, org.client)
    response = await _revoke(client, token, _basic(org.client), hint="id_token")
    # authlib's UnsupportedTokenTypeError is a ForbiddenError, hence 401 (RFC 6749 §5.2 has 400).
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unsupported_token_type"
    await _assert_works(client, token)


async def test_a_confidential_client_must_authenticate_to_revoke(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("RevAuth")
    token = await tokens.client_credentials(client, org.client)
    attempts = {
        "no credentials": (httpx.Auth(), {}),
        "client_id only": (httpx.Auth(), {"client_id": org.client.client_id}),
        "wrong secret": (httpx.BasicAuth(org.client.client_id, "not-the-secret"), {}),
        "wrong secret in body": (
            httpx.Auth(),
            {"client_id": org.client.client_id, "client_secret": "not-the-secret"},
        ),
    }
    for reason, (auth, extra) in attempts.items():
        response = await _revoke(client, token, auth, extra=extra)
        assert response.status_code == 401, (reason, response.text)
        assert response.json()["error"] == "invalid_client", reason
    await _assert_works(client, token)


async def test_a_client_cannot_revoke_another_clients_token(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    org = await factory.organisation("RevOther")
    token = await tokens.client_credentials(client, org.client)
    other = await _second_client(owner_sessions, org)
    # authlib refuses a token issued to another client (RFC 7009 §2.1) with invalid_grant.
    response = await _revoke(client, token, _basic(other))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    await _assert_works(client, token)

    # The same for a user's tokens held by a portal of the same organisation.
    session = await _user_tokens(browser, client, factory, org=org)
    for user_token in (session.access_token, session.refresh_token):
        response = await _revoke(client, user_token, _basic(other))
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
    await _assert_works(client, session.access_token)
    assert (await refresh(client, session.portal, session.refresh_token)).status_code == 200


async def test_revoking_another_organisations_token_does_nothing(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    victim = await factory.organisation("Victim")
    attacker = await factory.organisation("Attacker")
    token = await tokens.client_credentials(client, victim.client)
    session = await _user_tokens(browser, client, factory, org=victim)

    for target in (token, session.access_token, session.refresh_token):
        response = await _revoke(client, target, _basic(attacker.client))
        # Not even "it exists, but not yours": the token is simply not found in this tenant.
        assert response.status_code == 200, response.text
    await _assert_works(client, token)
    await _assert_works(client, session.access_token)
    assert (await refresh(client, session.portal, session.refresh_token)).status_code == 200


async def test_a_wrong_hint_still_revokes_an_access_token(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("RevWrongHint")
    token = await tokens.client_credentials(client, org.client)
    response = await _revoke(client, token, _basic(org.client), hint="refresh_token")
    assert response.status_code == 200, response.text
    await _assert_unauthenticated(client, token)


# --- introspection (RFC 7662) ------------------------------------------------------------------


async def test_introspecting_a_live_client_credentials_token(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Intro")
    token = await tokens.client_credentials(client, org.client, "customers:read cases:read")
    claims = tokens.unverified_parts(token)[1]
    body = await _introspected(client, token, _basic(org.client))
    assert body["active"] is True
    assert body["client_id"] == org.client.client_id
    assert body["scope"] == "cases:read customers:read"
    assert body["sub"] == org.client.client_id
    assert body["iss"] == "http://hub.test"
    assert body["aud"] == "partner-hub"
    assert body["jti"] == claims["jti"]
    assert body["exp"] == claims["exp"]
    assert body["iat"] == claims["iat"]
    assert body["iat"] < body["exp"] <= body["iat"] + 900
    assert body["token_type"].lower() == "bearer"

    # Any confidential client of the same organisation may ask, by Basic or in the body.
    other = await _second_client(factory.sessions, org)
    by_post = await client.post(
        "/oauth/introspect",
        data={
            "token": token,
            "client_id": other.client_id,
            "client_secret": other.client_secret,
        },
    )
    assert by_post.status_code == 200, by_post.text
    assert by_post.json()["active"] is True
    assert by_post.json()["jti"] == claims["jti"]


async def test_introspecting_user_tokens(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    session = await _user_tokens(browser, client, factory, confidential=True)
    auth = client_auth(session.portal)

    access = await _introspected(client, session.access_token, auth)
    assert access["active"] is True
    assert access["sub"] == str(session.person.id)
    assert access["client_id"] == session.portal.client_id
    assert access["scope"] == "customers:read customers:write"
    assert access["jti"] == tokens.unverified_parts(session.access_token)[1]["jti"]

    refreshing = await _introspected(client, session.refresh_token, auth)
    assert refreshing["active"] is True
    assert refreshing["token_type"] == "refresh_token"
    assert refreshing["client_id"] == session.portal.client_id
    assert refreshing["sub"] == str(session.person.id)
    assert refreshing["scope"] == "customers:read customers:write"
    assert refreshing["exp"] > time.time() + 29 * 24 * 3600
    assert (await _introspected(client, session.refresh_token, auth, hint="refresh_token"))[
        "active"
    ] is True

    # Once rotated, the old refresh token is spent: inactive.
    renewed = await refresh(client, session.portal, session.refresh_token)
    assert renewed.status_code == 200, renewed.text
    assert await _introspected(client, session.refresh_token, auth) == {"active": False}
    new_refresh = renewed.json()["refresh_token"]
    assert (await _introspected(client, new_refresh, auth))["active"] is True


async def test_revoked_tokens_are_inactive(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("IntroRev")
    token = await tokens.client_credentials(client, org.client)
    assert (await _introspected(client, token, _basic(org.client)))["active"] is True
    assert (await _revoke(client, token, _basic(org.client))).status_code == 200
    assert await _introspected(client, token, _basic(org.client)) == {"active": False}

    session = await _user_tokens(browser, client, factory, confidential=True, org=org)
    auth = client_auth(session.portal)
    assert (await _introspected(client, session.access_token, auth))["active"] is True
    assert (await _revoke(client, session.refresh_token, auth)).status_code == 200
    # The family is gone: its refresh token and the access token issued with it.
    assert await _introspected(client, session.refresh_token, auth) == {"active": False}
    assert await _introspected(client, session.access_token, auth) == {"active": False}


async def test_expired_tokens_are_inactive(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("IntroExp")
    genuine = await tokens.client_credentials(client, org.client)
    key = await _hub_key(owner_sessions, tokens.unverified_parts(genuine)[0]["kid"])
    now = int(time.time())
    auth = _basic(org.client)
    # A control: the forging path with live claims gives a token the hub calls active.
    assert (await _introspected(client, _forge(key, org), auth))["active"] is True

    long_expired = _forge(key, org, iat=now - 1000, exp=now - 400)
    just_expired = _forge(key, org, iat=now - 600, exp=now - 5)  # within the 60 s leeway
    assert await _introspected(client, long_expired, auth) == {"active": False}
    assert await _introspected(client, just_expired, auth) == {"active": False}
    await _assert_unauthenticated(client, long_expired)


async def test_a_disabled_clients_token_is_inactive(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("IntroDis")
    token = await tokens.client_credentials(client, org.client)
    other = await _second_client(owner_sessions, org)
    assert (await _introspected(client, token, _basic(other)))["active"] is True
    await _disable_client(owner_sessions, org.client.client_id)
    assert await _introspected(client, token, _basic(other)) == {"active": False}
    # The disabled client itself can no longer introspect anything.
    own = await _introspect(client, token, _basic(org.client))
    assert own.status_code == 401, own.text
    assert own.json()["error"] == "invalid_client"


async def test_a_disabled_users_access_token_is_inactive(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    session = await _user_tokens(browser, client, factory, confidential=True)
    auth = client_auth(session.portal)
    assert (await _introspected(client, session.access_token, auth))["active"] is True
    await _disable_user(owner_sessions, session.person)
    assert await _introspected(client, session.access_token, auth) == {"active": False}
    await _assert_unauthenticated(client, session.access_token)


@pytest.mark.parametrize("disabled", ["user", "client"])
async def test_a_refresh_token_that_can_no_longer_be_used_is_inactive(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    disabled: str,
) -> None:
    session = await _user_tokens(browser, client, factory, confidential=True)
    # Introspected by the organisation's other client, which stays enabled throughout.
    auth = _basic(session.org.client)
    assert (await _introspected(client, session.refresh_token, auth))["active"] is True
    if disabled == "user":
        await _disable_user(owner_sessions, session.person)
    else:
        await _disable_client(owner_sessions, session.portal.client_id)
    refused = await refresh(client, session.portal, session.refresh_token)
    assert refused.status_code in (400, 401), refused.text
    assert await _introspected(client, session.refresh_token, auth) == {"active": False}


async def test_a_wrong_hint_still_finds_an_access_token(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("IntroHint")
    token = await tokens.client_credentials(client, org.client)
    body = await _introspected(client, token, _basic(org.client), hint="refresh_token")
    assert body["active"] is True


async def test_introspection_needs_an_authenticated_confidential_caller(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    session = await _user_tokens(browser, client, factory)  # a public portal
    token = await tokens.client_credentials(client, session.org.client)
    attempts: dict[str, tuple[httpx.Auth, dict[str, str]]] = {
        "nobody": (httpx.Auth(), {}),
        "wrong secret": (httpx.BasicAuth(session.org.client.client_id, "nope"), {}),
        "unknown client": (httpx.BasicAuth("hub_nobody", "whatever"), {}),
        "public client": (httpx.Auth(), {"client_id": session.portal.client_id}),
    }
    for reason, (auth, extra) in attempts.items():
        for target in (token, session.access_token, session.refresh_token):
            response = await client.post(
                "/oauth/introspect", data={"token": target, **extra}, auth=auth
            )
            assert response.status_code == 401, (reason, response.text)
            assert response.json()["error"] == "invalid_client", reason
            assert "active" not in response.json()


async def test_another_organisations_client_sees_only_inactive(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    victim = await factory.organisation("IntroVictim")
    snoop = await factory.organisation("IntroSnoop")
    token = await tokens.client_credentials(client, victim.client)
    session = await _user_tokens(browser, client, factory, org=victim)
    for target in (token, session.access_token, session.refresh_token):
        assert await _introspected(client, target, _basic(snoop.client)) == {"active": False}
        # A control: the token's own organisation sees it active.
        assert (await _introspected(client, target, _basic(victim.client)))["active"] is True


# --- metadata and keys -------------------------------------------------------------------------


async def test_authorization_server_metadata(
    client: httpx.AsyncClient, https_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == "http://hub.test"
    endpoints = {name: url for name, url in body.items() if name.endswith(("_endpoint", "_uri"))}
    assert set(endpoints) == {
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "jwks_uri",
    }
    for name, url in endpoints.items():
        assert url.startswith("http://hub.test/"), name
        # Every advertised endpoint is served by this app.
        path = url.removeprefix("http://hub.test")
        method = "GET" if name in ("jwks_uri", "authorization_endpoint") else "POST"
        assert (await client.request(method, path)).status_code != 404, name
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["response_types_supported"] == ["code"]
    assert "none" not in body["introspection_endpoint_auth_methods_supported"]
    # authlib insists on https (RFC 8414 §2); the plain-http test issuer passes once told so.
    with pytest.raises(ValueError, match="https"):
        AuthorizationServerMetadata(body).validate()
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    AuthorizationServerMetadata(body).validate()
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT")

    # A hub with an https issuer publishes metadata that validates as it is.
    transport = httpx.ASGITransport(app=https_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.example") as secure:
        published = (await secure.get("/.well-known/oauth-authorization-server")).json()
    assert published["issuer"] == "https://hub.example"
    assert published["token_endpoint"] == "https://hub.example/oauth/token"
    AuthorizationServerMetadata(published).validate()


async def test_jwks_publishes_the_signing_key_without_private_members(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Jwks")
    token = await tokens.client_credentials(client, org.client)
    kid = tokens.unverified_parts(token)[0]["kid"]
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    jwks = response.json()
    assert kid in {key["kid"] for key in jwks["keys"]}
    for key in jwks["keys"]:
        assert key["kty"] == "RSA"
        assert not PRIVATE_MEMBERS & key.keys(), key.keys()
    # The published key verifies the hub's token.
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.claims["client_id"] == org.client.client_id


# --- audit ------------------------------------------------------------------------------------


async def test_an_issued_token_is_audited(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AudIss")
    request_id = _request_id()
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "customers:read"},
        auth=_basic(org.client),
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    [event] = await _events(owner_sessions, request_id=request_id)
    assert event.type == "token.issued"
    assert event.org_id == org.id
    assert event.actor_client_id == org.client.client_id
    assert event.actor_user_id is None
    assert event.details["grant_type"] == "client_credentials"
    assert event.details["scope"] == "customers:read"
    assert (
        event.details["jti"] == tokens.unverified_parts(response.json()["access_token"])[1]["jti"]
    )


async def test_a_refused_token_request_is_audited(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AudRef")
    wrong_id, unknown_id = _request_id(), _request_id()
    wrong = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(org.client.client_id, "not-the-secret"),
        headers={"X-Request-ID": wrong_id},
    )
    unknown = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth("hub_nobody", "whatever"),
        headers={"X-Request-ID": unknown_id},
    )
    assert wrong.status_code == unknown.status_code == 401

    # A known client id with a wrong secret: `query_client` found the client, so the refusal
    # is filed under that client's organisation (the org can see attempts on its client).
    [event] = await _events(owner_sessions, request_id=wrong_id)
    assert event.type == "token.refused"
    assert event.org_id == org.id
    assert event.actor_client_id == org.client.client_id
    assert event.details["error"] == "invalid_client"
    assert event.details["grant_type"] == "client_credentials"
    # An unknown client belongs to no organisation: filed under the hub.
    [event] = await _events(owner_sessions, request_id=unknown_id)
    assert event.type == "token.refused"
    assert event.org_id == HUB_ORG
    assert event.actor_client_id is None
    assert event.details["error"] == "invalid_client"


async def test_a_revocation_is_audited(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AudRev")
    token = await tokens.client_credentials(client, org.client)
    request_id = _request_id()
    response = await client.post(
        "/oauth/revoke",
        data={"token": token},
        auth=_basic(org.client),
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    [event] = await _events(owner_sessions, request_id=request_id)
    assert event.type == "token.revoked"
    assert event.org_id == org.id
    assert event.actor_client_id == org.client.client_id
    assert event.details["jti"] == tokens.unverified_parts(token)[1]["jti"]


async def test_no_audit_row_holds_a_secret_or_a_token(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    org = await factory.organisation("AudSecret")
    portal_session = await _user_tokens(browser, client, factory, confidential=True, org=org)
    portal = portal_session.portal
    assert portal.client_secret is not None
    token = await tokens.client_credentials(client, org.client)
    renewed = (await refresh(client, portal, portal_session.refresh_token)).json()
    # Every endpoint sees the secrets and tokens, and refusals too.
    await _introspect(client, token, _basic(org.client))
    await _revoke(client, token, _basic(org.client))
    await _revoke(client, renewed["refresh_token"], client_auth(portal))
    await refresh(client, portal, renewed["refresh_token"])
    await refresh(client, portal, portal_session.refresh_token)
    await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(org.client.client_id, org.client.client_secret + "x"),
    )
    await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.client.client_id,
            "client_secret": org.client.client_secret[:-1],
        },
    )

    async with owner_sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.org_id == org.id)
        )
    assert events is not None and events >= 8

    secrets = {
        "client secret": org.client.client_secret,
        "portal secret": portal.client_secret,
        "client-credentials token": token,
        "its signature": token.rsplit(".", 1)[1],
        "user access token": portal_session.access_token,
        "refreshed access token": renewed["access_token"],
        "refresh token": portal_session.refresh_token,
        "rotated refresh token": renewed["refresh_token"],
        "authorization code": portal_session.code,
        "code verifier": portal_session.verifier,
        "wrong secret": org.client.client_secret + "x",
        "truncated secret": org.client.client_secret[:-1],
    }
    async with owner_sessions() as session:
        for name, secret in secrets.items():
            found = await session.scalar(
                text(
                    "SELECT count(*) FROM audit_events a "
                    "WHERE strpos(a.details::text, :secret) > 0 OR strpos(a::text, :secret) > 0"
                ),
                {"secret": secret},
            )
            assert found == 0, name


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/oauth/token"),
        ("POST", "/oauth/revoke"),
        ("POST", "/oauth/introspect"),
        ("GET", "/oauth/authorize"),
    ],
)
async def test_oauth_over_plain_http_off_localhost_is_refused_cleanly(
    app: Starlette, factory: Factory, owner_sessions: Sessions, method: str, path: str
) -> None:
    """OAuth needs TLS; a request that reached the hub as http on a public name gets a clear 400."""
    org = await factory.organisation("Plain")
    credentials = (org.client.client_id, org.client.client_secret)
    data = {"grant_type": "client_credentials", "token": "x"}

    async def send(base_url: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            if method == "GET":
                return await http.get(path, params={"client_id": org.client.client_id})
            return await http.post(path, data=data, auth=credentials)

    response = await send("http://hub.example")

    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "OAuth requests must use HTTPS.",
    }
    async with owner_sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.org_id == org.id)
        )
    assert events == 0
    # The control: the same request over https is answered by the endpoint itself.
    control = await send("https://hub.example")
    assert control.status_code < 500
    assert "must use HTTPS" not in control.text
