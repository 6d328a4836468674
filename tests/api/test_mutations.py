"""Every mutation and list query through HTTP with a real token."""

from __future__ import annotations

from typing import Any

import httpx

from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.factories import Factory


async def _call(
    client: httpx.AsyncClient, token: str, query: str, **variables: object
) -> dict[str, Any]:
    response = await tokens.graphql(client, token, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


async def test_customer_lifecycle(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("Cust")
    token = await tokens.client_credentials(client, org.client)
    created = await _call(
        client,
        token,
        """mutation { createCustomer(input: {name: "Globex", domain: "globex.example",
           region: "EMEA", country: "DE", lifecycleStage: PROSPECT, consentPurposes: [SALES]})
           { customer { id name version consentPurposes } userErrors { code } } }""",
    )
    customer = created["createCustomer"]["customer"]
    assert customer["name"] == "Globex" and customer["version"] == 1
    assert customer["consentPurposes"] == ["SALES"]

    update = """mutation($id: ID!, $version: Int!) { updateCustomer(input: {customerId: $id,
        version: $version, lifecycleStage: CUSTOMER}) { customer { lifecycleStage version }
        userErrors { field code } } }"""
    updated = await _call(client, token, update, id=customer["id"], version=1)
    assert updated["updateCustomer"]["customer"] == {"lifecycleStage": "CUSTOMER", "version": 2}
    stale = await _call(client, token, update, id=customer["id"], version=1)
    assert stale["updateCustomer"] == {
        "customer": None,
        "userErrors": [{"field": ["input", "version"], "code": "STALE"}],
    }

    contact = await _call(
        client,
        token,
        """mutation($id: ID!) { addContact(input: {customerId: $id, fullName: "Hank Scorpio",
           email: "hank@globex.example"}) { contact { fullName email } userErrors { code } } }""",
        id=customer["id"],
    )
    assert contact["addContact"]["contact"]["email"] == "hank@globex.example"
    node = await _call(
        client,
        token,
        """query($id: ID!) { node(id: $id) {
           ... on Customer { lifecycleStage contacts { fullName } } } }""",
        id=customer["id"],
    )
    assert node["node"] == {
        "lifecycleStage": "CUSTOMER",
        "contacts": [{"fullName": "Hank Scorpio"}],
    }


async def test_opportunity_create_update_and_stale_version(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("Opp")
    customer = await factory.customer(org)
    token = await tokens.client_credentials(client, org.client)
    created = await _call(
        client,
        token,
        """mutation($customer: ID!, $owner: ID!) { createOpportunity(input: {customerId: $customer,
           name: "Big deal", amount: "125000.50", currency: "EUR", stage: PROPOSAL,
           probability: 40, expectedCloseDate: "2027-03-31", ownerId: $owner})
           { opportunity { id amount currency stage version owner { displayName }
             customer { name } } userErrors { code } } }""",
        customer=encode_id(NodeType.CUSTOMER, customer.id),
        owner=encode_id(NodeType.USER, org.admin.id),
    )
    opportunity = created["createOpportunity"]["opportunity"]
    assert opportunity["amount"] == "125000.50"
    assert opportunity["owner"] == {"displayName": "Ada Admin"}
    assert opportunity["customer"] == {"name": "Acme GmbH"}

    update = """mutation($id: ID!, $version: Int!) { updateOpportunity(input: {opportunityId: $id,
        version: $version, stage: NEGOTIATION, nextStep: "Send contract"})
        { opportunity { stage nextStep version } userErrors { field code } } }"""
    first = await _call(client, token, update, id=opportunity["id"], version=1)
    assert first["updateOpportunity"]["opportunity"] == {
        "stage": "NEGOTIATION",
        "nextStep": "Send contract",
        "version": 2,
    }
    second = await _call(client, token, update, id=opportunity["id"], version=1)
    assert second["updateOpportunity"]["userErrors"] == [
        {"field": ["input", "version"], "code": "STALE"}
    ]
    after = await _call(
        client,
        token,
        "query($id: ID!) { node(id: $id) { ... on Opportunity { version stage } } }",
        id=opportunity["id"],
    )
    assert after["node"] == {"version": 2, "stage": "NEGOTIATION"}


async def test_case_state_machine_and_comments(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("Case")
    customer = await factory.customer(org)
    token = await tokens.client_credentials(client, org.client)
    created = await _call(
        client,
        token,
        """mutation($customer: ID!) { createCase(input: {customerId: $customer,
           subject: "Router reboots", description: "Every hour.", priority: URGENT})
           { case { id status firstResponseDueAt resolutionDueAt } userErrors { code } } }""",
        customer=encode_id(NodeType.CUSTOMER, customer.id),
    )
    case = created["createCase"]["case"]
    assert case["status"] == "NEW"
    assert case["firstResponseDueAt"] < case["resolutionDueAt"]

    move = """mutation($id: ID!, $status: CaseStatus!, $score: Int) { transitionCase(input:
        {caseId: $id, status: $status, satisfactionScore: $score}) { case { status resolvedAt
        closedAt firstRespondedAt satisfactionScore } userErrors { field code } } }"""
    illegal = await _call(client, token, move, id=case["id"], status="CLOSED")
    assert illegal["transitionCase"] == {
        "case": None,
        "userErrors": [{"field": ["input", "status"], "code": "INVALID_TRANSITION"}],
    }
    for status in ("OPEN", "PENDING_CUSTOMER", "ESCALATED", "RESOLVED"):
        moved = await _call(client, token, move, id=case["id"], status=status)
        assert moved["transitionCase"]["case"]["status"] == status
    closed = await _call(client, token, move, id=case["id"], status="CLOSED", score=5)
    assert closed["transitionCase"]["case"]["satisfactionScore"] == 5
    assert closed["transitionCase"]["case"]["closedAt"] is not None
    reopened = await _call(client, token, move, id=case["id"], status="OPEN")
    assert reopened["transitionCase"]["case"]["closedAt"] is None

    comment = """mutation($id: ID!, $visibility: CommentVisibility!) { addCaseComment(input:
        {caseId: $id, body: "Swapped the PSU", visibility: $visibility})
        { comment { body visibility } userErrors { code } } }"""
    for visibility in ("SHARED", "INTERNAL"):
        added = await _call(client, token, comment, id=case["id"], visibility=visibility)
        assert added["addCaseComment"]["comment"]["visibility"] == visibility
    listed = await _call(
        client,
        token,
        "query($id: ID!) { node(id: $id) { ... on Case { comments { visibility } } } }",
        id=case["id"],
    )
    assert [c["visibility"] for c in listed["node"]["comments"]] == ["SHARED", "INTERNAL"]


async def test_lists_filter_order_and_page(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("List")
    customer = await factory.customer(org, "Initech")
    await factory.customer(org, "Umbrella", region="APAC")
    await factory.opportunities(org, customer, 12)
    await factory.case(org, customer)
    token = await tokens.client_credentials(client, org.client)

    seen: list[str] = []
    after = None
    while True:
        page = await _call(
            client,
            token,
            """query($after: String) { opportunities(first: 5, after: $after,
               orderBy: {field: NAME, direction: ASC}) { edges { node { name } }
               pageInfo { hasNextPage endCursor } } }""",
            after=after,
        )
        connection = page["opportunities"]
        seen += [edge["node"]["name"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [f"Deal {index:03d}" for index in range(12)]

    filtered = await _call(
        client,
        token,
        """{ proposals: opportunities(filter: {stage: PROPOSAL}) { edges { node { stage } } }
            search: opportunities(filter: {search: "deal 00"}) { edges { node { name } } }
            apac: customers(filter: {region: "APAC"}) { edges { node { name } } }
            byName: customers(filter: {search: "initech"}) { edges { node { name } } }
            cases(filter: {status: NEW, priority: HIGH}) { edges { node { subject } } } }""",
    )
    assert {edge["node"]["stage"] for edge in filtered["proposals"]["edges"]} == {"PROPOSAL"}
    assert len(filtered["search"]["edges"]) == 10
    assert filtered["apac"]["edges"] == [{"node": {"name": "Umbrella"}}]
    assert filtered["byName"]["edges"] == [{"node": {"name": "Initech"}}]
    assert filtered["cases"]["edges"] == [{"node": {"subject": "Printer on fire"}}]
