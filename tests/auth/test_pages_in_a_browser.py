"""In Chromium: the invitation and sign-in pages as a person uses them — fields, the CSRF
token that guards each form, and the errors shown on the page."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page as BrowserPage

from hub.app import create_app
from hub.settings import Settings
from tests.auth.browser import Authorization
from tests.auth.test_invitation_page import _invite
from tests.chromium import chromium, served
from tests.factories import Factory

PASSWORD = "a long enough passphrase"


async def alerts(page: BrowserPage) -> list[str]:
    return [text.strip() for text in await page.locator("[role=alert]").all_text_contents()]


async def test_an_invitation_is_accepted_in_the_browser_after_a_mistake(
    settings: Settings, app_url: str, client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("BrowserInvite")
    invited = await _invite(client, org, f"ivy-{uuid.uuid4().hex[:8]}@example.com")
    link = urlsplit(invited.url)
    async with served(create_app(settings, app_url)) as port, chromium() as browser:
        page = await browser.new_page()
        opened = f"http://127.0.0.1:{port}{link.path}?{link.query}"
        await page.goto(opened)
        assert await page.input_value("#email") == invited.email
        await page.fill("#password", PASSWORD)
        await page.fill("#password_confirmation", PASSWORD + " but not quite")
        await page.click("button[type=submit]")
        await page.wait_for_selector("[role=alert]")
        assert await alerts(page) == ["The two passwords are not the same."]
        assert await page.input_value("#password") == ""  # never sent back in the page
        await page.fill("#password", PASSWORD)
        await page.fill("#password_confirmation", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("text=you can now sign in")
        await page.goto(opened)
        assert await page.text_content("h1") == "This invitation cannot be used"


async def test_the_sign_in_page_shows_a_wrong_password_and_refuses_a_forged_form(
    settings: Settings, app_url: str, factory: Factory
) -> None:
    org = await factory.organisation("BrowserSignIn")
    person = await factory.person(org)
    portal = await factory.portal(org, redirect_uri="https://portal.signin.example/callback")
    authorization = Authorization(portal)
    async with served(create_app(settings, app_url)) as port, chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}{authorization.url()}")
        assert await page.get_attribute("#password", "type") == "password"
        await page.fill("#email", person.email)
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
        await page.wait_for_selector("[role=alert]")
        assert await alerts(page) == ["Wrong e-mail or password."]
        assert await page.input_value("#email") == person.email
        # A form whose CSRF token is not the session's is refused, whatever else it says.
        await page.eval_on_selector("input[name=csrf_token]", "field => field.value = 'forged'")
        await page.fill("#password", person.password)
        await page.click("button[type=submit]")
        await page.wait_for_selector("text=This form has expired")
