"""An organisation's own API clients, managed by its admins: register, rotate, disable, list.

Only the caller's organisation is ever touched: every read goes through the access layer (and
row-level security), and a client of another organisation answers exactly like one that does
not exist. Secrets are shown once, in the result of `register` or `rotate_secret`, and are
never written to the audit trail.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Scope
from hub.access.scopes import ALL_SCOPES
from hub.audit.record import EventType, record_act
from hub.errors import InvalidInput, UserErrorCode
from hub.orgs.clients import create_client
from hub.orgs.credentials import hash_secret, new_secret
from hub.orgs.models import ApiClient
from hub.pagination import Page, PageRequest, fetch_page
from hub.validation import Checks

MAX_NAME_LENGTH = 200
MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 2000
MAX_ORIGINS = 10
MAX_ORIGIN_LENGTH = 300
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Plain http is tolerated only where the traffic never leaves the developer's machine.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})


class GrantType(enum.StrEnum):
    """The OAuth grants a client may use; the database's CHECK on `grant_types` allows these."""

    CLIENT_CREDENTIALS = "client_credentials"
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant name, not a secret


@dataclass(frozen=True)
class RegisterClient:
    name: str
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...] = (GrantType.CLIENT_CREDENTIALS.value,)
    redirect_uris: tuple[str, ...] = ()
    public: bool = False
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetClientOrigins:
    """The web origins whose pages may call the hub with the client's tokens, replacing the
    ones it had."""

    client_id: uuid.UUID
    allowed_origins: tuple[str, ...]


@dataclass(frozen=True)
class RotateClientSecret:
    client_id: uuid.UUID


@dataclass(frozen=True)
class DisableClient:
    client_id: uuid.UUID


@dataclass(frozen=True)
class ClientWithSecret:
    """A client and its clear secret: the only time the secret leaves the hub."""

    client: ApiClient
    client_secret: str | None


async def list_clients(session: AsyncSession, actor: Actor, page: PageRequest) -> Page[ApiClient]:
    """The organisation's clients, oldest first, disabled ones included (they are history)."""
    access.require_admin(actor)
    statement = access.select_owned(actor, ApiClient)
    return await fetch_page(session, ApiClient, statement, [ApiClient.created_at], False, page)


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ApiClient]:
    """Clients by id for `node(id:)`; only admins learn which clients exist."""
    access.require_admin(actor)
    return await access.get_owned_many(session, actor, ApiClient, ids)


async def register(
    session: AsyncSession, actor: Actor, command: RegisterClient
) -> ClientWithSecret:
    """Register a client for the caller's organisation.

    A client can never hold a scope the hub does not know, nor one the registering admin
    does not hold (`grantable_scopes`); a public client (no secret) can only use the
    authorization code grant, where PKCE stands in for the secret.
    """
    access.require_admin(actor)
    checks = Checks()
    checks.text("name", command.name, max_length=MAX_NAME_LENGTH, required=True)
    _check_scopes(checks, command.scopes, access.grantable_scopes(actor))
    _check_grant_types(checks, command.grant_types, public=command.public)
    _check_redirect_uris(checks, command.redirect_uris, command.grant_types)
    origins = _checked_origins(checks, command.allowed_origins)
    checks.done()
    created = await create_client(
        session,
        actor.org_id,
        command.name.strip(),
        command.scopes,
        grant_types=command.grant_types,
        redirect_uris=command.redirect_uris,
        public=command.public,
        allowed_origins=origins,
    )
    client = created.record
    await _audit(
        session,
        actor,
        EventType.CLIENT_REGISTERED,
        client,
        name=client.name,
        scopes=list(client.allowed_scopes),
        grant_types=list(client.grant_types),
        redirect_uris=list(client.redirect_uris),
        public=client.public,
        allowed_origins=list(client.allowed_origins),
    )
    return ClientWithSecret(client, created.client_secret)


async def set_origins(session: AsyncSession, actor: Actor, command: SetClientOrigins) -> ApiClient:
    """Replace the web origins a client's pages may call the hub from; audited with the
    origins before and after. Browsers see the change within `hub.cors.REMEMBERED_SECONDS`."""
    access.require_admin(actor)
    checks = Checks()
    origins = _checked_origins(checks, command.allowed_origins)
    checks.done()
    client = await access.get_owned(
        session, actor, ApiClient, command.client_id, lock=True, field="clientId"
    )
    before = list(client.allowed_origins)
    if before == origins:
        return client
    client.allowed_origins = origins
    await session.flush()
    await _audit(session, actor, EventType.CLIENT_ORIGINS_SET, client, before=before, after=origins)
    return client


