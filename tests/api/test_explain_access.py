"""explainAccess over HTTP with real tokens: why a record reaches a partner, or why not.

Covers: agreement with what each partner really receives (its own `node(id:)` and the personal
fields of contacts, masked or hidden) for every record of the sharing world, through revoking,
widening, expiring, withdrawing consent, suspending, resuming and ending; each reason from a real
case (NO_GRANT, REVOKED, EXPIRED, PARTNERSHIP_NOT_ACTIVE for SUSPENDED and ENDED, NOT_SELECTED
for ASSIGNED, SEGMENT and EXPLICIT, CONSENT_MISSING, several at once); several covering grants
with their field policies combined; partners, a second partner and a stranger getting byte for
byte the answer of a random id; admin rights (scope, ADMIN user, SALES user, anonymous); bad
input as a clear error; and a statement count that does not grow with the grants.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, update
from starlette.applications import Starlette

from hub.access.actor import Role
from hub.access.scopes import ALL_SCOPES, Scope
from hub.grants.models import Grant
from resolvers.ids import NodeType, encode_id
from tests import tokens
from tests.api.test_partnerships import END, RESUME, SUSPEND, move
from tests.api.test_statement_count import counting_statements
from tests.auth.browser import Authorization, approve, exchange
from tests.factories import Factory
from tests.sharing import Sessions, World, build_world, data, gid, grant, uuid_of

EXPLAIN = """query ($record: ID!, $partner: ID!) {
    explainAccess(recordId: $record, partnerId: $partner) {
        visible reasons fields { field visibility }
        verdicts { covers reasons partnershipStatus grant { id live revokedAt } } } }"""
# What a partner receives of a record, with every personal field of its contacts.
RECEIVED = """query ($id: ID!) { node(id: $id) { id
    ... on Customer { contacts { id fullName email phone jobTitle } }
    ... on Contact { fullName email phone jobTitle } } }"""
REVOKE = """mutation ($id: ID!) { revokeGrant(input: {grantId: $id}) {
    grant { id } userErrors { field message code } } }"""
CONSENT = """mutation ($input: SetConsentInput!) { setConsent(input: $input) {
    customer { id } userErrors { field message code } } }"""

# Every customer, contact, opportunity and case of the sharing world.
RECORDS = ["cEu", "cUs", "cNone", "pEu", "pUs", "pNone", "oP", "oQ", "oPNoConsent", "oOpen"]
RECORDS += ["oLost", "kP", "kQ", "kOwner"]
# The personal fields of every contact in the world, as the owner holds them.
ORIGINAL = {
    "FULL_NAME": ("fullName", "Ada Lovelace"),
    "EMAIL": ("email", "ada.lovelace@analytical.example"),
    "PHONE": ("phone", "+44 20 7946 0958"),
    "JOB_TITLE": ("jobTitle", "Chief Engine Officer"),
}
ALL_HIDDEN = [{"field": field, "visibility": "HIDDEN"} for field in ORIGINAL]


# --- helpers -------------------------------------------------------------------------------


def org_gid(org_id: uuid.UUID) -> str:
    return gid(NodeType.ORGANISATION, org_id)


async def explain(
    client: httpx.AsyncClient, world: World, name: str, who: str, *, token: str | None = None
) -> Any:
    """The owner's explanation of record `name` for partner `who`."""
    partner = getattr(world, who)
    variables = {"record": world.gid(name), "partner": org_gid(partner.id)}
    result = await data(client, token or world.token["owner"], EXPLAIN, **variables)
    return result["explainAccess"]


def verdicts(world: World, explanation: dict[str, Any]) -> dict[str, list[str]]:
    """Reasons per grant, by the grant's name in the world."""
    names = {value["id"]: key for key, value in world.grants.items()}
    return {
        names[verdict["grant"]["id"]]: verdict["reasons"] for verdict in explanation["verdicts"]
    }


def received_as(value: str | None, original: str) -> str:
    """How a field reached the partner, read off the value it got."""
    if value is None:
        return "HIDDEN"
    return "VISIBLE" if value == original else "MASKED"


