"""In Chromium: a portal page on a registered origin lists the partner's shared opportunities
with its token; the same page on another origin is kept from the answer by the browser."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Error as BrowserError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from hub.app import create_app
from hub.settings import Settings
from tests import tokens
from tests.api.test_admin import register
from tests.chromium import chromium, served
from tests.factories import Factory
from tests.sharing import Sessions, build_world

LIST = "{ opportunities(first: 20) { edges { node { name } } } }"
# What the portal's script does: call the hub with the token, and hand back the answer.
CALL = """async ([hub, token, query]) => {
    const response = await fetch(hub + "/graphql", {
        method: "POST",
        headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        body: JSON.stringify({query}),
    });
    return await response.json();
}"""


async def portal_page(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Partner portal</title><p>portal</p>")


PORTAL = Starlette(routes=[Route("/", portal_page)])


def names(answer: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in answer["data"]["opportunities"]["edges"]]


async def test_a_registered_portal_reads_shared_opportunities_and_another_origin_cannot(
    settings: Settings,
    app_url: str,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    world = await build_world(client, factory, owner_sessions)
    token = world.token["partner"]
    expected = names((await tokens.graphql(client, token, LIST)).json())
    assert expected  # the partner's grants share opportunities
    hub_app = create_app(settings.model_copy(update={"cors_remember_seconds": 0}), app_url)
    async with (
        served(hub_app) as hub_port,
        served(PORTAL) as registered_port,
        served(PORTAL) as other_port,
        chromium() as browser,
    ):
        hub = f"http://127.0.0.1:{hub_port}"
        # The partner's admin registers its portal's origin (localhost: another origin than
        # the hub's 127.0.0.1, and another than the stranger's port).
        await register(
            client, token, name="Portal", allowedOrigins=[f"http://localhost:{registered_port}"]
        )
        page = await browser.new_page()
        await page.goto(f"http://localhost:{registered_port}/")
        answer = await page.evaluate(CALL, [hub, token, LIST])
        assert names(answer) == expected

        other = await browser.new_page()
        await other.goto(f"http://localhost:{other_port}/")
        with pytest.raises(BrowserError, match="Failed to fetch"):
            await other.evaluate(CALL, [hub, token, LIST])
