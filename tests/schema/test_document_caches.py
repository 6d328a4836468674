"""Parsing and validation are paid once per distinct document, not once per request (DESIGN 8)."""

from __future__ import annotations

import uuid

import httpx

from schema.document_cache import parsed, validated
from tests import tokens
from tests.factories import Factory


def _hits() -> tuple[int, int]:
    return parsed.cache_info().hits, validated.cache_info().hits


async def test_a_document_sent_again_is_neither_parsed_nor_validated_again(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("DocumentCache")
    token = await tokens.client_credentials(client, org.client)
    # A document no other test sends, so the first request is a miss wherever the suite stands.
    document = f"{{ viewer {{ clientId }} }} # {uuid.uuid4()}"

    await tokens.graphql(client, token, document)
    before = _hits()
    for _ in range(3):
        body = (await tokens.graphql(client, token, document)).json()
        assert body["data"]["viewer"]["clientId"] == org.client.client_id
    parse_hits, validate_hits = _hits()

    assert parse_hits - before[0] >= 3
    assert validate_hits - before[1] >= 3


async def test_the_limits_still_refuse_a_cached_document(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("DocumentCacheLimits")
    token = await tokens.client_credentials(client, org.client)
    aliases = " ".join(f"a{index}: viewer {{ clientId }}" for index in range(16))
    document = f"{{ {aliases} }}"

    for _ in range(2):
        response = await client.post(
            "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
        )
        body = response.json()
        assert body.get("data") is None
        assert "aliases" in body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_syntax_error_is_reported_as_before(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("DocumentCacheSyntax")
    token = await tokens.client_credentials(client, org.client)

    for _ in range(2):
        body = (await tokens.graphql(client, token, "{ viewer { clientId ")).json()
        assert body.get("data") is None
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
