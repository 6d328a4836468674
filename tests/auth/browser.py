"""A person at a browser: follows the sign-in pages the way a form-submitting browser does."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.factories import Person, Portal

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


@dataclass
class Authorization:
    """The parameters a portal sends to /oauth/authorize."""

    portal: Portal
    scope: str = "opportunities:read customers:read"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    verifier: str = ""
    challenge: str = ""

    def __post_init__(self) -> None:
        if not self.verifier:
            self.verifier, self.challenge = pkce_pair()

    def params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.portal.client_id,
            "redirect_uri": self.portal.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {key: value for key, value in params.items() if value is not None}

    def url(self, **overrides: str | None) -> str:
        return "/oauth/authorize?" + urlencode(self.params(**overrides))


async def sign_in(
    http: httpx.AsyncClient, authorization: Authorization, person: Person
) -> httpx.Response:
    """GET the sign-in page, submit the credentials; returns the answer to the POST."""
    page = await http.get(authorization.url())
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text)
    return await http.post(
        "/oauth/authorize",
        data={**form, "email": person.email, "password": person.password},
    )


async def approve(http: httpx.AsyncClient, authorization: Authorization, person: Person) -> str:
    """Sign in and approve; returns the code handed to the redirect URI."""
    signed_in = await sign_in(http, authorization, person)
    assert signed_in.status_code == 303, signed_in.text
    consent = await http.get(signed_in.headers["location"])
    assert consent.status_code == 200, consent.text
    answer = await http.post(
        "/oauth/authorize", data={**hidden_fields(consent.text), "action": "approve"}
    )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == authorization.portal.redirect_uri
    )
    assert query["state"] == [authorization.state]
    return query["code"][0]


async def exchange(
    http: httpx.AsyncClient, authorization: Authorization, code: str, **overrides: str
) -> httpx.Response:
    """POST the code to /oauth/token as the portal would."""
    portal = authorization.portal
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": portal.redirect_uri,
        "client_id": portal.client_id,
        "code_verifier": authorization.verifier,
        **overrides,
    }
    return await http.post("/oauth/token", data=data, auth=client_auth(portal))


def client_auth(portal: Portal) -> httpx.Auth:
    """HTTP Basic for a confidential portal; a public one sends only its client_id in the body."""
    if portal.client_secret is None:
        return httpx.Auth()  # the base class adds nothing to the request
    return httpx.BasicAuth(portal.client_id, portal.client_secret)


async def refresh(http: httpx.AsyncClient, portal: Portal, refresh_token: str) -> httpx.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": portal.client_id,
    }
    return await http.post("/oauth/token", data=data, auth=client_auth(portal))
