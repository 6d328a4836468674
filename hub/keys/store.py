"""Signing keys in the database: every hub process signs with the newest and verifies with all.

Rotation adds a key and retires the one that signed until then. A retired key stops signing at
once (every process asks for the newest key as it signs) but keeps verifying for
`RETIRED_KEY_GRACE`, longer than any token it signed can live; after that it no longer
verifies, and the next rotation deletes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import ColumnElement, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.record import Event, EventType, record
from hub.keys.models import SigningKey

ALGORITHM = "RS256"
ACCESS_TOKEN_MAX_LIFETIME = timedelta(minutes=15)
CLOCK_SKEW = timedelta(seconds=60)
# A token signed just before its key retired may be used until it expires, plus the skew.
RETIRED_KEY_GRACE = ACCESS_TOKEN_MAX_LIFETIME + CLOCK_SKEW + timedelta(minutes=1)


@dataclass(frozen=True)
class Rotation:
    """What `hub keys rotate` did: the key that signs now, the ones retired and deleted."""

    added: str
    retired: list[str]
    deleted: list[str]


def key_verifies() -> ColumnElement[bool]:
    """A key verifies while it signs, and for the grace period after it retired."""
    return or_(
        SigningKey.retired_at.is_(None),
        SigningKey.retired_at > func.now() - RETIRED_KEY_GRACE,
    )


def _jwk(key: SigningKey) -> dict[str, Any]:
    return dict(key.private_jwk, kid=key.kid)


async def verifying_keys(session: AsyncSession) -> list[dict[str, Any]]:
    """Private JWKs of every key that still verifies, newest first (the first one signs)."""
    statement = (
        select(SigningKey)
        .where(key_verifies())
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return [_jwk(key) for key in await session.scalars(statement)]


async def signing_kid(session: AsyncSession) -> str:
    """The `kid` of the key that signs now: the newest one not retired."""
    statement = (
        select(SigningKey.kid)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return (await session.scalars(statement)).one()


async def find_key(session: AsyncSession, kid: str) -> dict[str, Any] | None:
    """A key that still verifies, by `kid`: how a process learns of a rotation made elsewhere."""
    key = await session.scalar(select(SigningKey).where(SigningKey.kid == kid, key_verifies()))
    return _jwk(key) if key is not None else None


async def add_key(session: AsyncSession) -> str:
    """Generate a new RSA signing key and store it; returns its `kid`."""
    kid = secrets.token_hex(8)
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
    session.add(SigningKey(kid=kid, algorithm=ALGORITHM, private_jwk=key.as_dict(private=True)))
    await session.flush()
    return kid


async def ensure_key(session: AsyncSession) -> None:
    """At start-up: make the first key if the hub has none that signs."""
    await _lock_keys(session)
    live = select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)
    if (await session.scalars(live)).first() is None:
        await _audit_added(session, await add_key(session))


async def rotate_keys(session: AsyncSession) -> Rotation:
    """Add a key that signs from now on, retire the others, delete keys past their grace."""
    await _lock_keys(session)
    added = await add_key(session)
    retired = await session.scalars(
        update(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.kid != added)
        .values(retired_at=func.now())
        .returning(SigningKey.kid)
    )
    retired_kids = sorted(retired)
    deleted = await session.scalars(
        delete(SigningKey).where(~key_verifies()).returning(SigningKey.kid)
    )
    rotation = Rotation(added=added, retired=retired_kids, deleted=sorted(deleted))
    await _audit_added(session, added, retired=rotation.retired, deleted=rotation.deleted)
    return rotation


async def _audit_added(session: AsyncSession, kid: str, **details: object) -> None:
    """Filed under the hub itself: keys sign for every organisation."""
    await record(session, Event(type=EventType.SIGNING_KEY_ADDED, details={"kid": kid, **details}))


async def _lock_keys(session: AsyncSession) -> None:
    """One key change at a time (readers are not blocked), so one key is left signing."""
    await session.execute(text("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"))
