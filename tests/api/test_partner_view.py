"""A partner's view through the same API: exactly what its live grants share, fields per policy.

Covers, from the partner, from a second partner of the same owner and from a stranger: lists and
`node(id:)` of customers, contacts, opportunities and cases; consent; field masking; what never
crosses (internal notes, INTERNAL comments, the owner's people, other partners' records); a
record not shared answering byte for byte like a missing one, for reads and writes; the `owner`
filter across two owners; and the owner's own view unchanged.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from hub.partnerships.models import PartnershipStatus
from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.api.test_partnerships import partnership_row
from tests.factories import Factory
from tests.sharing import (
    INTERNAL_COMMENT,
    NODE,
    SECRET,
    Sessions,
    World,
    build_world,
    data,
    gid,
    grant,
)

UPDATE_OPPORTUNITY = """mutation ($input: UpdateOpportunityInput!) {
    updateOpportunity(input: $input) { opportunity { id } userErrors { field message code } } }"""


async def test_each_partner_sees_exactly_what_its_grants_share(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)

    # ASSIGNED opportunities with consent (not oPNoConsent), the EXPLICIT customer that
    # consented (not cNone), the cases it raised; nothing assigned to or raised by the second.
    assert await world.listed_ids(client, "partner") == world.expected_ids("oP", "cEu", "kP")
    # A segment of AMER customers minus CLOSED_LOST; its MARKETING customer grant finds no
    # customer that consented to marketing, so no customers at all.
    assert await world.listed_ids(client, "second") == world.expected_ids("oQ")
    assert await world.listed_ids(client, "stranger") == world.expected_ids()
    everything = world.expected_ids(
        "cEu", "cUs", "cNone", "oP", "oQ", "oPNoConsent", "oOpen", "oLost", "kP", "kQ", "kOwner"
    )
    assert await world.listed_ids(client, "owner") == everything

    for who, visible in (("partner", {"oP", "cEu", "kP", "pEu"}), ("second", {"oQ"})):
        for name in world.ids:
            if name[0] not in "cpok":
                continue
            node = (await data(client, world.token[who], NODE, id=world.gid(name)))["node"]
            assert (node is not None) == (name in visible), (who, name, node)


async def test_fields_cross_per_policy_and_nothing_internal_crosses(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    lists = await world.lists(client, "partner")

    [opportunity] = lists["opportunities"]
    assert opportunity["internalNotes"] is None
    assert opportunity["owner"] is None  # the owner's people stay with the owner
    assert opportunity["nextStep"] == "Call back"
    # The opportunity's customer is shared by the CUSTOMERS grant, its contact per policy.
    [contact] = opportunity["customer"]["contacts"]
    assert contact == {
        "id": world.gid("pEu"),
        "fullName": "Ada Lovelace",  # VISIBLE
        "email": "a•••@analytical.example",  # MASKED: first letter and domain
        "phone": None,  # HIDDEN (not named in the policy)
        "jobTitle": None,  # HIDDEN
    }
    assert lists["customers"][0]["contacts"] == [contact]
    assert (await data(client, world.token["partner"], NODE, id=world.gid("pEu")))[
        "node"
    ] == contact

    [case] = lists["cases"]
    assert case["assignee"] is None
    assert [comment["body"] for comment in case["comments"]] == ["We are on it."]
    assert {comment["visibility"] for comment in case["comments"]} == {"SHARED"}
    # The case's customer is cEu, shared; the second partner's case on it stays unseen.
    assert case["customer"] == {"id": world.gid("cEu"), "name": "Eu Retail GmbH"}

    # The second partner's opportunity has an AMER customer it may not see (no consent to
    # MARKETING): the opportunity comes, the customer does not.
    [second_opportunity] = (await world.lists(client, "second"))["opportunities"]
    assert second_opportunity["customer"] is None
    assert second_opportunity["internalNotes"] is None

    # Nothing internal anywhere in either partner's answers.
    for who in ("partner", "second"):
        response = await tokens.graphql(
            client, world.token[who], "query { opportunities { edges { node { id } } } }"
        )
        assert response.status_code == 200
        body = json.dumps(await world.lists(client, who))
        for secret in (SECRET, INTERNAL_COMMENT, str(world.owner.admin.id)):
            assert secret not in body, (who, secret)
        for other in ("partner", "second"):
            if other != who:
                assert getattr(world, other).name not in body

    # The owner reads its own records unchanged.
    owner_opportunities = (await world.lists(client, "owner"))["opportunities"]
    assert {node["internalNotes"] for node in owner_opportunities} == {SECRET}
    owner_contact = (await data(client, world.token["owner"], NODE, id=world.gid("pEu")))["node"]
    assert owner_contact["phone"] == "+44 20 7946 0958"


async def test_a_record_not_shared_answers_exactly_like_a_missing_one(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    for who, unshared in (
        ("partner", ["oQ", "oPNoConsent", "oOpen", "cUs", "cNone", "kQ", "kOwner", "pNone"]),
        ("second", ["oP", "cEu", "kP", "pUs"]),
        ("stranger", ["oP", "cEu", "kP", "pEu"]),
    ):
        for name in unshared:
            node_type = {
                "o": NodeType.OPPORTUNITY,
                "c": NodeType.CUSTOMER,
                "k": NodeType.CASE,
                "p": NodeType.CONTACT,
            }[name[0]]
            missing = encode_id(node_type, uuid.uuid4())
            seen = await tokens.graphql(client, world.token[who], NODE, {"id": world.gid(name)})
            absent = await tokens.graphql(client, world.token[who], NODE, {"id": missing})
            assert seen.status_code == absent.status_code == 200
            assert seen.content == absent.content, (who, name)

    # A write to a record not shared answers like a write to a missing one ...
    answers = []
    for target in (world.gid("oQ"), encode_id(NodeType.OPPORTUNITY, uuid.uuid4())):
        variables = {"input": {"opportunityId": target, "version": 1, "nextStep": "x"}}
        response = await tokens.graphql(
            client, world.token["partner"], UPDATE_OPPORTUNITY, variables
        )
        answers.append(response.json())
    assert answers[0] == answers[1]
    assert answers[0]["data"]["updateOpportunity"]["userErrors"][0]["code"] == "NOT_FOUND"
    # ... while a record the partner may only read is FORBIDDEN to change: it knows it exists.
    variables = {"input": {"opportunityId": world.gid("oP"), "version": 1, "internalNotes": "x"}}
    response = await tokens.graphql(client, world.token["partner"], UPDATE_OPPORTUNITY, variables)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_owner_filter_gives_each_owners_share_and_the_partners_own_records(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    # The partner works with a second owner too, and keeps customers of its own.
    other_owner = await factory.organisation("WOtherOwner")
    own_customer = await factory.customer(world.partner, "Partner's Own Ltd")
    other_customer = await factory.customer(
        other_owner, "Other Owner Client", consent_purposes=["SALES"]
    )
    world.partnership["partner@other"] = await partnership_row(
        owner_sessions, other_owner, world.partner, PartnershipStatus.ACTIVE
    )
    other_world = World(
        other_owner,
        world.partner,
        world.second,
        world.stranger,
        {**world.token, "owner": await tokens.client_credentials(client, other_owner.client)},
        {"partner": world.partnership["partner@other"]},
    )
    other_world.ids["cOther"] = other_customer.id
    await grant(
        client,
        other_world,
        "partner",
        "gOther",
        recordType="CUSTOMERS",
        selection="EXPLICIT",
        recordIds=[gid(NodeType.CUSTOMER, other_customer.id)],
    )

    def customer_ids(lists: dict[str, list[dict[str, Any]]]) -> set[str]:
        return {node["id"] for node in lists["customers"]}

    own, shared, other = (
        gid(NodeType.CUSTOMER, record)
        for record in (own_customer.id, world.ids["cEu"], other_customer.id)
    )
    assert customer_ids(await world.lists(client, "partner")) == {own, shared, other}
    assert customer_ids(await world.lists(client, "partner", world.owner)) == {shared}
    assert customer_ids(await world.lists(client, "partner", other_owner)) == {other}
    assert customer_ids(await world.lists(client, "partner", world.partner)) == {own}
    # An owner that shares nothing with the caller gives nothing, like one with no records.
    assert customer_ids(await world.lists(client, "partner", world.stranger)) == set()
    # The owner's filter on itself is its own list; on its partner, nothing of the partner's.
    assert customer_ids(await world.lists(client, "owner", world.partner)) == set()

    # A malformed owner id is a clear error, not a 500.
    response = await tokens.graphql(
        client,
        world.token["partner"],
        "query ($owner: ID) { customers(filter: {owner: $owner}) { edges { node { id } } } }",
        {"owner": gid(NodeType.CUSTOMER, world.ids["cEu"])},
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] in {"NOT_FOUND", "BAD_USER_INPUT"}


async def test_a_partner_walks_its_own_and_shared_records_page_by_page(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """Its own records and the share are read from two indexes and merged: pages of two add up
    to the one long page, in order, each record once."""
    world = await build_world(client, factory, owner_sessions)
    customer = await factory.customer(world.partner, "Partner's own customer")
    await factory.opportunities(world.partner, customer, 3)
    query = """query($after: String, $first: Int!) { opportunities(first: $first, after: $after) {
      edges { node { id createdAt } } pageInfo { hasNextPage endCursor } } }"""
    whole = await data(client, world.token["partner"], query, first=100)
    expected = [edge["node"]["id"] for edge in whole["opportunities"]["edges"]]

    walked: list[str] = []
    after = None
    while True:
        page = (await data(client, world.token["partner"], query, first=2, after=after))[
            "opportunities"
        ]
        walked.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert walked == expected
    assert len(expected) == 3 + len(world.expected_ids("oP")["opportunities"])
