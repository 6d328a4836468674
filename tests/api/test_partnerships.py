"""Partnerships over HTTP with real tokens, and their second wall in PostgreSQL.

Covers: the whole lifecycle between an owner and a partner (and reopening after ENDED); every
move from a wrong status (INVALID_TRANSITION) and every move by the wrong side (FORBIDDEN),
each writing nothing; a third organisation and a second partner of the same owner getting
byte-for-byte the answer of a random id; scopes; input errors on invitePartner; malformed ids,
cursors and enum values; the audit trail; and raw SQL as the application role.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from hub.audit.models import AuditEvent
from hub.partnerships.models import PartnerRole, Partnership, PartnershipStatus
from resolvers.ids import NodeType, decode_any_id, encode_id
from tests import tokens
from tests.factories import Factory, Org

Sessions = async_sessionmaker[AsyncSession]

FIELDS = """id role status side createdAt updatedAt
    owner { id name slug } partner { id name slug }"""
ERRORS = "userErrors { field message code }"
INVITE = f"""mutation ($input: InvitePartnerInput!) {{ invitePartner(input: $input) {{
    partnership {{ {FIELDS} }} {ERRORS} }} }}"""
LIST = f"""query ($first: Int!, $after: String, $side: PartnershipSide,
    $status: PartnershipStatus) {{
    partnerships(first: $first, after: $after, side: $side, status: $status) {{
    edges {{ node {{ {FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on Partnership {{ {FIELDS} }} }} }}"

# The four moves by their mutation name: each takes `{id}` and answers `{partnership, errors}`.
ACCEPT, SUSPEND, RESUME, END = (
    "acceptPartnership",
    "suspendPartnership",
    "resumePartnership",
    "endPartnership",
)
MOVES = (ACCEPT, SUSPEND, RESUME, END)

INVITED, ACTIVE, SUSPENDED, ENDED = (status.value for status in PartnershipStatus)


def move(name: str) -> str:
    return f"""mutation ($id: ID!) {{ {name}(input: {{id: $id}}) {{
        partnership {{ {FIELDS} }} {ERRORS} }} }}"""


# --- helpers -------------------------------------------------------------------------------


async def data(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    """`data` of a 200 response that carried no GraphQL error."""
    response = await tokens.graphql(client, token, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def token_of(client: httpx.AsyncClient, org: Org, scope: str | None = None) -> str:
    """A token of the organisation's client; every scope unless `scope` narrows it."""
    return await tokens.client_credentials(client, org.client, scope)


async def invite(
    client: httpx.AsyncClient, token: str, partner: Org, role: str = "DISTRIBUTOR"
) -> dict[str, Any]:
    payload = (
        await data(client, token, INVITE, input={"partnerSlug": partner.slug, "role": role})
    )["invitePartner"]
    assert payload["userErrors"] == [], payload
    return dict(payload["partnership"])


async def do(client: httpx.AsyncClient, token: str, name: str, global_id: str) -> dict[str, Any]:
    """Run one move; its payload."""
    return dict((await data(client, token, move(name), id=global_id))[name])


async def partnership_row(
    sessions: Sessions, owner: Org, partner: Org, status: PartnershipStatus
) -> str:
    """A partnership written directly (as the owner role) in `status`; its global id."""
    async with sessions() as session, session.begin():
        row = Partnership(
            org_id=owner.id,
            partner_org_id=partner.id,
            role=PartnerRole.RESELLER,
            status=status,
        )
        session.add(row)
        await session.flush()
        return encode_id(NodeType.PARTNERSHIP, row.id)


async def stored(sessions: Sessions, global_id: str) -> tuple[str, str, datetime]:
    """Status, role and last change of a partnership, read as the owner role."""
    async with sessions() as session:
        row = (
            await session.scalars(
                select(Partnership).where(Partnership.id == decode_any_id(global_id)[1])
            )
        ).one()
        return row.status.value, row.role.value, row.updated_at


async def partnership_count(sessions: Sessions, *orgs: Org) -> int:
    """Partnerships in which any of `orgs` is on either side."""
    ids = [org.id for org in orgs]
    async with sessions() as session:
        total = await session.scalar(
            select(func.count())
            .select_from(Partnership)
            .where(Partnership.org_id.in_(ids) | Partnership.partner_org_id.in_(ids))
        )
    return int(total or 0)


async def partnership_events(sessions: Sessions, org: Org) -> list[AuditEvent]:
    """The organisation's partnership audit events, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org.id, AuditEvent.type.like("partnership.%"))
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
        return list(rows)


def organisation(org: Org) -> dict[str, Any]:
    return {"id": encode_id(NodeType.ORGANISATION, org.id), "name": org.name, "slug": org.slug}


def random_id() -> str:
    return encode_id(NodeType.PARTNERSHIP, uuid.uuid4())


async def nodes(client: httpx.AsyncClient, token: str, **variables: Any) -> list[dict[str, Any]]:
    page = (await data(client, token, LIST, first=50, **variables))["partnerships"]
    return [edge["node"] for edge in page["edges"]]


# --- the lifecycle -------------------------------------------------------------------------


async def test_lifecycle_from_invitation_to_end_and_reopening(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsOwner")
    partner = await factory.organisation("PsPartner")
    owner_token, partner_token = await token_of(client, owner), await token_of(client, partner)

    invited = await invite(client, owner_token, partner)
    assert invited["status"] == INVITED and invited["role"] == "DISTRIBUTOR"
    assert invited["side"] == "OWNER"
    assert invited["owner"] == organisation(owner)
    assert invited["partner"] == organisation(partner)
    global_id = invited["id"]

    # The partner sees the invitation, and who sent it, from its side.
    as_partner = {**invited, "side": "PARTNER"}
    assert await nodes(client, partner_token) == [as_partner]
    assert (await data(client, partner_token, NODE, id=global_id))["node"] == as_partner

    accepted = await do(client, partner_token, ACCEPT, global_id)
    assert accepted["userErrors"] == []
    assert accepted["partnership"]["status"] == ACTIVE
    assert accepted["partnership"]["side"] == "PARTNER"
    owner_view = (await data(client, owner_token, NODE, id=global_id))["node"]
    assert (owner_view["status"], owner_view["side"]) == (ACTIVE, "OWNER")

    for name, status in ((SUSPEND, SUSPENDED), (RESUME, ACTIVE)):
        payload = await do(client, owner_token, name, global_id)
        assert payload["userErrors"] == [] and payload["partnership"]["status"] == status
        seen = (await data(client, partner_token, NODE, id=global_id))["node"]
        assert seen["status"] == status

    ended = await do(client, partner_token, END, global_id)
    assert ended["userErrors"] == [] and ended["partnership"]["status"] == ENDED
    assert [node["status"] for node in await nodes(client, owner_token)] == [ENDED]

    # One row per pair: inviting again reopens it, with the new role.
    reopened = await invite(client, owner_token, partner, role="RESELLER")
    assert reopened["id"] == global_id
    assert (reopened["status"], reopened["role"]) == (INVITED, "RESELLER")
    assert reopened["createdAt"] == invited["createdAt"]
    assert await partnership_count(owner_sessions, owner) == 1

    # Each side's trail holds its own acts, naming the partnership and both organisations.
    record_id = str(decode_any_id(global_id)[1])
    owner_events = await partnership_events(owner_sessions, owner)
    partner_events = await partnership_events(owner_sessions, partner)
    assert [event.type for event in owner_events] == [
        "partnership.invited",
        "partnership.suspended",
        "partnership.resumed",
        "partnership.invited",
    ]
    assert [event.type for event in partner_events] == [
        "partnership.accepted",
        "partnership.ended",
    ]
    for event in owner_events + partner_events:
        assert event.details["partnership_id"] == record_id
        assert event.details["owner_org_id"] == str(owner.id)
        assert event.details["partner_org_id"] == str(partner.id)
        assert event.actor_client_id is not None and event.request_id
    assert [event.details["reopened"] for event in (owner_events[0], owner_events[3])] == [
        False,
        True,
    ]
    assert owner_events[1].details["previous_status"] == ACTIVE
    assert partner_events[1].details["side"] == "PARTNER"


async def test_either_side_ends_from_every_live_status(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsEndOwner")
    owner_token = await token_of(client, owner)
    for status in (
        PartnershipStatus.INVITED,
        PartnershipStatus.ACTIVE,
        PartnershipStatus.SUSPENDED,
    ):
        for ender in ("owner", "partner"):
            partner = await factory.organisation("PsEndPartner")
            global_id = await partnership_row(owner_sessions, owner, partner, status)
            token = owner_token if ender == "owner" else await token_of(client, partner)

            payload = await do(client, token, END, global_id)

            assert payload["userErrors"] == [], (status, ender)
            assert (await stored(owner_sessions, global_id))[0] == ENDED


async def test_partnerships_filter_by_side_and_status_and_page(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("PsList")
    token = await token_of(client, org, "partners:read")
    partners = [await factory.organisation("PsListPartner") for _ in range(3)]
    vendor = await factory.organisation("PsListVendor")
    owned = [
        await partnership_row(owner_sessions, org, partners[0], PartnershipStatus.ACTIVE),
        await partnership_row(owner_sessions, org, partners[1], PartnershipStatus.INVITED),
        await partnership_row(owner_sessions, org, partners[2], PartnershipStatus.ACTIVE),
    ]
    received = await partnership_row(owner_sessions, vendor, org, PartnershipStatus.ACTIVE)

    assert [node["id"] for node in await nodes(client, token)] == [*owned, received]
    assert [node["id"] for node in await nodes(client, token, side="OWNER")] == owned
    as_partner = await nodes(client, token, side="PARTNER")
    assert [(node["id"], node["side"]) for node in as_partner] == [(received, "PARTNER")]
    assert as_partner[0]["owner"] == organisation(vendor)
    assert [node["id"] for node in await nodes(client, token, status="ACTIVE")] == [
        owned[0],
        owned[2],
        received,
    ]
    assert [node["id"] for node in await nodes(client, token, side="OWNER", status="INVITED")] == [
        owned[1]
    ]

    seen: list[str] = []
    after = None
    while True:
        page = (await data(client, token, LIST, first=3, after=after))["partnerships"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [*owned, received]


# --- wrong status, wrong side --------------------------------------------------------------

# (mutation, the side allowed to make it, a status it cannot be made from)
WRONG_STATUS = [
    (ACCEPT, "partner", PartnershipStatus.ACTIVE),
    (ACCEPT, "partner", PartnershipStatus.SUSPENDED),
    (ACCEPT, "partner", PartnershipStatus.ENDED),
    (SUSPEND, "owner", PartnershipStatus.INVITED),
    (SUSPEND, "owner", PartnershipStatus.SUSPENDED),
    (SUSPEND, "owner", PartnershipStatus.ENDED),
    (RESUME, "owner", PartnershipStatus.INVITED),
    (RESUME, "owner", PartnershipStatus.ACTIVE),
    (RESUME, "owner", PartnershipStatus.ENDED),
    (END, "owner", PartnershipStatus.ENDED),
    (END, "partner", PartnershipStatus.ENDED),
]


@pytest.mark.parametrize(
    ("name", "side", "status"),
    WRONG_STATUS,
    ids=[f"{name}-by-{side}-from-{status.value}" for name, side, status in WRONG_STATUS],
)
async def test_move_from_a_wrong_status_is_an_invalid_transition(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    name: str,
    side: str,
    status: PartnershipStatus,
) -> None:
    owner = await factory.organisation("PsWrongOwner")
    partner = await factory.organisation("PsWrongPartner")
    global_id = await partnership_row(owner_sessions, owner, partner, status)
    before = await stored(owner_sessions, global_id)
    token = await token_of(client, owner if side == "owner" else partner)

    payload = await do(client, token, name, global_id)

    assert payload["partnership"] is None
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "id"], "INVALID_TRANSITION")
    assert status.value in error["message"]
    assert await stored(owner_sessions, global_id) == before
    assert await partnership_events(owner_sessions, owner) == []
    assert await partnership_events(owner_sessions, partner) == []


# (mutation, the side not allowed to make it, a status the other side could make it from)
WRONG_SIDE = [
    (ACCEPT, "owner", PartnershipStatus.INVITED),
    (SUSPEND, "partner", PartnershipStatus.ACTIVE),
    (RESUME, "partner", PartnershipStatus.SUSPENDED),
]


@pytest.mark.parametrize(
    ("name", "side", "status"),
    WRONG_SIDE,
    ids=[f"{name}-by-{side}" for name, side, _ in WRONG_SIDE],
)
async def test_move_by_the_wrong_side_is_forbidden(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    name: str,
    side: str,
    status: PartnershipStatus,
) -> None:
    owner = await factory.organisation("PsSideOwner")
    partner = await factory.organisation("PsSidePartner")
    global_id = await partnership_row(owner_sessions, owner, partner, status)
    before = await stored(owner_sessions, global_id)
    token = await token_of(client, owner if side == "owner" else partner)

    response = await tokens.graphql(client, token, move(name), {"id": global_id})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert await stored(owner_sessions, global_id) == before
    assert await partnership_events(owner_sessions, owner) == []
    assert await partnership_events(owner_sessions, partner) == []


async def test_a_partner_cannot_invite_on_the_owners_behalf(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """Inviting always makes the caller the owner: the partner's invitation to its owner is a
    partnership of its own and leaves the owner's (here ENDED, so reopenable) untouched."""
    owner = await factory.organisation("PsBehalfOwner")
    partner = await factory.organisation("PsBehalfPartner")
    owners_id = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.ENDED)
    before = await stored(owner_sessions, owners_id)

    own = await invite(client, await token_of(client, partner), owner, role="VENDOR")

    assert own["id"] != owners_id
    assert (own["side"], own["owner"], own["partner"]) == (
        "OWNER",
        organisation(partner),
        organisation(owner),
    )
    assert await stored(owner_sessions, owners_id) == before
    assert await partnership_events(owner_sessions, owner) == []


# --- strangers: a third organisation, a second partner of the same owner -------------------


async def test_a_third_organisation_gets_exactly_the_answer_of_a_random_id(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsThirdOwner")
    stranger = await factory.organisation("PsStranger")
    token = await token_of(client, stranger)
    for status in PartnershipStatus:
        global_id = await partnership_row(
            owner_sessions, owner, await factory.organisation("PsThirdP"), status
        )
        before = await stored(owner_sessions, global_id)
        for query in (NODE, *(move(name) for name in MOVES)):
            real = await tokens.graphql(client, token, query, {"id": global_id})
            absent = await tokens.graphql(client, token, query, {"id": random_id()})
            assert (real.status_code, real.content) == (absent.status_code, absent.content)
            assert b"NOT_FOUND" in real.content or real.json() == {"data": {"node": None}}
        assert await stored(owner_sessions, global_id) == before
    assert await nodes(client, token) == []
    assert await partnership_events(owner_sessions, stranger) == []
    assert await partnership_count(owner_sessions, stranger) == 0


async def test_a_second_partner_never_sees_the_first_partners_partnership(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsTwoOwner")
    first = await factory.organisation("PsFirst")
    second = await factory.organisation("PsSecond")
    owner_token = await token_of(client, owner)
    first_id = (await invite(client, owner_token, first))["id"]
    second_id = (await invite(client, owner_token, second, role="RESELLER"))["id"]
    second_token = await token_of(client, second)
    await do(client, await token_of(client, first), ACCEPT, first_id)
    await do(client, second_token, ACCEPT, second_id)

    listed = await nodes(client, second_token)
    assert [node["id"] for node in listed] == [second_id]
    assert first.slug not in str(listed) and first.name not in str(listed)
    real = await tokens.graphql(client, second_token, NODE, {"id": first_id})
    absent = await tokens.graphql(client, second_token, NODE, {"id": random_id()})
    assert real.content == absent.content == b'{"data":{"node":null}}'
    for name in MOVES:
        real = await tokens.graphql(client, second_token, move(name), {"id": first_id})
        absent = await tokens.graphql(client, second_token, move(name), {"id": random_id()})
        assert real.content == absent.content
    assert (await stored(owner_sessions, first_id))[0] == ACTIVE
    # The owner sees both.
    assert [node["id"] for node in await nodes(client, owner_token)] == [first_id, second_id]


# --- scopes --------------------------------------------------------------------------------


async def test_without_partner_scopes_everything_is_forbidden(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsScopeOwner")
    partner = await factory.organisation("PsScopePartner")
    global_id = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.ACTIVE)
    token = await token_of(client, owner, "customers:read cases:read")
    before = (
        await stored(owner_sessions, global_id),
        await partnership_count(owner_sessions, owner),
    )
    requests: list[tuple[str, dict[str, Any]]] = [
        (LIST, {"first": 10}),
        (NODE, {"id": global_id}),
        (INVITE, {"input": {"partnerSlug": partner.slug, "role": "VENDOR"}}),
        *((move(name), {"id": global_id}) for name in MOVES),
    ]

    for query, variables in requests:
        response = await tokens.graphql(client, token, query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"], query

    after = (
        await stored(owner_sessions, global_id),
        await partnership_count(owner_sessions, owner),
    )
    assert after == before
    assert await partnership_events(owner_sessions, owner) == []


async def test_partners_read_may_list_but_not_change(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsReadOwner")
    partner = await factory.organisation("PsReadPartner")
    global_id = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.INVITED)
    token = await token_of(client, partner, "partners:read")

    assert [node["id"] for node in await nodes(client, token)] == [global_id]
    response = await tokens.graphql(client, token, move(ACCEPT), {"id": global_id})

    assert [error["extensions"]["code"] for error in response.json()["errors"]] == ["FORBIDDEN"]
    assert (await stored(owner_sessions, global_id))[0] == INVITED


async def test_without_a_token_it_is_unauthenticated(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": LIST, "variables": {"first": 5}})

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- invitePartner input -------------------------------------------------------------------


async def test_invite_input_errors_write_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("PsInvOwner")
    partner = await factory.organisation("PsInvPartner")
    token = await token_of(client, owner)
    await invite(client, token, partner)
    before = await partnership_count(owner_sessions, owner)
    events = len(await partnership_events(owner_sessions, owner))
    cases = [
        (owner.slug, "INVALID"),
        (partner.slug, "DUPLICATE"),
        (f"no-such-org-{uuid.uuid4().hex}", "NOT_FOUND"),
        ("   ", "REQUIRED"),
        ("x" * 81, "TOO_LONG"),
    ]

    for slug, code in cases:
        payload = (
            await data(client, token, INVITE, input={"partnerSlug": slug, "role": "VENDOR"})
        )["invitePartner"]
        assert payload["partnership"] is None
        assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
            (["input", "partnerSlug"], code)
        ], slug

    assert await partnership_count(owner_sessions, owner) == before
    assert len(await partnership_events(owner_sessions, owner)) == events


@pytest.mark.parametrize("status", [PartnershipStatus.ACTIVE, PartnershipStatus.SUSPENDED])
async def test_inviting_a_live_partner_again_is_a_duplicate(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    status: PartnershipStatus,
) -> None:
    owner = await factory.organisation("PsDupOwner")
    partner = await factory.organisation("PsDupPartner")
    global_id = await partnership_row(owner_sessions, owner, partner, status)
    before = await stored(owner_sessions, global_id)

    payload = (
        await data(
            client,
            await token_of(client, owner),
            INVITE,
            input={"partnerSlug": partner.slug, "role": "VENDOR"},
        )
    )["invitePartner"]

    assert [error["code"] for error in payload["userErrors"]] == ["DUPLICATE"]
    assert await stored(owner_sessions, global_id) == before


async def test_an_unknown_slug_reveals_nothing(client: httpx.AsyncClient, factory: Factory) -> None:
    """Two unknown slugs get the same bytes: the answer does not echo or describe them."""
    owner = await factory.organisation("PsUnknown")
    token = await token_of(client, owner)

    answers = [
        (
            await tokens.graphql(
                client, token, INVITE, {"input": {"partnerSlug": slug, "role": "VENDOR"}}
            )
        ).content
        for slug in ("nobody-here", f"other-{uuid.uuid4().hex[:8]}")
    ]

    assert answers[0] == answers[1]
    assert b"nobody" not in answers[0]


# --- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "global_id",
    [
        "garbage",
        "",
        "\u00e9\u00e9",
        encode_id(NodeType.CUSTOMER, uuid.uuid4()),
        encode_id(NodeType.ORGANISATION, uuid.uuid4()),
    ],
    ids=["garbage", "empty", "non-ascii", "customer-id", "organisation-id"],
)
async def test_malformed_ids_are_not_found(
    client: httpx.AsyncClient, factory: Factory, global_id: str
) -> None:
    org = await factory.organisation("PsBadId")
    token = await token_of(client, org)

    assert (await data(client, token, NODE, id=global_id))["node"] is None
    for name in MOVES:
        payload = await do(client, token, name, global_id)
        assert payload == {
            "partnership": None,
            "userErrors": [
                {"field": ["input", "id"], "message": "No such record.", "code": "NOT_FOUND"}
            ],
        }


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (INVITE, {"input": {"partnerSlug": "x", "role": "KING"}}),
        (LIST, {"first": 5, "side": "SIDEWAYS"}),
        (LIST, {"first": 5, "status": "PAUSED"}),
        ("{ partnerships(first: 5, status: PAUSED) { edges { node { id } } } }", {}),
    ],
    ids=["role-variable", "side-variable", "status-variable", "status-literal"],
)
async def test_bad_enum_values_are_clear_errors(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    query: str,
    variables: dict[str, Any],
) -> None:
    org = await factory.organisation("PsBadEnum")

    response = await tokens.graphql(client, await token_of(client, org), query, variables)

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] in (
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",
    )
    assert await partnership_count(owner_sessions, org) == 0


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 0}, "first"), ({"first": 101}, "first"), ({"first": 5, "after": "nope"}, "after")],
    ids=["first-0", "first-101", "garbage-cursor"],
)
async def test_bad_page_arguments_are_bad_user_input(
    client: httpx.AsyncClient, factory: Factory, variables: dict[str, Any], field: str
) -> None:
    org = await factory.organisation("PsBadPage")

    response = await tokens.graphql(client, await token_of(client, org), LIST, variables)

    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [field]


# --- the second wall: raw SQL as the application role --------------------------------------


async def enter(connection: AsyncConnection, org: Org) -> None:
    await connection.execute(
        text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
    )


async def sql_status(connection: AsyncConnection, global_id: str, status: str) -> int:
    """UPDATE one partnership's status as the entered organisation; rows changed."""
    result = await connection.execute(
        text("UPDATE partnerships SET status = :status WHERE id = :id"),
        {"status": status, "id": decode_any_id(global_id)[1]},
    )
    return result.rowcount


async def test_rls_the_partner_updates_only_where_it_is_the_partner(
    app_engine: AsyncEngine, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("RlsPsOwner")
    partner = await factory.organisation("RlsPsPartner")
    other = await factory.organisation("RlsPsOther")
    mine = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.INVITED)
    others = await partnership_row(owner_sessions, owner, other, PartnershipStatus.INVITED)

    async with app_engine.begin() as connection:
        await enter(connection, partner)
        assert await sql_status(connection, mine, ACTIVE) == 1
        assert await sql_status(connection, others, ACTIVE) == 0
        names = set(await connection.scalars(text("SELECT name FROM organisations")))
        assert names == {partner.name, owner.name}  # never the other partner

    assert (await stored(owner_sessions, mine))[0] == ACTIVE
    assert (await stored(owner_sessions, others))[0] == INVITED


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE partnerships SET status = 'ACTIVE' WHERE id = :id",  # resume a suspension
        "UPDATE partnerships SET role = 'VENDOR' WHERE id = :id",
        "UPDATE partnerships SET org_id = partner_org_id WHERE id = :id",
        "UPDATE partnerships SET partner_org_id = org_id WHERE id = :id",
        "DELETE FROM partnerships WHERE id = :id",
    ],
    ids=["resume", "role", "owner-key", "partner-key", "delete"],
)
async def test_rls_the_partner_cannot_make_the_owners_moves(
    app_engine: AsyncEngine, factory: Factory, owner_sessions: Sessions, statement: str
) -> None:
    owner = await factory.organisation("RlsPsMoveOwner")
    partner = await factory.organisation("RlsPsMovePartner")
    global_id = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.SUSPENDED)
    before = await stored(owner_sessions, global_id)

    with pytest.raises(DBAPIError, match=r"permission denied|partner side may only"):
        async with app_engine.begin() as connection:
            await enter(connection, partner)
            await connection.execute(text(statement), {"id": decode_any_id(global_id)[1]})

    assert await stored(owner_sessions, global_id) == before


