"""The retention policy over HTTP with real tokens: read, set, refuse, audit.

Covers: anonymous (UNAUTHENTICATED), a token without `privacy:manage` (FORBIDDEN, nothing
written), a partner (its own organisation's policy only, never the owner's), allowed changes
recorded as `retention.changed` with a from/to diff, and bad input answered with userErrors
(or, for values GraphQL's `Int` itself refuses, a coded error) with nothing written.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests import tokens
from tests.factories import Factory
from tests.retention.ledger import Sessions

POLICY = "{ retentionPolicy { auditEventsDays closedRecordsDays updatedAt } }"
SET = """mutation ($input: SetRetentionPolicyInput!) { setRetentionPolicy(input: $input) {
    retentionPolicy { auditEventsDays closedRecordsDays updatedAt }
    userErrors { field message code } } }"""
EVERYTHING_BUT_PRIVACY = (
    "customers:read customers:write opportunities:read opportunities:write deals:register "
    "cases:read cases:write partners:read partners:manage audit:read"
)


async def stored(sessions: Sessions, org_id: uuid.UUID) -> tuple[Any, ...] | None:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT audit_events_days, closed_records_days FROM retention_policies"
                    " WHERE org_id = :org"
                ),
                {"org": org_id},
            )
        ).one_or_none()
    return None if row is None else tuple(row)


async def changes(sessions: Sessions, org_id: uuid.UUID) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT details FROM audit_events WHERE org_id = :org"
                " AND type = 'retention.changed' ORDER BY seq"
            ),
            {"org": org_id},
        )
        return list(rows.all())


async def test_an_admin_reads_and_sets_the_policy_and_the_change_is_audited(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("Keeper")
    token = await tokens.client_credentials(client, org.client, "privacy:manage")

    empty = await tokens.graphql(client, token, POLICY)
    assert empty.json() == {
        "data": {
            "retentionPolicy": {
                "auditEventsDays": None,
                "closedRecordsDays": None,
                "updatedAt": None,
            }
        }
    }
    first = await tokens.graphql(
        client, token, SET, {"input": {"auditEventsDays": 365, "closedRecordsDays": 730}}
    )
    payload = first.json()["data"]["setRetentionPolicy"]
    assert payload["userErrors"] == []
    assert payload["retentionPolicy"]["auditEventsDays"] == 365
    assert payload["retentionPolicy"]["updatedAt"] is not None

    # Left out: unchanged; null: forever.
    second = await tokens.graphql(client, token, SET, {"input": {"auditEventsDays": None}})
    assert second.json()["data"]["setRetentionPolicy"]["retentionPolicy"] == {
        "auditEventsDays": None,
        "closedRecordsDays": 730,
        "updatedAt": second.json()["data"]["setRetentionPolicy"]["retentionPolicy"]["updatedAt"],
    }
    # The same again changes nothing and records nothing.
    await tokens.graphql(client, token, SET, {"input": {"closedRecordsDays": 730}})

    read = await tokens.graphql(client, token, POLICY)
    assert read.json()["data"]["retentionPolicy"]["closedRecordsDays"] == 730
    assert await stored(owner_sessions, org.id) == (None, 730)
    assert await changes(owner_sessions, org.id) == [
        {
            "audit_events_days": {"from": None, "to": 365},
            "closed_records_days": {"from": None, "to": 730},
        },
        {"audit_events_days": {"from": 365, "to": None}},
    ]


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"auditEventsDays": -1}, "auditEventsDays", "OUT_OF_RANGE"),
        ({"auditEventsDays": 0}, "auditEventsDays", "OUT_OF_RANGE"),
        ({"closedRecordsDays": 29}, "closedRecordsDays", "OUT_OF_RANGE"),
        ({"closedRecordsDays": 36_501}, "closedRecordsDays", "OUT_OF_RANGE"),
        ({"auditEventsDays": 2_000_000_000}, "auditEventsDays", "OUT_OF_RANGE"),
    ],
)
async def test_bad_periods_are_user_errors_and_write_nothing(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    values: dict[str, int],
    field: str,
    code: str,
) -> None:
    org = await factory.organisation("Picky")
    token = await tokens.client_credentials(client, org.client, "privacy:manage")
    response = await tokens.graphql(
        client, token, SET, {"input": {"auditEventsDays": 90, **values}}
    )
    assert response.status_code == 200
    payload = response.json()["data"]["setRetentionPolicy"]
    assert payload["retentionPolicy"] is None
    [error] = payload["userErrors"]
    assert error["field"] == ["input", field] and error["code"] == code
    assert "between 30 and 36,500 days" in error["message"]
    assert await stored(owner_sessions, org.id) is None
    assert await changes(owner_sessions, org.id) == []


@pytest.mark.parametrize("value", ["ninety", 90.5, True, [90], {"days": 90}, 2**40, "90"])
async def test_values_that_are_no_whole_number_are_refused_with_a_clear_error(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, value: object
) -> None:
    org = await factory.organisation("Typed")
    token = await tokens.client_credentials(client, org.client, "privacy:manage")
    response = await tokens.graphql(client, token, SET, {"input": {"auditEventsDays": value}})
    assert response.status_code in (200, 400)
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert "auditEventsDays" in error["message"] and "Int" in error["message"]
    assert await stored(owner_sessions, org.id) is None


async def test_without_privacy_manage_the_policy_is_neither_read_nor_changed(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("Scoped")
    token = await tokens.client_credentials(client, org.client, EVERYTHING_BUT_PRIVACY)
    for query, variables in ((POLICY, None), (SET, {"input": {"auditEventsDays": 60}})):
        response = await tokens.graphql(client, token, query, variables)
        assert response.status_code == 200
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["FORBIDDEN"]
    assert await stored(owner_sessions, org.id) is None


async def test_anonymous_callers_are_unauthenticated(client: httpx.AsyncClient) -> None:
    for query in (POLICY, SET):
        response = await client.post(
            "/graphql", json={"query": query, "variables": {"input": {"auditEventsDays": 60}}}
        )
        body = response.json()
        assert body.get("data") is None or body["data"] == {}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_a_partner_reads_and_sets_only_its_own_organisations_policy(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner, partner = await factory.organisation("RetOwner"), await factory.organisation("RetPart")
    owner_token = await tokens.client_credentials(client, owner.client, "privacy:manage")
    partner_token = await tokens.client_credentials(client, partner.client, "privacy:manage")
    await tokens.graphql(client, owner_token, SET, {"input": {"auditEventsDays": 400}})

    seen = await tokens.graphql(client, partner_token, POLICY)
    await tokens.graphql(client, partner_token, SET, {"input": {"auditEventsDays": 31}})

    assert seen.json()["data"]["retentionPolicy"]["auditEventsDays"] is None
    assert await stored(owner_sessions, owner.id) == (400, None)
    assert await stored(owner_sessions, partner.id) == (31, None)


async def test_setting_what_is_already_there_writes_and_records_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("Unchanged")
    token = await tokens.client_credentials(client, org.client, "privacy:manage")
    for values in ({}, {"auditEventsDays": None}, {"closedRecordsDays": None}):
        response = await tokens.graphql(client, token, SET, {"input": values})
        assert response.json()["data"]["setRetentionPolicy"] == {
            "retentionPolicy": {
                "auditEventsDays": None,
                "closedRecordsDays": None,
                "updatedAt": None,
            },
            "userErrors": [],
        }
    assert await stored(owner_sessions, org.id) is None
    assert await changes(owner_sessions, org.id) == []
