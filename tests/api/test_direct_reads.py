"""An admitted caller's read on the driver connection (ADR 0020).

A token's second request for a document it asked before is answered without a session: the
same bytes as the resolvers give, the same disclosures as its first request recorded, and
nothing at all once the token's standing or its organisation's grants have changed.
"""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from hub.audit.models import AuditEvent
from schema import planner_of
from tests import tokens
from tests.api.test_compiled_reads import CASES, CUSTOMERS, LIST, NODE, both
from tests.api.test_explain_access import revoke
from tests.factories import Factory
from tests.properties.test_compiled_reads import disclosed
from tests.sharing import Sessions, build_world


async def test_a_repeated_read_is_answered_directly_with_the_same_answer_and_disclosures(
    app: Starlette,
    client: httpx.AsyncClient,
    generic: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    world = await build_world(client, factory, owner_sessions)
    planner = planner_of(app.state.schema)
    asked: list[tuple[str, dict[str, str] | None]] = [(q, None) for q in (LIST, CUSTOMERS, CASES)]
    asked += [(NODE, {"id": world.gid(name)}) for name in ("oP", "oQ", "cEu", "kP")]
    for who, token in world.token.items():
        for query, variables in asked:
            first = await tokens.graphql(client, token, query, variables)
            before = planner.answered_directly
            again = await tokens.graphql(client, token, query, variables)
            assert planner.answered_directly == before + 1, (who, query)
            assert again.content == first.content, (who, query)
            assert again.content == await both(client, generic, token, query, variables)
            recorded = await disclosed(owner_sessions, first.headers["x-request-id"])
            assert await disclosed(owner_sessions, again.headers["x-request-id"]) == recorded
            if who in ("partner", "second") and query is LIST:
                assert recorded, (who, "a partner's page of opportunities is a disclosure")


async def test_a_revoked_token_is_refused_and_audited_on_its_next_read(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("DirectRevoked")
    token = await tokens.client_credentials(client, org.client)
    planner = planner_of(app.state.schema)
    for _ in range(2):
        assert (await tokens.graphql(client, token, LIST)).status_code == 200
    revoked = await client.post(
        "/oauth/revoke",
        data={"token": token},
        auth=(org.client.client_id, org.client.client_secret),
    )
    assert revoked.status_code == 200
    before = planner.answered_directly

    refused = await tokens.graphql(client, token, LIST)

    assert refused.status_code == 401
    assert planner.answered_directly == before
    async with owner_sessions() as session:
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.type == "token.refused",
                AuditEvent.request_id == refused.headers["x-request-id"],
            )
        )
    assert audited == 1


async def test_a_revoked_grant_shows_on_the_partners_next_read(
    app: Starlette,
    client: httpx.AsyncClient,
    generic: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
) -> None:
    """The partner's token stays live, but the answer its entry was judged on changed: the
    read goes the usual way and shares nothing of the revoked grant."""
    world = await build_world(client, factory, owner_sessions)
    token = world.token["partner"]
    planner = planner_of(app.state.schema)
    for _ in range(2):
        shared = await tokens.graphql(client, token, LIST)
        assert world.gid("oP").encode() in shared.content
    await revoke(client, world, "gOpp")
    before = planner.answered_directly

    after = await both(client, generic, token, LIST)

    assert world.gid("oP").encode() not in after, after
    assert planner.answered_directly == before
    again = await tokens.graphql(client, token, LIST)
    assert again.content == after
    assert planner.answered_directly == before + 1  # judged anew, then admitted again
