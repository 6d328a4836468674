"""Immediate effect: every way sharing stops or narrows changes the partner's very next response.

Each step is an owner's (or the partner's) act through the API, followed at once by the
partner's next request; nothing is cached between requests. An expiry passing is the clock's
act, so the test moves the expiry into the past as the database owner.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from hub.grants.models import Grant
from tests.api.test_partnerships import END, RESUME, SUSPEND, move
from tests.factories import Factory
from tests.sharing import ERRORS, Sessions, World, build_world, data, uuid_of

REVOKE = f"""mutation ($id: ID!) {{ revokeGrant(input: {{grantId: $id}}) {{
    grant {{ id }} {ERRORS} }} }}"""
UPDATE = f"""mutation ($input: UpdateGrantInput!) {{ updateGrant(input: $input) {{
    grant {{ id version }} {ERRORS} }} }}"""
CONSENT = f"""mutation ($input: SetConsentInput!) {{ setConsent(input: $input) {{
    customer {{ id }} {ERRORS} }} }}"""


async def owner_does(
    client: httpx.AsyncClient, world: World, query: str, name: str, **variables: Any
) -> dict[str, Any]:
    payload = (await data(client, world.token["owner"], query, **variables))[name]
    assert payload["userErrors"] == [], payload
    return dict(payload)


async def shared(client: httpx.AsyncClient, world: World) -> dict[str, set[str]]:
    return await world.listed_ids(client, "partner")


async def test_revoking_narrowing_and_expiry_change_the_next_response(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    assert await shared(client, world) == world.expected_ids("oP", "cEu", "kP")

    # Narrowing a field policy: the e-mail was MASKED, now HIDDEN.
    contact = (await world.lists(client, "partner"))["customers"][0]["contacts"][0]
    assert contact["email"] == "a•••@analytical.example"
    customer_grant = world.grants["gCust"]
    await owner_does(
        client,
        world,
        UPDATE,
        "updateGrant",
        input={
            "grantId": customer_grant["id"],
            "version": customer_grant["version"],
            "fieldPolicy": [{"field": "FULL_NAME", "visibility": "MASKED"}],
        },
    )
    contact = (await world.lists(client, "partner"))["customers"][0]["contacts"][0]
    assert (contact["fullName"], contact["email"]) == ("A. L.", None)

    # Narrowing the explicit records: cEu is no longer named.
    await owner_does(
        client,
        world,
        UPDATE,
        "updateGrant",
        input={
            "grantId": customer_grant["id"],
            "version": customer_grant["version"] + 1,
            "recordIds": [world.gid("cNone")],
        },
    )
    assert await shared(client, world) == world.expected_ids("oP", "kP")

    # Revoking.
    await owner_does(client, world, REVOKE, "revokeGrant", id=world.grants["gCase"]["id"])
    assert await shared(client, world) == world.expected_ids("oP")

    # An expiry passing.
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(Grant)
            .where(Grant.id == uuid_of(world.grants["gOpp"]["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await shared(client, world) == world.expected_ids()


async def test_suspending_ending_and_consent_change_the_next_response(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    everything = world.expected_ids("oP", "cEu", "kP")
    partnership = world.partnership["partner"]

    await owner_does(client, world, move(SUSPEND), SUSPEND, id=partnership)
    assert await shared(client, world) == world.expected_ids()
    await owner_does(client, world, move(RESUME), RESUME, id=partnership)
    assert await shared(client, world) == everything

    # Withdrawing the customer's consent to SALES hides the customer and its opportunity; the
    # case stays, shared for SERVICE, which the customer still consents to.
    consent = {"customerId": world.gid("cEu"), "purpose": "SALES", "given": False}
    await owner_does(client, world, CONSENT, "setConsent", input=consent)
    assert await shared(client, world) == world.expected_ids("kP")
    await owner_does(client, world, CONSENT, "setConsent", input={**consent, "given": True})
    assert await shared(client, world) == everything

    # The partner ends the partnership itself: from its very next request, nothing.
    payload = (await data(client, world.token["partner"], move(END), id=partnership))[END]
    assert payload["userErrors"] == [], payload
    assert await shared(client, world) == world.expected_ids()
    # The second partner never noticed any of it.
    assert await world.listed_ids(client, "second") == world.expected_ids("oQ")
