"""The portal sign-in, end to end as a browser and a portal do it, over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests import tokens
from tests.auth.browser import Authorization, approve, exchange, refresh
from tests.factories import Factory

VIEWER = "{ viewer { userId clientId scopes } }"


@pytest.fixture
async def browser(app: Starlette) -> httpx.AsyncClient:
    """A fresh cookie jar per test: one person at one browser."""
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def test_full_flow_sign_in_consent_code_token_graphql_refresh_revoke(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Flow")
    person = await factory.person(org)
    portal = await factory.portal(org)
    authorization = Authorization(portal)

    code = await approve(browser, authorization, person)
    issued = await exchange(client, authorization, code)
    assert issued.status_code == 200, issued.text
    tokens_issued = issued.json()
    assert tokens_issued["token_type"].lower() == "bearer"
    assert tokens_issued["expires_in"] <= 900
    assert sorted(tokens_issued["scope"].split()) == ["customers:read", "opportunities:read"]

    viewer = (await tokens.graphql(client, tokens_issued["access_token"], VIEWER)).json()
    assert viewer["data"]["viewer"]["clientId"] == portal.client_id
    assert viewer["data"]["viewer"]["userId"] is not None
    assert viewer["data"]["viewer"]["scopes"] == ["customers:read", "opportunities:read"]

    renewed = await refresh(client, portal, tokens_issued["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert fresh["refresh_token"] != tokens_issued["refresh_token"]
    assert (await tokens.graphql(client, fresh["access_token"], VIEWER)).status_code == 200

    revoked = await client.post(
        "/oauth/revoke", data={"token": fresh["access_token"], "client_id": portal.client_id}
    )
    assert revoked.status_code == 200, revoked.text
    after = await tokens.graphql(client, fresh["access_token"], VIEWER)
    assert after.status_code == 401
    assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
