"""`auditEvents`: the caller organisation's own chain, newest first, over HTTP with real tokens.

Covers: every field of an event against its raw row; each filter (types, actor user, client and
organisation, record, from/to) alone and together; cursor pagination walking every page once, in
order; a page costs the same statements at any size; scope `audit:read` (FORBIDDEN without it,
UNAUTHENTICATED without a token); another organisation's events never appear, and a partner sees
none of the owner's events, not even those it caused; bad input (cursor, ids, types, times, page
size) is a clear error, never a 500.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette

from hub.access.actor import Role
from resolvers.ids import NodeType
from tests import tokens
from tests.api.test_partner_contributions import UPDATE_OPPORTUNITY, payload_of, send, set_access
from tests.api.test_record_events import ADD_CONTACT, CREATE_CUSTOMER, UPDATE_CUSTOMER, chain
from tests.api.test_statement_count import counting_statements
from tests.auth.browser import Authorization, approve, exchange
from tests.factories import Factory, Org
from tests.sharing import Sessions, build_world, data, gid, uuid_of

EVENT_FIELDS = """id seq type occurredAt requestId sourceAddress recordIds details hash
    actor { organisationId userId clientId }"""
EVENTS = f"""query ($first: Int, $after: String, $filter: AuditEventFilter) {{
    auditEvents(first: $first, after: $after, filter: $filter) {{
    edges {{ cursor node {{ {EVENT_FIELDS} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"""


# --- helpers -------------------------------------------------------------------------------


async def page(
    client: httpx.AsyncClient, token: str, **variables: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page that must succeed: its nodes and page info."""
    found = (await data(client, token, EVENTS, **variables))["auditEvents"]
    return [edge["node"] for edge in found["edges"]], found["pageInfo"]


async def listed(client: httpx.AsyncClient, token: str, **filters: Any) -> list[dict[str, Any]]:
    """Every event the filter gives, on one page (the tests' chains are short)."""
    nodes, info = await page(client, token, first=100, filter=filters)
    assert not info["hasNextPage"]
    return nodes


def event_uuid(node: dict[str, Any]) -> uuid.UUID:
    return uuid_of(node["id"])


def when(node: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(node["occurredAt"])


def errors_of(response: httpx.Response) -> list[tuple[str, list[str] | None]]:
    """The codes and fields of a refused query: a client error, never a 500 or a page."""
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None, body
    return [
        (error["extensions"]["code"], error["extensions"].get("fields")) for error in body["errors"]
    ]


async def user_token(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, org: Org, scope: str
) -> tuple[uuid.UUID, str]:
    """A MANAGER of `org` signed in through a portal: the user's id and its access token."""
    person = await factory.person(org, role=Role.MANAGER)
    portal = await factory.portal(org)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as browser:
        authorization = Authorization(portal, scope=scope)
        code = await approve(browser, authorization, person)
    issued = await exchange(client, authorization, code)
    assert issued.status_code == 200, issued.text
    return person.id, str(issued.json()["access_token"])


async def create_customer(client: httpx.AsyncClient, token: str, name: str) -> str:
    payload = (await data(client, token, CREATE_CUSTOMER, input={"name": name}))["createCustomer"]
    assert payload["userErrors"] == [], payload
    return str(payload["customer"]["id"])


# --- the event as the ledger holds it --------------------------------------------------------


async def test_each_field_is_the_stored_event(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("EvFields")
    token = await tokens.client_credentials(client, org.client)
    customer = await create_customer(client, token, "Fields Ltd")

    nodes = await listed(client, token)
    rows = {row["id"]: row for row in await chain(owner_sessions, org.id)}
    assert {event_uuid(node) for node in nodes} == set(rows)
    # Newest first: by time, and here (one writer at a time) by chain position too.
    assert [node["seq"] for node in nodes] == sorted(
        (row["seq"] for row in rows.values()), reverse=True
    )
    for node in nodes:
        row = rows[event_uuid(node)]
        assert node["id"] == gid(NodeType.AUDIT_EVENT, row["id"])
        assert (node["seq"], node["type"], node["details"]) == (
            row["seq"],
            row["type"],
            row["details"],
        )
        assert datetime.fromisoformat(node["occurredAt"]) == row["created_at"]
        assert node["hash"] == bytes(row["hash"]).hex() and len(node["hash"]) == 64
        assert node["requestId"] == row["request_id"]
        assert node["sourceAddress"] == (
            None if row["source_address"] is None else str(row["source_address"])
        )
        assert node["recordIds"] == [str(record_id) for record_id in row["record_ids"]]
        assert node["actor"] == {
            "organisationId": gid(NodeType.ORGANISATION, row["actor_org_id"]),
            "userId": None,
            "clientId": row["actor_client_id"],
        }
    created = next(node for node in nodes if node["type"] == "record.created")
    assert created["recordIds"] == [str(uuid_of(customer))]
    assert created["details"]["record"]["type"] == "Customer"
    assert created["actor"]["clientId"] == org.client.client_id


# --- filters -------------------------------------------------------------------------------


async def test_each_filter_alone_and_together(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("EvFilter")
    token = await tokens.client_credentials(client, org.client)
    manager_id, manager_token = await user_token(
        app, client, factory, org, "customers:write customers:read"
    )
    first = await create_customer(client, token, "First Ltd")
    second = await create_customer(client, manager_token, "Second Ltd")
    changed = await data(
        client, token, UPDATE_CUSTOMER, input={"customerId": first, "version": 1, "region": "EMEA"}
    )
    assert changed["updateCustomer"]["userErrors"] == []
    contact = await data(
        client, token, ADD_CONTACT, input={"customerId": first, "fullName": "Grace Hopper"}
    )
    assert contact["addContact"]["userErrors"] == []
    everything = await listed(client, token)
    by_type = {node["type"] for node in everything}
    assert {"record.created", "record.updated", "sign_in.succeeded"} <= by_type

    def matching(*conditions: Any) -> list[str]:
        return [node["id"] for node in everything if all(test(node) for test in conditions)]

    async def ids(**filters: Any) -> list[str]:
        return [node["id"] for node in await listed(client, token, **filters)]

    # types: one or several
    assert await ids(types=["record.updated"]) == matching(lambda n: n["type"] == "record.updated")
    both = await ids(types=["record.created", "record.updated"])
    assert both == matching(lambda n: n["type"].startswith("record."))
    assert len(both) == 4

    # actors: a user, a client, an organisation
    manager = gid(NodeType.USER, manager_id)
    by_manager = await ids(actorUserId=manager)
    assert by_manager == matching(lambda n: n["actor"]["userId"] == manager)
    assert {node["type"] for node in everything if node["id"] in by_manager} >= {
        "record.created",
        "sign_in.succeeded",
    }
    by_client = await ids(actorClientId=org.client.client_id)
    assert by_client == matching(lambda n: n["actor"]["clientId"] == org.client.client_id)
    assert not set(by_client) & set(by_manager)
    assert await ids(actorOrganisationId=gid(NodeType.ORGANISATION, org.id)) == matching(
        lambda n: n["actor"]["organisationId"] == gid(NodeType.ORGANISATION, org.id)
    )
    assert await ids(actorUserId=gid(NodeType.USER, uuid.uuid4())) == []

    # record: the customer's own events and its contact's
    first_uuid = str(uuid_of(first))
    of_first = await ids(record=first)
    assert of_first == matching(lambda n: first_uuid in n["recordIds"])
    assert len(of_first) == 3
    assert await ids(record=second) == matching(lambda n: str(uuid_of(second)) in n["recordIds"])
    assert await ids(record=gid(NodeType.CASE, uuid.uuid4())) == []

    # time: from inclusive, to exclusive
    middle = everything[len(everything) // 2]
    at = middle["occurredAt"]
    since = await ids(**{"from": at})
    assert since == matching(lambda n: when(n) >= when(middle))
    before = await ids(to=at)
    assert before == matching(lambda n: when(n) < when(middle))
    assert sorted(since + before) == sorted(node["id"] for node in everything)
    assert await ids(**{"from": at, "to": at}) == []

    # together: every condition holds
    together = await ids(types=["record.created"], actorClientId=org.client.client_id, record=first)
    assert together == matching(
        lambda n: n["type"] == "record.created",
        lambda n: n["actor"]["clientId"] == org.client.client_id,
        lambda n: first_uuid in n["recordIds"],
    )
    assert len(together) == 2  # the customer and its contact


# --- pagination ----------------------------------------------------------------------------


async def test_pages_walk_every_event_once_newest_first(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("EvPages")
    token = await tokens.client_credentials(client, org.client)
    for index in range(7):
        await create_customer(client, token, f"Paged {index}")
    expected = [node["id"] for node in await listed(client, token)]
    assert len(expected) >= 8

    walked: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        nodes, info = await page(client, token, first=3, after=after)
        pages += 1
        assert info["hasPreviousPage"] is (after is not None)
        assert len(nodes) == 3 or not info["hasNextPage"]
        walked += [node["id"] for node in nodes]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert walked == expected
    assert len(set(walked)) == len(walked)
    assert pages == -(-len(expected) // 3)
    times = [when(node) for node in await listed(client, token)]
    assert times == sorted(times, reverse=True)

    # Filters and cursors compose, the record filter (its own index) too.
    created, info = await page(client, token, first=2, filter={"types": ["record.created"]})
    rest, _ = await page(
        client, token, first=100, after=info["endCursor"], filter={"types": ["record.created"]}
    )
    assert len(created) + len(rest) == 7
    customer = await create_customer(client, token, "Often Changed Ltd")
    for version, region in enumerate(("EMEA", "AMER", "APAC"), start=1):
        changed = await data(
            client,
            token,
            UPDATE_CUSTOMER,
            input={"customerId": customer, "version": version, "region": region},
        )
        assert changed["updateCustomer"]["userErrors"] == []
    of_record = [node["id"] for node in await listed(client, token, record=customer)]
    assert len(of_record) == 4
    walked, after = [], None
    while True:
        nodes, info = await page(client, token, first=1, after=after, filter={"record": customer})
        walked += [node["id"] for node in nodes]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert walked == of_record


async def test_a_page_costs_the_same_statements_at_any_size(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("EvCount")
    token = await tokens.client_credentials(client, org.client)
    for index in range(12):
        await create_customer(client, token, f"Counted {index}")
    customer = await create_customer(client, token, "Counted Often Ltd")
    for version in range(1, 12):
        changed = await data(
            client,
            token,
            UPDATE_CUSTOMER,
            input={"customerId": customer, "version": version, "region": f"R{version}"},
        )
        assert changed["updateCustomer"]["userErrors"] == []
    for filters in ({}, {"record": customer}):
        counts = {}
        for first in (2, 12):
            with counting_statements() as statements:
                nodes, _ = await page(client, token, first=first, filter=filters)
            assert len(nodes) == first
            counts[first] = len(statements)
        assert counts[2] == counts[12], filters


# --- who sees what -------------------------------------------------------------------------


async def test_audit_read_scope_is_required(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("EvScope")
    everything_else = " ".join(
        scope
        for scope in ("customers:read", "customers:write", "partners:manage", "privacy:manage")
    )
    without = await tokens.client_credentials(client, org.client, everything_else)
    response = await tokens.graphql(client, without, EVENTS, {"first": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert "audit:read" in body["errors"][0]["message"]

    anonymous = await client.post("/graphql", json={"query": EVENTS, "variables": {"first": 5}})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    only_audit = await tokens.client_credentials(client, org.client, "audit:read")
    assert (await listed(client, only_audit)) != []


async def test_only_the_callers_own_chain_appears(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    # The partner changes the owner's opportunity: filed in the owner's chain, the partner acting.
    await set_access(client, world, "gOpp", "CONTRIBUTE")
    changed = await send(
        client,
        world,
        "partner",
        UPDATE_OPPORTUNITY,
        input={"opportunityId": world.gid("oP"), "version": 1, "stage": "NEGOTIATION"},
    )
    assert payload_of(changed)["userErrors"] == []
    await create_customer(client, world.token["stranger"], "Stranger's Own Ltd")

    # `chain` seals what waits first, as `auditEvents` does (the payload gave the partner the
    # opportunity back: a disclosure in the owner's chain).
    chains = {
        who: {row["id"] for row in await chain(owner_sessions, org.id)}
        for who, org in (
            ("owner", world.owner),
            ("partner", world.partner),
            ("second", world.second),
            ("stranger", world.stranger),
        )
    }
    for who, own in chains.items():
        seen = {event_uuid(node) for node in await listed(client, world.token[who])}
        assert seen == own, who

    # The owner sees what the partner did, with the partner as actor; the partner does not,
    # whether it asks for its own acts, the record, or the owner as actor.
    partner_org = gid(NodeType.ORGANISATION, world.partner.id)
    [by_partner] = await listed(
        client, world.token["owner"], actorOrganisationId=partner_org, types=["record.updated"]
    )
    assert by_partner["actor"] == {
        "organisationId": partner_org,
        "userId": None,
        "clientId": world.partner.client.client_id,
    }
    assert by_partner["details"]["changes"] == {"stage": {"from": "PROPOSAL", "to": "NEGOTIATION"}}
    partner = world.token["partner"]
    assert await listed(client, partner, record=world.gid("oP")) == []
    assert await listed(client, partner, types=["record.updated", "record.created"]) == []
    assert (
        await listed(
            client, partner, actorOrganisationId=gid(NodeType.ORGANISATION, world.owner.id)
        )
        == []
    )
    # A cursor of the owner's does not open the owner's chain either.
    _, info = await page(client, world.token["owner"], first=1)
    nodes, _ = await page(client, partner, first=100, after=info["endCursor"])
    assert {event_uuid(node) for node in nodes} <= chains["partner"]


# --- bad input -----------------------------------------------------------------------------


async def test_bad_input_is_a_clear_error(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("EvBad")
    token = await tokens.client_credentials(client, org.client)

    async def refused(**variables: Any) -> list[tuple[str, list[str] | None]]:
        return errors_of(await tokens.graphql(client, token, EVENTS, variables))

    def forged(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode()

    now = datetime.now().astimezone()
    later = (now + timedelta(hours=1)).isoformat()
    cases: dict[str, tuple[dict[str, Any], tuple[str, list[str] | None]]] = {
        "page too large": ({"first": 101}, ("BAD_USER_INPUT", ["first"])),
        "empty page": ({"first": 0}, ("BAD_USER_INPUT", ["first"])),
        "negative page": ({"first": -1}, ("BAD_USER_INPUT", ["first"])),
        "cursor not base64": ({"after": "not a cursor!"}, ("BAD_USER_INPUT", ["after"])),
        "cursor of another list": (
            {"after": forged(f"cursor:{uuid.uuid4()}")},
            ("BAD_USER_INPUT", ["after"]),
        ),
        "cursor with a bad time": (
            {"after": forged(f"event:yesterday|{uuid.uuid4()}")},
            ("BAD_USER_INPUT", ["after"]),
        ),
        "cursor without a time zone": (
            {"after": forged(f"event:2026-01-01T00:00:00|{uuid.uuid4()}")},
            ("BAD_USER_INPUT", ["after"]),
        ),
        "cursor past what UTC holds": (
            {"after": forged(f"event:9999-12-31T23:59:59-12:00|{uuid.uuid4()}")},
            ("BAD_USER_INPUT", ["after"]),
        ),
        "cursor with a bad id": (
            {"after": forged(f"event:{now.isoformat()}|nope")},
            ("BAD_USER_INPUT", ["after"]),
        ),
        "record not a global id": ({"filter": {"record": "zzz"}}, ("NOT_FOUND", ["record"])),
        "user id of another type": (
            {"filter": {"actorUserId": gid(NodeType.CUSTOMER, uuid.uuid4())}},
            ("NOT_FOUND", ["actorUserId"]),
        ),
        "organisation id malformed": (
            {"filter": {"actorOrganisationId": "%%%"}},
            ("NOT_FOUND", ["actorOrganisationId"]),
        ),
        "unknown type": ({"filter": {"types": ["record.deleted"]}}, ("BAD_USER_INPUT", ["types"])),
        "blank client id": (
            {"filter": {"actorClientId": " "}},
            ("BAD_USER_INPUT", ["actorClientId"]),
        ),
        "from after to": (
            {"filter": {"from": later, "to": now.isoformat()}},
            ("BAD_USER_INPUT", ["from"]),
        ),
        "from without a time zone": (
            {"filter": {"from": "2026-01-01T00:00:00"}},
            ("BAD_USER_INPUT", ["from"]),
        ),
        "to past what UTC holds": (
            {"filter": {"to": "9999-12-31T23:59:59-12:00"}},
            ("BAD_USER_INPUT", ["to"]),
        ),
    }
    for name, (variables, expected) in cases.items():
        assert await refused(**variables) == [expected], name

    # Values GraphQL itself refuses are request errors, named as such.
    for variables in ({"filter": {"from": "soon"}}, {"first": "ten"}, {"filter": {"types": 3}}):
        [(code, _)] = await refused(**variables)
        assert code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"), variables