async def test_rls_a_third_organisation_can_neither_read_nor_update(
    app_engine: AsyncEngine, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("RlsPsThirdOwner")
    partner = await factory.organisation("RlsPsThirdPartner")
    stranger = await factory.organisation("RlsPsStranger")
    global_id = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.ACTIVE)

    async with app_engine.begin() as connection:
        await enter(connection, stranger)
        assert await connection.scalar(text("SELECT count(*) FROM partnerships")) == 0
        assert await sql_status(connection, global_id, ENDED) == 0
        names = set(await connection.scalars(text("SELECT name FROM organisations")))
        assert names == {stranger.name}

    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_engine.begin() as connection:
            await enter(connection, stranger)
            await connection.execute(
                text(
                    "INSERT INTO partnerships (org_id, id, partner_org_id, role, status) "
                    "VALUES (:owner, :id, :partner, 'VENDOR', 'ACTIVE')"
                ),
                {"owner": owner.id, "id": uuid.uuid4(), "partner": stranger.id},
            )

    assert (await stored(owner_sessions, global_id))[0] == ACTIVE


async def test_rls_a_partnership_with_oneself_is_refused(
    app_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("RlsPsSelf")

    with pytest.raises(DBAPIError, match="ck_partnerships_not_self"):
        async with app_engine.begin() as connection:
            await enter(connection, org)
            await connection.execute(
                text(
                    "INSERT INTO partnerships (org_id, id, partner_org_id, role, status) "
                    "VALUES (:org, :id, :org, 'VENDOR', 'INVITED')"
                ),
                {"org": org.id, "id": uuid.uuid4()},
            )
