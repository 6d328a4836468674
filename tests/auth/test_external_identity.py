"""An external identity provider: its tokens are accepted and mapped to an organisation and user.

The provider here is real enough: its key set is served over HTTP by a server this test runs
on a local port, and its tokens are signed with those keys. The hub fetches the keys the way it
would from any provider.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from auth.external import ExternalIssuer, IdentityProvider, configured_provider
from auth.tokens import InvalidToken
from hub.access.actor import Role
from hub.app import create_app
from hub.audit.models import AuditEvent
from hub.orgs.models import User
from hub.settings import Settings
from tests import tokens
from tests.factories import Factory, Person

IDP_ISSUER = "https://idp.example.com/realms/partners"
AUDIENCE = "partner-hub"
WHO = "{ viewer { clientId scopes organisation { name slug } user { email role } } }"


@dataclass
class KeySetServer:
    """A provider's JWKS endpoint on a real socket; counts how often the hub fetched it."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0
    down: bool = False
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/protocol/openid-connect/certs"

    def publish(self, *keys: RSAKey | ECKey) -> None:
        self.keys = [key.as_dict(private=False) for key in keys]


@pytest.fixture(scope="module")
def key_set_server() -> Iterator[KeySetServer]:
    published = KeySetServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published.fetches += 1
            if published.down:
                self.send_error(503)
                return
            body = json.dumps({"keys": published.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the fetch count, not the log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    published.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield published
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def provider_key(key_set_server: KeySetServer) -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"kid": "idp-1", "alg": "RS256"})
    key_set_server.publish(key)
    return key


