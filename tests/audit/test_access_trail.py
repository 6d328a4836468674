"""`myAccessTrail`: a partner sees its own accesses to owners' data, never the owners' events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import tokens
from tests.factories import Factory
from tests.sealing import seal
from tests.sharing import Sessions, World, build_world, data, uuid_of

TRAIL = """query ($after: String, $first: Int = 20) { myAccessTrail(first: $first, after: $after) {
    edges { cursor node { id type occurredAt owner { id name } actor { organisationId clientId }
        requestId recordIds details } }
    pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture
async def world(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> World:
    return await build_world(client, factory, owner_sessions)


async def trail(client: httpx.AsyncClient, token: str, first: int = 20) -> list[dict[str, Any]]:
    """Every event of the caller's trail, walking the pages."""
    nodes, after = [], None
    while True:
        page = (await data(client, token, TRAIL, after=after, first=first))["myAccessTrail"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_a_partner_sees_what_it_received_and_changed_and_nothing_else(
    client: httpx.AsyncClient, world: World
) -> None:
    await data(
        client, world.token["partner"], "{ customers(first: 5) { edges { node { name } } } }"
    )
    comment = """mutation ($input: AddCaseCommentInput!) { addCaseComment(input: $input) {
        comment { id } userErrors { code } } }"""
    added = await data(
        client, world.token["partner"], comment, input={"caseId": world.gid("kP"), "body": "hi"}
    )
    assert added["addCaseComment"]["userErrors"] == []
    await data(
        client, world.token["second"], "{ opportunities(first: 5) { edges { node { id } } } }"
    )

    events = await trail(client, world.token["partner"], first=1)
    # Newest first: the comment's payload (the comment, the owner's record) crossed back too.
    assert [event["type"] for event in events] == ["disclosure", "record.created", "disclosure"]
    assert all(event["owner"]["name"] == world.owner.name for event in events)
    assert all(uuid_of(event["actor"]["organisationId"]) == world.partner.id for event in events)
    first = events[-1]
    assert first["recordIds"] == [str(world.ids["cEu"])]
    assert first["details"]["grants"][0]["grant_id"] == str(uuid_of(world.grants["gCust"]["id"]))
    # The second partner's trail holds its own read only.
    [second] = await trail(client, world.token["second"])
    assert second["type"] == "disclosure"
    assert uuid_of(second["actor"]["organisationId"]) == world.second.id


async def test_owners_and_strangers_have_no_trail_in_others_chains(
    client: httpx.AsyncClient, world: World
) -> None:
    await world.lists(client, "partner")
    for who in ("owner", "stranger"):
        assert await trail(client, world.token[who]) == [], who


async def test_the_owners_internal_events_stay_internal_in_raw_sql(
    client: httpx.AsyncClient, app_engine: AsyncEngine, owner_sessions: Sessions, world: World
) -> None:
    await world.lists(client, "partner")
    await seal(owner_sessions, world.owner.id)
    async with app_engine.begin() as connection:
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(world.partner.id)}
        )
        rows = (
            await connection.execute(
                text("SELECT type, actor_org_id FROM audit_events WHERE org_id = :owner"),
                {"owner": world.owner.id},
            )
        ).all()
    assert rows and all(actor == world.partner.id for _, actor in rows)
    assert {kind for kind, _ in rows} == {"disclosure"}


async def test_the_trail_needs_audit_read(client: httpx.AsyncClient, world: World) -> None:
    token = await tokens.client_credentials(client, world.partner.client, "customers:read")
    response = await tokens.graphql(client, token, TRAIL, {})
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_partner_does_not_learn_the_customers_of_what_it_received(
    client: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    """The owner indexes each disclosure by the customers of its records ("who has seen this
    customer's data?"); a partner given an opportunity need not be given its customer, so its
    trail names the records it received and never those customers."""
    await data(
        client, world.token["second"], "{ opportunities(first: 5) { edges { node { id } } } }"
    )
    [event] = await trail(client, world.token["second"])
    records = [group for grant in event["details"]["grants"] for group in grant["records"]]
    assert records and all(group["kind"] == "Opportunity" for group in records)
    assert all("customer_ids" not in group for group in records), records
    await seal(owner_sessions)
    async with owner_sessions() as session:
        kept = await session.scalar(
            text("SELECT details FROM audit_events WHERE id = :id"),
            {"id": str(uuid_of(event["id"]))},
        )
    assert all("customer_ids" in group for grant in kept["grants"] for group in grant["records"])
