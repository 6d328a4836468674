"""Pages on other origins call the hub only from origins an enabled client registered (CORS).

Over HTTP as a browser sends it: the preflight (OPTIONS, no token) and the call itself, each
with `Origin`. The app under test forgets an origin's standing at once
(`cors_remember_seconds=0`), so a change shows on the next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import create_app
from hub.audit.models import AuditEvent
from hub.audit.record import EventType
from hub.settings import Settings
from tests import tokens
from tests.api.test_admin import CLIENT_FIELDS, DISABLE_CLIENT, admin_token, data, register
from tests.factories import Factory

SET_ORIGINS = f"""mutation ($id: ID!, $origins: [String!]!) {{
    setClientOrigins(input: {{clientId: $id, allowedOrigins: $origins}}) {{
    client {{ {CLIENT_FIELDS} allowedOrigins }} userErrors {{ field message code }} }} }}"""
REGISTER_WITH_ORIGINS = f"""mutation ($input: RegisterClientInput!) {{
    registerClient(input: $input) {{ client {{ {CLIENT_FIELDS} allowedOrigins }}
    userErrors {{ field message code }} }} }}"""
VIEWER = "{ viewer { clientId } }"


@pytest.fixture
async def browser(settings: Settings, app_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"cors_remember_seconds": 0}), app_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


async def preflight(
    http: httpx.AsyncClient, path: str, origin: str, method: str = "POST", headers: str = ""
) -> httpx.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return await http.options(path, headers=asked)


def origins(name: str) -> tuple[str, str]:
    """A portal's origin and its developer's, of this test alone: origins are global, and
    every test's clients stay in the database."""
    port = 5000 + sum(name.encode()) % 4000
    return f"https://{name.lower()}.portal.example", f"http://localhost:{port}"


async def portal_client(http: httpx.AsyncClient, factory: Factory, name: str) -> dict[str, Any]:
    org = await factory.organisation(name)
    token = await admin_token(http, org)
    node, _ = await register(http, token, allowedOrigins=list(origins(name)))
    return {"org": org, "token": token, "node": node}


