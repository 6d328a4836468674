from __future__ import annotations

import httpx

from tests import tokens
from tests.factories import Factory


async def test_viewer_and_customers(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("Smoke")
    await factory.customer(org)
    token = await tokens.client_credentials(client, org.client)
    response = await tokens.graphql(
        client,
        token,
        "{ viewer { clientId organisation { name } }"
        " customers { edges { node { name contacts { fullName } } } } }",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["viewer"]["organisation"]["name"] == org.name
    assert body["data"]["customers"]["edges"][0]["node"]["name"] == "Acme GmbH"
