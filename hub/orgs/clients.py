"""API clients: registration and the one cross-tenant read the token endpoint needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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
    )


async def is_client_active(session: AsyncSession, client_id: str) -> bool:
    """Checked on every request, inside the caller's organisation (DESIGN 2.3)."""
    statement = select(ApiClient.disabled_at).where(ApiClient.client_id == client_id)
    row = (await session.execute(statement)).one_or_none()
    return row is not None and row.disabled_at is None


async def register_client(
    session: AsyncSession, org_id: uuid.UUID, name: str, scopes: list[str]
) -> ClientCredentials:
    """Create a client for `org_id`; the returned secret is the only copy there will be."""
    secret = new_secret()
    client = ApiClient(
        org_id=org_id,
        client_id=new_client_id(),
        name=name,
        secret_hash=hash_secret(secret),
        allowed_scopes=sorted(scopes),
    )
    session.add(client)
    await session.flush()
    return ClientCredentials(client.client_id, secret, org_id, tuple(client.allowed_scopes))
