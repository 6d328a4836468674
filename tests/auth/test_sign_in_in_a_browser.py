"""In Chromium: a portal's sign-in completes, from the authorization request through sign-in
and consent to the registered redirect URI, with PKCE; for a loopback http redirect URI and an
https one. The pages' form-action names the hub and exactly the redirect URI's origin."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.async_api import Page as BrowserPage
from playwright.async_api import Route as BrowserRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from hub.app import create_app
from hub.settings import Settings
from tests.auth.browser import Authorization, exchange
from tests.chromium import chromium, free_port, served
from tests.factories import Factory, Person


async def callback(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Portal</title><p>signed in</p>")


CALLBACK = Starlette(routes=[Route("/callback", callback)])


async def sign_in_and_allow(page: BrowserPage, hub: str, url: str, person: Person) -> None:
    """What the person does: open the link, sign in, and click Allow."""
    await page.goto(hub + url)
    await page.fill("#email", person.email)
    await page.fill("#password", person.password)
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=Allow")
    await page.click("button[value=approve]")


async def test_sign_in_reaches_a_loopback_redirect_uri_and_the_code_gets_a_token(
    settings: Settings, app_url: str, client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("BrowserLoopback")
    person = await factory.person(org)
    port = free_port()
    portal = await factory.portal(org, redirect_uri=f"http://localhost:{port}/callback")
    authorization = Authorization(portal)
    app = create_app(settings, app_url)
    async with served(app) as hub_port, chromium() as browser:
        hub = f"http://127.0.0.1:{hub_port}"
        policy = await _sign_in_policy(hub, authorization, person)
        assert f"form-action 'self' http://localhost:{port};" in policy
        async with served(CALLBACK, port=port):
            page = await browser.new_page()
            await sign_in_and_allow(page, hub, authorization.url(), person)
            await page.wait_for_url(f"http://localhost:{port}/callback?*")
            landed = urlsplit(page.url)
            assert await page.text_content("p") == "signed in"
    query = parse_qs(landed.query)
    assert query["state"] == [authorization.state]
    token = await exchange(client, authorization, query["code"][0])
    assert token.status_code == 200, token.text
    assert token.json()["token_type"].lower() == "bearer"


async def test_sign_in_reaches_an_https_redirect_uri(
    settings: Settings, app_url: str, client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("BrowserHttps")
    person = await factory.person(org)
    portal = await factory.portal(org, redirect_uri="https://portal.browser.example/callback")
    authorization = Authorization(portal)
    reached: list[str] = []

    async def portal_answers(route: BrowserRoute) -> None:
        # The portal's server, as the browser meets it: nothing leaves this machine.
        reached.append(route.request.url)
        await route.fulfill(body="<!doctype html><p>signed in</p>", content_type="text/html")

    app = create_app(settings, app_url)
    async with served(app) as hub_port, chromium() as browser:
        hub = f"http://127.0.0.1:{hub_port}"
        page = await browser.new_page()
        await page.route("https://portal.browser.example/**", portal_answers)
        await sign_in_and_allow(page, hub, authorization.url(), person)
        await page.wait_for_url("https://portal.browser.example/callback?*")
    assert len(reached) == 1
    query = parse_qs(urlsplit(reached[0]).query)
    assert query["state"] == [authorization.state]
    token = await exchange(client, authorization, query["code"][0])
    assert token.status_code == 200, token.text


async def _sign_in_policy(hub: str, authorization: Authorization, person: Person) -> str:
    """The Content-Security-Policy of the sign-in page, as the hub sends it to a browser."""
    async with httpx.AsyncClient(base_url=hub) as http:
        page = await http.get(authorization.url())
    assert page.status_code == 200, page.text
    return page.headers["content-security-policy"] + ";"
