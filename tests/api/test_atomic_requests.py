"""A request is atomic: an unexpected failure after a successful mutation writes nothing.

The failure is provoked by a schema that adds one exploding mutation to the hub's own; the
endpoint, tokens, sessions and database are the real ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from strawberry.tools import merge_types

from auth.resource import ResourceServer
from auth.tokens import KeyRing
from hub.customers.models import Customer
from hub.db import session_factory
from hub.graphql_http import GRAPHQL_RESPONSE_MEDIA_TYPE, GraphQLEndpoint
from hub.keys.store import verifying_keys
from hub.request_id import RequestIdMiddleware
from hub.settings import Settings
from schema import Mutation, Query, schema_config
from schema.errors import TypedErrors
from tests import tokens
from tests.factories import Factory


@strawberry.type
class Exploding:
    @strawberry.mutation
    def explode(self) -> bool:
        raise RuntimeError("disk on fire")


@pytest.fixture
async def exploding_client(
    app: Starlette, app_engine: AsyncEngine, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    schema = strawberry.Schema(
        query=Query,
        mutation=merge_types("Mutation", (Mutation, Exploding)),
        extensions=[TypedErrors],
        config=schema_config(),
    )
    sessions = session_factory(app_engine)
    async with sessions() as session:
        keys = KeyRing(await verifying_keys(session))
    resource_server = ResourceServer(keys, issuer=settings.issuer, audience=settings.audience)
    endpoint = GraphQLEndpoint(
        schema,
        sessions=lambda: sessions,
        resource_server=lambda: resource_server,
        max_page_size=100,
    )
    exploding_app = Starlette(
        routes=[Route("/graphql", endpoint.handle, methods=["POST"])],
        middleware=[Middleware(RequestIdMiddleware)],
    )
    transport = httpx.ASGITransport(app=exploding_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


CREATE_THEN_EXPLODE = """mutation {
  createCustomer(input: {name: "Doomed Ltd"}) { customer { id } userErrors { code } }
  explode
}"""


async def _customers(sessions: async_sessionmaker[AsyncSession], org_id: object) -> int:
    async with sessions() as session:
        statement = select(func.count()).select_from(Customer).where(Customer.org_id == org_id)
        return int(await session.scalar(statement) or 0)


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_MEDIA_TYPE])
async def test_failure_after_a_mutation_writes_nothing_and_claims_nothing(
    client: httpx.AsyncClient,
    exploding_client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
    accept: str,
) -> None:
    org = await factory.organisation("Atomic")
    token = await tokens.client_credentials(client, org.client)

    response = await exploding_client.post(
        "/graphql",
        json={"query": CREATE_THEN_EXPLODE},
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
    )

    assert response.status_code == 500
    assert response.headers["content-type"].startswith(accept)
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "INTERNAL",
        "requestId": response.headers["x-request-id"],
    }
    assert error["path"] == ["explode"]
    assert "disk on fire" not in response.text
    assert await _customers(owner_sessions, org.id) == 0


async def test_the_same_mutation_alone_is_written(
    client: httpx.AsyncClient,
    exploding_client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The control: without the explosion the write lands, so the test above can fail."""
    org = await factory.organisation("AtomicControl")
    token = await tokens.client_credentials(client, org.client)

    response = await exploding_client.post(
        "/graphql",
        json={"query": CREATE_THEN_EXPLODE.replace("explode", "")},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["createCustomer"]["userErrors"] == []
    assert await _customers(owner_sessions, org.id) == 1