async def assert_agreement(
    client: httpx.AsyncClient, world: World, state: str
) -> dict[str, set[str]]:
    """For every record and both partners: explained == received. The visible names per partner.

    Visible exactly when the partner's own `node(id:)` returns the record; fields exactly as the
    partner receives the personal fields of the record's contacts.
    """
    visible: dict[str, set[str]] = {"partner": set(), "second": set()}
    for who in visible:
        for name in RECORDS:
            explanation = await explain(client, world, name, who)
            node = (await data(client, world.token[who], RECEIVED, id=world.gid(name)))["node"]
            where = (state, who, name)
            assert explanation["visible"] == (node is not None), (*where, explanation)
            covering = [verdict["covers"] for verdict in explanation["verdicts"]]
            assert explanation["visible"] == any(covering), where
            assert (explanation["reasons"] == []) == explanation["visible"], where
            if node is not None:
                visible[who].add(name)
            if name[0] in "ok":
                assert explanation["fields"] == [], where
                continue
            policy = {rule["field"]: rule["visibility"] for rule in explanation["fields"]}
            assert list(policy) == list(ORIGINAL), where
            if node is None:
                assert set(policy.values()) == {"HIDDEN"}, where
                continue
            contacts = node["contacts"] if name[0] == "c" else [node]
            assert len(contacts) == 1, where
            for field, (key, original) in ORIGINAL.items():
                assert received_as(contacts[0][key], original) == policy[field], (*where, field)
    return visible


async def revoke(client: httpx.AsyncClient, world: World, name: str) -> None:
    payload = (await data(client, world.token["owner"], REVOKE, id=world.grants[name]["id"]))[
        "revokeGrant"
    ]
    assert payload["userErrors"] == [], payload


