"""API clients: registration and the one cross-tenant read the token endpoint needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.orgs.credentials import hash_secret, new_client_id, new_secret
from hub.orgs.models import ApiClient

_AUTHENTICATING = text("SELECT set_config('hub.auth_client_id', :client_id, true)")


@dataclass(frozen=True)
class ClientCredentials:
    """A client as registered: the secret exists only in this object, never in storage."""

    client_id: str
    client_secret: str
    org_id: uuid.UUID
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ClientForAuthentication:
    org_id: uuid.UUID
    client_id: str
    secret_hash: str
    allowed_scopes: tuple[str, ...]
    disabled: bool
    grant_types: tuple[str, ...] = ("client_credentials",)
    redirect_uris: tuple[str, ...] = ()
    public: bool = False


async def find_client_for_authentication(
    session: AsyncSession, client_id: str
) -> ClientForAuthentication | None:
    """Read exactly one client by its public id, before any organisation is known.

    Row-level security allows this one row through `hub.auth_client_id` (set LOCAL to
    this transaction); no other tenant row becomes visible.
    """
    await session.execute(_AUTHENTICATING, {"client_id": client_id})
    client = (
        await session.scalars(select(ApiClient).where(ApiClient.client_id == client_id))
    ).one_or_none()
    if client is None:
        return None
    return ClientForAuthentication(
        org_id=client.org_id,
        client_id=client.client_id,
        secret_hash=client.secret_hash,
        allowed_scopes=tuple(client.allowed_scopes),
        disabled=client.disabled_at is not None,
        grant_types=tuple(client.grant_types),
        redirect_uris=tuple(client.redirect_uris),
        public=client.public,
    )


@dataclass(frozen=True)
class PublicClientCredentials:
    """A public client as registered: it proves itself with PKCE alone, so it has no secret."""

    client_id: str
    org_id: uuid.UUID
    scopes: tuple[str, ...]
    client_secret: None = None


@dataclass(frozen=True)
class NewClient:
    """A client row just written, with its clear secret (None for a public client).

    The secret exists only here and in the one response that shows it; storage keeps a hash.
    """

    record: ApiClient
    client_secret: str | None


async def create_client(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    scopes: Sequence[str],
    *,
    grant_types: Sequence[str] = ("client_credentials",),
    redirect_uris: Sequence[str] = (),
    public: bool = False,
    allowed_origins: Sequence[str] = (),
) -> NewClient:
    """Write a client for `org_id`. The input is trusted: `hub.orgs.client_admin` checks it.

    A public client (a single-page portal) cannot keep a secret, so it gets none: its
    `secret_hash` is empty, which the token endpoint never accepts as a match.
    """
    secret = None if public else new_secret()
    record = ApiClient(
        org_id=org_id,
        client_id=new_client_id(),
        name=name,
        secret_hash="" if secret is None else hash_secret(secret),
        allowed_scopes=sorted(scopes),
        grant_types=list(grant_types),
        redirect_uris=list(redirect_uris),
        public=public,
        allowed_origins=list(allowed_origins),
    )
    session.add(record)
    await session.flush()
    await session.refresh(record)
    return NewClient(record, secret)


@overload
async def register_client(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    scopes: Sequence[str],
    *,
    grant_types: Sequence[str] = ...,
    redirect_uris: Sequence[str] = ...,
    public: Literal[False] = ...,
) -> ClientCredentials: ...


@overload
async def register_client(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    scopes: Sequence[str],
    *,
    grant_types: Sequence[str] = ...,
    redirect_uris: Sequence[str] = ...,
    public: Literal[True],
) -> PublicClientCredentials: ...


async def register_client(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    scopes: Sequence[str],
    *,
    grant_types: Sequence[str] = ("client_credentials",),
    redirect_uris: Sequence[str] = (),
    public: bool = False,
) -> ClientCredentials | PublicClientCredentials:
    """Create a client for `org_id`; the returned secret is the only copy there will be.

    Overloaded so that callers registering a confidential client (the demo, the tests) get
    a secret typed `str` and need no None check.
    """
    created = await create_client(
        session,
        org_id,
        name,
        scopes,
        grant_types=grant_types,
        redirect_uris=redirect_uris,
        public=public,
    )
    client_id, scopes_held = created.record.client_id, tuple(created.record.allowed_scopes)
    if created.client_secret is None:
        return PublicClientCredentials(client_id, org_id, scopes_held)
    return ClientCredentials(client_id, created.client_secret, org_id, scopes_held)


_ORIGIN_ALLOWED = text("SELECT hub_origin_allowed(:origin)")


async def origin_allowed(session: AsyncSession, origin: str) -> bool:
    """Whether an enabled client of any organisation registered this web origin: all a
    browser's preflight, which carries no token, can be judged by (`hub.cors`)."""
    allowed: bool = await session.scalar(_ORIGIN_ALLOWED, {"origin": origin}) or False
    return allowed
