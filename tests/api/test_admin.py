"""An organisation's admins manage its own API clients and users, over HTTP with real tokens.

Covers: every admin query and mutation; FORBIDDEN without `partners:manage` (and nothing
written); another organisation's clients and users answering exactly like absent ones;
secrets that work at /oauth/token, are shown once and die when rotated; disabling that bites
on the next request; input checks; the audit trail; accepting an invitation.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.access.actor import Role
from hub.access.scopes import ALL_SCOPES, Scope
from hub.audit.models import AuditEvent
from hub.audit.record import EventType
from hub.db import session_factory
from hub.errors import InvalidInput
from hub.orgs.clients import ClientCredentials
from hub.orgs.credentials import verify_secret
from hub.orgs.models import ApiClient, Invitation, User
from hub.orgs.users import accept_invitation
from resolvers.ids import NodeType, decode_any_id, encode_id
from tests import tokens
from tests.auth.browser import Authorization, approve, exchange
from tests.factories import Factory, Org

Sessions = async_sessionmaker[AsyncSession]

CLIENT_FIELDS = """id clientId name scopes grantTypes redirectUris public disabledAt
    secretRotatedAt createdAt"""
USER_FIELDS = "id email displayName role disabledAt invitationPending"

CLIENTS = f"""query ($first: Int!, $after: String) {{ clients(first: $first, after: $after) {{
    edges {{ node {{ {CLIENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
USERS = f"""query ($first: Int!, $after: String) {{ users(first: $first, after: $after) {{
    edges {{ node {{ {USER_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
REGISTER = f"""mutation ($input: RegisterClientInput!) {{ registerClient(input: $input) {{
    client {{ {CLIENT_FIELDS} }} clientSecret userErrors {{ field message code }} }} }}"""
ROTATE = f"""mutation ($id: ID!) {{ rotateClientSecret(input: {{clientId: $id}}) {{
    client {{ {CLIENT_FIELDS} }} clientSecret userErrors {{ field message code }} }} }}"""
DISABLE_CLIENT = f"""mutation ($id: ID!) {{ disableClient(input: {{clientId: $id}}) {{
    client {{ {CLIENT_FIELDS} }} userErrors {{ field message code }} }} }}"""
INVITE = f"""mutation ($input: InviteUserInput!) {{ inviteUser(input: $input) {{
    user {{ {USER_FIELDS} }} invitationToken userErrors {{ field message code }} }} }}"""
DISABLE_USER = f"""mutation ($id: ID!) {{ disableUser(input: {{userId: $id}}) {{
    user {{ {USER_FIELDS} }} userErrors {{ field message code }} }} }}"""
NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on ApiClient {{ {CLIENT_FIELDS} }} }} }}"
VIEWER = "{ viewer { clientId } }"

ADMIN_EVENTS = [
    EventType.CLIENT_REGISTERED.value,
    EventType.CLIENT_SECRET_ROTATED.value,
    EventType.CLIENT_DISABLED.value,
    EventType.USER_INVITED.value,
    EventType.USER_DISABLED.value,
    EventType.USER_ACTIVATED.value,
]
NEW_PASSWORD = "a long enough passphrase"


# --- helpers -------------------------------------------------------------------------------


async def data(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    """`data` of a 200 response that carried no GraphQL error."""
    response = await tokens.graphql(client, token, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def admin_token(client: httpx.AsyncClient, org: Org) -> str:
    """A token of the organisation's client with every scope, `partners:manage` included."""
    return await tokens.client_credentials(client, org.client)


def client_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"name": "ERP sync", "scopes": ["customers:read"]}
    values.update(overrides)
    return values


async def register(
    client: httpx.AsyncClient, token: str, **overrides: Any
) -> tuple[dict[str, Any], str | None]:
    """Register a client through the API; its node and its one-time secret."""
    payload = (await data(client, token, REGISTER, input=client_input(**overrides)))[
        "registerClient"
    ]
    assert payload["userErrors"] == [], payload
    return payload["client"], payload["clientSecret"]


async def invite(
    client: httpx.AsyncClient, token: str, email: str, role: str = "SALES"
) -> tuple[dict[str, Any], str]:
    payload = (
        await data(
            client,
            token,
            INVITE,
            input={"email": email, "displayName": "Nina New", "role": role},
        )
    )["inviteUser"]
    assert payload["userErrors"] == [], payload
    return payload["user"], payload["invitationToken"]


async def token_response(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def credentials(org: Org, node: dict[str, Any], secret: str | None) -> ClientCredentials:
    assert secret is not None
    return ClientCredentials(node["clientId"], secret, org.id, tuple(node["scopes"]))


async def count(sessions: Sessions, model: Any, org: Org) -> int:
    async with sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(model).where(model.org_id == org.id)
        )
    return int(total or 0)


async def admin_events(sessions: Sessions, org: Org) -> list[AuditEvent]:
    """The organisation's admin audit events, oldest first, read as the owner role."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org.id, AuditEvent.type.in_(ADMIN_EVENTS))
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
        return list(rows)


async def snapshot(sessions: Sessions, org: Org) -> tuple[int, int, int, int]:
    """How many clients, users, invitations and admin events the organisation has."""
    return (
        await count(sessions, ApiClient, org),
        await count(sessions, User, org),
        await count(sessions, Invitation, org),
        len(await admin_events(sessions, org)),
    )


async def stored_client(sessions: Sessions, client_id: str) -> ApiClient:
    async with sessions() as session:
        return (
            await session.scalars(select(ApiClient).where(ApiClient.client_id == client_id))
        ).one()


async def stored_user(sessions: Sessions, user_id: uuid.UUID) -> User:
    async with sessions() as session:
        return (await session.scalars(select(User).where(User.id == user_id))).one()


def record_id(global_id: str) -> uuid.UUID:
    """The uuid inside a global id, to look the row up directly."""
    return decode_any_id(global_id)[1]


@pytest.fixture
def app_sessions(app_engine: AsyncEngine) -> Sessions:
    """Sessions as the application role, so row-level security applies as in production."""
    return session_factory(app_engine)


# --- clients -------------------------------------------------------------------------------


async def test_registered_secret_works_once_shown_and_never_listed(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmReg")
    token = await admin_token(client, org)

    node, secret = await register(
        client, token, name="  ERP sync  ", scopes=["customers:read", "cases:read"]
    )

    assert secret
    assert node["name"] == "ERP sync"
    assert node["scopes"] == ["cases:read", "customers:read"]
    assert node["grantTypes"] == ["CLIENT_CREDENTIALS"]
    assert node["redirectUris"] == []
    assert node["public"] is False
    assert node["disabledAt"] is None and node["secretRotatedAt"] is None
    assert node["clientId"].startswith("hub_")
    stored = await stored_client(owner_sessions, node["clientId"])
    assert stored.secret_hash != secret and verify_secret(stored.secret_hash, secret)

    issued = await tokens.client_credentials(client, credentials(org, node, secret))
    viewer = await data(client, issued, VIEWER)
    assert viewer["viewer"]["clientId"] == node["clientId"]

    response = await tokens.graphql(client, token, CLIENTS, {"first": 10})
    assert secret not in response.text
    listed = [edge["node"] for edge in response.json()["data"]["clients"]["edges"]]
    assert [entry["clientId"] for entry in listed] == [org.client.client_id, node["clientId"]]
    assert listed[1] == node
    assert (await data(client, token, NODE, id=node["id"]))["node"] == node


async def test_clients_page_with_cursors(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("AdmPage")
    token = await admin_token(client, org)
    names = [f"client {index}" for index in range(4)]
    for name in names:
        await register(client, token, name=name)

    seen: list[str] = []
    after = None
    while True:
        page = (await data(client, token, CLIENTS, first=2, after=after))["clients"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["test client", *names]


async def test_rotated_secret_replaces_the_old_one_at_once(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmRot")
    token = await admin_token(client, org)
    node, old_secret = await register(client, token)
    assert old_secret is not None

    payload = (await data(client, token, ROTATE, id=node["id"]))["rotateClientSecret"]

    assert payload["userErrors"] == []
    new_secret = payload["clientSecret"]
    assert new_secret and new_secret != old_secret
    assert payload["client"]["secretRotatedAt"] is not None
    refused = await token_response(client, node["clientId"], old_secret)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    accepted = await token_response(client, node["clientId"], new_secret)
    assert accepted.status_code == 200, accepted.text
    listed = await tokens.graphql(client, token, CLIENTS, {"first": 10})
    assert new_secret not in listed.text
    stored = await stored_client(owner_sessions, node["clientId"])
    assert verify_secret(stored.secret_hash, new_secret)
    assert stored.secret_rotated_at is not None


async def test_disabled_client_is_refused_on_its_next_request(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmDis")
    token = await admin_token(client, org)
    node, secret = await register(client, token, scopes=["customers:read"])
    held = await tokens.client_credentials(client, credentials(org, node, secret))
    assert (await tokens.graphql(client, held, VIEWER)).status_code == 200

    payload = (await data(client, token, DISABLE_CLIENT, id=node["id"]))["disableClient"]

    assert payload["userErrors"] == []
    disabled_at = payload["client"]["disabledAt"]
    assert disabled_at is not None
    refused = await tokens.graphql(client, held, VIEWER)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert secret is not None
    assert (await token_response(client, node["clientId"], secret)).status_code == 401
    # Idempotent: a second disable answers the same client and records nothing more.
    again = (await data(client, token, DISABLE_CLIENT, id=node["id"]))["disableClient"]
    assert again == {"client": payload["client"], "userErrors": []}
    assert [event.type for event in await admin_events(owner_sessions, org)] == [
        EventType.CLIENT_REGISTERED.value,
        EventType.CLIENT_DISABLED.value,
    ]
    # A disabled client gets no new secret either.
    rotated = (await data(client, token, ROTATE, id=node["id"]))["rotateClientSecret"]
    assert rotated["clientSecret"] is None
    assert [error["code"] for error in rotated["userErrors"]] == ["INVALID"]


async def test_a_client_cannot_disable_itself(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmSelf")
    token = await admin_token(client, org)
    own_id = (await data(client, token, CLIENTS, first=1))["clients"]["edges"][0]["node"]["id"]

    payload = (await data(client, token, DISABLE_CLIENT, id=own_id))["disableClient"]

    assert payload["client"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "clientId"],
            "message": "A client cannot disable itself.",
            "code": "INVALID",
        }
    ]
    assert (await stored_client(owner_sessions, org.client.client_id)).disabled_at is None
    assert (await tokens.graphql(client, token, VIEWER)).status_code == 200


async def test_public_client_has_no_secret_and_no_client_credentials(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmPub")
    token = await admin_token(client, org)

    node, secret = await register(
        client,
        token,
        name="Partner portal",
        public=True,
        grantTypes=["AUTHORIZATION_CODE", "REFRESH_TOKEN"],
        redirectUris=["https://portal.example/callback", "http://localhost:8080/cb"],
    )

    assert secret is None
    assert node["public"] is True
    assert node["grantTypes"] == ["AUTHORIZATION_CODE", "REFRESH_TOKEN"]
    assert node["redirectUris"] == ["https://portal.example/callback", "http://localhost:8080/cb"]
    assert (await stored_client(owner_sessions, node["clientId"])).secret_hash == ""
    grant = {"grant_type": "client_credentials"}
    attempts = [
        await client.post("/oauth/token", data=grant, auth=(node["clientId"], "")),
        await client.post("/oauth/token", data={**grant, "client_id": node["clientId"]}),
    ]
    for response in attempts:
        assert response.status_code in (400, 401), response.text
        assert "access_token" not in response.json()
    rotated = (await data(client, token, ROTATE, id=node["id"]))["rotateClientSecret"]
    assert rotated == {
        "client": None,
        "clientSecret": None,
        "userErrors": [
            {
                "field": ["input", "clientId"],
                "message": "A public client has no secret to rotate.",
                "code": "INVALID",
            }
        ],
    }


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": ""}, [(["input", "name"], "REQUIRED")]),
        ({"name": "   "}, [(["input", "name"], "REQUIRED")]),
        ({"name": "x" * 201}, [(["input", "name"], "TOO_LONG")]),
        ({"scopes": []}, [(["input", "scopes"], "REQUIRED")]),
        ({"scopes": ["everything:all"]}, [(["input", "scopes", "0"], "INVALID")]),
        (
            {"scopes": ["customers:read", "customers:read"]},
            [(["input", "scopes", "1"], "DUPLICATE")],
        ),
        ({"grantTypes": []}, [(["input", "grantTypes"], "REQUIRED")]),
        (
            {"grantTypes": ["CLIENT_CREDENTIALS", "CLIENT_CREDENTIALS"]},
            [(["input", "grantTypes", "1"], "DUPLICATE")],
        ),
        (
            {"grantTypes": ["CLIENT_CREDENTIALS", "REFRESH_TOKEN"]},
            [(["input", "grantTypes"], "INVALID")],
        ),
        ({"grantTypes": ["AUTHORIZATION_CODE"]}, [(["input", "redirectUris"], "REQUIRED")]),
        ({"redirectUris": ["https://erp.example/cb"]}, [(["input", "redirectUris"], "INVALID")]),
        (
            {"public": True},
            [(["input", "grantTypes"], "INVALID"), (["input", "grantTypes"], "REQUIRED")],
        ),
        (
            {"public": True, "grantTypes": ["REFRESH_TOKEN"]},
            [(["input", "grantTypes"], "INVALID"), (["input", "grantTypes"], "REQUIRED")],
        ),
    ],
    ids=lambda value: json.dumps(value)[:40] if isinstance(value, dict) else "",
)
async def test_bad_client_input_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    overrides: dict[str, Any],
    errors: list[tuple[list[str], str]],
) -> None:
    org = await factory.organisation("AdmBad")
    token = await admin_token(client, org)
    before = await snapshot(owner_sessions, org)

    payload = (await data(client, token, REGISTER, input=client_input(**overrides)))[
        "registerClient"
    ]

    assert payload["client"] is None and payload["clientSecret"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == errors
    assert all(error["message"] for error in payload["userErrors"])
    assert await snapshot(owner_sessions, org) == before


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("http://example.com/cb", "INVALID"),
        ("https://x/cb#frag", "INVALID"),
        ("https://x/cb#", "INVALID"),
        ("/cb", "INVALID"),
        ("example.com/cb", "INVALID"),
        ("https:///cb", "INVALID"),
        ("javascript:alert(1)", "INVALID"),
        ("https://user:pw@portal.example/cb", "INVALID"),
        ("https://portal.example/a b", "INVALID"),
        ("http://localhost:99999/cb", "INVALID"),
        ("http://localhost.evil.example/cb", "INVALID"),
        ("https://portal.example/" + "a" * 2000, "TOO_LONG"),
    ],
)
async def test_bad_redirect_uri_is_refused(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, uri: str, code: str
) -> None:
    org = await factory.organisation("AdmUri")
    token = await admin_token(client, org)
    before = await snapshot(owner_sessions, org)

    payload = (
        await data(
            client,
            token,
            REGISTER,
            input=client_input(
                grantTypes=["AUTHORIZATION_CODE"],
                redirectUris=["https://portal.example/ok", uri],
            ),
        )
    )["registerClient"]

    assert payload["client"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
        (["input", "redirectUris", "1"], code)
    ]
    assert await snapshot(owner_sessions, org) == before


async def test_redirect_uri_list_is_short_and_without_repeats(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmUris")
    token = await admin_token(client, org)
    before = await snapshot(owner_sessions, org)
    many = [f"https://portal.example/cb{index}" for index in range(11)]
    repeated = [
        "https://portal.example/cb",
        "http://127.0.0.1:3000/cb",
        "https://portal.example/cb",
    ]

    answers = [
        (await data(client, token, REGISTER, input=client_input(**values)))["registerClient"]
        for values in (
            {"grantTypes": ["AUTHORIZATION_CODE"], "redirectUris": many},
            {"grantTypes": ["AUTHORIZATION_CODE"], "redirectUris": repeated},
        )
    ]

    assert [(e["field"], e["code"]) for e in answers[0]["userErrors"]] == [
        (["input", "redirectUris"], "OUT_OF_RANGE")
    ]
    assert [(e["field"], e["code"]) for e in answers[1]["userErrors"]] == [
        (["input", "redirectUris", "2"], "DUPLICATE")
    ]
    assert await snapshot(owner_sessions, org) == before


async def test_unknown_grant_type_fails_validation(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmGrant")
    token = await admin_token(client, org)
    before = await snapshot(owner_sessions, org)

    response = await tokens.graphql(
        client, token, REGISTER, {"input": client_input(grantTypes=["PASSWORD"])}
    )

    body = response.json()
    assert body.get("data") is None
    assert "PASSWORD" in body["errors"][0]["message"]
    assert await snapshot(owner_sessions, org) == before


# --- users ---------------------------------------------------------------------------------


async def test_invite_lists_and_disables_users(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmUsr")
    token = await admin_token(client, org)

    user, invitation_token = await invite(client, token, "  Nina.New@Example.COM ", "MANAGER")

    assert user["email"] == "nina.new@example.com"
    assert user["displayName"] == "Nina New"
    assert user["role"] == "MANAGER"
    assert user["disabledAt"] is None
    assert user["invitationPending"] is True
    assert len(invitation_token) >= 40
    stored = await stored_user(owner_sessions, record_id(user["id"]))
    assert stored.password_hash is None
    async with owner_sessions() as session:
        invitation = (
            await session.scalars(select(Invitation).where(Invitation.user_id == stored.id))
        ).one()
    assert invitation.token_hash == hashlib.sha256(invitation_token.encode()).hexdigest()
    lifetime = invitation.expires_at - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)

    listed = (await data(client, token, USERS, first=10))["users"]["edges"]
    assert [edge["node"]["email"] for edge in listed] == [org.admin.email, user["email"]]
    assert listed[0]["node"]["invitationPending"] is False
    assert listed[1]["node"] == user

    disabled = (await data(client, token, DISABLE_USER, id=user["id"]))["disableUser"]
    assert disabled["userErrors"] == []
    assert disabled["user"]["disabledAt"] is not None
    again = (await data(client, token, DISABLE_USER, id=user["id"]))["disableUser"]
    assert again == disabled
    assert (await stored_user(owner_sessions, stored.id)).disabled_at is not None


async def test_users_page_with_cursors(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organisation("AdmUPage")
    token = await admin_token(client, org)
    emails = [f"person{index}@example.com" for index in range(3)]
    for email in emails:
        await invite(client, token, email)

    first = (await data(client, token, USERS, first=2))["users"]
    rest = (await data(client, token, USERS, first=2, after=first["pageInfo"]["endCursor"]))[
        "users"
    ]

    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    seen = [edge["node"]["email"] for edge in first["edges"] + rest["edges"]]
    assert seen == [org.admin.email, *emails]


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"email": ""}, [(["input", "email"], "REQUIRED")]),
        ({"email": "not-an-address"}, [(["input", "email"], "INVALID")]),
        ({"email": "a" * 64 + "@" + "b" * 252 + ".example"}, [(["input", "email"], "TOO_LONG")]),
        ({"displayName": ""}, [(["input", "displayName"], "REQUIRED")]),
        ({"displayName": "x" * 201}, [(["input", "displayName"], "TOO_LONG")]),
        (
            {"email": "nope", "displayName": " "},
            [(["input", "email"], "INVALID"), (["input", "displayName"], "REQUIRED")],
        ),
    ],
)
async def test_bad_invitation_input_is_refused(
    client: httpx.AsyncClient,
    factory: Factory,
    owner_sessions: Sessions,
    values: dict[str, str],
    errors: list[tuple[list[str], str]],
) -> None:
    org = await factory.organisation("AdmInvBad")
    token = await admin_token(client, org)
    before = await snapshot(owner_sessions, org)
    invitation = {"email": "ok@example.com", "displayName": "Ok", "role": "SALES", **values}

    payload = (await data(client, token, INVITE, input=invitation))["inviteUser"]

    assert payload["user"] is None and payload["invitationToken"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == errors
    assert await snapshot(owner_sessions, org) == before


async def test_duplicate_address_and_bad_role_write_nothing(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmDup")
    token = await admin_token(client, org)
    await invite(client, token, "twice@example.com")
    before = await snapshot(owner_sessions, org)

    duplicate = (
        await data(
            client,
            token,
            INVITE,
            input={"email": "TWICE@example.com", "displayName": "Again", "role": "SUPPORT"},
        )
    )["inviteUser"]
    existing_admin = (
        await data(
            client,
            token,
            INVITE,
            input={"email": org.admin.email, "displayName": "Again", "role": "SUPPORT"},
        )
    )["inviteUser"]
    bad_role = await tokens.graphql(
        client,
        token,
        INVITE,
        {"input": {"email": "new@example.com", "displayName": "New", "role": "OWNER"}},
    )

    for payload in (duplicate, existing_admin):
        assert payload["user"] is None and payload["invitationToken"] is None
        assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
            (["input", "email"], "DUPLICATE")
        ]
    body = bad_role.json()
    assert body.get("data") is None
    assert "OWNER" in body["errors"][0]["message"]
    assert await snapshot(owner_sessions, org) == before


async def test_admin_user_manages_without_the_scope_but_not_themself(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    """An ADMIN user may manage with any token scopes; a SALES user may not, whatever asked."""
    org = await factory.organisation("AdmRole")
    admin = await factory.person(org, role=Role.ADMIN)
    sales = await factory.person(org, role=Role.SALES)
    portal = await factory.portal(org)

    async def user_token(person: Any, scope: str) -> str:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as browser:
            authorization = Authorization(portal, scope=scope)
            code = await approve(browser, authorization, person)
        issued = await exchange(client, authorization, code)
        assert issued.status_code == 200, issued.text
        token: str = issued.json()["access_token"]
        return token

    admin_user_token = await user_token(admin, "customers:read")
    listed = (await data(client, admin_user_token, USERS, first=10))["users"]["edges"]
    assert {edge["node"]["email"] for edge in listed} >= {admin.email, sales.email}
    own = encode_id(NodeType.USER, admin.id)
    refused = (await data(client, admin_user_token, DISABLE_USER, id=own))["disableUser"]
    assert refused == {
        "user": None,
        "userErrors": [
            {
                "field": ["input", "userId"],
                "message": "You cannot disable yourself.",
                "code": "INVALID",
            }
        ],
    }
    assert (await stored_user(owner_sessions, admin.id)).disabled_at is None

    sales_token = await user_token(sales, "customers:read partners:manage")
    forbidden = await tokens.graphql(client, sales_token, USERS, {"first": 10})
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- who may: scope, and the tenant wall --------------------------------------------------


async def test_without_partners_manage_everything_is_forbidden_and_nothing_written(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmForbid")
    scopes = " ".join(sorted(ALL_SCOPES - {Scope.PARTNERS_MANAGE.value}))
    token = await tokens.client_credentials(client, org.client, scopes)
    own_client = encode_id(
        NodeType.API_CLIENT, (await stored_client(owner_sessions, org.client.client_id)).id
    )
    user = encode_id(NodeType.USER, org.admin.id)
    before = await snapshot(owner_sessions, org)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (CLIENTS, {"first": 10}),
        (USERS, {"first": 10}),
        ("{ clients { edges { node { id } } } }", {}),
        ("{ users { edges { node { id } } } }", {}),
        (NODE, {"id": own_client}),
        (REGISTER, {"input": client_input()}),
        (ROTATE, {"id": own_client}),
        (DISABLE_CLIENT, {"id": own_client}),
        (INVITE, {"input": {"email": "x@example.com", "displayName": "X", "role": "ADMIN"}}),
        (DISABLE_USER, {"id": user}),
    ]

    for query, variables in attempts:
        response = await tokens.graphql(client, token, query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"], query
        assert "partners:manage" in body["errors"][0]["message"]

    assert await snapshot(owner_sessions, org) == before
    assert (await tokens.graphql(client, token, VIEWER)).status_code == 200


async def test_another_organisations_clients_and_users_look_absent(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org_a = await factory.organisation("AdmIsoA")
    org_b = await factory.organisation("AdmIsoB")
    token_a = await admin_token(client, org_a)
    token_b = await admin_token(client, org_b)
    client_b, secret_b = await register(client, token_b, name="B integration")
    user_b, _ = await invite(client, token_b, "b.person@example.com")
    before_b = await snapshot(owner_sessions, org_b)

    listed_clients = (await data(client, token_a, CLIENTS, first=100))["clients"]["edges"]
    listed_users = (await data(client, token_a, USERS, first=100))["users"]["edges"]
    assert [edge["node"]["clientId"] for edge in listed_clients] == [org_a.client.client_id]
    assert [edge["node"]["email"] for edge in listed_users] == [org_a.admin.email]
    assert (await data(client, token_a, NODE, id=client_b["id"]))["node"] is None

    absent_client = encode_id(NodeType.API_CLIENT, uuid.uuid4())
    absent_user = encode_id(NodeType.USER, uuid.uuid4())
    for query, foreign, absent in (
        (ROTATE, client_b["id"], absent_client),
        (DISABLE_CLIENT, client_b["id"], absent_client),
        (DISABLE_USER, user_b["id"], absent_user),
    ):
        foreign_answer = await tokens.graphql(client, token_a, query, {"id": foreign})
        absent_answer = await tokens.graphql(client, token_a, query, {"id": absent})
        assert foreign_answer.status_code == absent_answer.status_code == 200
        assert foreign_answer.content == absent_answer.content
        payload = next(iter(foreign_answer.json()["data"].values()))
        assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"]

    assert await snapshot(owner_sessions, org_b) == before_b
    assert secret_b is not None
    assert (await token_response(client, client_b["clientId"], secret_b)).status_code == 200
    assert (await stored_user(owner_sessions, record_id(user_b["id"]))).disabled_at is None


async def test_wrong_type_or_garbage_ids_are_not_found(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organisation("AdmIds")
    token = await admin_token(client, org)
    wrong_type = encode_id(NodeType.USER, org.admin.id)

    for query, global_id, field in (
        (ROTATE, wrong_type, "clientId"),
        (DISABLE_CLIENT, "garbage", "clientId"),
        (DISABLE_USER, encode_id(NodeType.API_CLIENT, uuid.uuid4()), "userId"),
    ):
        payload = next(iter((await data(client, token, query, id=global_id)).values()))
        assert payload["userErrors"] == [
            {"field": ["input", field], "message": "No such record.", "code": "NOT_FOUND"}
        ]


async def test_an_admin_cannot_hand_on_more_than_it_holds(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmHold")
    token = await tokens.client_credentials(client, org.client, "partners:manage customers:read")
    before = await snapshot(owner_sessions, org)

    wider_client = (
        await data(
            client,
            token,
            REGISTER,
            input=client_input(scopes=["customers:read", "customers:write", "bogus"]),
        )
    )["registerClient"]
    wider_users = [
        (
            await data(
                client,
                token,
                INVITE,
                input={"email": f"{role.lower()}@example.com", "displayName": "X", "role": role},
            )
        )["inviteUser"]
        for role in ("ADMIN", "SALES")
    ]

    assert [(e["field"], e["code"], e["message"]) for e in wider_client["userErrors"]] == [
        (
            ["input", "scopes", "1"],
            "INVALID",
            "You cannot give a client a scope you do not hold yourself.",
        ),
        (["input", "scopes", "2"], "INVALID", "Unknown scope."),
    ]
    for payload in wider_users:
        assert payload["user"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", "role"], "INVALID")
        ]
    assert await snapshot(owner_sessions, org) == before
    narrow, _ = await register(client, token, scopes=["customers:read", "partners:manage"])
    assert narrow["scopes"] == ["customers:read", "partners:manage"]


# --- the audit trail -----------------------------------------------------------------------


async def test_every_admin_mutation_is_audited_without_secrets(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions
) -> None:
    org = await factory.organisation("AdmAudit")
    token = await admin_token(client, org)
    shown: list[str] = []
    request_ids: list[str] = []

    async def run(query: str, **variables: Any) -> dict[str, Any]:
        response = await tokens.graphql(client, token, query, variables)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        request_ids.append(response.headers["x-request-id"])
        payload: dict[str, Any] = next(iter(response.json()["data"].values()))
        assert payload["userErrors"] == []
        return payload

    registered = await run(REGISTER, input=client_input())
    shown.append(registered["clientSecret"])
    rotated = await run(ROTATE, id=registered["client"]["id"])
    shown.append(rotated["clientSecret"])
    await run(DISABLE_CLIENT, id=registered["client"]["id"])
    invited = await run(
        INVITE, input={"email": "audited@example.com", "displayName": "Au Dit", "role": "SUPPORT"}
    )
    shown.append(invited["invitationToken"])
    await run(DISABLE_USER, id=invited["user"]["id"])

    events = await admin_events(owner_sessions, org)
    assert [event.type for event in events] == ADMIN_EVENTS[:5]
    assert [event.request_id for event in events] == request_ids
    assert {event.actor_client_id for event in events} == {org.client.client_id}
    assert {event.actor_user_id for event in events} == {None}
    client_id = registered["client"]["clientId"]
    user_id = str(record_id(invited["user"]["id"]))
    assert [event.details.get("client_id") or event.details.get("user_id") for event in events] == [
        client_id,
        client_id,
        client_id,
        user_id,
        user_id,
    ]
    assert events[0].details["scopes"] == ["customers:read"]
    assert events[3].details["role"] == "SUPPORT"
    stored = await stored_client(owner_sessions, client_id)
    stored_invitation_hash = hashlib.sha256(shown[2].encode()).hexdigest()
    for event in events:
        text = json.dumps(event.details)
        for secret in [*shown, stored.secret_hash, stored_invitation_hash]:
            assert secret not in text
        assert not {"secret", "client_secret", "secret_hash", "token", "token_hash"} & set(
            event.details
        )
        assert "audited@example.com" not in text


# --- accepting an invitation ---------------------------------------------------------------


@pytest.fixture
async def invited(
    client: httpx.AsyncClient, factory: Factory
) -> AsyncIterator[tuple[Org, uuid.UUID, str]]:
    org = await factory.organisation("AdmAccept")
    token = await admin_token(client, org)
    user, invitation_token = await invite(client, token, "joiner@example.com")
    yield org, record_id(user["id"]), invitation_token


async def _accept(
    sessions: Sessions, org_id: uuid.UUID, token: str, password: str = NEW_PASSWORD
) -> User:
    async with sessions() as session, session.begin():
        return await accept_invitation(session, org_id, token, password, request_id="req-accept")


async def _refusal(sessions: Sessions, org_id: uuid.UUID, token: str) -> list[Any]:
    with pytest.raises(InvalidInput) as refused:
        await _accept(sessions, org_id, token)
    return list(refused.value.errors)


async def test_accepting_sets_a_password_once(
    client: httpx.AsyncClient,
    app_sessions: Sessions,
    owner_sessions: Sessions,
    invited: tuple[Org, uuid.UUID, str],
) -> None:
    org, user_id, invitation_token = invited
    wrong = await _refusal(app_sessions, org.id, "not-the-token")

    accepted = await _accept(app_sessions, org.id, invitation_token)

    assert accepted.id == user_id
    stored = await stored_user(owner_sessions, user_id)
    assert stored.password_hash is not None
    assert verify_secret(stored.password_hash, NEW_PASSWORD)
    assert not verify_secret(stored.password_hash, invitation_token)
    [activated] = [
        event
        for event in await admin_events(owner_sessions, org)
        if event.type == EventType.USER_ACTIVATED.value
    ]
    assert activated.actor_user_id == user_id
    assert activated.request_id == "req-accept"
    assert invitation_token not in json.dumps(activated.details)
    listed = (await data(client, await admin_token(client, org), USERS, first=10))["users"]
    assert [edge["node"]["invitationPending"] for edge in listed["edges"]] == [False, False]

    reused = await _refusal(app_sessions, org.id, invitation_token)
    assert reused == wrong
    assert [error.field for error in wrong] == [("token",)]
    assert verify_secret((await stored_user(owner_sessions, user_id)).password_hash, NEW_PASSWORD)


async def test_expired_foreign_and_disabled_invitations_are_refused_alike(
    client: httpx.AsyncClient,
    factory: Factory,
    app_sessions: Sessions,
    owner_sessions: Sessions,
    invited: tuple[Org, uuid.UUID, str],
) -> None:
    org, user_id, invitation_token = invited
    other = await factory.organisation("AdmAcceptOther")
    wrong = await _refusal(app_sessions, org.id, "x" * 43)

    foreign = await _refusal(app_sessions, other.id, invitation_token)
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(Invitation)
            .where(Invitation.user_id == user_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await _refusal(app_sessions, org.id, invitation_token)
    async with owner_sessions() as session, session.begin():
        await session.execute(
            update(Invitation)
            .where(Invitation.user_id == user_id)
            .values(expires_at=datetime.now(UTC) + timedelta(days=1))
        )
        await session.execute(
            update(User).where(User.id == user_id).values(disabled_at=datetime.now(UTC))
        )
    disabled = await _refusal(app_sessions, org.id, invitation_token)

    assert foreign == expired == disabled == wrong
    assert (await stored_user(owner_sessions, user_id)).password_hash is None
    assert [
        event.type
        for event in await admin_events(owner_sessions, org)
        if event.type == EventType.USER_ACTIVATED.value
    ] == []


@pytest.mark.parametrize("password", ["", "eleven char", "x" * 201])
async def test_password_length_is_checked(
    app_sessions: Sessions,
    owner_sessions: Sessions,
    invited: tuple[Org, uuid.UUID, str],
    password: str,
) -> None:
    org, user_id, invitation_token = invited

    with pytest.raises(InvalidInput) as refused:
        await _accept(app_sessions, org.id, invitation_token, password)

    assert [(error.field, error.code.value) for error in refused.value.errors] == [
        (("password",), "OUT_OF_RANGE")
    ]
    assert (await stored_user(owner_sessions, user_id)).password_hash is None
    # The invitation was not spent by the refusal.
    assert (await _accept(app_sessions, org.id, invitation_token)).id == user_id
