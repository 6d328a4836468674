"""A portal built on a standard OAuth client library (authlib's httpx client) signs a user in.

This is the README's portal example, run against the hub: the library makes the PKCE pair,
the authorization URL and the token request; the test plays the person at the browser.
"""

from __future__ import annotations

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from starlette.applications import Starlette

from tests import tokens
from tests.auth.browser import hidden_fields
from tests.factories import Factory


async def test_authlib_client_signs_in_refreshes_and_calls_the_api(
    app: Starlette, factory: Factory
) -> None:
    org = await factory.organisation("Library")
    person = await factory.person(org)
    portal = await factory.portal(org)
    transport = httpx.ASGITransport(app=app)

    # --- the portal (as in the README) ---
    oauth = AsyncOAuth2Client(
        client_id=portal.client_id,
        scope="opportunities:read customers:read",
        redirect_uri=portal.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        transport=transport,
        base_url="http://localhost",
    )
    code_verifier = generate_token(64)
    url, state = oauth.create_authorization_url(
        "http://localhost/oauth/authorize", code_verifier=code_verifier
    )

    # --- the person at the browser ---
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as browser:
        page = await browser.get(url)
        signed_in = await browser.post(
            "/oauth/authorize",
            data={**hidden_fields(page.text), "email": person.email, "password": person.password},
        )
        consent = await browser.get(signed_in.headers["location"])
        answer = await browser.post(
            "/oauth/authorize", data={**hidden_fields(consent.text), "action": "approve"}
        )
    callback = answer.headers["location"]
    assert callback.startswith(portal.redirect_uri)
    assert f"state={state}" in callback

    # --- back in the portal ---
    token = await oauth.fetch_token(
        "http://localhost/oauth/token", authorization_response=callback, code_verifier=code_verifier
    )
    assert token["token_type"].lower() == "bearer"
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as api:
        viewer = await tokens.graphql(api, token["access_token"], "{ viewer { userId } }")
        assert viewer.json()["data"]["viewer"]["userId"] is not None
        renewed = await oauth.refresh_token(
            "http://localhost/oauth/token", refresh_token=token["refresh_token"]
        )
        assert renewed["access_token"] != token["access_token"]
        assert (
            await tokens.graphql(api, renewed["access_token"], "{ viewer { userId } }")
        ).status_code == 200
    await oauth.aclose()