async def test_a_registered_origin_gets_its_preflight_and_its_answers(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    registered = await portal_client(browser, factory, "CorsPortal")
    portal, dev = origins("CorsPortal")
    for path in ("/graphql", "/oauth/token", "/oauth/revoke"):
        response = await preflight(browser, path, portal, headers="Authorization, Content-Type")
        assert response.status_code == 204, (path, response.text)
        assert response.headers["access-control-allow-origin"] == portal
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "PUT" not in response.headers["access-control-allow-methods"]
        assert response.headers["access-control-allow-headers"] == (
            "authorization, content-type, x-request-id"
        )
        assert response.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in response.headers
    answer = await browser.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {registered['token']}", "Origin": dev},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == dev
    assert "x-request-id" in answer.headers["access-control-expose-headers"]
    assert "Origin" in answer.headers["vary"]


async def test_an_origin_nobody_registered_is_refused(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    registered = await portal_client(browser, factory, "CorsStranger")
    portal, _ = origins("CorsStranger")
    for origin in ("https://evil.example", f"{portal}.evil", "null"):
        response = await preflight(browser, "/graphql", origin)
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["vary"] == "Origin"
    # The call itself is answered (a browser would keep it from the page): no CORS header.
    answer = await browser.post(
        "/graphql",
        json={"query": VIEWER},
        headers={
            "Authorization": f"Bearer {registered['token']}",
            "Origin": "https://evil.example",
        },
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    assert answer.headers["vary"] == "Origin"


async def test_a_method_or_header_the_api_does_not_take_is_refused(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    await portal_client(browser, factory, "CorsMethods")
    portal, _ = origins("CorsMethods")
    assert (await preflight(browser, "/oauth/token", portal, method="GET")).status_code == 403
    assert (await preflight(browser, "/graphql", portal, method="DELETE")).status_code == 403
    refused = await preflight(browser, "/graphql", portal, headers="Authorization, X-Debug")
    assert refused.status_code == 403
    assert (await preflight(browser, "/graphql", portal, method="GET")).status_code == 204
    # Other paths are not for pages: no CORS answer at all.
    other = await preflight(browser, "/readyz", portal, method="GET")
    assert "access-control-allow-origin" not in other.headers


async def test_changed_and_disabled_clients_stop_letting_their_origins_in(
    browser: httpx.AsyncClient, factory: Factory, owner_sessions: async_sessionmaker[AsyncSession]
) -> None:
    registered = await portal_client(browser, factory, "CorsChange")
    portal, dev = origins("CorsChange")
    token, node = registered["token"], registered["node"]
    payload = (await data(browser, token, SET_ORIGINS, id=node["id"], origins=[dev]))[
        "setClientOrigins"
    ]
    assert payload["userErrors"] == []
    assert payload["client"]["allowedOrigins"] == [dev]
    assert (await preflight(browser, "/graphql", portal)).status_code == 403
    assert (await preflight(browser, "/graphql", dev)).status_code == 204
    async with owner_sessions() as session:
        changes = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.org_id == registered["org"].id,
                AuditEvent.type == EventType.CLIENT_ORIGINS_SET.value,
            )
        )
    assert changes == 1
    disabled = (await data(browser, token, DISABLE_CLIENT, id=node["id"]))["disableClient"]
    assert disabled["userErrors"] == []
    assert (await preflight(browser, "/graphql", dev)).status_code == 403


async def registered_with(
    http: httpx.AsyncClient, token: str, name: str, allowed_origins: list[str]
) -> Any:
    """registerClient's payload for a client of these origins."""
    registered = await data(
        http,
        token,
        REGISTER_WITH_ORIGINS,
        input={"name": name, "scopes": ["customers:read"], "allowedOrigins": allowed_origins},
    )
    return registered["registerClient"]


async def test_origins_are_checked_and_kept_as_browsers_send_them(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("CorsInput")
    portal = "https://input.fabrikam.example"
    token = await admin_token(browser, org)
    bad = [
        "*",
        "https://*.fabrikam.example",
        "http://portal.fabrikam.example",
        "https://portal.fabrikam.example/app",
        "https://portal.fabrikam.example?x=1",
        "https://user:pw@portal.fabrikam.example",
        "portal.fabrikam.example",
        "https://portal.fabrikam.example:99999",
        "https://portal fabrikam.example",
        "https://" + "a" * 400 + ".example",
    ]
    payload = await registered_with(browser, token, "Bad", bad)
    assert payload["client"] is None
    fields = {tuple(error["field"]) for error in payload["userErrors"]}
    assert fields == {("input", "allowedOrigins", str(index)) for index in range(len(bad))}
    clients = await data(browser, token, "{ clients(first: 10) { edges { node { name } } } }")
    assert "Bad" not in [edge["node"]["name"] for edge in clients["clients"]["edges"]]
    too_many = [f"https://p{index}.example" for index in range(11)]
    payload = await registered_with(browser, token, "Many", too_many)
    assert [error["code"] for error in payload["userErrors"]] == ["OUT_OF_RANGE"]
    payload = await registered_with(
        browser, token, "Kept", ["HTTPS://Input.Fabrikam.Example:443", "http://127.0.0.1:8080"]
    )
    assert payload["userErrors"] == []
    assert payload["client"]["allowedOrigins"] == [portal, "http://127.0.0.1:8080"]
    payload = await registered_with(browser, token, "Twice", [portal, portal.upper() + ":443"])
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
        (["input", "allowedOrigins", "1"], "DUPLICATE")
    ]
    assert (await preflight(browser, "/graphql", portal)).status_code == 204


async def test_another_organisations_client_cannot_be_given_origins(
    browser: httpx.AsyncClient, factory: Factory
) -> None:
    registered = await portal_client(browser, factory, "CorsOwner")
    other = await factory.organisation("CorsOther")
    other_token = await tokens.client_credentials(browser, other.client)
    payload = (
        await data(
            browser,
            other_token,
            SET_ORIGINS,
            id=registered["node"]["id"],
            origins=["https://corsother.example"],
        )
    )["setClientOrigins"]
    assert payload["client"] is None
    assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"]
    assert (await preflight(browser, "/graphql", "https://corsother.example")).status_code == 403
