"""Every audit event carries its context: actor, organisation, request id, time, source address.

One request of each family that the ledger records — a token issued, refused and revoked, a CRM
mutation, a partnership change — is sent over HTTP, and the event it left is read back as the
database owner by the request id the response carried. httpx's ASGI transport presents the
caller as 127.0.0.1, so that is the source address each event must name.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from hub.audit.models import HUB_ORG
from tests import tokens
from tests.api.test_partnerships import INVITE, token_of
from tests.factories import Factory, Org
from tests.sharing import ERRORS, Sessions

SOURCE = "127.0.0.1"

CREATE_CUSTOMER = f"""mutation ($input: CreateCustomerInput!) {{ createCustomer(input: $input) {{
    customer {{ id }} {ERRORS} }} }}"""


async def events_of(sessions: Sessions, request_id: str) -> list[dict[str, Any]]:
    """The events a request left, in any chain, as stored."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT org_id, type, actor_org_id, actor_user_id, actor_client_id, request_id,"
                " host(source_address) AS source_address, created_at FROM audit_events"
                " WHERE request_id = :request ORDER BY org_id, seq"
            ),
            {"request": request_id},
        )
        return [dict(row) for row in rows.mappings()]


def assert_context(event: dict[str, Any], org: Org, request_id: str) -> None:
    assert event["org_id"] == org.id
    assert event["actor_org_id"] == org.id
    assert event["actor_client_id"] == org.client.client_id
    assert event["request_id"] == request_id
    assert event["source_address"] == SOURCE
    assert abs(datetime.now(UTC) - event["created_at"]) < timedelta(minutes=1)


async def test_issuing_and_revoking_a_token_record_who_when_and_from_where(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("Context")
    credentials = (org.client.client_id, org.client.client_secret)

    issued = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    assert issued.status_code == 200
    revoked = await client.post(
        "/oauth/revoke", data={"token": issued.json()["access_token"]}, auth=credentials
    )
    assert revoked.status_code == 200

    for response, event_type in ((issued, "token.issued"), (revoked, "token.revoked")):
        request_id = response.headers["x-request-id"]
        [event] = await events_of(owner_sessions, request_id)
        assert event["type"] == event_type
        assert_context(event, org, request_id)


async def test_a_refused_token_records_the_request_and_its_source_under_the_hub(
    client: httpx.AsyncClient, owner_sessions: Sessions
) -> None:
    response = await tokens.graphql(client, "forged.token.value", "{ viewer { clientId } }")
    assert response.status_code == 401

    request_id = response.headers["x-request-id"]
    [event] = await events_of(owner_sessions, request_id)
    assert event["type"] == "token.refused"
    assert event["org_id"] == HUB_ORG
    assert event["request_id"] == request_id
    assert event["source_address"] == SOURCE


async def test_a_mutation_and_a_partnership_change_record_their_actor_and_request(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    owner = await factory.organisation("ContextOwner")
    partner = await factory.organisation("ContextPartner")
    token = await token_of(client, owner)

    created = await tokens.graphql(
        client, token, CREATE_CUSTOMER, {"input": {"name": f"Context {uuid.uuid4().hex[:6]}"}}
    )
    invited = await tokens.graphql(
        client, token, INVITE, {"input": {"partnerSlug": partner.slug, "role": "RESELLER"}}
    )

    for response, event_type in ((created, "record.created"), (invited, "partnership.invited")):
        assert response.status_code == 200
        assert "errors" not in response.json(), response.text
        request_id = response.headers["x-request-id"]
        [event] = await events_of(owner_sessions, request_id)
        assert event["type"] == event_type
        assert_context(event, owner, request_id)
