"""Hot documents are answered in one statement, with the generic path's answer to the byte.

Two apps on one database: the hub as it runs (compiled reads on) and the same hub with every
document run through the resolvers. Handwritten documents here, as the owner and as partners of
each kind of grant; `tests/properties/test_compiled_reads.py` draws thousands more.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from schema import planner_of
from tests import tokens
from tests.api.test_statement_count import counting_statements
from tests.factories import Factory
from tests.sharing import Sessions, build_world

LIST = """{ opportunities(first: 5) { edges { cursor node { id name stage amount currency
  probability expectedCloseDate source nextStep internalNotes version createdAt updatedAt
  customer { id name consentPurposes lifecycleStage size region __typename } __typename } }
  pageInfo { hasNextPage endCursor startCursor hasPreviousPage } __typename } }"""
ALIASED = """query Deals($n: Int!) { deals: opportunities(first: $n, orderBy: {field: AMOUNT,
  direction: ASC}) { ...Page } }
  fragment Page on OpportunityConnection { pageInfo { more: hasNextPage } edges { node {
  ... on Opportunity { label: name } ...Bits } } }
  fragment Bits on Node { id ... on Opportunity { customer { name } } }"""
CUSTOMERS = "{ customers(first: 3) { edges { node { name createdAt country } } } }"
CASES = """{ cases(first: 4, filter: {status: OPEN}) { edges { cursor node { id subject
  description priority status firstResponseDueAt resolutionDueAt firstRespondedAt resolvedAt
  closedAt satisfactionScore version createdAt updatedAt customer { name } } } } }"""
NODE = """query ($id: ID!) { node(id: $id) { __typename id ... on Opportunity { name
  internalNotes customer { name } } ... on Customer { name domain } } }"""


async def both(
    client: httpx.AsyncClient,
    generic: httpx.AsyncClient,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> bytes:
    compiled = await tokens.graphql(client, token, query, variables)
    resolved = await tokens.graphql(generic, token, query, variables)
    assert compiled.status_code == resolved.status_code == 200, compiled.text
    assert compiled.content == resolved.content
    assert compiled.headers["content-type"] == resolved.headers["content-type"]
    return compiled.content


async def test_owner_and_partners_get_the_generic_answer_from_one_statement(
    app: Starlette,
    client: httpx.AsyncClient,
    generic: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    world = await build_world(client, factory, owner_sessions)
    planner = planner_of(app.state.schema)
    before = planner.answered
    for token in world.token.values():
        for query in (LIST, ALIASED, CUSTOMERS, CASES):
            await both(client, generic, token, query, {"n": 4})
        for name in sorted(name for name in world.ids if name[0] in "cpok"):
            await both(client, generic, token, NODE, {"id": world.gid(name)})
    # Every list, and every opportunity, customer or case by id, for each of the four, was
    # compiled; contacts by id went through the resolvers.
    compiled_ids = sum(1 for name in world.ids if name[0] in "cok")
    assert planner.answered - before == len(world.token) * (4 + compiled_ids)

    with counting_statements() as statements:
        body = await both(client, generic, world.token["partner"], LIST)
    assert b'"edges":[{' in body, body
    # The generic path's statements and the compiled path's one (plus each side's entry).
    assert len(statements) >= 4, statements


async def test_a_related_record_needs_its_own_read_scope(
    client: httpx.AsyncClient,
    generic: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    """`customer` on an opportunity needs customers:read, compiled or not: without it the
    answer is the resolvers' (a FORBIDDEN error on the field), and no customer's name leaks."""
    world = await build_world(client, factory, owner_sessions)
    for who in ("owner", "partner"):
        org = world.owner if who == "owner" else world.partner
        token = await tokens.client_credentials(client, org.client, "opportunities:read")
        body = await both(client, generic, token, LIST)
        assert b'"FORBIDDEN"' in body, body
        assert b'"consentPurposes"' not in body, body
