"""No N+1: a page of opportunities with customer and owner costs the same statements at any size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import event, update
from starlette.applications import Starlette

from hub.opportunities.models import Opportunity
from hub.partnerships.models import PartnershipStatus
from resolvers.ids import decode_any_id
from tests import tokens
from tests.api.test_partnerships import partnership_row
from tests.factories import Factory
from tests.sharing import CREATE_GRANT, Sessions

QUERY = """query($first: Int!) { opportunities(first: $first) { edges { node {
  name amount customer { name contacts { fullName } } owner { displayName } } } } }"""

PARTNER_QUERY = """query($first: Int!) { opportunities(first: $first) { edges { node {
  name amount internalNotes customer { name contacts { fullName email } }
  owner { displayName } } } } }"""


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def test_statement_count_does_not_grow_with_rows(
    app: Starlette, client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Count")
    customers = [await factory.customer(org, f"Customer {index}") for index in range(5)]
    for customer in customers:
        await factory.opportunities(org, customer, 10)
    token = await tokens.client_credentials(client, org.client)

    counts = {}
    for first in (5, 50):
        with counting_statements() as statements:
            response = await tokens.graphql(client, token, QUERY, {"first": first})
        edges = response.json()["data"]["opportunities"]["edges"]
        assert len(edges) == first
        counts[first] = len(statements)
    print(f"statements per request: {counts}")
    assert counts[5] == counts[50]
    # RLS setting, client check, page, customers, contacts, owners: a fixed handful.
    assert counts[5] <= 8, counts


async def test_a_partners_statement_count_does_not_grow_with_rows(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """The partner's page of shared opportunities, with customers and masked contacts."""
    owner = await factory.organisation("CountOwner")
    partner = await factory.organisation("CountPartner")
    partnership = await partnership_row(owner_sessions, owner, partner, PartnershipStatus.ACTIVE)
    customers = [
        await factory.customer(owner, f"Shared {index}", consent_purposes=["SALES"])
        for index in range(5)
    ]
    for customer in customers:
        rows = await factory.opportunities(owner, customer, 10)
        async with owner_sessions() as session, session.begin():
            await session.execute(
                update(Opportunity)
                .where(Opportunity.id.in_([row.id for row in rows]))
                .values(assigned_partnership_id=decode_any_id(partnership)[1])
            )
    owner_token = await tokens.client_credentials(client, owner.client)
    for record_type, selection in (("OPPORTUNITIES", "ASSIGNED"), ("CUSTOMERS", "ASSIGNED")):
        response = await tokens.graphql(
            client,
            owner_token,
            CREATE_GRANT,
            {
                "input": {
                    "partnershipId": partnership,
                    "recordType": record_type,
                    "access": "READ",
                    "selection": selection,
                    "purpose": "SALES",
                    "fieldPolicy": [{"field": "EMAIL", "visibility": "MASKED"}],
                }
            },
        )
        assert response.json()["data"]["createGrant"]["userErrors"] == [], response.text
    token = await tokens.client_credentials(client, partner.client)

    counts = {}
    for first in (5, 50):
        with counting_statements() as statements:
            response = await tokens.graphql(client, token, PARTNER_QUERY, {"first": first})
        edges = response.json()["data"]["opportunities"]["edges"]
        assert len(edges) == first
        assert all(
            "•" in contact["email"]
            for edge in edges
            for contact in edge["node"]["customer"]["contacts"]
        )
        counts[first] = len(statements)
    print(f"partner statements per request: {counts}")
    assert counts[5] == counts[50]
    # The owner's handful, plus the partner's live grants and the contacts' covering grants.
    assert counts[5] <= 10, counts
