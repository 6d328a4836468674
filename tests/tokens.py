"""Real tokens, obtained from /oauth/token exactly as a client would."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx

from hub.orgs.clients import ClientCredentials


async def client_credentials(
    http: httpx.AsyncClient, client: ClientCredentials, scope: str | None = None
) -> str:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = await http.post(
        "/oauth/token", data=data, auth=(client.client_id, client.client_secret)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def graphql(
    http: httpx.AsyncClient, token: str, query: str, variables: Mapping[str, object] | None = None
) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and claims as they were written, without checking the signature."""

    def decode(part: str) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        )
        return decoded

    header, payload, _ = token.split(".")
    return decode(header), decode(payload)


def key_id(token: str) -> str:
    """The `kid` of the key that signed `token`."""
    return str(unverified_parts(token)[0]["kid"])
