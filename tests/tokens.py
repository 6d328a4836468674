"""Real tokens, obtained from /oauth/token exactly as a client would."""

from __future__ import annotations

from collections.abc import Mapping

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
