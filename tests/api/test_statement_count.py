"""No N+1: a page of opportunities with customer and owner costs the same statements at any size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import event
from starlette.applications import Starlette

from tests import tokens
from tests.factories import Factory

QUERY = """query($first: Int!) { opportunities(first: $first) { edges { node {
  name amount customer { name contacts { fullName } } owner { displayName } } } } }"""


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