async def expire(sessions: Sessions, world: World, name: str) -> None:
    """Let the grant's expiry pass, as the database owner: the API only takes future expiries."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Grant)
            .where(Grant.id == uuid_of(world.grants[name]["id"]))
            .values(expires_at=func.now() - timedelta(seconds=1))
        )


async def consent(
    client: httpx.AsyncClient, world: World, customer: str, purpose: str, given: bool
) -> None:
    variables = {"customerId": world.gid(customer), "purpose": purpose, "given": given}
    payload = (await data(client, world.token["owner"], CONSENT, input=variables))["setConsent"]
    assert payload["userErrors"] == [], payload


async def partnership(client: httpx.AsyncClient, world: World, who: str, action: str) -> None:
    payload = (await data(client, world.token["owner"], move(action), id=world.partnership[who]))[
        action
    ]
    assert payload["userErrors"] == [], payload


async def segment_of_emea_for_service(client: httpx.AsyncClient, world: World) -> None:
    """A second CUSTOMERS grant to the partner: EMEA customers for SERVICE, other fields."""
    await grant(
        client,
        world,
        "partner",
        "gCustEmea",
        recordType="CUSTOMERS",
        selection="SEGMENT",
        purpose="SERVICE",
        segment=[{"attribute": "region", "values": ["EMEA"]}],
        fieldPolicy=[
            {"field": "EMAIL", "visibility": "HIDDEN"},
            {"field": "PHONE", "visibility": "MASKED"},
            {"field": "JOB_TITLE", "visibility": "VISIBLE"},
        ],
    )


# --- the key property: the explanation is what the partner gets ---------------------------


async def test_the_explanation_agrees_with_what_each_partner_receives(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    steps: list[tuple[str, set[str], set[str]]] = []

    async def check(state: str, partner: set[str], second: set[str]) -> None:
        seen = await assert_agreement(client, world, state)
        # The expected sets make sure each step really changed what it meant to.
        assert seen == {"partner": partner, "second": second}, state
        steps.append((state, partner, second))

    await check("as built", {"cEu", "pEu", "oP", "kP"}, {"oQ"})

    # Widened: the second's MARKETING grant finds consent; the partner gets a second grant on
    # EMEA customers for SERVICE, whose fields combine with the EXPLICIT grant's on cEu.
    await consent(client, world, "cUs", "MARKETING", True)
    await segment_of_emea_for_service(client, world)
    await check("widened", {"cEu", "pEu", "oP", "kP"}, {"oQ", "cUs", "pUs"})
    combined = await explain(client, world, "pEu", "partner")
    assert combined["fields"] == [
        {"field": "FULL_NAME", "visibility": "VISIBLE"},  # EXPLICIT grant
        {"field": "EMAIL", "visibility": "MASKED"},  # MASKED beats HIDDEN
        {"field": "PHONE", "visibility": "MASKED"},  # segment grant
        {"field": "JOB_TITLE", "visibility": "VISIBLE"},  # segment grant
    ]

    await revoke(client, world, "gCust")  # cEu stays, under the segment grant's fields only
    await check("revoked", {"cEu", "pEu", "oP", "kP"}, {"oQ", "cUs", "pUs"})
    await expire(owner_sessions, world, "gOpp")
    await check("expired", {"cEu", "pEu", "kP"}, {"oQ", "cUs", "pUs"})
    await consent(client, world, "cUs", "SALES", False)  # oQ's customer; cUs stays (MARKETING)
    await check("consent withdrawn", {"cEu", "pEu", "kP"}, {"cUs", "pUs"})
    await partnership(client, world, "partner", SUSPEND)
    await check("suspended", set(), {"cUs", "pUs"})
    await partnership(client, world, "partner", RESUME)
    await check("resumed", {"cEu", "pEu", "kP"}, {"cUs", "pUs"})
    await partnership(client, world, "second", END)
    await check("ended", {"cEu", "pEu", "kP"}, set())
    assert len(steps) == 8


# --- each reason from a real case ---------------------------------------------------------


async def test_no_grant_of_the_records_type(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions, grants=False)
    nothing = {"visible": False, "reasons": ["NO_GRANT"], "verdicts": []}
    for name in ("oP", "kP"):
        assert await explain(client, world, name, "partner") == {**nothing, "fields": []}
    for name in ("cEu", "pEu"):
        assert await explain(client, world, name, "partner") == {**nothing, "fields": ALL_HIDDEN}

    # Grants of other types do not count: the second has none on cases.
    world = await build_world(client, factory, owner_sessions)
    assert await explain(client, world, "kQ", "second") == {**nothing, "fields": []}
    # A contact is judged under CUSTOMERS grants, which the partner has.
    assert verdicts(world, await explain(client, world, "pEu", "partner")) == {"gCust": []}


async def test_revoked(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    await revoke(client, world, "gOpp")

    explanation = await explain(client, world, "oP", "partner")
    assert explanation["visible"] is False
    assert explanation["reasons"] == ["REVOKED"]
    [verdict] = explanation["verdicts"]
    assert verdict["covers"] is False
    assert verdict["grant"]["live"] is False and verdict["grant"]["revokedAt"] is not None
    assert (await data(client, world.token["partner"], RECEIVED, id=world.gid("oP")))[
        "node"
    ] is None


async def test_expired(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    await expire(owner_sessions, world, "gCase")

    explanation = await explain(client, world, "kP", "partner")
    assert (explanation["visible"], explanation["reasons"]) == (False, ["EXPIRED"])
    assert verdicts(world, explanation) == {"gCase": ["EXPIRED"]}
    assert explanation["verdicts"][0]["grant"]["live"] is False


async def test_partnership_suspended_then_ended(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    for action, status in ((SUSPEND, "SUSPENDED"), (END, "ENDED")):
        await partnership(client, world, "partner", action)
        for name, grant_name in (
            ("oP", "gOpp"),
            ("cEu", "gCust"),
            ("pEu", "gCust"),
            ("kP", "gCase"),
        ):
            explanation = await explain(client, world, name, "partner")
            assert explanation["reasons"] == ["PARTNERSHIP_NOT_ACTIVE"], (status, name)
            assert verdicts(world, explanation) == {grant_name: ["PARTNERSHIP_NOT_ACTIVE"]}
            [verdict] = explanation["verdicts"]
            assert verdict["partnershipStatus"] == status
        # The other partnership is untouched.
        assert (await explain(client, world, "oQ", "second"))["visible"] is True


async def test_consent_missing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    # Assigned to the partner, but its customer consented to nothing.
    explanation = await explain(client, world, "oPNoConsent", "partner")
    assert (explanation["visible"], explanation["reasons"]) == (False, ["CONSENT_MISSING"])
    assert verdicts(world, explanation) == {"gOpp": ["CONSENT_MISSING"]}

    await consent(client, world, "cEu", "SALES", False)
    for name, grant_name in (("oP", "gOpp"), ("cEu", "gCust"), ("pEu", "gCust")):
        explanation = await explain(client, world, name, "partner")
        assert verdicts(world, explanation) == {grant_name: ["CONSENT_MISSING"]}, name
    # The cases grant is for SERVICE, which cEu still consents to.
    assert (await explain(client, world, "kP", "partner"))["visible"] is True


async def test_not_selected_by_each_kind_of_selection(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    cases = [
        # ASSIGNED: to the other partnership, to none, or a case the other partner raised.
        ("oQ", "partner", "gOpp"),
        ("oOpen", "partner", "gOpp"),
        ("kQ", "partner", "gCase"),
        # SEGMENT: an EMEA customer outside region AMER; a CLOSED_LOST opportunity excluded.
        ("oP", "second", "hOpp"),
        ("oLost", "second", "hOpp"),
        # EXPLICIT: a customer (and its contact) not in the list; cUs consents to SALES.
        ("cUs", "partner", "gCust"),
        ("pUs", "partner", "gCust"),
    ]
    for name, who, grant_name in cases:
        explanation = await explain(client, world, name, who)
        assert (explanation["visible"], explanation["reasons"]) == (False, ["NOT_SELECTED"]), name
        assert verdicts(world, explanation) == {grant_name: ["NOT_SELECTED"]}, name

    # Several reasons at once, each named: EMEA and no MARKETING consent.
    explanation = await explain(client, world, "cNone", "second")
    assert verdicts(world, explanation) == {"hCust": ["NOT_SELECTED", "CONSENT_MISSING"]}
    await revoke(client, world, "hCust")
    explanation = await explain(client, world, "pNone", "second")
    assert explanation["reasons"] == ["REVOKED", "NOT_SELECTED", "CONSENT_MISSING"]


async def test_several_grants_each_judged_and_fields_combined(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    await segment_of_emea_for_service(client, world)
    await grant(
        client,
        world,
        "partner",
        "gOppOpen",
        recordType="OPPORTUNITIES",
        selection="EXPLICIT",
        recordIds=[world.gid("oOpen")],
    )

    explanation = await explain(client, world, "cEu", "partner")
    assert explanation["visible"] is True and explanation["reasons"] == []
    assert verdicts(world, explanation) == {"gCust": [], "gCustEmea": []}  # oldest first
    assert [rule["visibility"] for rule in explanation["fields"]] == [
        "VISIBLE",  # FULL_NAME: VISIBLE (EXPLICIT) over HIDDEN (segment)
        "MASKED",  # EMAIL: MASKED (EXPLICIT) over HIDDEN (segment)
        "MASKED",  # PHONE: MASKED (segment) over HIDDEN (EXPLICIT)
        "VISIBLE",  # JOB_TITLE: VISIBLE (segment) over HIDDEN (EXPLICIT)
    ]
    # cNone: in the EXPLICIT list and in EMEA, but it consented to nothing.
    explanation = await explain(client, world, "cNone", "partner")
    assert verdicts(world, explanation) == {
        "gCust": ["CONSENT_MISSING"],
        "gCustEmea": ["CONSENT_MISSING"],
    }
    assert explanation["fields"] == ALL_HIDDEN
    # One opportunities grant covers oP, the other does not: visible, with both verdicts.
    explanation = await explain(client, world, "oP", "partner")
    assert explanation["visible"] is True and explanation["reasons"] == []
    assert verdicts(world, explanation) == {"gOpp": [], "gOppOpen": ["NOT_SELECTED"]}
    explanation = await explain(client, world, "oOpen", "partner")
    assert verdicts(world, explanation) == {"gOpp": ["NOT_SELECTED"], "gOppOpen": []}


# --- the walls -----------------------------------------------------------------------------


async def test_anyone_but_the_owner_gets_the_answer_of_a_random_id(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    own_customer = await factory.customer(world.partner, "Partner's Own Ltd")
    null = b'{"data":{"explainAccess":null}}'

    async def answer(token: str, record: str, partner: uuid.UUID) -> bytes:
        variables = {"record": record, "partner": org_gid(partner)}
        response = await tokens.graphql(client, token, EXPLAIN, variables)
        assert response.status_code == 200, response.text
        return response.content

    def random(name: str) -> str:
        return encode_id(
            {"c": NodeType.CUSTOMER, "p": NodeType.CONTACT, "o": NodeType.OPPORTUNITY}.get(
                name[0], NodeType.CASE
            ),
            uuid.uuid4(),
        )

    # The partners (with every scope, so with admin rights in their own organisation) and the
    # stranger: records shared with them, not shared, about themselves or each other.
    for who in ("partner", "second", "stranger"):
        token = world.token[who]
        for name in ("oP", "oQ", "cEu", "pEu", "kP"):
            for partner in (world.partner.id, world.second.id, world.owner.id):
                assert await answer(token, world.gid(name), partner) == null, (who, name)
            assert await answer(token, random(name), world.partner.id) == null

    # The owner: a record of another organisation, a random one, and organisations that are
    # not its partners (a stranger, a random id, itself) look alike.
    owner = world.token["owner"]
    foreign = gid(NodeType.CUSTOMER, own_customer.id)
    assert await answer(owner, foreign, world.partner.id) == null
    assert await answer(owner, random("c"), world.partner.id) == null
    for not_a_partner in (world.stranger.id, uuid.uuid4(), world.owner.id):
        assert await answer(owner, world.gid("oP"), not_a_partner) == null
    # The partner asking about its own record and the owner: the owner is not its partner.
    assert await answer(world.token["partner"], foreign, world.owner.id) == null


async def test_only_admins_may_ask(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    variables = {"record": world.gid("oP"), "partner": org_gid(world.partner.id)}
    everything_but_manage = " ".join(sorted(ALL_SCOPES - {Scope.PARTNERS_MANAGE.value}))

    async def refused(token: str) -> None:
        response = await tokens.graphql(client, token, EXPLAIN, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] == {"explainAccess": None}
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
        assert "partners:manage" in body["errors"][0]["message"]

    for org in (world.owner, world.partner):
        await refused(await tokens.client_credentials(client, org.client, everything_but_manage))
    manager = await tokens.client_credentials(client, world.owner.client, "partners:manage")
    assert (await data(client, manager, EXPLAIN, **variables))["explainAccess"]["visible"]

    # Users: an ADMIN may ask with any token; a SALES user may not, whatever it asked for.
    portal = await factory.portal(world.owner)

    async def user_token(role: Role, scope: str) -> str:
        person = await factory.person(world.owner, role=role)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as browser:
            authorization = Authorization(portal, scope=scope)
            code = await approve(browser, authorization, person)
        issued = await exchange(client, authorization, code)
        assert issued.status_code == 200, issued.text
        token: str = issued.json()["access_token"]
        return token

    admin = await user_token(Role.ADMIN, "customers:read")
    assert (await data(client, admin, EXPLAIN, **variables))["explainAccess"]["visible"]
    await refused(await user_token(Role.SALES, "customers:read partners:read partners:manage"))

    anonymous = await client.post("/graphql", json={"query": EXPLAIN, "variables": variables})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_bad_input_is_a_clear_error(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    owner = world.token["owner"]
    partner = org_gid(world.partner.id)
    comment = gid(NodeType.CASE_COMMENT, world.ids["mShared"])
    grant_id = world.grants["gOpp"]["id"]
    bad_records = ["garbage", "", "Q3VzdG9tZXI6bm90LWEtdXVpZA==", grant_id, comment]
    bad_records += [world.partnership["partner"], partner, gid(NodeType.USER, world.owner.admin.id)]
    cases = [(record, partner, "recordId") for record in bad_records]
    cases += [
        (world.gid("oP"), bad, "partnerId")
        for bad in ("garbage", world.gid("cEu"), world.partnership["partner"], grant_id)
    ]

    for record, partner_id, field in cases:
        variables = {"record": record, "partner": partner_id}
        response = await tokens.graphql(client, owner, EXPLAIN, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] == {"explainAccess": None}, (record, partner_id)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (record, partner_id, error)
        assert error["extensions"]["fields"] == [field]
        assert "Give the global id of" in error["message"]

    missing = await tokens.graphql(
        client, owner, "query ($r: ID!) { explainAccess(recordId: $r) { visible } }", {"r": "x"}
    )
    assert missing.status_code == 200
    assert missing.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_statements_do_not_grow_with_the_grants(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    world = await build_world(client, factory, owner_sessions)
    counts = []
    for more in range(3):
        if more:
            await grant(
                client,
                world,
                "partner",
                f"gMore{more}",
                recordType="OPPORTUNITIES",
                selection="EXPLICIT",
                recordIds=[world.gid("oOpen")],
            )
        with counting_statements() as statements:
            explanation = await explain(client, world, "oP", "partner")
        assert len(explanation["verdicts"]) == 1 + more
        counts.append(len(statements))
    print(f"statements per explanation: {counts}")
    assert counts[0] == counts[1] == counts[2], counts
    # RLS setting, token checks, the record, the partnership, the grants, one for every verdict.
    assert counts[0] <= 8, counts
