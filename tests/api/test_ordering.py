"""Ordering is total and meaningful: every row appears exactly once across pages, in order."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from hub.cases.models import CasePriority
from tests import tokens
from tests.factories import Factory

CLOSE_DATES = [date(2027, 3, 1), None, date(2027, 1, 15), None, date(2027, 2, 1), None]


async def _all_pages(
    client: httpx.AsyncClient, token: str, field: str, arguments: str, selection: str
) -> list[dict[str, Any]]:
    """Every node of a connection, read two at a time."""
    query = f"""query($after: String) {{ {field}(first: 2, after: $after, {arguments})
        {{ edges {{ node {{ {selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        response = await tokens.graphql(client, token, query, {"after": after})
        body = response.json()
        assert "errors" not in body, body
        connection = body["data"][field]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("ASC", ["2027-01-15", "2027-02-01", "2027-03-01", None, None, None]),
        ("DESC", [None, None, None, "2027-03-01", "2027-02-01", "2027-01-15"]),
    ],
)
async def test_rows_without_a_close_date_are_paged_too(
    client: httpx.AsyncClient, factory: Factory, direction: str, expected: list[str | None]
) -> None:
    org = await factory.organisation("Close dates")
    customer = await factory.customer(org, "Initech")
    await factory.opportunities(org, customer, len(CLOSE_DATES), close_dates=CLOSE_DATES)
    token = await tokens.client_credentials(client, org.client)

    nodes = await _all_pages(
        client,
        token,
        "opportunities",
        f"orderBy: {{field: EXPECTED_CLOSE_DATE, direction: {direction}}}",
        "name expectedCloseDate",
    )

    assert [node["expectedCloseDate"] for node in nodes] == expected
    assert sorted(node["name"] for node in nodes) == [f"Deal {i:03d}" for i in range(6)]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_cases_order_by_urgency_not_by_spelling(
    client: httpx.AsyncClient, factory: Factory, direction: str
) -> None:
    org = await factory.organisation("Priorities")
    customer = await factory.customer(org, "Initech")
    for priority in [CasePriority.NORMAL, CasePriority.URGENT, CasePriority.LOW, CasePriority.HIGH]:
        await factory.case(org, customer, priority=priority)
    token = await tokens.client_credentials(client, org.client)

    nodes = await _all_pages(
        client, token, "cases", f"orderBy: {{field: PRIORITY, direction: {direction}}}", "priority"
    )

    by_urgency = ["LOW", "NORMAL", "HIGH", "URGENT"]
    expected = by_urgency if direction == "ASC" else by_urgency[::-1]
    assert [node["priority"] for node in nodes] == expected