async def rotate_secret(
    session: AsyncSession, actor: Actor, command: RotateClientSecret
) -> ClientWithSecret:
    """Give a client a new secret; the old one is refused by the token endpoint at once.

    Tokens already issued stay valid until they expire (at most 15 minutes); to cut those
    off too, disable the client.
    """
    access.require_admin(actor)
    client = await access.get_owned(
        session, actor, ApiClient, command.client_id, lock=True, field="clientId"
    )
    if client.public:
        raise InvalidInput.on(
            "clientId", UserErrorCode.INVALID, "A public client has no secret to rotate."
        )
    if client.disabled_at is not None:
        raise InvalidInput.on(
            "clientId", UserErrorCode.INVALID, "This client is disabled; it cannot get a secret."
        )
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    client.secret_rotated_at = datetime.now(UTC)
    await session.flush()
    await _audit(session, actor, EventType.CLIENT_SECRET_ROTATED, client)
    return ClientWithSecret(client, secret)


async def disable(session: AsyncSession, actor: Actor, command: DisableClient) -> ApiClient:
    """Disable a client: no new tokens, and the ones it holds fail on their next request.

    Idempotent: disabling a disabled client changes nothing and records nothing. A client
    may not disable itself, so an organisation cannot lock out the client it manages with;
    another admin client or user can.
    """
    access.require_admin(actor)
    client = await access.get_owned(
        session, actor, ApiClient, command.client_id, lock=True, field="clientId"
    )
    if client.disabled_at is not None:
        return client
    if client.client_id == actor.client_id:
        raise InvalidInput.on("clientId", UserErrorCode.INVALID, "A client cannot disable itself.")
    client.disabled_at = datetime.now(UTC)
    await session.flush()
    await _audit(session, actor, EventType.CLIENT_DISABLED, client)
    return client


def _check_scopes(checks: Checks, scopes: Sequence[str], grantable: frozenset[Scope]) -> None:
    if not scopes:
        checks.fail("scopes", UserErrorCode.REQUIRED, "A client needs at least one scope.")
    for index, scope in enumerate(scopes):
        if scope not in ALL_SCOPES:
            checks.fail_item("scopes", index, UserErrorCode.INVALID, "Unknown scope.")
        elif scope not in grantable:
            checks.fail_item(
                "scopes",
                index,
                UserErrorCode.INVALID,
                "You cannot give a client a scope you do not hold yourself.",
            )
    checks.distinct("scopes", scopes)


def _check_grant_types(checks: Checks, grant_types: Sequence[str], *, public: bool) -> None:
    known = {grant.value for grant in GrantType}
    if not grant_types:
        checks.fail("grantTypes", UserErrorCode.REQUIRED, "A client needs at least one grant.")
        return
    for index, grant in enumerate(grant_types):
        if grant not in known:
            checks.fail_item("grantTypes", index, UserErrorCode.INVALID, "Unknown grant type.")
    checks.distinct("grantTypes", grant_types)
    with_code = GrantType.AUTHORIZATION_CODE in grant_types
    if GrantType.REFRESH_TOKEN in grant_types and not with_code:
        checks.fail(
            "grantTypes",
            UserErrorCode.INVALID,
            "refresh_token is only issued with authorization_code.",
        )
    if public and GrantType.CLIENT_CREDENTIALS in grant_types:
        checks.fail(
            "grantTypes",
            UserErrorCode.INVALID,
            "A public client has no secret, so it cannot use client_credentials.",
        )
    if public and not with_code:
        checks.fail(
            "grantTypes", UserErrorCode.REQUIRED, "A public client must use authorization_code."
        )


def _check_redirect_uris(
    checks: Checks, redirect_uris: Sequence[str], grant_types: Sequence[str]
) -> None:
    """Redirect URIs exist for the authorization code grant and only for it (RFC 6749 §3.1.2).

    Each must be absolute and without a fragment; it must use https, except on the loopback
    host during development (RFC 8252 §7.3). The list is compared exactly at /authorize, so
    it is kept short and free of repeats.
    """
    with_code = GrantType.AUTHORIZATION_CODE in grant_types
    if with_code and not redirect_uris:
        checks.fail(
            "redirectUris",
            UserErrorCode.REQUIRED,
            "authorization_code needs at least one redirect URI.",
        )
    if not with_code and redirect_uris:
        checks.fail(
            "redirectUris",
            UserErrorCode.INVALID,
            "Redirect URIs are only used by the authorization_code grant.",
        )
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        checks.fail(
            "redirectUris",
            UserErrorCode.OUT_OF_RANGE,
            f"At most {MAX_REDIRECT_URIS} redirect URIs.",
        )
    for index, uri in enumerate(redirect_uris):
        problem = _redirect_uri_problem(uri)
        if problem is not None:
            checks.fail_item("redirectUris", index, *problem)
    checks.distinct("redirectUris", redirect_uris)


