"""Password sign-in for an organisation's users, with a throttle that reveals nothing.

Failures are counted per (organisation, address typed), whether or not such a user exists:
after `SLOW_AFTER` failures each further attempt must wait twice as long as the one before
(up to `MAX_DELAY`), and after `LOCK_AFTER` failures the address is locked for `LOCK_FOR`.
A wrong password, an unknown address and a disabled user all answer `WRONG_CREDENTIALS`.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.orgs.credentials import normalise_email, verify_secret
from hub.orgs.models import ApiClient, Organisation, SignInThrottle, User

SLOW_AFTER = 3
MAX_DELAY = timedelta(seconds=60)
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)


class Refusal(enum.StrEnum):
    WRONG_CREDENTIALS = "wrong_credentials"
    TOO_SOON = "too_soon"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignInResult:
    user: User | None = None
    refusal: Refusal | None = None
    retry_after: timedelta | None = None
    locked_now: bool = False


async def sign_in(
    session: AsyncSession, org_id: uuid.UUID, email: str, password: str, now: datetime
) -> SignInResult:
    """Check a password sign-in to `org_id` (already entered for row-level security)."""
    address = normalise_email(email)[:320]
    throttle = await _throttle(session, org_id, address)
    if throttle is not None:
        if throttle.locked_until is not None and throttle.locked_until > now:
            return SignInResult(refusal=Refusal.LOCKED, retry_after=throttle.locked_until - now)
        wait = _delay(throttle.failures)
        if throttle.last_failed_at is not None and throttle.last_failed_at + wait > now:
            return SignInResult(
                refusal=Refusal.TOO_SOON, retry_after=throttle.last_failed_at + wait - now
            )
    user = (
        await session.scalars(select(User).where(User.org_id == org_id, User.email == address))
    ).one_or_none()
    # Verify even without a user, so an unknown address costs the same time as a known one.
    matches = verify_secret(user.password_hash if user else None, password)
    if user is not None and matches and user.disabled_at is None:
        if throttle is not None:
            # Reset rather than delete: the application role may not delete rows.
            throttle.failures, throttle.last_failed_at, throttle.locked_until = 0, None, None
            await session.flush()
        return SignInResult(user=user)
    failures = await _count_failure(session, org_id, address, now)
    return SignInResult(refusal=Refusal.WRONG_CREDENTIALS, locked_now=failures % LOCK_AFTER == 0)


def _delay(failures: int) -> timedelta:
    if failures < SLOW_AFTER:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - SLOW_AFTER)), MAX_DELAY)


async def _throttle(
    session: AsyncSession, org_id: uuid.UUID, address: str
) -> SignInThrottle | None:
    statement = select(SignInThrottle).where(
        SignInThrottle.org_id == org_id, SignInThrottle.email == address
    )
    return (await session.scalars(statement)).one_or_none()


async def _count_failure(
    session: AsyncSession, org_id: uuid.UUID, address: str, now: datetime
) -> int:
    """One more failure, counted atomically; every LOCK_AFTER-th one locks the address."""
    counted = (
        insert(SignInThrottle)
        .values(org_id=org_id, email=address, failures=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=["org_id", "email"],
            set_={"failures": SignInThrottle.failures + 1, "last_failed_at": now},
        )
        .returning(SignInThrottle.failures)
    )
    failures = int((await session.execute(counted)).scalar_one())
    if failures % LOCK_AFTER == 0:
        await session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.org_id == org_id, SignInThrottle.email == address)
            .values(locked_until=now + LOCK_FOR)
        )
    return failures


@dataclass(frozen=True)
class SignInPage:
    """The names a sign-in page shows: whose account, and which application asks."""

    organisation: str
    client_name: str


async def sign_in_page(session: AsyncSession, org_id: uuid.UUID, client_id: str) -> SignInPage:
    row = (
        await session.execute(
            select(Organisation.name, ApiClient.name)
            .join(ApiClient, ApiClient.org_id == Organisation.id)
            .where(Organisation.id == org_id, ApiClient.client_id == client_id)
        )
    ).one()
    return SignInPage(organisation=row[0], client_name=row[1])


async def active_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """A signed-in user, as long as the account is still enabled."""
    user = await session.get(User, (org_id, user_id))
    return user if user is not None and user.disabled_at is None else None
