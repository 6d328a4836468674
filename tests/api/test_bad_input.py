"""Every input a client controls gets a clear error, never a 500, and writes nothing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.cases.models import Case, CaseStatus
from hub.customers.models import Contact, Customer
from hub.opportunities.models import Opportunity
from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.factories import Factory, Org

Sessions = async_sessionmaker[AsyncSession]


UPDATE_OPPORTUNITY = """
mutation ($input: UpdateOpportunityInput!) {
  updateOpportunity(input: $input) {
    opportunity { id name amount currency probability version }
    userErrors { field message code }
  }
}
"""

CREATE_OPPORTUNITY = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) {
    opportunity { id }
    userErrors { field message code }
  }
}
"""

ADD_CONTACT = """
mutation ($input: AddContactInput!) {
  addContact(input: $input) {
    contact { id }
    userErrors { field message code }
  }
}
"""

CREATE_CASE = """
mutation ($input: CreateCaseInput!) {
  createCase(input: $input) {
    case { id }
    userErrors { field message code }
  }
}
"""

TRANSITION_CASE = """
mutation ($input: TransitionCaseInput!) {
  transitionCase(input: $input) {
    case { id status satisfactionScore }
    userErrors { field message code }
  }
}
"""

UPDATE_CUSTOMER = """
mutation ($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id name version }
    userErrors { field message code }
  }
}
"""


# --- helpers -------------------------------------------------------------------------------


async def count(sessions: Sessions, model: Any, org: Org) -> int:
    async with sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(model).where(model.org_id == org.id)
        )
    return int(total or 0)


async def row(sessions: Sessions, model: Any, record_id: uuid.UUID) -> Any:
    async with sessions() as session:
        return await session.scalar(select(model).where(model.id == record_id))


def gid(node_type: NodeType, record_id: uuid.UUID) -> str:
    return encode_id(node_type, record_id)