def _typed_problem(value: str, max_length: int, what: str) -> tuple[UserErrorCode, str] | None:
    """What is wrong with a typed URI or origin before it is parsed: its length, its
    characters."""
    if len(value) > max_length:
        return UserErrorCode.TOO_LONG, f"At most {max_length} characters."
    if any(character.isspace() or not character.isprintable() for character in value):
        return UserErrorCode.INVALID, f"{what} cannot contain spaces or control characters."
    return None


def _redirect_uri_problem(uri: str) -> tuple[UserErrorCode, str] | None:
    typed = _typed_problem(uri, MAX_REDIRECT_URI_LENGTH, "A redirect URI")
    if typed is not None:
        return typed
    try:
        parts = urlsplit(uri)
        port_is_valid = parts.port is None or parts.port > 0
    except ValueError:
        return UserErrorCode.INVALID, "Not a valid URI."
    if not parts.scheme or not parts.hostname:
        return UserErrorCode.INVALID, "A redirect URI must be absolute, such as https://host/cb."
    if not port_is_valid:
        return UserErrorCode.INVALID, "Not a valid port."
    if "#" in uri:
        return UserErrorCode.INVALID, "A redirect URI cannot have a fragment."
    if parts.username is not None or parts.password is not None:
        return UserErrorCode.INVALID, "A redirect URI cannot carry credentials."
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if scheme == "https" or (scheme == "http" and host in _LOOPBACK_HOSTS):
        return None
    return (
        UserErrorCode.INVALID,
        "Use https, or http only on localhost or 127.0.0.1 for development.",
    )


def _checked_origins(checks: Checks, origins: Sequence[str]) -> list[str]:
    """The origins as browsers send them (`Origin`: scheme://host[:port], lower case, no
    default port), each checked: https, or http on the loopback host during development; no
    path, query, fragment or credentials; no wildcard."""
    if len(origins) > MAX_ORIGINS:
        checks.fail("allowedOrigins", UserErrorCode.OUT_OF_RANGE, f"At most {MAX_ORIGINS} origins.")
    normalised: list[str] = []
    for index, origin in enumerate(origins):
        found = _origin(origin)
        if isinstance(found, tuple):
            checks.fail_item("allowedOrigins", index, *found)
        elif found in normalised:
            checks.fail_item(
                "allowedOrigins", index, UserErrorCode.DUPLICATE, "This origin is listed already."
            )
        else:
            normalised.append(found)
    return normalised


def _origin(origin: str) -> str | tuple[UserErrorCode, str]:
    """The origin in the form a browser sends it, or what is wrong with it."""
    typed = _typed_problem(origin, MAX_ORIGIN_LENGTH, "An origin")
    if typed is not None:
        return typed
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return UserErrorCode.INVALID, "Not a valid origin."
    if not parts.scheme or not parts.hostname or port == 0:
        return (
            UserErrorCode.INVALID,
            "An origin is scheme://host[:port], such as https://portal.example.",
        )
    if parts.path or parts.query or parts.fragment or "#" in origin or "?" in origin:
        return UserErrorCode.INVALID, "An origin has no path, query or fragment."
    if parts.username is not None or parts.password is not None or "*" in origin:
        return UserErrorCode.INVALID, "An origin names one site: no credentials, no wildcard."
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if not (scheme == "https" or (scheme == "http" and host in _LOOPBACK_HOSTS)):
        return (
            UserErrorCode.INVALID,
            "Use https, or http only on localhost or 127.0.0.1 for development.",
        )
    shown_port = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown_port}"


async def _audit(
    session: AsyncSession,
    actor: Actor,
    event_type: EventType,
    client: ApiClient,
    **details: object,
) -> None:
    """Who did what to which client. Details name the client, never its secret or hash."""
    await record_act(session, actor, event_type, {"client_id": client.client_id, **details})