@pytest.fixture(scope="module")
async def idp_hub(
    key_set_server: KeySetServer, provider_key: RSAKey, settings: Settings, app_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The hub configured to accept the provider's tokens."""
    configured = settings.model_copy(
        update={
            "idp_issuer": IDP_ISSUER,
            "idp_jwks_url": key_set_server.url,
            "idp_org_claim": "hub_org",
            "idp_user_claim": "email",
        }
    )
    application: Starlette = create_app(configured, app_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


def provider_token(
    key: Any,
    org_slug: str,
    email: str,
    /,
    *,
    header: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": IDP_ISSUER,
        "aud": AUDIENCE,
        "sub": f"idp|{email.lower()}",
        "azp": "partner-portal",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "openid profile opportunities:read customers:read",
        "hub_org": org_slug,
        "email": email,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    kid = getattr(key, "kid", None)
    return jwt.encode(header or {"alg": "RS256", "typ": "at+jwt", "kid": kid}, claims, key)


def as_person(key: Any, org_slug: str, person: Person, /, **overrides: Any) -> str:
    """The provider's token for a hub user, the address spelt as the provider keeps it."""
    return provider_token(key, org_slug, person.email.upper(), **overrides)


async def _refused(http: httpx.AsyncClient, token: str) -> None:
    response = await tokens.graphql(http, token, WHO)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body.get("data") is None


async def test_a_provider_token_acts_as_the_named_user_of_the_named_organisation(
    idp_hub: httpx.AsyncClient, provider_key: RSAKey, factory: Factory
) -> None:
    org = await factory.organisation("Idp")
    person = await factory.person(org, role=Role.SALES)

    response = await tokens.graphql(idp_hub, as_person(provider_key, org.slug, person), WHO)

    assert response.status_code == 200, response.text
    viewer = response.json()["data"]["viewer"]
    assert viewer["organisation"] == {"name": org.name, "slug": org.slug}
    assert viewer["user"] == {"email": person.email, "role": "SALES"}
    assert viewer["clientId"] == "partner-portal"
    # Scopes are the token's, cut to what the user's role permits; OIDC words are dropped.
    assert set(viewer["scopes"]) == {"opportunities:read", "customers:read"}


async def test_provider_scopes_are_cut_to_the_users_role(
    idp_hub: httpx.AsyncClient, provider_key: RSAKey, factory: Factory
) -> None:
    org = await factory.organisation("IdpRole")
    person = await factory.person(org, role=Role.SUPPORT)
    token = as_person(
        provider_key, org.slug, person, scope=None, scp=["partners:manage", "cases:read"]
    )

    response = await tokens.graphql(idp_hub, token, "{ viewer { scopes } }")

    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["scopes"] == ["cases:read"]


async def test_the_provider_only_reaches_its_own_organisations_data(
    idp_hub: httpx.AsyncClient, provider_key: RSAKey, factory: Factory
) -> None:
    org = await factory.organisation("IdpMine")
    other = await factory.organisation("IdpOther")
    await factory.customer(org, "Mine Ltd")
    await factory.customer(other, "Theirs Ltd")
    person = await factory.person(org, role=Role.SALES)

    response = await tokens.graphql(
        idp_hub,
        as_person(provider_key, org.slug, person),
        "{ customers(first: 10) { edges { node { name } } } }",
    )

    assert response.status_code == 200, response.text
    names = [edge["node"]["name"] for edge in response.json()["data"]["customers"]["edges"]]
    assert names == ["Mine Ltd"]


async def test_provider_tokens_that_must_be_refused(
    idp_hub: httpx.AsyncClient,
    provider_key: RSAKey,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await factory.organisation("IdpRefuse")
    other = await factory.organisation("IdpElsewhere")
    person = await factory.person(org)
    outsider = await factory.person(other)
    disabled = await factory.person(org, disabled=True)
    stranger_key = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    public_as_secret = OctKey.import_key(json.dumps(provider_key.as_dict(private=False)).encode())
    now = int(time.time())
    kid = provider_key.kid

    def token(key: Any = provider_key, whom: Person = person, **overrides: Any) -> str:
        return as_person(key, org.slug, whom, **overrides)

    cases = {
        "signed by a key the provider does not publish": token(stranger_key),
        "wrong issuer": token(iss="https://idp.evil.example"),
        "wrong audience": token(aud="another-api"),
        "expired": token(iat=now - 900, exp=now - 120),
        "not yet valid": token(nbf=now + 600),
        "no typ": token(header={"alg": "RS256", "kid": kid}),
        "an ID token's typ": token(header={"alg": "RS256", "typ": "JWT", "kid": kid}),
        "HS256 with the public key": token(
            public_as_secret, header={"alg": "HS256", "typ": "at+jwt", "kid": kid}
        ),
        "unknown organisation": token(hub_org="no-such-org"),
        "no organisation claim": token(hub_org=None),
        "unknown user": token(email="nobody@example.com"),
        "a user of another organisation": token(whom=outsider),
        "a disabled user": token(whom=disabled),
    }

    for name, forged in cases.items():
        try:
            await _refused(idp_hub, forged)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error

    async with owner_sessions() as session:
        refusal = await session.scalar(
            select(AuditEvent.id)
            .where(AuditEvent.type == "token.refused")
            .where(AuditEvent.details["reason"].astext.contains("names no enabled user"))
            .limit(1)
        )
    assert refusal is not None


async def test_disabling_the_user_bites_on_the_next_request(
    idp_hub: httpx.AsyncClient,
    provider_key: RSAKey,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await factory.organisation("IdpDisable")
    person = await factory.person(org)
    token = as_person(provider_key, org.slug, person)
    assert (await tokens.graphql(idp_hub, token, WHO)).status_code == 200

    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(User).where(User.id == person.id).values(disabled_at=User.created_at)
        )

    await _refused(idp_hub, token)


async def test_a_hub_without_a_configured_provider_refuses_its_tokens(
    client: httpx.AsyncClient, provider_key: RSAKey, factory: Factory
) -> None:
    org = await factory.organisation("IdpNone")
    person = await factory.person(org)

    await _refused(client, as_person(provider_key, org.slug, person))


# The issuer on its own, against the real key-set server, with short fetch intervals.

SLUG, EMAIL = "rotating", "someone@example.com"


async def test_a_rotated_provider_key_is_fetched_once_and_forged_kids_do_not_refetch(
    key_set_server: KeySetServer, provider_key: RSAKey
) -> None:
    issuer = ExternalIssuer(_provider(key_set_server, refetch_at_most_every=1.0))
    forged_keys = [
        RSAKey.generate_key(2048, parameters={"kid": f"forged-{attempt}"}) for attempt in range(5)
    ]
    forgeries = [provider_token(forged, SLUG, EMAIL) for forged in forged_keys]
    fetches = key_set_server.fetches

    assert (await issuer.verify(provider_token(provider_key, SLUG, EMAIL))).user == EMAIL
    assert key_set_server.fetches == fetches + 1

    # The provider publishes an EC key and signs with it; the issuer has not seen its kid yet.
    rotated = ECKey.generate_key("P-256", parameters={"kid": "idp-2", "alg": "ES256"})
    key_set_server.publish(provider_key, rotated)
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "idp-2"}
    await asyncio.sleep(1.1)
    claims = await issuer.verify(provider_token(rotated, SLUG, EMAIL, header=header))
    assert claims.organisation == SLUG
    assert key_set_server.fetches == fetches + 2

    # Tokens naming kids nobody published are refused without a fetch for each of them.
    for forgery in forgeries:
        with pytest.raises(InvalidToken):
            await issuer.verify(forgery)
    # Known keys keep verifying without another fetch.
    await issuer.verify(provider_token(provider_key, SLUG, EMAIL))
    assert key_set_server.fetches == fetches + 2
    key_set_server.publish(provider_key)


async def test_keys_already_fetched_keep_verifying_while_the_provider_is_down(
    key_set_server: KeySetServer, provider_key: RSAKey
) -> None:
    issuer = ExternalIssuer(_provider(key_set_server, refetch_at_most_every=0, keys_live_for=0))
    never_fetched = ExternalIssuer(_provider(key_set_server))
    await issuer.verify(provider_token(provider_key, SLUG, EMAIL))
    fetches = key_set_server.fetches

    key_set_server.down = True
    try:
        # A fetch is tried (the keys are stale at once), fails, and the old keys are kept.
        assert (await issuer.verify(provider_token(provider_key, SLUG, EMAIL))).user == EMAIL
        with pytest.raises(InvalidToken, match="keys are unavailable"):
            await never_fetched.verify(provider_token(provider_key, SLUG, EMAIL))
    finally:
        key_set_server.down = False
    assert key_set_server.fetches == fetches + 2


def _provider(server: KeySetServer, **timing: float) -> IdentityProvider:
    return IdentityProvider(
        issuer=IDP_ISSUER,
        jwks_url=server.url,
        audience=AUDIENCE,
        org_claim="hub_org",
        user_claim="email",
        token_types=frozenset({"at+jwt"}),
        **timing,
    )


@pytest.mark.parametrize(
    "half",
    [{"idp_issuer": IDP_ISSUER}, {"idp_jwks_url": "https://idp.example.com/certs"}],
)
def test_a_provider_is_configured_whole_or_not_at_all(half: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="set together"):
        Settings(**half)  # type: ignore[arg-type]


def test_token_types_are_read_as_media_types() -> None:
    settings = Settings(
        idp_issuer=IDP_ISSUER,
        idp_jwks_url="https://idp.example.com/certs",
        idp_token_types="application/at+jwt, JWT",
    )

    provider = configured_provider(settings)

    assert provider is not None
    assert provider.token_types == frozenset({"at+jwt", "jwt"})
    assert provider.audience == settings.audience
    assert configured_provider(Settings()) is None
