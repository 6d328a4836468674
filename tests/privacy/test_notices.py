"""Privacy notices: each partner reads and acknowledges its own, once; no one else's, through
the API or with raw SQL as the application role."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from resolvers.ids import NodeType
from tests import tokens
from tests.api.test_statement_count import counting_statements
from tests.factories import Factory, Org
from tests.privacy.world import (
    ACKNOWLEDGE,
    NOTICES,
    PrivacyWorld,
    build_privacy_world,
    erase,
)
from tests.sharing import Sessions, data, gid, uuid_of


@pytest.fixture
async def pw(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> PrivacyWorld:
    """Both customers' data erased: the partner holds a notice about cEu, second about pUs."""
    world = await build_privacy_world(client, factory, owner_sessions)
    await erase(client, world.world.token["owner"], world.world.gid("cEu"))
    await erase(client, world.world.token["owner"], world.world.gid("pUs"))
    return world


async def listed(client: httpx.AsyncClient, token: str, **variables: Any) -> list[dict[str, Any]]:
    page = (await data(client, token, NOTICES, **variables))["privacyNotices"]
    return [edge["node"] for edge in page["edges"]]


async def acknowledge(client: httpx.AsyncClient, token: str, notice_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await data(client, token, ACKNOWLEDGE, input={"id": notice_id}))[
        "acknowledgePrivacyNotice"
    ]
    return payload


async def events_of(sessions: Sessions, org: Org, kind: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT details, record_ids FROM audit_events WHERE org_id = :org AND type = :t"),
            {"org": org.id, "t": kind},
        )
        return [dict(row) for row in rows.mappings()]


async def test_each_partner_reads_only_its_own_notices(
    client: httpx.AsyncClient, pw: PrivacyWorld
) -> None:
    world = pw.world
    [notice] = await listed(client, world.token["partner"])
    assert notice["ownerId"] == gid(NodeType.ORGANISATION, world.owner.id)
    assert notice["owner"] == {"id": notice["ownerId"], "name": world.owner.name}
    assert notice["partnerId"] == gid(NodeType.ORGANISATION, world.partner.id)
    assert (notice["subjectId"], notice["subjectKind"]) == (world.gid("cEu"), "Customer")
    assert notice["fields"] == [
        "Contact.email (masked)",
        "Contact.fullName",
        "Customer.id",
        "Customer.name",
    ]
    assert notice["notifiedAt"] and notice["acknowledgedAt"] is None
    for erased_value in ("Eu Retail GmbH", "Ada Lovelace", "ada.lovelace"):
        assert erased_value not in json.dumps(notice)

    [other] = await listed(client, world.token["second"])
    assert (other["subjectId"], other["subjectKind"]) == (world.gid("pUs"), "Contact")
    assert other["id"] != notice["id"]
    assert await listed(client, pw.quiet_token) == []
    assert await listed(client, world.token["stranger"]) == []
    assert await listed(client, world.token["owner"]) == []

    # The owner lists what it sent, newest first, a page at a time.
    first = (await data(client, world.token["owner"], NOTICES, first=1, filter={"sent": True}))[
        "privacyNotices"
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await data(
            client,
            world.token["owner"],
            NOTICES,
            first=1,
            after=first["pageInfo"]["endCursor"],
            filter={"sent": True},
        )
    )["privacyNotices"]
    assert rest["pageInfo"]["hasNextPage"] is False
    sent = [page["edges"][0]["node"]["id"] for page in (first, rest)]
    assert sent == [other["id"], notice["id"]]


