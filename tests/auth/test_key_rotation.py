"""Signing-key rotation: two hub processes on one database keep answering while keys rotate.

Each hub app below has its own runtime (engine, key ring), as two `hub serve` processes would;
tokens are fetched from one and used on the other, so every rotation has to be learned from
PostgreSQL, not from memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import create_app
from hub.audit.models import HUB_ORG, AuditEvent
from hub.keys.models import SigningKey
from hub.keys.store import RETIRED_KEY_GRACE, rotate_keys, signing_kid
from hub.orgs.clients import ClientCredentials
from hub.settings import Settings
from tests import tokens
from tests.factories import Factory

Sessions = async_sessionmaker[AsyncSession]
VIEWER = "{ viewer { clientId } }"
ROUND_TRIPS_BETWEEN_ROTATIONS = 6


@pytest.fixture
async def second_hub(settings: Settings, app_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another hub process: its own runtime and key ring, the same database."""
    application = create_app(settings, app_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


async def _rotate(owner_sessions: Sessions) -> str:
    async with owner_sessions() as session, session.begin():
        return (await rotate_keys(session)).added


async def _works(http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> bool:
    response = await tokens.graphql(http, token, VIEWER)
    return response.status_code == 200 and response.json() == {
        "data": {"viewer": {"clientId": credentials.client_id}}
    }


async def _active(http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> bool:
    response = await http.post(
        "/oauth/introspect",
        data={"token": token},
        auth=(credentials.client_id, credentials.client_secret),
    )
    assert response.status_code == 200, response.text
    active: bool = response.json()["active"]
    return active


async def _published_kids(http: httpx.AsyncClient) -> set[str]:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {key["kid"] for key in response.json()["keys"]}


@dataclass
class Traffic:
    """Requests sent while keys rotate: every failure is kept with what it was."""

    sent: int = 0
    failures: list[str] = field(default_factory=list)
    kids: set[str] = field(default_factory=set)
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def count(self, requests: int) -> None:
        async with self.progress:
            self.sent += requests
            self.progress.notify_all()

    async def more(self, round_trips: int) -> None:
        """Wait until `round_trips` more token + use + introspect cycles were answered."""
        target = self.sent + 3 * round_trips
        async with asyncio.timeout(60), self.progress:
            await self.progress.wait_for(lambda: self.sent >= target)


async def _send_until(
    stop: asyncio.Event,
    signer: httpx.AsyncClient,
    verifier: httpx.AsyncClient,
    credentials: ClientCredentials,
    traffic: Traffic,
) -> None:
    """Fetch a token from one hub, then use and introspect it on the other, until told to stop."""
    while not stop.is_set():
        response = await signer.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client_id, credentials.client_secret),
        )
        await traffic.count(1)
        if response.status_code != 200:
            traffic.failures.append(f"token {response.status_code} {response.text}")
            continue
        token = response.json()["access_token"]
        traffic.kids.add(tokens.key_id(token))
        if not await _works(verifier, token, credentials):
            traffic.failures.append(f"graphql refused a token signed by {tokens.key_id(token)}")
        if not await _active(verifier, token, credentials):
            traffic.failures.append(f"introspection: token of {tokens.key_id(token)} inactive")
        await traffic.count(2)


async def test_no_request_fails_while_keys_rotate(
    client: httpx.AsyncClient,
    second_hub: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    org = await factory.organisation("Rotation")
    credentials = org.client
    before = await tokens.client_credentials(client, credentials)
    old_kid = tokens.key_id(before)
    stop = asyncio.Event()
    traffic = Traffic()
    senders = [
        asyncio.create_task(_send_until(stop, client, second_hub, credentials, traffic)),
        asyncio.create_task(_send_until(stop, second_hub, client, credentials, traffic)),
    ]
    added: list[str] = []
    for _ in range(2):
        await traffic.more(ROUND_TRIPS_BETWEEN_ROTATIONS)
        added.append(await _rotate(owner_sessions))
    await traffic.more(ROUND_TRIPS_BETWEEN_ROTATIONS)
    stop.set()
    await asyncio.gather(*senders)

    assert traffic.failures == []
    # Both hubs moved on to each new key as soon as it was added, with no restart.
    assert {old_kid, *added} <= traffic.kids
    for signer in (client, second_hub):
        assert tokens.key_id(await tokens.client_credentials(signer, credentials)) == added[-1]
    # A token signed before both rotations still verifies everywhere until it expires.
    for verifier in (client, second_hub):
        assert await _works(verifier, before, credentials)
        assert await _active(verifier, before, credentials)
        assert {old_kid, *added} <= await _published_kids(verifier)


async def test_a_key_past_its_grace_no_longer_verifies_and_is_deleted(
    client: httpx.AsyncClient,
    second_hub: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    org = await factory.organisation("Grace")
    credentials = org.client
    old = await tokens.client_credentials(client, credentials)
    old_kid = tokens.key_id(old)
    await _rotate(owner_sessions)
    fresh = await tokens.client_credentials(second_hub, credentials)
    assert await _works(client, old, credentials)

    # The old key retired longer ago than any token it signed can live.
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(retired_at=func.now() - RETIRED_KEY_GRACE - timedelta(seconds=1))
        )

    for hub in (client, second_hub):
        refused = await tokens.graphql(hub, old, VIEWER)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert not await _active(hub, old, credentials)
        assert old_kid not in await _published_kids(hub)
        assert await _works(hub, fresh, credentials)

    async with owner_sessions() as session, session.begin():
        rotation = await rotate_keys(session)
    assert old_kid in rotation.deleted
    assert tokens.key_id(fresh) in rotation.retired
    async with owner_sessions() as session:
        assert await session.get(SigningKey, old_kid) is None


async def test_rotation_leaves_exactly_one_signing_key_and_is_audited(
    owner_sessions: Sessions,
) -> None:
    async with owner_sessions() as session, session.begin():
        previous = await signing_kid(session)
    added = await _rotate(owner_sessions)

    async with owner_sessions() as session:
        signing = await session.scalars(
            select(SigningKey.kid).where(SigningKey.retired_at.is_(None))
        )
        assert list(signing) == [added]
        event = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.org_id == HUB_ORG, AuditEvent.type == "signing_key.added")
                .where(AuditEvent.details["kid"].astext == added)
            )
        ).one()
    assert previous in event.details["retired"]


async def test_concurrent_rotations_leave_one_signing_key(owner_sessions: Sessions) -> None:
    added = await asyncio.gather(*[_rotate(owner_sessions) for _ in range(2)])

    async with owner_sessions() as session:
        signing = list(
            await session.scalars(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)))
        )
    assert len(signing) == 1
    assert signing[0] in added