def payload(response: httpx.Response, field: str) -> dict[str, Any]:
    """The mutation payload of a 200 response that raised no GraphQL error."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][field]
    return result


def only_user_error(result: dict[str, Any], field: list[str], code: str) -> dict[str, Any]:
    errors = result["userErrors"]
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    assert error["field"] == field, errors
    assert error["code"] == code, errors
    assert error["message"], errors
    return error


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def setup(factory: Factory, client: httpx.AsyncClient, name: str) -> tuple[Org, str]:
    org = await factory.organisation(name)
    token = await tokens.client_credentials(client, org.client)
    return org, token


def opportunity_input(customer: Customer, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "customerId": gid(NodeType.CUSTOMER, customer.id),
        "name": "New deal",
        "amount": "1000.00",
        "currency": "EUR",
    }
    values.update(overrides)
    return values


# --- malformed and mistyped global ids -----------------------------------------------------


@pytest.mark.parametrize("kind", ["garbage", "empty", "wrong-type", "unknown-uuid", "base64-junk"])
async def test_update_opportunity_bad_id_is_not_found(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, kind: str
) -> None:
    org, token = await setup(factory, client, "BadOppId")
    customer = await factory.customer(org)
    [opportunity] = await factory.opportunities(org, customer, 1)
    ids = {
        "garbage": "not-a-global-id!!",
        "empty": "",
        "wrong-type": gid(NodeType.CUSTOMER, customer.id),  # a Customer where an Opportunity goes
        "unknown-uuid": gid(NodeType.OPPORTUNITY, uuid.uuid4()),
        "base64-junk": base64.urlsafe_b64encode(b"hello world").decode(),
    }
    before = await count(owner_sessions, Opportunity, org)

    response = await tokens.graphql(
        client,
        token,
        UPDATE_OPPORTUNITY,
        {"input": {"opportunityId": ids[kind], "version": 1, "name": "Renamed"}},
    )

    result = payload(response, "updateOpportunity")
    assert result["opportunity"] is None
    only_user_error(result, ["input", "opportunityId"], "NOT_FOUND")
    assert await count(owner_sessions, Opportunity, org) == before
    unchanged = await row(owner_sessions, Opportunity, opportunity.id)
    assert unchanged.name == opportunity.name
    assert unchanged.version == opportunity.version


@pytest.mark.parametrize("kind", ["garbage", "empty", "wrong-type"])
async def test_add_contact_bad_customer_id_is_not_found(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, kind: str
) -> None:
    org, token = await setup(factory, client, "BadContactId")
    customer = await factory.customer(org)
    [opportunity] = await factory.opportunities(org, customer, 1)
    ids = {
        "garbage": "%%%garbage%%%",
        "empty": "",
        "wrong-type": gid(NodeType.OPPORTUNITY, opportunity.id),
    }
    before = await count(owner_sessions, Contact, org)

    response = await tokens.graphql(
        client, token, ADD_CONTACT, {"input": {"customerId": ids[kind], "fullName": "Zed"}}
    )

    result = payload(response, "addContact")
    assert result["contact"] is None
    only_user_error(result, ["input", "customerId"], "NOT_FOUND")
    assert await count(owner_sessions, Contact, org) == before


@pytest.mark.parametrize("kind", ["garbage", "empty", "wrong-type"])
async def test_create_case_bad_customer_id_is_not_found(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, kind: str
) -> None:
    org, token = await setup(factory, client, "BadCaseId")
    customer = await factory.customer(org)
    case = await factory.case(org, customer)
    ids = {
        "garbage": "garbage",
        "empty": "",
        "wrong-type": gid(NodeType.CASE, case.id),
    }
    before = await count(owner_sessions, Case, org)

    response = await tokens.graphql(
        client,
        token,
        CREATE_CASE,
        {"input": {"customerId": ids[kind], "subject": "Help", "description": "Please."}},
    )

    result = payload(response, "createCase")
    assert result["case"] is None
    only_user_error(result, ["input", "customerId"], "NOT_FOUND")
    assert await count(owner_sessions, Case, org) == before


@pytest.mark.parametrize(
    "global_id",
    [
        "garbage",
        "",
        base64.urlsafe_b64encode(b"Nonsense:123").decode(),
        base64.urlsafe_b64encode(f"Organisation:{uuid.uuid4()}".encode()).decode(),
    ],
)
async def test_node_with_garbage_id_is_null(
    client: httpx.AsyncClient, factory: Factory, global_id: str
) -> None:
    _, token = await setup(factory, client, "NodeGarbage")

    response = await tokens.graphql(
        client, token, "query ($id: ID!) { node(id: $id) { id } }", {"id": global_id}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["node"] is None


# --- enum values ---------------------------------------------------------------------------


async def test_wrong_enum_value_in_variable(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "BadEnum")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Opportunity, org)

    response = await tokens.graphql(
        client, token, CREATE_OPPORTUNITY, {"input": opportunity_input(customer, stage="WON")}
    )

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body["errors"], body
    assert body.get("data") is None
    assert "WON" in body["errors"][0]["message"]
    assert await count(owner_sessions, Opportunity, org) == before


async def test_wrong_enum_literal_fails_validation(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "BadEnumLiteral")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Opportunity, org)
    query = """
    mutation ($id: ID!) {
      createOpportunity(input: {customerId: $id, name: "x", amount: "1", currency: "EUR",
                                stage: WON}) { opportunity { id } }
    }
    """

    response = await tokens.graphql(
        client, token, query, {"id": gid(NodeType.CUSTOMER, customer.id)}
    )

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await count(owner_sessions, Opportunity, org) == before


# --- field validation on createOpportunity -------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"amount": "-1"}, "amount", "OUT_OF_RANGE"),
        ({"amount": "10.123"}, "amount", "OUT_OF_RANGE"),
        ({"amount": "1e16"}, "amount", "OUT_OF_RANGE"),
        ({"currency": "euro"}, "currency", "INVALID"),
        ({"currency": "eur"}, "currency", "INVALID"),
        ({"probability": 101}, "probability", "OUT_OF_RANGE"),
        ({"probability": -1}, "probability", "OUT_OF_RANGE"),
        ({"name": "x" * 201}, "name", "TOO_LONG"),
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": ""}, "name", "REQUIRED"),
    ],
    ids=[
        "negative-amount",
        "three-decimals",
        "huge-amount",
        "currency-euro",
        "currency-lowercase",
        "probability-101",
        "probability-negative",
        "name-201",
        "name-blank",
        "name-empty",
    ],
)
async def test_create_opportunity_field_errors(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    overrides: dict[str, object],
    field: str,
    code: str,
) -> None:
    org, token = await setup(factory, client, "OppFields")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Opportunity, org)

    response = await tokens.graphql(
        client, token, CREATE_OPPORTUNITY, {"input": opportunity_input(customer, **overrides)}
    )

    result = payload(response, "createOpportunity")
    assert result["opportunity"] is None
    only_user_error(result, ["input", field], code)
    assert await count(owner_sessions, Opportunity, org) == before


async def test_create_opportunity_reports_every_bad_field_at_once(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "OppAllFields")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Opportunity, org)
    bad = opportunity_input(customer, amount="-5", currency="euro", probability=101, name="  ")

    response = await tokens.graphql(client, token, CREATE_OPPORTUNITY, {"input": bad})

    result = payload(response, "createOpportunity")
    found = {(tuple(error["field"]), error["code"]) for error in result["userErrors"]}
    assert found == {
        (("input", "name"), "REQUIRED"),
        (("input", "amount"), "OUT_OF_RANGE"),
        (("input", "currency"), "INVALID"),
        (("input", "probability"), "OUT_OF_RANGE"),
    }
    assert await count(owner_sessions, Opportunity, org) == before


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"amount": "-0.01"}, "amount", "OUT_OF_RANGE"),
        ({"amount": "1.001"}, "amount", "OUT_OF_RANGE"),
        ({"currency": "euro"}, "currency", "INVALID"),
        ({"probability": 101}, "probability", "OUT_OF_RANGE"),
        ({"name": "y" * 201}, "name", "TOO_LONG"),
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": None}, "name", "REQUIRED"),
        ({"amount": None}, "amount", "REQUIRED"),
    ],
    ids=[
        "negative-amount",
        "three-decimals",
        "currency-euro",
        "probability-101",
        "name-201",
        "name-blank",
        "name-null",
        "amount-null",
    ],
)
async def test_update_opportunity_field_errors(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    changes: dict[str, object],
    field: str,
    code: str,
) -> None:
    org, token = await setup(factory, client, "OppUpdate")
    customer = await factory.customer(org)
    [opportunity] = await factory.opportunities(org, customer, 1)
    before = await count(owner_sessions, Opportunity, org)
    variables = {
        "input": {
            "opportunityId": gid(NodeType.OPPORTUNITY, opportunity.id),
            "version": opportunity.version,
            **changes,
        }
    }

    response = await tokens.graphql(client, token, UPDATE_OPPORTUNITY, variables)

    result = payload(response, "updateOpportunity")
    assert result["opportunity"] is None
    only_user_error(result, ["input", field], code)
    assert await count(owner_sessions, Opportunity, org) == before
    unchanged = await row(owner_sessions, Opportunity, opportunity.id)
    assert unchanged.version == opportunity.version
    assert unchanged.name == opportunity.name
    assert unchanged.amount == opportunity.amount


# --- contacts, customers, cases ------------------------------------------------------------


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "sp ace@x.io"])
async def test_add_contact_invalid_email(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, email: str
) -> None:
    org, token = await setup(factory, client, "BadEmail")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Contact, org)

    response = await tokens.graphql(
        client,
        token,
        ADD_CONTACT,
        {
            "input": {
                "customerId": gid(NodeType.CUSTOMER, customer.id),
                "fullName": "Eve Example",
                "email": email,
            }
        },
    )

    result = payload(response, "addContact")
    assert result["contact"] is None
    only_user_error(result, ["input", "email"], "INVALID")
    assert await count(owner_sessions, Contact, org) == before


async def test_update_customer_name_null_is_required(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "NullName")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Customer, org)

    response = await tokens.graphql(
        client,
        token,
        UPDATE_CUSTOMER,
        {
            "input": {
                "customerId": gid(NodeType.CUSTOMER, customer.id),
                "version": customer.version,
                "name": None,
            }
        },
    )

    result = payload(response, "updateCustomer")
    assert result["customer"] is None
    only_user_error(result, ["input", "name"], "REQUIRED")
    assert await count(owner_sessions, Customer, org) == before
    unchanged = await row(owner_sessions, Customer, customer.id)
    assert unchanged.name == customer.name
    assert unchanged.version == customer.version


async def test_transition_case_satisfaction_out_of_range(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "BadScore")
    customer = await factory.customer(org)
    case = await factory.case(org, customer, status=CaseStatus.RESOLVED)
    before = await count(owner_sessions, Case, org)

    response = await tokens.graphql(
        client,
        token,
        TRANSITION_CASE,
        {
            "input": {
                "caseId": gid(NodeType.CASE, case.id),
                "status": "CLOSED",
                "satisfactionScore": 9,
            }
        },
    )

    result = payload(response, "transitionCase")
    assert result["case"] is None
    only_user_error(result, ["input", "satisfactionScore"], "OUT_OF_RANGE")
    assert await count(owner_sessions, Case, org) == before
    unchanged = await row(owner_sessions, Case, case.id)
    assert unchanged.status is CaseStatus.RESOLVED
    assert unchanged.satisfaction_score is None
    assert unchanged.closed_at is None
    assert unchanged.version == case.version


# --- pagination arguments ------------------------------------------------------------------


@pytest.mark.parametrize("first", [1000, 101, 0, -1])
async def test_customers_page_size_out_of_range(
    client: httpx.AsyncClient, factory: Factory, first: int
) -> None:
    org, token = await setup(factory, client, "PageSize")
    await factory.customer(org)

    response = await tokens.graphql(
        client,
        token,
        "query ($first: Int!) { customers(first: $first) { edges { node { id } } } }",
        {"first": first},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in error["message"]
    assert error["extensions"]["fields"] == ["first"]


@pytest.mark.parametrize(
    "after",
    [
        "garbage!!",
        "",
        base64.urlsafe_b64encode(b"cursor:not-a-uuid").decode(),
        base64.urlsafe_b64encode(f"other:{uuid.uuid4()}".encode()).decode(),
        "\u00e9\u00e9\u00e9",
    ],
)
async def test_garbage_after_cursor(
    client: httpx.AsyncClient, factory: Factory, after: str
) -> None:
    org, token = await setup(factory, client, "Cursor")
    await factory.customer(org)

    response = await tokens.graphql(
        client,
        token,
        "query ($after: String) { customers(first: 5, after: $after) { edges { node { id } } } }",
        {"after": after},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == ["after"]


# --- the HTTP request itself ---------------------------------------------------------------


async def test_invalid_json_body(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "BadJson")

    response = await client.post(
        "/graphql",
        content=b'{"query": "{ viewer { clientId } ',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["errors"][0]["message"]


@pytest.fixture
async def lenient_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, but an unhandled exception becomes the 500 a real server would send."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b"{}",
        b'{"query": 5}',
        b'{"query": "{ viewer { clientId } }", "variables": 5}',
        b"42",
        b'"query"',
        b"null",
    ],
    ids=[
        "empty-list",
        "empty-object",
        "query-not-string",
        "variables-not-object",
        "number",
        "string",
        "null",
    ],
)
async def test_json_body_that_is_not_a_request(
    lenient_client: httpx.AsyncClient, factory: Factory, content: bytes
) -> None:
    _, token = await setup(factory, lenient_client, "NotARequest")

    response = await lenient_client.post(
        "/graphql",
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert response.status_code != 500, response.text
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["errors"]


async def test_wrong_content_type(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "TextPlain")

    response = await client.post(
        "/graphql",
        content=json.dumps({"query": "{ viewer { clientId } }"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"]


async def test_body_over_limit_is_413(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "BigBody")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Opportunity, org)
    variables = {"input": opportunity_input(customer, nextStep="x" * (65 * 1024))}

    response = await tokens.graphql(client, token, CREATE_OPPORTUNITY, variables)

    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["message"]
    assert await count(owner_sessions, Opportunity, org) == before


async def test_streamed_body_over_limit_is_413(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """Without a Content-Length the limit is enforced while reading the body."""
    org, token = await setup(factory, client, "BigStream")
    customer = await factory.customer(org)
    before = await count(owner_sessions, Opportunity, org)
    body = json.dumps(
        {
            "query": CREATE_OPPORTUNITY,
            "variables": {"input": opportunity_input(customer, nextStep="x" * (65 * 1024))},
        }
    ).encode()

    async def chunks() -> Any:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert await count(owner_sessions, Opportunity, org) == before


# --- query shape limits and validation -----------------------------------------------------


async def test_query_depth_over_limit(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "Depth")
    query = "{ " + "viewer { organisation { " * 6 + "name" + " }" * 12 + " }"

    response = await tokens.graphql(client, token, query)

    assert response.status_code != 500, response.text
    body = response.json()
    assert body.get("data") is None
    messages = [error["message"] for error in body["errors"]]
    assert any("exceeds maximum operation depth of 10" in message for message in messages)
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_query_depth_at_limit_is_allowed(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "DepthOk")
    query = "{ opportunities(first: 1) { edges { node { customer { contacts { id } } } } } }"

    response = await tokens.graphql(client, token, query)

    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


async def test_too_many_aliases(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "Aliases")
    query = "{ " + " ".join(f"a{i}: viewer {{ clientId }}" for i in range(16)) + " }"

    response = await tokens.graphql(client, token, query)

    assert response.status_code != 500, response.text
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert "16 aliases found. Allowed: 15" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_fifteen_aliases_are_allowed(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "AliasesOk")
    query = "{ " + " ".join(f"a{i}: viewer {{ clientId }}" for i in range(15)) + " }"

    response = await tokens.graphql(client, token, query)

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert len(body["data"]) == 15


async def test_unknown_field(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "Unknown")

    response = await tokens.graphql(client, token, "{ viewer { clientId password } }")

    assert response.status_code != 500, response.text
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "password" in error["message"]


async def test_syntax_error(client: httpx.AsyncClient, factory: Factory) -> None:
    _, token = await setup(factory, client, "Syntax")

    response = await tokens.graphql(client, token, "{ viewer { clientId ")

    assert response.status_code != 500, response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_missing_required_variable(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org, token = await setup(factory, client, "NoVars")
    before = await count(owner_sessions, Opportunity, org)

    response = await tokens.graphql(client, token, CREATE_OPPORTUNITY, {})

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"]
    assert await count(owner_sessions, Opportunity, org) == before


SIBLINGS = """{
  node(id: "%s") { id ... on Customer { name contacts { id } } }
  opportunities(first: 1) { edges { cursor } }
}"""


async def test_a_field_refused_beside_one_still_loading_is_an_error_not_a_500(
    lenient_client: httpx.AsyncClient, factory: Factory
) -> None:
    """A refused non-null field makes graphql-core cancel its siblings mid-statement; the
    request still answers 200 with the error, and the pooled connection stays usable."""
    org = await factory.organisation("Siblings")
    customer = await factory.customer(org)
    # The token may read customers but not opportunities: that field alone is refused.
    token = await tokens.client_credentials(lenient_client, org.client, "customers:read")
    query = SIBLINGS % encode_id(NodeType.CUSTOMER, customer.id)

    for _ in range(5):
        response = await tokens.graphql(lenient_client, token, query)
        assert response.status_code == 200, response.text
        assert [error["extensions"]["code"] for error in response.json()["errors"]] == ["FORBIDDEN"]
    fine = await tokens.graphql(lenient_client, token, "{ customers { edges { node { id } } } }")
    assert fine.status_code == 200 and "errors" not in fine.json()


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            CREATE_CUSTOMER_BY_VARIABLE := """mutation ($input: CreateCustomerInput!) {
            createCustomer(input: $input) { customer { id } userErrors { code } } }""",
            {"input": {"name": "Acme\u0000GmbH"}},
        ),
        (
            """mutation { createCustomer(input: {name: "Acme\\u0000GmbH"}) {
            customer { id } userErrors { code } } }""",
            None,
        ),
        ("""{ customers(filter: {search: "a\\u0000"}) { edges { node { id } } } }""", None),
        (
            """query ($s: String) { customers(filter: {search: $s}) { edges { node { id } } } }""",
            {"s": "\u0000"},
        ),
    ],
    ids=["variable", "literal", "search-literal", "search-variable"],
)
async def test_a_nul_character_in_text_is_a_clear_error_that_writes_nothing(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    query: str,
    variables: dict[str, object] | None,
) -> None:
    """PostgreSQL stores no NUL in text: the request is refused before anything runs."""
    org, token = await setup(factory, client, "Nul")
    response = await tokens.graphql(client, token, query, variables)
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["errors"][0]["message"]
    assert await count(owner_sessions, Customer, org) == 0
    # Over GET as well.
    params = {"query": query, **({"variables": json.dumps(variables)} if variables else {})}
    got = await client.get("/graphql", params=params, headers={"authorization": f"Bearer {token}"})
    assert got.status_code == 400, got.text
