"""Signing keys in the database: every hub process signs with the newest and verifies with all."""

from __future__ import annotations

import secrets
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.keys.models import SigningKey

ALGORITHM = "RS256"


async def load_keys(session: AsyncSession) -> list[dict[str, Any]]:
    """Private JWKs, newest first (the first one signs)."""
    statement = select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)
    return [dict(key.private_jwk, kid=key.kid) for key in await session.scalars(statement)]


async def add_key(session: AsyncSession) -> str:
    """Generate a new RSA signing key and store it; returns its `kid`."""
    kid = secrets.token_hex(8)
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
    session.add(SigningKey(kid=kid, algorithm=ALGORITHM, private_jwk=key.as_dict(private=True)))
    await session.flush()
    return kid


async def ensure_key(session: AsyncSession) -> None:
    """At start-up: make the first key if the hub has none."""
    if (await session.scalars(select(SigningKey.kid).limit(1))).first() is None:
        await add_key(session)
