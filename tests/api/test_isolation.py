"""Org A's token never sees or touches org B's data, and B's ids answer like absent ids."""

from __future__ import annotations

import uuid

import httpx

from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.factories import Factory

NODE = "query($id: ID!) { node(id: $id) { id ... on Customer { name } } }"


async def test_lists_node_and_mutations_stay_inside_the_org(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org_a = await factory.organisation("IsoA")
    org_b = await factory.organisation("IsoB")
    await factory.customer(org_a, "A Customer")
    customer_b = await factory.customer(org_b, "B Customer")
    await factory.opportunities(org_b, customer_b, 3)
    case_b = await factory.case(org_b, customer_b)
    token_a = await tokens.client_credentials(client, org_a.client)

    lists = await tokens.graphql(
        client,
        token_a,
        "{ customers { edges { node { name } } } opportunities { edges { node { id } } }"
        " cases { edges { node { id } } } }",
    )
    data = lists.json()["data"]
    assert [edge["node"]["name"] for edge in data["customers"]["edges"]] == ["A Customer"]
    assert data["opportunities"]["edges"] == []
    assert data["cases"]["edges"] == []

    foreign_id = encode_id(NodeType.CUSTOMER, customer_b.id)
    absent_id = encode_id(NodeType.CUSTOMER, uuid.uuid4())
    foreign = await tokens.graphql(client, token_a, NODE, {"id": foreign_id})
    absent = await tokens.graphql(client, token_a, NODE, {"id": absent_id})
    assert foreign.status_code == absent.status_code == 200
    assert foreign.content == absent.content == b'{"data":{"node":null}}'

    update = (
        'mutation($id: ID!) { updateCustomer(input: {customerId: $id, version: 1, name: "x"})'
        " { customer { id } userErrors { field message code } } }"
    )
    foreign_write = await tokens.graphql(client, token_a, update, {"id": foreign_id})
    absent_write = await tokens.graphql(client, token_a, update, {"id": absent_id})
    assert foreign_write.content == absent_write.content
    assert foreign_write.json()["data"]["updateCustomer"]["userErrors"][0]["code"] == "NOT_FOUND"

    comment = (
        'mutation($id: ID!) { addCaseComment(input: {caseId: $id, body: "hi"})'
        " { comment { id } userErrors { code } } }"
    )
    foreign_comment = await tokens.graphql(
        client, token_a, comment, {"id": encode_id(NodeType.CASE, case_b.id)}
    )
    assert foreign_comment.json()["data"]["addCaseComment"]["userErrors"] == [{"code": "NOT_FOUND"}]
    create = (
        'mutation($id: ID!) { createOpportunity(input: {customerId: $id, name: "Steal",'
        ' amount: "1", currency: "EUR"}) { opportunity { id } userErrors { code } } }'
    )
    foreign_create = await tokens.graphql(client, token_a, create, {"id": foreign_id})
    assert foreign_create.json()["data"]["createOpportunity"] == {
        "opportunity": None,
        "userErrors": [{"code": "NOT_FOUND"}],
    }

    token_b = await tokens.client_credentials(client, org_b.client)
    unchanged = await tokens.graphql(client, token_b, NODE, {"id": foreign_id})
    assert unchanged.json()["data"]["node"]["name"] == "B Customer"
