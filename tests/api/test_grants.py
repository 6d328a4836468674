"""Grants and consent over HTTP with real tokens, and the grants' second wall in PostgreSQL.

Covers: creating each selection kind (ASSIGNED, SEGMENT, EXPLICIT) with every access and purpose,
seen from the owner and from the partner; the partnership statuses that take grants; every input
error as a user error that writes nothing; bad enums; the partner side refused (FORBIDDEN) and a
third organisation or a second partner answered byte for byte like a random id; scopes; stale
versions; narrowing and widening recorded as audit diffs; revoking; the `live` filter (revoked,
expired, suspended); setConsent; and raw SQL as the application role.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from hub.audit.models import AuditEvent
from hub.customers.models import Customer
from hub.grants.models import Grant, GrantRecord
from hub.partnerships.models import PartnershipStatus
from resolvers.ids import NodeType
from tests import tokens
from tests.api.test_partnerships import END, INVITE, data, move, token_of
from tests.factories import Factory, Org
from tests.sharing import gid, sharing, uuid_of

Sessions = async_sessionmaker[AsyncSession]
END_PARTNERSHIP, INVITE_PARTNER = move(END), INVITE

GRANT_FIELDS = """id recordType access selection purpose expiresAt grantedBy grantedAt
    revokedAt revokedBy live version records partnership { id }
    segment { include { attribute values } exclude { attribute values } }
    fieldPolicy { field visibility }"""
ERRORS = "userErrors { field message code }"
CREATE = f"""mutation ($input: CreateGrantInput!) {{ createGrant(input: $input) {{
    grant {{ {GRANT_FIELDS} }} {ERRORS} }} }}"""
UPDATE = f"""mutation ($input: UpdateGrantInput!) {{ updateGrant(input: $input) {{
    grant {{ {GRANT_FIELDS} }} {ERRORS} }} }}"""
REVOKE = f"""mutation ($id: ID!) {{ revokeGrant(input: {{grantId: $id}}) {{
    grant {{ {GRANT_FIELDS} }} {ERRORS} }} }}"""
LIST = f"""query ($first: Int!, $after: String, $partnershipId: ID, $recordType: RecordType,
    $live: Boolean) {{ grants(first: $first, after: $after, partnershipId: $partnershipId,
    recordType: $recordType, live: $live) {{
    edges {{ node {{ {GRANT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on Grant {{ {GRANT_FIELDS} }} }} }}"
CONSENT = """mutation ($input: SetConsentInput!) { setConsent(input: $input) {
    customer { id consentPurposes version } userErrors { field message code } } }"""

ALL_HIDDEN = [
    {"field": field, "visibility": "HIDDEN"}
    for field in ("FULL_NAME", "EMAIL", "PHONE", "JOB_TITLE")
]


# --- helpers -------------------------------------------------------------------------------


def grant_input(partnership_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "partnershipId": partnership_id,
        "recordType": "OPPORTUNITIES",
        "access": "READ",
        "selection": "ASSIGNED",
        "purpose": "SALES",
    }
    values.update(overrides)
    return values


async def create(client: httpx.AsyncClient, token: str, **values: Any) -> dict[str, Any]:
    """Create a grant that must succeed; its node."""
    payload = (await data(client, token, CREATE, input=values))["createGrant"]
    assert payload["userErrors"] == [], payload
    return dict(payload["grant"])


async def change(
    client: httpx.AsyncClient, token: str, grant: dict[str, Any], **values: Any
) -> dict[str, Any]:
    """Update a grant from the version it was read at; the payload."""
    variables = {"grantId": grant["id"], "version": grant["version"], **values}
    return dict((await data(client, token, UPDATE, input=variables))["updateGrant"])


async def listed(client: httpx.AsyncClient, token: str, **variables: Any) -> list[dict[str, Any]]:
    page = (await data(client, token, LIST, first=50, **variables))["grants"]
    return [edge["node"] for edge in page["edges"]]


def ids(nodes: list[dict[str, Any]]) -> list[str]:
    return [node["id"] for node in nodes]


def random_grant_id() -> str:
    return gid(NodeType.GRANT, uuid.uuid4())


async def grant_count(sessions: Sessions, org: Org) -> tuple[int, int]:
    """Grants and explicit-record rows the organisation owns."""
    async with sessions() as session:
        grants = await session.scalar(
            select(func.count()).select_from(Grant).where(Grant.org_id == org.id)
        )
        records = await session.scalar(
            select(func.count()).select_from(GrantRecord).where(GrantRecord.org_id == org.id)
        )
    return int(grants or 0), int(records or 0)


async def stored(sessions: Sessions, global_id: str) -> Grant:
    async with sessions() as session:
        return (await session.scalars(select(Grant).where(Grant.id == uuid_of(global_id)))).one()


async def stored_records(sessions: Sessions, global_id: str) -> set[uuid.UUID]:
    async with sessions() as session:
        rows = await session.scalars(
            select(GrantRecord.record_id).where(GrantRecord.grant_id == uuid_of(global_id))
        )
        return set(rows)


async def events(sessions: Sessions, org: Org, prefix: str = "grant.") -> list[AuditEvent]:
    """The organisation's audit events of one family, oldest first, read as the owner role."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org.id, AuditEvent.type.startswith(prefix))
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
        return list(rows)


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


def graphql_codes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [error["extensions"]["code"] for error in response.json()["errors"]]


# --- creating ------------------------------------------------------------------------------


async def test_each_selection_kind_with_each_access_and_purpose(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner, "Initech AG")
    case = await factory.case(s.owner, customer)

    assigned = await create(client, s.owner_token, **grant_input(s.partnership_id))
    segment = await create(
        client,
        s.owner_token,
        **grant_input(
            s.partnership_id,
            recordType="CUSTOMERS",
            access="CONTRIBUTE",
            selection="SEGMENT",
            purpose="MARKETING",
            segment=[
                {"attribute": "region", "values": ["EMEA", "APAC"]},
                {"attribute": "lifecycleStage", "values": ["SUSPECT"], "negated": True},
            ],
            fieldPolicy=[
                {"field": "EMAIL", "visibility": "MASKED"},
                {"field": "FULL_NAME", "visibility": "VISIBLE"},
            ],
            expiresAt=in_days(30),
        ),
    )
    explicit = await create(
        client,
        s.owner_token,
        **grant_input(
            s.partnership_id,
            recordType="CASES",
            access="WRITE",
            selection="EXPLICIT",
            purpose="SERVICE",
            recordIds=[gid(NodeType.CASE, case.id)],
        ),
    )

    assert (assigned["recordType"], assigned["access"], assigned["purpose"]) == (
        "OPPORTUNITIES",
        "READ",
        "SALES",
    )
    assert assigned["segment"] is None and assigned["records"] == []
    assert assigned["fieldPolicy"] == ALL_HIDDEN
    assert segment["segment"] == {
        "include": [{"attribute": "region", "values": ["EMEA", "APAC"]}],
        "exclude": [{"attribute": "lifecycleStage", "values": ["SUSPECT"]}],
    }
    assert segment["fieldPolicy"] == [
        {"field": "FULL_NAME", "visibility": "VISIBLE"},
        {"field": "EMAIL", "visibility": "MASKED"},
        {"field": "PHONE", "visibility": "HIDDEN"},
        {"field": "JOB_TITLE", "visibility": "HIDDEN"},
    ]
    assert segment["expiresAt"] is not None
    assert explicit["records"] == [gid(NodeType.CASE, case.id)]
    assert await stored_records(owner_sessions, explicit["id"]) == {case.id}
    for node in (assigned, segment, explicit):
        assert node["partnership"] == {"id": s.partnership_id}
        assert node["grantedBy"] == f"client:{s.owner.client.client_id}"
        assert (node["live"], node["version"], node["revokedAt"], node["revokedBy"]) == (
            True,
            1,
            None,
            None,
        )

    # Both sides see all three, the partner with the explicit records it was given.
    made = [assigned, segment, explicit]
    assert await listed(client, s.owner_token) == made
    assert await listed(client, s.partner_token) == made
    for node in made:
        assert (await data(client, s.partner_token, NODE, id=node["id"]))["node"] == node

    trail = await events(owner_sessions, s.owner)
    assert [event.type for event in trail] == ["grant.created"] * 3
    details = trail[2].details
    assert details["grant_id"] == str(uuid_of(explicit["id"]))
    assert details["partnership_id"] == str(uuid_of(s.partnership_id))
    assert details["partner_org_id"] == str(s.partner.id)
    assert (details["record_type"], details["selection"], details["access"]) == (
        "CASES",
        "EXPLICIT",
        "WRITE",
    )
    assert details["recordIds"] == [str(case.id)]
    assert trail[1].details["fieldPolicy"]["email"] == "MASKED"
    assert await events(owner_sessions, s.partner) == []


@pytest.mark.parametrize(
    "status",
    [PartnershipStatus.INVITED, PartnershipStatus.SUSPENDED],
    ids=["invited", "suspended"],
)
async def test_a_partnership_not_yet_or_not_now_active_takes_grants_that_are_not_live(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, status: PartnershipStatus
) -> None:
    s = await sharing(client, factory, owner_sessions, status)

    node = await create(client, s.owner_token, **grant_input(s.partnership_id))

    assert node["live"] is False
    assert ids(await listed(client, s.owner_token, live=False)) == [node["id"]]


async def test_an_ended_partnership_takes_no_grant(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions, PartnershipStatus.ENDED)

    payload = (await data(client, s.owner_token, CREATE, input=grant_input(s.partnership_id)))[
        "createGrant"
    ]

    assert payload["grant"] is None
    assert codes(payload) == [(["input", "partnershipId"], "INVALID_TRANSITION")]
    assert await grant_count(owner_sessions, s.owner) == (0, 0)
    assert await events(owner_sessions, s.owner) == []


async def test_input_errors_are_user_errors_that_write_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner)
    [opportunity] = await factory.opportunities(s.owner, customer, 1)
    other = await factory.organisation("GrOther")
    foreign = await factory.customer(other, "Not Yours Ltd")
    mine = gid(NodeType.CUSTOMER, customer.id)
    explicit = {"recordType": "CUSTOMERS", "selection": "EXPLICIT"}
    segment = {"recordType": "CUSTOMERS", "selection": "SEGMENT"}
    region = [{"attribute": "region", "values": ["EMEA"]}]
    cases: list[tuple[str, dict[str, Any], list[tuple[list[str], str]]]] = [
        ("segment on ASSIGNED", {"segment": region}, [(["input", "segment"], "INVALID")]),
        ("missing segment", segment, [(["input", "segment"], "REQUIRED")]),
        ("empty segment", {**segment, "segment": []}, [(["input", "segment"], "REQUIRED")]),
        (
            "unknown attribute",
            {**segment, "segment": [*region, {"attribute": "shoeSize", "values": ["42"]}]},
            [(["input", "segment", "1"], "INVALID")],
        ),
        (
            "unknown value",
            {**segment, "segment": [{"attribute": "size", "values": ["HUGE"]}]},
            [(["input", "segment", "0"], "INVALID")],
        ),
        (
            "attribute of another record type",
            {**segment, "segment": [{"attribute": "stage", "values": ["PROPOSAL"]}]},
            [(["input", "segment", "0"], "INVALID")],
        ),
        ("records on ASSIGNED", {"recordIds": [mine]}, [(["input", "recordIds"], "INVALID")]),
        ("missing records", explicit, [(["input", "recordIds"], "REQUIRED")]),
        ("no records", {**explicit, "recordIds": []}, [(["input", "recordIds"], "OUT_OF_RANGE")]),
        (
            "501 records",
            {**explicit, "recordIds": [mine] * 501},
            [(["input", "recordIds"], "OUT_OF_RANGE")],
        ),
        (
            "another organisation's record",
            {**explicit, "recordIds": [mine, gid(NodeType.CUSTOMER, foreign.id)]},
            [(["input", "recordIds", "1"], "NOT_FOUND")],
        ),
        (
            "a record of another type",
            {**explicit, "recordIds": [gid(NodeType.OPPORTUNITY, opportunity.id), mine]},
            [(["input", "recordIds", "0"], "NOT_FOUND")],
        ),
        (
            "another type's uuid under this type's name",
            {**explicit, "recordIds": [mine, gid(NodeType.CUSTOMER, opportunity.id)]},
            [(["input", "recordIds", "1"], "NOT_FOUND")],
        ),
        (
            "malformed record ids",
            {**explicit, "recordIds": ["garbage", mine, "", gid(NodeType.USER, uuid.uuid4())]},
            [
                (["input", "recordIds", "0"], "NOT_FOUND"),
                (["input", "recordIds", "2"], "NOT_FOUND"),
                (["input", "recordIds", "3"], "NOT_FOUND"),
            ],
        ),
        (
            "a repeated record",
            {**explicit, "recordIds": [mine, mine]},
            [(["input", "recordIds", "1"], "DUPLICATE")],
        ),
        (
            "a repeated field rule",
            {
                "fieldPolicy": [
                    {"field": "EMAIL", "visibility": "MASKED"},
                    {"field": "PHONE", "visibility": "MASKED"},
                    {"field": "EMAIL", "visibility": "VISIBLE"},
                ]
            },
            [(["input", "fieldPolicy", "2"], "DUPLICATE")],
        ),
        ("past expiry", {"expiresAt": in_days(-1)}, [(["input", "expiresAt"], "OUT_OF_RANGE")]),
        (
            "expiry past year 9999 in UTC",
            {"expiresAt": "9999-12-31T23:59:59-12:00"},
            [(["input", "expiresAt"], "OUT_OF_RANGE")],
        ),
        (
            "expiry without a time zone",
            {"expiresAt": "2999-01-01T00:00:00"},
            [(["input", "expiresAt"], "INVALID")],
        ),
        (
            "several at once",
            {**segment, "expiresAt": in_days(-1), "recordIds": [mine]},
            [
                (["input", "segment"], "REQUIRED"),
                (["input", "recordIds"], "INVALID"),
                (["input", "expiresAt"], "OUT_OF_RANGE"),
            ],
        ),
        (
            "malformed partnership",
            {"partnershipId": "nope"},
            [(["input", "partnershipId"], "NOT_FOUND")],
        ),
        (
            "a customer id as partnership",
            {"partnershipId": mine},
            [(["input", "partnershipId"], "NOT_FOUND")],
        ),
    ]

    for name, overrides, expected in cases:
        payload = (
            await data(
                client, s.owner_token, CREATE, input=grant_input(s.partnership_id, **overrides)
            )
        )["createGrant"]
        assert payload["grant"] is None, name
        assert codes(payload) == expected, name

    assert await grant_count(owner_sessions, s.owner) == (0, 0)
    assert await events(owner_sessions, s.owner) == []


async def test_a_foreign_record_reads_exactly_like_a_missing_one(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    foreign = await factory.customer(await factory.organisation("GrElse"), "Secret Corp")

    answers = [
        (
            await tokens.graphql(
                client,
                s.owner_token,
                CREATE,
                {
                    "input": grant_input(
                        s.partnership_id,
                        recordType="CUSTOMERS",
                        selection="EXPLICIT",
                        recordIds=[gid(NodeType.CUSTOMER, record_id)],
                    )
                },
            )
        ).content
        for record_id in (foreign.id, uuid.uuid4())
    ]

    assert answers[0] == answers[1]
    assert b"NOT_FOUND" in answers[0]


@pytest.mark.parametrize(
    ("override", "literal"),
    [
        ({"recordType": "LEADS"}, None),
        ({"access": "ADMIN"}, None),
        ({"selection": "EVERYTHING"}, None),
        ({"purpose": "RESALE"}, None),
        ({"fieldPolicy": [{"field": "SSN", "visibility": "VISIBLE"}]}, None),
        ({"fieldPolicy": [{"field": "EMAIL", "visibility": "SHOUTED"}]}, None),
        ({"expiresAt": "next tuesday"}, None),
        ({"segment": [{"attribute": "region"}]}, None),
        (None, "{ grants(first: 5, recordType: LEADS) { edges { node { id } } } }"),
    ],
    ids=[
        "record-type",
        "access",
        "selection",
        "purpose",
        "field",
        "visibility",
        "expiry",
        "condition-without-values",
        "list-literal",
    ],
)
async def test_bad_enums_and_shapes_are_clear_errors(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    override: dict[str, Any] | None,
    literal: str | None,
) -> None:
    s = await sharing(client, factory, owner_sessions)
    if literal is None:
        variables = {"input": grant_input(s.partnership_id, **(override or {}))}
        response = await tokens.graphql(client, s.owner_token, CREATE, variables)
    else:
        response = await tokens.graphql(client, s.owner_token, literal)

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] in (
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",
    )
    assert await grant_count(owner_sessions, s.owner) == (0, 0)


# --- who may ------------------------------------------------------------------------------


async def test_the_partner_side_can_read_but_never_change(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(client, s.owner_token, **grant_input(s.partnership_id))
    before = (await stored(owner_sessions, grant["id"])).version
    requests: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"input": grant_input(s.partnership_id)}),
        (UPDATE, {"input": {"grantId": grant["id"], "version": 1, "access": "WRITE"}}),
        (REVOKE, {"id": grant["id"]}),
    ]

    for query, variables in requests:
        response = await tokens.graphql(client, s.partner_token, query, variables)
        assert graphql_codes(response) == ["FORBIDDEN"], query
        assert response.json()["data"] is None

    stored_grant = await stored(owner_sessions, grant["id"])
    assert (stored_grant.version, stored_grant.access.value) == (before, "READ")
    assert stored_grant.revoked_at is None
    assert await grant_count(owner_sessions, s.owner) == (1, 0)
    assert await grant_count(owner_sessions, s.partner) == (0, 0)
    assert [event.type for event in await events(owner_sessions, s.owner)] == ["grant.created"]
    assert await events(owner_sessions, s.partner) == []


async def test_a_third_organisation_gets_exactly_the_answer_of_a_random_id(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(client, s.owner_token, **grant_input(s.partnership_id))
    stranger = await factory.organisation("GrStranger")
    token = await token_of(client, stranger)
    random_partnership = gid(NodeType.PARTNERSHIP, uuid.uuid4())

    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (NODE, {"id": grant["id"]}, {"id": random_grant_id()}),
        (REVOKE, {"id": grant["id"]}, {"id": random_grant_id()}),
        (
            UPDATE,
            {"input": {"grantId": grant["id"], "version": 1, "access": "WRITE"}},
            {"input": {"grantId": random_grant_id(), "version": 1, "access": "WRITE"}},
        ),
        (
            CREATE,
            {"input": grant_input(s.partnership_id)},
            {"input": grant_input(random_partnership)},
        ),
    ]
    for query, real_variables, absent_variables in pairs:
        real = await tokens.graphql(client, token, query, real_variables)
        absent = await tokens.graphql(client, token, query, absent_variables)
        assert (real.status_code, real.content) == (absent.status_code, absent.content), query
        assert b"NOT_FOUND" in real.content or real.json() == {"data": {"node": None}}

    assert await listed(client, token) == []
    assert await listed(client, token, partnershipId=s.partnership_id) == []
    assert (await stored(owner_sessions, grant["id"])).version == 1
    assert await grant_count(owner_sessions, stranger) == (0, 0)


async def test_a_second_partner_never_sees_the_first_partners_grants(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    customer = await factory.customer(first.owner)
    to_first = await create(
        client,
        first.owner_token,
        **grant_input(
            first.partnership_id,
            recordType="CUSTOMERS",
            selection="EXPLICIT",
            recordIds=[gid(NodeType.CUSTOMER, customer.id)],
        ),
    )
    to_second = await create(client, first.owner_token, **grant_input(second.partnership_id))

    seen = await listed(client, second.partner_token)
    assert ids(seen) == [to_second["id"]]
    assert first.partner.name not in json.dumps(seen)
    assert await listed(client, second.partner_token, partnershipId=first.partnership_id) == []
    real = await tokens.graphql(client, second.partner_token, NODE, {"id": to_first["id"]})
    absent = await tokens.graphql(client, second.partner_token, NODE, {"id": random_grant_id()})
    assert real.content == absent.content == b'{"data":{"node":null}}'
    assert ids(await listed(client, first.partner_token)) == [to_first["id"]]
    # The owner sees both, and can narrow to one partnership.
    assert ids(await listed(client, first.owner_token)) == [to_first["id"], to_second["id"]]
    by_partnership = await listed(client, first.owner_token, partnershipId=second.partnership_id)
    assert ids(by_partnership) == [to_second["id"]]


async def test_scopes(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(client, s.owner_token, **grant_input(s.partnership_id))
    no_partner_scopes = await token_of(client, s.owner, "customers:read customers:write")
    reader = await token_of(client, s.owner, "partners:read")

    for query, variables in [
        (LIST, {"first": 5}),
        (NODE, {"id": grant["id"]}),
        (CREATE, {"input": grant_input(s.partnership_id)}),
        (REVOKE, {"id": grant["id"]}),
    ]:
        response = await tokens.graphql(client, no_partner_scopes, query, variables)
        assert graphql_codes(response) == ["FORBIDDEN"], query

    assert ids(await listed(client, reader)) == [grant["id"]]
    for query, variables in [
        (CREATE, {"input": grant_input(s.partnership_id)}),
        (UPDATE, {"input": {"grantId": grant["id"], "version": 1, "access": "WRITE"}}),
        (REVOKE, {"id": grant["id"]}),
    ]:
        response = await tokens.graphql(client, reader, query, variables)
        assert graphql_codes(response) == ["FORBIDDEN"], query
    assert await grant_count(owner_sessions, s.owner) == (1, 0)

    anonymous = await client.post("/graphql", json={"query": LIST, "variables": {"first": 5}})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- updating -----------------------------------------------------------------------------


async def test_a_stale_version_is_refused(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(client, s.owner_token, **grant_input(s.partnership_id))
    first = await change(client, s.owner_token, grant, access="CONTRIBUTE")
    assert first["userErrors"] == [] and first["grant"]["version"] == 2

    stale = await change(client, s.owner_token, grant, access="WRITE")

    assert stale["grant"] is None
    assert codes(stale) == [(["input", "version"], "STALE")]
    assert (await stored(owner_sessions, grant["id"])).access.value == "CONTRIBUTE"
    assert len(await events(owner_sessions, s.owner, "grant.updated")) == 1


async def test_narrowing_and_widening_are_recorded_as_diffs(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(
        client,
        s.owner_token,
        **grant_input(s.partnership_id, fieldPolicy=[{"field": "EMAIL", "visibility": "VISIBLE"}]),
    )
    in_a_week, in_a_month = in_days(7), in_days(30)
    steps: list[tuple[dict[str, Any], str, dict[str, str]]] = [
        ({"access": "WRITE"}, "WIDENED", {"access": "WIDENED"}),
        (
            {"access": "CONTRIBUTE", "expiresAt": in_a_month},
            "NARROWED",
            {
                "access": "NARROWED",
                "expiresAt": "NARROWED",
            },
        ),
        ({"expiresAt": in_a_week}, "NARROWED", {"expiresAt": "NARROWED"}),
        ({"expiresAt": None}, "WIDENED", {"expiresAt": "WIDENED"}),
        (
            {"fieldPolicy": [{"field": "EMAIL", "visibility": "MASKED"}]},
            "NARROWED",
            {"fieldPolicy": "NARROWED"},
        ),
        (
            {
                "fieldPolicy": [
                    {"field": "PHONE", "visibility": "VISIBLE"},
                    {"field": "EMAIL", "visibility": "HIDDEN"},
                ]
            },
            "CHANGED",
            {"fieldPolicy": "CHANGED"},
        ),
        ({"purpose": "SERVICE"}, "CHANGED", {"purpose": "CHANGED"}),
        (
            {"access": "READ", "purpose": "SALES"},
            "CHANGED",
            {
                "access": "NARROWED",
                "purpose": "CHANGED",
            },
        ),
    ]

    for values, direction, per_field in steps:
        payload = await change(client, s.owner_token, grant, **values)
        assert payload["userErrors"] == [], values
        assert payload["grant"]["version"] == grant["version"] + 1
        grant = payload["grant"]
        [event] = (await events(owner_sessions, s.owner, "grant.updated"))[-1:]
        assert event.details["direction"] == direction, values
        assert {
            name: diff["direction"] for name, diff in event.details["changes"].items()
        } == per_field
        assert event.details["version"] == grant["version"]

    trail = await events(owner_sessions, s.owner, "grant.updated")
    assert len(trail) == len(steps)
    assert trail[0].details["changes"]["access"] == {
        "before": "READ",
        "after": "WRITE",
        "direction": "WIDENED",
    }
    assert trail[3].details["changes"]["expiresAt"]["after"] is None
    assert trail[5].details["changes"]["fieldPolicy"] == {
        "before": {
            "fullName": "HIDDEN",
            "email": "MASKED",
            "phone": "HIDDEN",
            "jobTitle": "HIDDEN",
        },
        "after": {
            "fullName": "HIDDEN",
            "email": "HIDDEN",
            "phone": "VISIBLE",
            "jobTitle": "HIDDEN",
        },
        "direction": "CHANGED",
    }
    assert grant["fieldPolicy"][2] == {"field": "PHONE", "visibility": "VISIBLE"}
    assert grant["expiresAt"] is None and grant["access"] == "READ"

    # Changing nothing writes nothing.
    same = await change(client, s.owner_token, grant, access="READ", purpose="SALES")
    assert same["userErrors"] == [] and same["grant"]["version"] == grant["version"]
    assert len(await events(owner_sessions, s.owner, "grant.updated")) == len(steps)


async def test_explicit_records_and_segments_change(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customers = [await factory.customer(s.owner, f"Customer {index}") for index in range(3)]
    a, b, c = (gid(NodeType.CUSTOMER, customer.id) for customer in customers)
    explicit = await create(
        client,
        s.owner_token,
        **grant_input(
            s.partnership_id, recordType="CUSTOMERS", selection="EXPLICIT", recordIds=[a, b]
        ),
    )

    for record_ids, direction in (([a], "NARROWED"), ([a, b, c], "WIDENED"), ([c], "NARROWED")):
        payload = await change(client, s.owner_token, explicit, recordIds=record_ids)
        assert payload["userErrors"] == [], record_ids
        explicit = payload["grant"]
        assert sorted(explicit["records"]) == sorted(record_ids)
        assert await stored_records(owner_sessions, explicit["id"]) == {
            uuid_of(record_id) for record_id in record_ids
        }
        event = (await events(owner_sessions, s.owner, "grant.updated"))[-1]
        assert event.details["changes"]["recordIds"]["direction"] == direction
    swapped = await change(client, s.owner_token, explicit, recordIds=[a])
    assert swapped["userErrors"] == []
    event = (await events(owner_sessions, s.owner, "grant.updated"))[-1]
    assert event.details["changes"]["recordIds"] == {
        "before": [str(customers[2].id)],
        "after": [str(customers[0].id)],
        "direction": "CHANGED",
    }
    # No name, address or other personal data of the customers reaches the trail.
    trail = json.dumps([event.details for event in await events(owner_sessions, s.owner)])
    assert "Customer 0" not in trail and "carla" not in trail

    segment = await create(
        client,
        s.owner_token,
        **grant_input(
            s.partnership_id,
            selection="SEGMENT",
            segment=[{"attribute": "stage", "values": ["PROPOSAL"]}],
        ),
    )
    payload = await change(
        client,
        s.owner_token,
        segment,
        segment=[{"attribute": "stage", "values": ["CLOSED_LOST"], "negated": True}],
    )
    assert payload["grant"]["segment"] == {
        "include": [],
        "exclude": [{"attribute": "stage", "values": ["CLOSED_LOST"]}],
    }
    event = (await events(owner_sessions, s.owner, "grant.updated"))[-1]
    assert event.details["direction"] == "CHANGED"
    assert event.details["changes"]["segment"]["before"] == {
        "include": {"stage": ["PROPOSAL"]},
        "exclude": {},
    }


async def test_update_input_errors_write_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    customer = await factory.customer(s.owner)
    foreign = await factory.customer(await factory.organisation("GrUpdOther"))
    assigned = await create(client, s.owner_token, **grant_input(s.partnership_id))
    explicit = await create(
        client,
        s.owner_token,
        **grant_input(
            s.partnership_id,
            recordType="CUSTOMERS",
            selection="EXPLICIT",
            recordIds=[gid(NodeType.CUSTOMER, customer.id)],
        ),
    )
    cases: list[tuple[dict[str, Any], dict[str, Any], list[tuple[list[str], str]]]] = [
        (
            assigned,
            {"segment": [{"attribute": "region", "values": ["EMEA"]}]},
            [(["input", "segment"], "INVALID")],
        ),
        (
            assigned,
            {"recordIds": [gid(NodeType.CUSTOMER, customer.id)]},
            [(["input", "recordIds"], "INVALID")],
        ),
        (assigned, {"access": None}, [(["input", "access"], "REQUIRED")]),
        (assigned, {"fieldPolicy": None}, [(["input", "fieldPolicy"], "REQUIRED")]),
        (assigned, {"expiresAt": in_days(-2)}, [(["input", "expiresAt"], "OUT_OF_RANGE")]),
        (explicit, {"recordIds": None}, [(["input", "recordIds"], "REQUIRED")]),
        (explicit, {"recordIds": []}, [(["input", "recordIds"], "OUT_OF_RANGE")]),
        (
            explicit,
            {
                "recordIds": [
                    gid(NodeType.CUSTOMER, customer.id),
                    gid(NodeType.CUSTOMER, foreign.id),
                ]
            },
            [(["input", "recordIds", "1"], "NOT_FOUND")],
        ),
        ({"id": "garbage", "version": 1}, {}, [(["input", "grantId"], "NOT_FOUND")]),
    ]

    for grant, values, expected in cases:
        payload = await change(client, s.owner_token, grant, **values)
        assert payload["grant"] is None, values
        assert codes(payload) == expected, values

    assert (await stored(owner_sessions, assigned["id"])).version == 1
    assert (await stored(owner_sessions, explicit["id"])).version == 1
    assert await stored_records(owner_sessions, explicit["id"]) == {customer.id}
    assert await events(owner_sessions, s.owner, "grant.updated") == []


# --- revoking and liveness ----------------------------------------------------------------


async def test_a_revoked_grant_never_changes_again(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(client, s.owner_token, **grant_input(s.partnership_id))

    revoked = (await data(client, s.owner_token, REVOKE, id=grant["id"]))["revokeGrant"]

    assert revoked["userErrors"] == []
    node = revoked["grant"]
    assert node["revokedAt"] is not None
    assert node["revokedBy"] == f"client:{s.owner.client.client_id}"
    assert (node["live"], node["version"]) == (False, 2)
    assert (await data(client, s.partner_token, NODE, id=grant["id"]))["node"] == node

    again = (await data(client, s.owner_token, REVOKE, id=grant["id"]))["revokeGrant"]
    assert codes(again) == [(["input", "grantId"], "INVALID_TRANSITION")]
    for version in (1, 2):
        updated = await change(
            client, s.owner_token, {"id": grant["id"], "version": version}, access="WRITE"
        )
        assert codes(updated) == [(["input", "grantId"], "INVALID_TRANSITION")]

    row = await stored(owner_sessions, grant["id"])
    assert (row.version, row.access.value, row.revoked_at is not None) == (2, "READ", True)
    trail = await events(owner_sessions, s.owner)
    assert [event.type for event in trail] == ["grant.created", "grant.revoked"]
    assert trail[1].details["grant_id"] == str(uuid_of(grant["id"]))


async def test_live_excludes_revoked_expired_and_suspended(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    suspended = await sharing(
        client, factory, owner_sessions, PartnershipStatus.SUSPENDED, owner=s.owner
    )
    live = await create(client, s.owner_token, **grant_input(s.partnership_id))
    later = await create(
        client,
        s.owner_token,
        **grant_input(s.partnership_id, recordType="CASES", expiresAt=in_days(1)),
    )
    revoked = await create(client, s.owner_token, **grant_input(s.partnership_id))
    await data(client, s.owner_token, REVOKE, id=revoked["id"])
    expired = await create(
        client,
        s.owner_token,
        **grant_input(s.partnership_id, recordType="CUSTOMERS", expiresAt=in_days(1)),
    )
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(Grant)
            .where(Grant.id == uuid_of(expired["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    paused = await create(client, s.owner_token, **grant_input(suspended.partnership_id))

    assert ids(await listed(client, s.owner_token, live=True)) == [live["id"], later["id"]]
    assert ids(await listed(client, s.owner_token, live=False)) == [
        revoked["id"],
        expired["id"],
        paused["id"],
    ]
    assert ids(await listed(client, s.partner_token, live=True)) == [live["id"], later["id"]]
    assert ids(await listed(client, s.partner_token, live=False)) == [revoked["id"], expired["id"]]
    assert (await data(client, s.owner_token, NODE, id=expired["id"]))["node"]["live"] is False
    filtered = await listed(client, s.owner_token, recordType="CASES", live=True)
    assert ids(filtered) == [later["id"]]

    # Every grant once, page by page.
    seen: list[str] = []
    after = None
    while True:
        page = (await data(client, s.owner_token, LIST, first=2, after=after))["grants"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids([live, later, revoked, expired, paused])


# --- consent ------------------------------------------------------------------------------


async def test_set_consent_adds_and_removes_purposes(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("GrConsent")
    customer = await factory.customer(org, "Consenting Ltd", consent_purposes=["SALES"])
    token = await token_of(client, org, "customers:write")
    global_id = gid(NodeType.CUSTOMER, customer.id)

    async def consent(purpose: str, given: bool) -> dict[str, Any]:
        variables = {"customerId": global_id, "purpose": purpose, "given": given}
        payload = (await data(client, token, CONSENT, input=variables))["setConsent"]
        assert payload["userErrors"] == [], payload
        return dict(payload["customer"])

    assert await consent("MARKETING", True) == {
        "id": global_id,
        "consentPurposes": ["MARKETING", "SALES"],
        "version": 2,
    }
    assert (await consent("SALES", False))["consentPurposes"] == ["MARKETING"]
    unchanged = await consent("SALES", False)
    assert (unchanged["consentPurposes"], unchanged["version"]) == (["MARKETING"], 3)

    async with owner_sessions() as session:
        row = (await session.scalars(select(Customer).where(Customer.id == customer.id))).one()
    assert row.consent_purposes == ["MARKETING"]
    trail = await events(owner_sessions, org, "consent.")
    assert [(event.type, event.details) for event in trail] == [
        (
            "consent.changed",
            {"customer_id": str(customer.id), "purpose": "MARKETING", "given": True},
        ),
        ("consent.changed", {"customer_id": str(customer.id), "purpose": "SALES", "given": False}),
    ]
    assert all(event.actor_client_id == org.client.client_id for event in trail)


async def test_set_consent_refusals(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("GrConsentNo")
    other = await factory.organisation("GrConsentOther")
    foreign = await factory.customer(other, "Theirs Ltd")
    mine = await factory.customer(org, "Mine Ltd")
    token = await token_of(client, org)

    def consent_input(global_id: str) -> dict[str, Any]:
        return {"input": {"customerId": global_id, "purpose": "SALES", "given": True}}

    real = await tokens.graphql(
        client, token, CONSENT, consent_input(gid(NodeType.CUSTOMER, foreign.id))
    )
    absent = await tokens.graphql(
        client, token, CONSENT, consent_input(gid(NodeType.CUSTOMER, uuid.uuid4()))
    )
    assert real.content == absent.content
    assert real.json()["data"]["setConsent"] == {
        "customer": None,
        "userErrors": [
            {"field": ["input", "customerId"], "message": "No such record.", "code": "NOT_FOUND"}
        ],
    }
    for malformed in ("garbage", gid(NodeType.OPPORTUNITY, mine.id)):
        response = await tokens.graphql(client, token, CONSENT, consent_input(malformed))
        assert response.content == absent.content

    reader = await token_of(client, org, "customers:read")
    response = await tokens.graphql(
        client, reader, CONSENT, consent_input(gid(NodeType.CUSTOMER, mine.id))
    )
    assert graphql_codes(response) == ["FORBIDDEN"]

    async with owner_sessions() as session:
        rows = await session.scalars(
            select(Customer.consent_purposes).where(Customer.id.in_([mine.id, foreign.id]))
        )
        assert list(rows) == [[], []]
    assert await events(owner_sessions, org, "consent.") == []
    assert await events(owner_sessions, other, "consent.") == []


# --- the second wall: raw SQL as the application role --------------------------------------


async def enter(connection: AsyncConnection, org: Org) -> None:
    await connection.execute(
        text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
    )


async def test_rls_a_partner_reads_only_the_grants_made_to_it(
    app_engine: AsyncEngine, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    first = await sharing(client, factory, owner_sessions)
    second = await sharing(client, factory, owner_sessions, owner=first.owner)
    customer = await factory.customer(first.owner)
    explicit = {
        "recordType": "CUSTOMERS",
        "selection": "EXPLICIT",
        "recordIds": [gid(NodeType.CUSTOMER, customer.id)],
    }
    to_first = await create(
        client, first.owner_token, **grant_input(first.partnership_id, **explicit)
    )
    to_second = await create(
        client, first.owner_token, **grant_input(second.partnership_id, **explicit)
    )
    stranger = await factory.organisation("GrRlsStranger")

    async with app_engine.begin() as connection:
        await enter(connection, first.partner)
        grants = set(await connection.scalars(text("SELECT id FROM grants")))
        records = set(await connection.scalars(text("SELECT grant_id FROM grant_records")))
        assert grants == records == {uuid_of(to_first["id"])}
        changed = await connection.execute(
            text("UPDATE grants SET access = 'WRITE', revoked_at = NULL WHERE id = ANY(:ids)"),
            {"ids": [uuid_of(to_first["id"]), uuid_of(to_second["id"])]},
        )
        assert changed.rowcount == 0
        removed = await connection.execute(text("DELETE FROM grant_records"))
        assert removed.rowcount == 0

    async with app_engine.begin() as connection:
        await enter(connection, stranger)
        assert await connection.scalar(text("SELECT count(*) FROM grants")) == 0
        assert await connection.scalar(text("SELECT count(*) FROM grant_records")) == 0

    async with app_engine.begin() as connection:
        await enter(connection, first.owner)
        assert await connection.scalar(text("SELECT count(*) FROM grants")) == 2
        assert await connection.scalar(text("SELECT count(*) FROM grant_records")) == 2

    assert (await stored(owner_sessions, to_first["id"])).access.value == "READ"
    assert await stored_records(owner_sessions, to_first["id"]) == {customer.id}


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO grants (org_id, id, partnership_id, partner_org_id, record_type, access, "
        "selection, purpose, field_policy, granted_by, version) VALUES (:owner, :new, "
        ":partnership, :partner, 'CUSTOMERS', 'WRITE', 'ASSIGNED', 'SALES', '{}', 'x', 1)",
        "INSERT INTO grant_records (org_id, id, grant_id, record_id) "
        "VALUES (:owner, :new, :grant, :new)",
    ],
    ids=["grant", "grant-record"],
)
async def test_rls_a_partner_cannot_grant_itself_anything(
    app_engine: AsyncEngine,
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    statement: str,
) -> None:
    s = await sharing(client, factory, owner_sessions)
    grant = await create(client, s.owner_token, **grant_input(s.partnership_id))

    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_engine.begin() as connection:
            await enter(connection, s.partner)
            await connection.execute(
                text(statement),
                {
                    "owner": s.owner.id,
                    "new": uuid.uuid4(),
                    "partnership": uuid_of(s.partnership_id),
                    "partner": s.partner.id,
                    "grant": uuid_of(grant["id"]),
                },
            )

    assert await grant_count(owner_sessions, s.owner) == (1, 0)


async def test_reopening_an_ended_partnership_does_not_bring_its_grants_back(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    s = await sharing(client, factory, owner_sessions)
    standing = await create(client, s.owner_token, **grant_input(s.partnership_id))
    ended = (await data(client, s.partner_token, END_PARTNERSHIP, id=s.partnership_id))[
        "endPartnership"
    ]
    assert ended["userErrors"] == []
    assert (await stored(owner_sessions, standing["id"])).revoked_at is None

    reopened = (
        await data(
            client,
            s.owner_token,
            INVITE_PARTNER,
            input={"partnerSlug": s.partner.slug, "role": "RESELLER"},
        )
    )["invitePartner"]

    assert reopened["userErrors"] == []
    assert reopened["partnership"]["id"] == s.partnership_id
    grant = await stored(owner_sessions, standing["id"])
    assert grant.revoked_at is not None
    assert grant.revoked_by == f"client:{s.owner.client.client_id}"
    revocations = [
        event.details for event in await events(owner_sessions, s.owner, "grant.revoked")
    ]
    assert revocations == [
        {
            "grant_id": str(uuid_of(standing["id"])),
            "partnership_id": str(uuid_of(s.partnership_id)),
            "partner_org_id": str(s.partner.id),
            "record_type": "OPPORTUNITIES",
            "selection": "ASSIGNED",
            "reason": "partnership_reopened",
        }
    ]
    assert await listed(client, s.owner_token, live=True) == []
