"""GraphQL over HTTP: methods, media types, request ids, probes, keys, and authentication."""

from __future__ import annotations

import json
import uuid

import httpx
import strawberry
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.customers.models import Customer
from schema.errors import TypedErrors
from tests import tokens
from tests.factories import Factory

GRAPHQL_RESPONSE = "application/graphql-response+json"

CREATE_CUSTOMER = 'mutation { createCustomer(input: {name: "Via GET"}) { customer { id } } }'


async def customer_count(sessions: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> int:
    async with sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.org_id == org_id)
        )
    return int(total or 0)


# --- GET -----------------------------------------------------------------------------------


async def test_get_query_with_bearer_token(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("HttpGet")
    token = await tokens.client_credentials(client, org.client)

    response = await client.get(
        "/graphql",
        params={"query": "{viewer{clientId}}"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"viewer": {"clientId": org.client.client_id}}}


async def test_get_with_variables(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("HttpGetVars")
    await factory.customer(org)
    token = await tokens.client_credentials(client, org.client)

    response = await client.get(
        "/graphql",
        params={
            "query": "query ($n: Int!) { customers(first: $n) { edges { node { name } } } }",
            "variables": json.dumps({"n": 1}),
        },
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.text
    edges = response.json()["data"]["customers"]["edges"]
    assert [edge["node"]["name"] for edge in edges] == ["Acme GmbH"]


async def test_get_with_malformed_variables(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("HttpGetBadVars")
    token = await tokens.client_credentials(client, org.client)

    response = await client.get(
        "/graphql",
        params={"query": "{viewer{clientId}}", "variables": "{not json"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["errors"]


async def test_mutation_over_get_is_refused(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await factory.organisation("HttpGetMutation")
    token = await tokens.client_credentials(client, org.client)
    before = await customer_count(owner_sessions, org.id)

    response = await client.get(
        "/graphql",
        params={"query": CREATE_CUSTOMER},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code != 500, response.text
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"]
    assert await customer_count(owner_sessions, org.id) == before


async def test_same_mutation_over_post_writes(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The control for the test above: the mutation itself is fine, only the method is not."""
    org = await factory.organisation("HttpPostMutation")
    token = await tokens.client_credentials(client, org.client)
    before = await customer_count(owner_sessions, org.id)

    response = await tokens.graphql(client, token, CREATE_CUSTOMER)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["createCustomer"]["customer"]["id"]
    assert await customer_count(owner_sessions, org.id) == before + 1


async def test_unsupported_method(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": "{viewer{clientId}}"})

    assert response.status_code == 405


# --- media types ---------------------------------------------------------------------------


async def test_graphql_response_media_type_on_success(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("HttpMedia")
    token = await tokens.client_credentials(client, org.client)

    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { clientId } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json()["data"]["viewer"]["clientId"] == org.client.client_id


async def test_graphql_response_media_type_validation_failure_is_400(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("HttpMediaBad")
    token = await tokens.client_credentials(client, org.client)

    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { noSuchField } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 400, response.text


async def test_graphql_response_media_type_validation_failure_body(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """A failed validation still carries the media type and the typed error code."""
    org = await factory.organisation("HttpMediaBadBody")
    token = await tokens.client_credentials(client, org.client)

    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { noSuchField } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code != 500, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_plain_json_validation_failure_stays_200(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """With `application/json` (legacy) a validation failure keeps status 200."""
    org = await factory.organisation("HttpJsonBad")
    token = await tokens.client_credentials(client, org.client)

    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { noSuchField } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_graphql_response_media_type_field_error_stays_200(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """A field error during execution still has `data`, so it is not a request error."""
    org = await factory.organisation("HttpMediaField")
    token = await tokens.client_credentials(client, org.client, scope="customers:read")

    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { clientId } opportunities { edges { cursor } } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "data" in body
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_graphiql_on_browser_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_a_browser_head_asks_for_the_graphiql_page(client: httpx.AsyncClient) -> None:
    """HEAD answers as GET would (RFC 9110 §9.3.2), without the body."""
    response = await client.head("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == b""


# --- request ids ---------------------------------------------------------------------------


async def test_every_response_has_a_request_id(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("HttpReqId")
    token = await tokens.client_credentials(client, org.client)
    responses = [
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/.well-known/jwks.json"),
        await client.get("/graphql", headers={"Accept": "text/html"}),
        await client.post("/graphql", json={"query": "{ viewer { clientId } }"}),
        await tokens.graphql(client, token, "{ viewer { clientId } }"),
        await tokens.graphql(client, token, "{ nope }"),
        await client.get("/no-such-route"),
    ]
    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), "each request gets its own id"


async def test_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abcdefgh1234"})

    assert response.headers["x-request-id"] == "abcdefgh1234"


async def test_insane_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    for given in ("short", "has spaces in it", "x" * 65, "<script>alert(1)</script>"):
        response = await client.get("/healthz", headers={"X-Request-ID": given})
        assert response.headers["x-request-id"] != given
        assert len(response.headers["x-request-id"]) == 32


# --- probes and keys -----------------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_jwks_has_only_public_keys(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kid"]
        assert key["kty"]
        private_members = {"d", "p", "q", "dp", "dq", "qi", "k"}
        assert private_members.isdisjoint(key), sorted(key)


# --- authentication and scopes -------------------------------------------------------------


async def test_missing_authorization_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ viewer { clientId } }"})

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert "error=" not in challenge
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_garbage_bearer_token_is_401_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { clientId } }"},
        headers={"Authorization": "Bearer garbage"},
    )

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert 'error="invalid_token"' in challenge
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_odd_authorization_headers_are_401(client: httpx.AsyncClient) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer a.b.c", "Bearer a.b.c"):
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { clientId } }"},
            headers={"Authorization": header},
        )
        assert response.status_code == 401, (header, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer"), header
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_missing_scope_is_forbidden(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("HttpScope")
    token = await tokens.client_credentials(client, org.client, scope="customers:read")

    response = await tokens.graphql(client, token, "{ opportunities { edges { cursor } } }")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["opportunities"]
    assert (body["data"] or {}).get("opportunities") is None


async def test_granted_scope_still_works(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("HttpScopeOk")
    await factory.customer(org)
    token = await tokens.client_credentials(client, org.client, scope="customers:read")

    response = await tokens.graphql(client, token, "{ customers { edges { node { name } } } }")

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["customers"]["edges"][0]["node"]["name"] == "Acme GmbH"


# --- masking of unexpected errors ----------------------------------------------------------


async def test_unexpected_exception_is_masked() -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def boom(self) -> str:
            raise RuntimeError("secret detail")

    schema = strawberry.Schema(query=Query, extensions=[TypedErrors])

    result = await schema.execute("{ boom }")

    assert result.data is None
    assert result.errors is not None
    [error] = result.errors
    formatted = error.formatted
    assert formatted["message"] == "Internal server error."
    assert formatted["extensions"]["code"] == "INTERNAL"
    assert formatted["path"] == ["boom"]
    assert "secret detail" not in json.dumps(formatted)
    assert "secret detail" not in repr(error)
    assert error.original_error is None


async def test_a_connection_the_server_closed_costs_no_request(
    client: httpx.AsyncClient, factory: Factory, owner_engine: AsyncEngine
) -> None:
    """The API's pool does not test connections before use (a round trip on every request): a
    request whose first statement finds its connection gone starts over on a fresh one."""
    org = await factory.organisation("ConnectionGone")
    token = await tokens.client_credentials(client, org.client)
    viewer = {"data": {"viewer": {"clientId": org.client.client_id}}}
    assert (await tokens.graphql(client, token, "{ viewer { clientId } }")).json() == viewer

    async with owner_engine.connect() as db:
        closed = await db.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE usename = 'hub_app' AND pid <> pg_backend_pid()"
            )
        )
    assert closed

    for _ in range(3):
        response = await tokens.graphql(client, token, "{ viewer { clientId } }")
        assert response.status_code == 200, response.text
        assert response.json() == viewer
