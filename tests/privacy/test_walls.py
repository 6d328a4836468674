"""Who may export and erase: the owner with `privacy:manage`, on its own customers and contacts.

Everyone else gets a clear answer and nothing is written: no token (UNAUTHENTICATED), a token
without the scope (FORBIDDEN), and a subject that is a partner's view of the owner's, another
organisation's, or none at all answer exactly alike (null / NOT_FOUND); an id that is not a
customer's or contact's is bad input. Never a 500.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from resolvers.ids import NodeType
from tests import tokens
from tests.factories import Factory
from tests.privacy.world import ERASE, EXPORT, PrivacyWorld, build_privacy_world, counts
from tests.sharing import Sessions, gid


@pytest.fixture
async def pw(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> PrivacyWorld:
    return await build_privacy_world(client, factory, owner_sessions)


async def ask(client: httpx.AsyncClient, token: str | None, query: str, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code < 500, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def both(
    client: httpx.AsyncClient, token: str | None, subject_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The export's and the erasure's answers for one subject id."""
    exported = await ask(client, token, EXPORT, id=subject_id)
    erased = await ask(client, token, ERASE, input={"subjectId": subject_id})
    return exported, erased


async def test_refusals_are_clear_alike_and_write_nothing(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    no_scope = await tokens.client_credentials(client, world.owner.client, "customers:read")
    orgs = (world.owner, world.partner, world.second, world.stranger, pw.quiet)
    before = await counts(owner_sessions, *orgs)
    subject = world.gid("cEu")

    exported, erased = await both(client, None, subject)
    assert codes(exported) == codes(erased) == ["UNAUTHENTICATED"]

    exported, erased = await both(client, no_scope, subject)
    assert codes(exported) == codes(erased) == ["FORBIDDEN"]
    assert "privacy:manage" in exported["errors"][0]["message"]

    not_found = {"field": ["input", "subjectId"], "message": "No such record.", "code": "NOT_FOUND"}
    absent = [
        (world.token["partner"], subject),  # shared with it, but not its own
        (world.token["stranger"], subject),  # another organisation's
        (world.token["owner"], gid(NodeType.CUSTOMER, uuid.uuid4())),  # no such customer
        (world.token["owner"], gid(NodeType.CONTACT, uuid.uuid4())),  # no such contact
        (world.token["partner"], gid(NodeType.CONTACT, world.ids["pEu"])),
    ]
    for token, subject_id in absent:
        exported, erased = await both(client, token, subject_id)
        assert exported == {"data": {"exportPersonalData": None}}
        assert erased == {
            "data": {"erasePersonalData": {"erasure": None, "userErrors": [not_found]}}
        }

    for malformed in ("not-an-id", "", gid(NodeType.OPPORTUNITY, world.ids["oP"])):
        exported, erased = await both(client, world.token["owner"], malformed)
        assert codes(exported) == ["BAD_USER_INPUT"]
        assert exported["data"] == {"exportPersonalData": None}
        [error] = erased["data"]["erasePersonalData"]["userErrors"]
        assert (error["field"], error["code"]) == (["input", "subjectId"], "INVALID")

    assert await counts(owner_sessions, *orgs) == before
