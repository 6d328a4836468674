"""Authorization code + PKCE and refresh rotation: every way to misuse them is refused.

Refusals at the token endpoint are OAuth errors (RFC 6749 §5.2: 400 invalid_grant); a token
they revoke is then refused by the API with 401, on its very next request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.oauth.models import AuthorizationCode, TokenFamily
from hub.orgs.models import User
from tests import tokens
from tests.auth.browser import Authorization, approve, exchange, pkce_pair, refresh
from tests.factories import Factory

VIEWER = "{ viewer { userId } }"


@pytest.fixture
async def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def _signed_in_code(
    browser: httpx.AsyncClient, factory: Factory, *, confidential: bool = False
) -> tuple[Authorization, str]:
    org = await factory.organisation("Code")
    person = await factory.person(org)
    portal = await factory.portal(org, confidential=confidential)
    authorization = Authorization(portal)
    return authorization, await approve(browser, authorization, person)


def _refused(response: httpx.Response, error: str = "invalid_grant") -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


@pytest.mark.parametrize("confidential", [False, True], ids=["public", "confidential"])
async def test_public_and_confidential_portals_both_sign_in(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory, confidential: bool
) -> None:
    authorization, code = await _signed_in_code(browser, factory, confidential=confidential)
    issued = await exchange(client, authorization, code)
    assert issued.status_code == 200, issued.text
    assert (await tokens.graphql(client, issued.json()["access_token"], VIEWER)).status_code == 200


async def test_a_confidential_portal_must_authenticate(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    authorization, code = await _signed_in_code(browser, factory, confidential=True)
    portal = authorization.portal
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": portal.redirect_uri,
            "client_id": portal.client_id,
            "code_verifier": authorization.verifier,
        },
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_wrong_verifier_is_refused_and_changes_nothing(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    _refused(await exchange(client, authorization, code, code_verifier=pkce_pair()[0]))
    # Nothing was spent: the rightful holder of the verifier still gets its tokens.
    assert (await exchange(client, authorization, code)).status_code == 200


async def test_redirect_uri_differing_by_one_character_is_refused(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    wrong = authorization.portal.redirect_uri[:-1] + "X"
    _refused(await exchange(client, authorization, code, redirect_uri=wrong))
    assert (await exchange(client, authorization, code)).status_code == 200


async def test_reused_code_is_refused_and_revokes_what_it_issued(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    first = (await exchange(client, authorization, code)).json()
    assert (await tokens.graphql(client, first["access_token"], VIEWER)).status_code == 200

    _refused(await exchange(client, authorization, code))

    assert (await tokens.graphql(client, first["access_token"], VIEWER)).status_code == 401
    _refused(await refresh(client, authorization.portal, first["refresh_token"]))


async def test_expired_code_is_refused(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    async with owner_sessions() as session, session.begin():
        lifetime = await session.scalar(
            select(func.max(AuthorizationCode.expires_at - AuthorizationCode.created_at))
        )
        await session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.client_id == authorization.portal.client_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert lifetime is not None and lifetime <= timedelta(seconds=60)
    _refused(await exchange(client, authorization, code))


async def test_a_code_is_bound_to_its_client(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    other = Authorization(
        await factory.portal(await factory.organisation("Other")), verifier=authorization.verifier
    )
    _refused(await exchange(client, other, code))
    assert (await exchange(client, authorization, code)).status_code == 200


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    portal = authorization.portal
    first = (await exchange(client, authorization, code)).json()
    second = (await refresh(client, portal, first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await tokens.graphql(client, second["access_token"], VIEWER)).status_code == 200

    # Someone replays the spent refresh token: the thief and the victim both lose the session.
    _refused(await refresh(client, portal, first["refresh_token"]))

    assert (await tokens.graphql(client, second["access_token"], VIEWER)).status_code == 401
    assert (await tokens.graphql(client, first["access_token"], VIEWER)).status_code == 401
    _refused(await refresh(client, portal, second["refresh_token"]))
    async with owner_sessions() as session:
        reasons = (
            await session.scalars(
                select(TokenFamily.revoked_reason).where(TokenFamily.client_id == portal.client_id)
            )
        ).all()
    assert reasons == ["refresh_token_reused"]


async def test_refresh_may_narrow_but_not_widen_the_scope(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, factory: Factory
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    portal = authorization.portal
    first = (await exchange(client, authorization, code)).json()
    wider = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": portal.client_id,
            "scope": "opportunities:read customers:write",
        },
    )
    _refused(wider, "invalid_scope")
    narrower = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": portal.client_id,
            "scope": "opportunities:read",
        },
    )
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "opportunities:read"


async def test_disabling_a_user_bites_on_the_next_request_and_stops_refresh(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    authorization, code = await _signed_in_code(browser, factory)
    issued = (await exchange(client, authorization, code)).json()
    viewer = (await tokens.graphql(client, issued["access_token"], VIEWER)).json()
    user_id = viewer["data"]["viewer"]["userId"]
    assert user_id is not None
    families = select(TokenFamily.user_id).where(
        TokenFamily.client_id == authorization.portal.client_id
    )
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(User).where(User.id.in_(families)).values(disabled_at=datetime.now(UTC))
        )
    assert (await tokens.graphql(client, issued["access_token"], VIEWER)).status_code == 401
    _refused(await refresh(client, authorization.portal, issued["refresh_token"]))
