"""Every token the API refuses leaves an audit event, under its organisation when provable."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.audit.models import HUB_ORG, AuditEvent
from tests import tokens
from tests.factories import Factory


async def _refusals(
    sessions: async_sessionmaker[AsyncSession], request_id: str
) -> list[AuditEvent]:
    async with sessions() as session:
        statement = select(AuditEvent).where(
            AuditEvent.type == "token.refused", AuditEvent.request_id == request_id
        )
        return list((await session.scalars(statement)).all())


async def test_a_forged_token_is_recorded_under_the_hub(
    client: httpx.AsyncClient, owner_sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await tokens.graphql(client, "not-a-jwt", "{ viewer { clientId } }")

    assert response.status_code == 401
    [event] = await _refusals(owner_sessions, response.headers["x-request-id"])
    assert event.org_id == HUB_ORG
    assert "not-a-jwt" not in str(event.details)


async def test_a_revoked_token_is_recorded_under_its_organisation(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await factory.organisation("Refusal")
    token = await tokens.client_credentials(client, org.client)
    revoked = await client.post(
        "/oauth/revoke",
        data={"token": token},
        auth=(org.client.client_id, org.client.client_secret),
    )
    assert revoked.status_code == 200

    response = await tokens.graphql(client, token, "{ viewer { clientId } }")

    assert response.status_code == 401
    [event] = await _refusals(owner_sessions, response.headers["x-request-id"])
    assert event.org_id == org.id
    assert event.details["reason"] == "token_revoked"
