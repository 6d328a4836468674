"""Client-credentials tokens: what is issued, and every way a bad token is refused."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.tokens import CLOCK_SKEW_SECONDS
from hub.keys.models import SigningKey
from hub.keys.store import signing_kid
from hub.orgs.models import ApiClient
from tests import tokens
from tests.factories import Factory, Org

VIEWER = "{ viewer { clientId } }"


async def _hub_key(owner_sessions: async_sessionmaker[AsyncSession]) -> RSAKey:
    async with owner_sessions() as session:
        key = await session.get_one(SigningKey, await signing_kid(session))
    return RSAKey.import_key(dict(key.private_jwk, kid=key.kid))


def _forge(key: Any, header: dict[str, Any], subject: Org, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "http://hub.test",
        "aud": "partner-hub",
        "sub": subject.client.client_id,
        "client_id": subject.client.client_id,
        "org": str(subject.id),
        "scope": "customers:read",
        "jti": "forged",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    for name, value in list(claims.items()):
        if value is None:
            del claims[name]
    return jwt.encode(header, claims, key)


async def _assert_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await tokens.graphql(client, token, VIEWER)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_issued_token_follows_rfc_9068(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("Tok")
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "customers:read cases:read"},
        auth=(org.client.client_id, org.client.client_secret),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] <= 900
    header, claims = tokens.unverified_parts(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"]
    assert {"iss", "aud", "sub", "client_id", "scope", "jti", "iat", "exp"} <= claims.keys()
    assert claims["exp"] - claims["iat"] <= 900
    assert claims["aud"] == "partner-hub"
    assert claims["scope"] == "cases:read customers:read"
    assert claims["org"] == str(org.id)


async def test_scope_is_narrowed_to_what_the_client_may_have(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Narrow", scopes=frozenset({"customers:read"}))
    token = await tokens.client_credentials(client, org.client, "customers:read cases:write")
    assert tokens.unverified_parts(token)[1]["scope"] == "customers:read"


async def test_unknown_scope_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("BadScope")
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "everything:all"},
        auth=(org.client.client_id, org.client.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_wrong_secret_and_unknown_client_answer_alike(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Secret")
    wrong = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(org.client.client_id, "not-the-secret"),
    )
    unknown = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("hub_nobody", "whatever"),
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_missing_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="partner-hub"'
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_forged_and_stale_tokens_are_refused(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await factory.organisation("Forge")
    key = await _hub_key(owner_sessions)
    good = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid}
    now = int(time.time())
    # A control: the same forging path with valid claims is accepted.
    accepted = await tokens.graphql(client, _forge(key, good, org), VIEWER)
    assert accepted.status_code == 200, accepted.text

    refused = {
        "expired": _forge(key, good, org, iat=now - 1000, exp=now - 120),
        "not yet valid": _forge(key, good, org, nbf=now + 600),
        "issued in the future": _forge(key, good, org, iat=now + 600, exp=now + 900),
        "wrong issuer": _forge(key, good, org, iss="http://evil.test"),
        "wrong audience": _forge(key, good, org, aud="another-api"),
        "no typ": _forge(key, {"alg": "RS256", "kid": key.kid}, org),
        "wrong typ": _forge(key, {"alg": "RS256", "typ": "JWT", "kid": key.kid}, org),
        "missing org": _forge(key, good, org, org=None),
        "unknown kid": _forge(
            RSAKey.generate_key(2048, parameters={"kid": "x"}), dict(good, kid="x"), org
        ),
        "HS256 with the public key": _forge(
            OctKey.import_key(json.dumps(key.as_dict(private=False)).encode()),
            {"alg": "HS256", "typ": "at+jwt", "kid": key.kid},
            org,
        ),
    }
    for reason, token in refused.items():
        response = await tokens.graphql(client, token, VIEWER)
        assert response.status_code == 401, reason

    genuine = await tokens.client_credentials(client, org.client)
    header, payload, signature = genuine.split(".")
    claims = tokens.unverified_parts(genuine)[1]
    claims["scope"] = "customers:read customers:write partners:manage"
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    await _assert_refused(client, f"{header}.{tampered_payload}.{signature}")
    unsigned_header = (
        base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').decode().rstrip("=")
    )
    await _assert_refused(client, f"{unsigned_header}.{payload}.")
    await _assert_refused(client, "not-a-jwt")


async def test_disabling_a_client_bites_on_the_next_request(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await factory.organisation("Disable")
    token = await tokens.client_credentials(client, org.client)
    assert (await tokens.graphql(client, token, VIEWER)).status_code == 200
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(ApiClient)
            .where(ApiClient.client_id == org.client.client_id)
            .values(disabled_at=ApiClient.created_at)
        )
    await _assert_refused(client, token)
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(org.client.client_id, org.client.client_secret),
    )
    assert response.status_code == 401


async def test_missing_scope_is_forbidden(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("Scope")
    token = await tokens.client_credentials(client, org.client, "customers:read")
    response = await tokens.graphql(
        client, token, 'mutation { createCustomer(input: {name: "X"}) { userErrors { code } } }'
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_token_accepted_before_is_refused_once_it_expires(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A token's signature and claims are judged once (`KeyRing.verify`); its time claims are
    judged again on every request."""
    org = await factory.organisation("Expiring")
    key = await _hub_key(owner_sessions)
    header = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid}
    # Good for two seconds more, the clock skew allowed included.
    expires = int(time.time()) - CLOCK_SKEW_SECONDS + 2
    token = _forge(key, header, org, jti="expiring", iat=expires - 300, exp=expires)
    accepted = await tokens.graphql(client, token, VIEWER)
    assert accepted.status_code == 200, accepted.text
    await asyncio.sleep(expires + CLOCK_SKEW_SECONDS - time.time() + 0.1)
    await _assert_refused(client, token)