async def test_a_partner_acknowledges_once_and_it_is_audited(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    partner = world.token["partner"]
    [notice] = await listed(client, partner, filter={"acknowledged": False})

    done = await acknowledge(client, partner, notice["id"])
    assert done["userErrors"] == [] and done["alreadyAcknowledged"] is False
    assert done["notice"]["id"] == notice["id"] and done["notice"]["acknowledgedAt"]
    [event] = await events_of(owner_sessions, world.partner, "privacy.notice_acknowledged")
    assert event["details"]["notice"] == {
        "id": str(uuid_of(notice["id"])),
        "ownerOrgId": str(world.owner.id),
    }
    assert event["details"]["subject"] == {"type": "Customer", "id": str(world.ids["cEu"])}

    again = await acknowledge(client, partner, notice["id"])
    assert again["userErrors"] == [] and again["alreadyAcknowledged"] is True
    assert again["notice"]["acknowledgedAt"] == done["notice"]["acknowledgedAt"]
    assert len(await events_of(owner_sessions, world.partner, "privacy.notice_acknowledged")) == 1

    assert await listed(client, partner, filter={"acknowledged": False}) == []
    [acknowledged] = await listed(client, partner, filter={"acknowledged": True})
    assert acknowledged["acknowledgedAt"] == done["notice"]["acknowledgedAt"]


async def test_nobody_else_acknowledges_a_partners_notice(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    [notice] = await listed(client, world.token["partner"])
    not_found = [{"field": ["input", "id"], "message": "No such record.", "code": "NOT_FOUND"}]
    for token in (world.token["second"], world.token["owner"], pw.quiet_token):
        payload = await acknowledge(client, token, notice["id"])
        assert payload == {"notice": None, "alreadyAcknowledged": False, "userErrors": not_found}
    for malformed in ("nonsense", world.gid("cEu")):
        payload = await acknowledge(client, world.token["partner"], malformed)
        assert payload["userErrors"] == not_found

    no_scope = await tokens.client_credentials(client, world.partner.client, "customers:read")
    for query, variables in (
        (NOTICES, {}),
        (ACKNOWLEDGE, {"input": {"id": notice["id"]}}),
    ):
        response = await tokens.graphql(client, no_scope, query, variables)
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["FORBIDDEN"]

    [still] = await listed(client, world.token["partner"])
    assert still["acknowledgedAt"] is None
    assert await events_of(owner_sessions, world.second, "privacy.notice_acknowledged") == []


async def as_org(connection: AsyncConnection, org: Org) -> None:
    await connection.execute(
        text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
    )


async def test_raw_sql_as_the_application_role_keeps_notices_to_their_partner(
    client: httpx.AsyncClient, app_engine: AsyncEngine, pw: PrivacyWorld
) -> None:
    world = pw.world
    [notice] = await listed(client, world.token["partner"])
    notice_id = uuid_of(notice["id"])
    mine = {"id": notice_id}

    async with app_engine.begin() as connection:
        await as_org(connection, world.second)
        ids = (await connection.scalars(text("SELECT id FROM privacy_notices"))).all()
        assert notice_id not in ids and len(ids) == 1
        changed = await connection.execute(
            text("UPDATE privacy_notices SET acknowledged_at = now() WHERE id = :id"), mine
        )
        assert changed.rowcount == 0
        # Telling partners for a subject of another organisation's tells nobody.
        told = await connection.scalars(
            text("SELECT hub_privacy_notify(:s, 'Customer')"), {"s": world.ids["cUs"]}
        )
        assert told.all() == []

    async with app_engine.begin() as connection:
        await as_org(connection, world.owner)
        changed = await connection.execute(
            text("UPDATE privacy_notices SET acknowledged_at = now() WHERE id = :id"), mine
        )
        assert changed.rowcount == 0  # the owner reads what it sent, never acknowledges it

    for statement in (
        "UPDATE privacy_notices SET fields = '{}' WHERE id = :id",
        "UPDATE privacy_notices SET partner_org_id = org_id WHERE id = :id",
        "DELETE FROM privacy_notices WHERE id = :id",
        "INSERT INTO privacy_notices (org_id, id, partner_org_id, subject_id, subject_kind,"
        " customer_id, fields) SELECT org_id, gen_random_uuid(), partner_org_id, id, 'Customer',"
        " id, '{}' FROM privacy_notices WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with app_engine.begin() as connection:
                await as_org(connection, world.partner)
                await connection.execute(text(statement), mine)

    async with app_engine.begin() as connection:
        await as_org(connection, world.partner)
        changed = await connection.execute(
            text("UPDATE privacy_notices SET acknowledged_at = now() WHERE id = :id"), mine
        )
        assert changed.rowcount == 1
    async with app_engine.begin() as connection:
        await as_org(connection, world.partner)
        undone = await connection.execute(
            text("UPDATE privacy_notices SET acknowledged_at = NULL WHERE id = :id"), mine
        )
        assert undone.rowcount == 0  # acknowledged once, for good

    with pytest.raises(DBAPIError, match="no organisation"):
        async with app_engine.begin() as connection:
            await connection.execute(
                text("SELECT hub_privacy_notify(:s, 'Customer')"), {"s": world.ids["cEu"]}
            )


async def test_a_page_of_notices_costs_the_same_statements_at_any_size(
    client: httpx.AsyncClient, pw: PrivacyWorld
) -> None:
    """The owner organisation of each notice comes through the request's loader, not a query
    per notice."""
    counts = {}
    for first in (1, 2):
        with counting_statements() as statements:
            sent = await listed(client, pw.world.token["owner"], first=first, filter={"sent": True})
        assert len(sent) == first
        assert all(notice["owner"]["name"] == pw.owner.name for notice in sent)
        counts[first] = len(statements)
    assert counts[1] == counts[2]
