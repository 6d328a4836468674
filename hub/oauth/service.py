"""Codes, token families, refresh tokens and the deny-list: the state that makes tokens revocable.

Every function runs inside the caller's transaction with the organisation already entered, so
row-level security and the explicit `org_id` filters agree. Redeeming a code or a refresh token
is one conditional UPDATE: of two concurrent redemptions exactly one wins, and the loser is
treated as the reuse it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Label,
    RowMapping,
    Uuid,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Role
from hub.keys.models import SigningKey
from hub.keys.store import key_verifies
from hub.oauth.models import AuthorizationCode, RefreshToken, RevokedToken, TokenFamily
from hub.orgs.credentials import digest_token
from hub.orgs.models import ApiClient, User

CODE_LIFETIME = timedelta(seconds=60)
REFRESH_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class Authorization:
    """What a user approved for a client: the family every token of that approval belongs to."""

    org_id: uuid.UUID
    family_id: uuid.UUID
    client_id: str
    user_id: uuid.UUID
    scope: str


@dataclass(frozen=True)
class PendingCode:
    authorization: Authorization
    code_id: uuid.UUID
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str


@dataclass(frozen=True)
class LiveRefreshToken:
    authorization: Authorization
    token_id: uuid.UUID
    scope: str


async def start_family(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, user_id: uuid.UUID, scope: str
) -> Authorization:
    family = TokenFamily(org_id=org_id, client_id=client_id, user_id=user_id, scope=scope)
    session.add(family)
    await session.flush()
    return Authorization(org_id, family.id, client_id, user_id, scope)


async def save_code(
    session: AsyncSession,
    authorization: Authorization,
    code: str,
    *,
    redirect_uri: str,
    code_challenge: str,
    code_challenge_method: str,
    now: datetime,
) -> None:
    await session.execute(
        insert(AuthorizationCode).values(
            org_id=authorization.org_id,
            code_hash=digest_token(code),
            family_id=authorization.family_id,
            client_id=authorization.client_id,
            user_id=authorization.user_id,
            redirect_uri=redirect_uri,
            scope=authorization.scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            expires_at=now + CODE_LIFETIME,
        )
    )


async def find_code(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, code: str, now: datetime
) -> PendingCode | None:
    """A live code of this client; a code presented again revokes everything issued from it."""
    row = (
        await session.scalars(
            select(AuthorizationCode).where(
                AuthorizationCode.org_id == org_id,
                AuthorizationCode.code_hash == digest_token(code),
                AuthorizationCode.client_id == client_id,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.used_at is not None:
        await revoke_family(session, org_id, row.family_id, "code_reused")
        return None
    if row.expires_at <= now:
        return None
    authorization = Authorization(org_id, row.family_id, row.client_id, row.user_id, row.scope)
    return PendingCode(
        authorization, row.id, row.redirect_uri, row.code_challenge, row.code_challenge_method
    )


async def redeem_code(session: AsyncSession, code: PendingCode) -> bool:
    """Mark the code used; False when another request got there first (then its family dies)."""
    authorization = code.authorization
    result = await session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.org_id == authorization.org_id,
            AuthorizationCode.id == code.code_id,
            AuthorizationCode.used_at.is_(None),
        )
        .values(used_at=func.now())
        .returning(AuthorizationCode.id)
    )
    if result.first() is not None:
        return True
    await revoke_family(session, authorization.org_id, authorization.family_id, "code_reused")
    return False


async def save_refresh_token(
    session: AsyncSession, authorization: Authorization, token: str, scope: str, now: datetime
) -> None:
    await session.execute(
        insert(RefreshToken).values(
            org_id=authorization.org_id,
            token_hash=digest_token(token),
            family_id=authorization.family_id,
            scope=scope,
            expires_at=now + REFRESH_LIFETIME,
        )
    )


@dataclass(frozen=True)
class RefreshTokenState:
    """A refresh token as stored, whatever its state: for revocation and introspection."""

    authorization: Authorization
    token_id: uuid.UUID
    scope: str
    expires_at: datetime
    spent: bool
    family_revoked: bool

    def is_live(self, now: datetime) -> bool:
        return not self.spent and not self.family_revoked and self.expires_at > now


async def look_up_refresh_token(
    session: AsyncSession, org_id: uuid.UUID, token: str, client_id: str | None = None
) -> RefreshTokenState | None:
    """A refresh token of this organisation (and client, if named), changing nothing."""
    statement = (
        select(RefreshToken, TokenFamily)
        .join(
            TokenFamily,
            (TokenFamily.org_id == RefreshToken.org_id)
            & (TokenFamily.id == RefreshToken.family_id),
        )
        .where(RefreshToken.org_id == org_id, RefreshToken.token_hash == digest_token(token))
    )
    if client_id is not None:
        statement = statement.where(TokenFamily.client_id == client_id)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None
    refresh, family = row
    return RefreshTokenState(
        authorization=Authorization(
            org_id, family.id, family.client_id, family.user_id, family.scope
        ),
        token_id=refresh.id,
        scope=refresh.scope,
        expires_at=refresh.expires_at,
        spent=refresh.rotated_at is not None,
        family_revoked=family.revoked_at is not None,
    )


async def find_refresh_token(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, token: str, now: datetime
) -> LiveRefreshToken | None:
    """A live refresh token of this client; a spent one presented again revokes its family."""
    state = await look_up_refresh_token(session, org_id, token, client_id)
    if state is None:
        return None
    if state.spent:
        await revoke_family(session, org_id, state.authorization.family_id, "refresh_token_reused")
        return None
    if not state.is_live(now):
        return None
    return LiveRefreshToken(state.authorization, state.token_id, state.scope)


async def rotate_refresh_token(session: AsyncSession, token: LiveRefreshToken) -> bool:
    """Spend the token; False when it was spent concurrently (then its family dies)."""
    authorization = token.authorization
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.org_id == authorization.org_id,
            RefreshToken.id == token.token_id,
            RefreshToken.rotated_at.is_(None),
        )
        .values(rotated_at=func.now())
        .returning(RefreshToken.id)
    )
    if result.first() is not None:
        return True
    await revoke_family(
        session, authorization.org_id, authorization.family_id, "refresh_token_reused"
    )
    return False


async def revoke_family(
    session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID, reason: str
) -> bool:
    """Kill every token of one approval; True if it was live until now."""
    result = await session.execute(
        update(TokenFamily)
        .where(
            TokenFamily.org_id == org_id,
            TokenFamily.id == family_id,
            TokenFamily.revoked_at.is_(None),
        )
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(TokenFamily.id)
    )
    return result.first() is not None


async def deny_access_token(
    session: AsyncSession, org_id: uuid.UUID, jti: str, expires_at: datetime, reason: str
) -> None:
    """Put one access token on the deny-list (idempotent)."""
    await session.execute(
        pg_insert(RevokedToken)
        .values(org_id=org_id, jti=jti, expires_at=expires_at, reason=reason)
        .on_conflict_do_nothing(index_elements=["org_id", "jti"])
    )


@dataclass(frozen=True)
class TokenSubject:
    """What an access token names, to be checked against the database on every use."""

    org_id: uuid.UUID
    client_id: str | None  # None: an external identity provider's token, with no hub client
    jti: str
    user_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    key_id: str | None = None

    @property
    def shape(self) -> TokenShape:
        return TokenShape(
            client=self.client_id is not None,
            user=self.user_id is not None,
            family=self.family_id is not None,
            key=self.key_id is not None,
        )


@dataclass(frozen=True)
class TokenShape:
    """Which of the checks a token needs: a statement is built once per shape."""

    client: bool
    user: bool
    family: bool
    key: bool


@dataclass(frozen=True)
class TokenStanding:
    """Whether a correctly signed token may still be used, and its user's current role."""

    refusal: str | None
    role: Role | None = None


async def token_standing(session: AsyncSession, subject: TokenSubject) -> TokenStanding:
    """Check a token against the database: one statement, on every request.

    Nothing here is cached, so a revoked token, a disabled client or user, a revoked family,
    or a signing key past its grace is refused on the very next request of every hub process.
    """
    statement = select(*standing_checks(subject.shape))
    row = (await session.execute(statement, standing_parameters(subject))).mappings().one()
    return judge_standing(subject, row)


def standing_checks(
    shape: TokenShape, after: ColumnElement[bool] | None = None
) -> list[Label[Any]]:
    """The columns that judge a token of this shape, for a statement of the caller's
    (`token_standing`, or the request's first statement, `hub.access.entry`).

    The token's values are bind parameters (`standing_parameters`), so a statement built once
    per shape serves every token of it. `after` is a condition on a row of that statement the
    checks must wait for (the setting row-level security reads): each check is a subquery tied
    to it, so PostgreSQL can evaluate it only once that row exists.
    """
    org = bindparam("standing_org_id", type_=Uuid())
    after_ = after if after is not None else true()
    client_live = (
        select(ApiClient.disabled_at.is_(None))
        .where(ApiClient.org_id == org, ApiClient.client_id == bindparam("client_id"), after_)
        .scalar_subquery()
        if shape.client
        else literal(True)
    )
    denied = exists().where(
        RevokedToken.org_id == org, RevokedToken.jti == bindparam("jti"), after_
    )
    user_role = (
        select(User.role)
        .where(
            User.org_id == org,
            User.id == bindparam("user_id", type_=Uuid()),
            User.disabled_at.is_(None),
            after_,
        )
        .scalar_subquery()
        if shape.user
        else literal(None)
    )
    family_live = (
        select(TokenFamily.revoked_at.is_(None))
        .where(
            TokenFamily.org_id == org,
            TokenFamily.id == bindparam("family_id", type_=Uuid()),
            after_,
        )
        .scalar_subquery()
        if shape.family
        else literal(True)
    )
    key_live = (
        exists().where(SigningKey.kid == bindparam("key_id"), key_verifies(), after_)
        if shape.key
        else literal(True)
    )
    return [
        client_live.label("client"),
        denied.label("denied"),
        user_role.label("role"),
        family_live.label("family"),
        key_live.label("key"),
    ]


def standing_parameters(subject: TokenSubject) -> dict[str, Any]:
    """The values `standing_checks` binds, for this token."""
    return {
        "standing_org_id": subject.org_id,
        "client_id": subject.client_id,
        "jti": subject.jti,
        "user_id": subject.user_id,
        "family_id": subject.family_id,
        "key_id": subject.key_id,
    }


def judge_standing(subject: TokenSubject, row: RowMapping) -> TokenStanding:
    """The verdict on a row holding the columns of `standing_checks`."""
    if not row["key"]:
        return TokenStanding("signing_key_retired")
    if not row["client"]:
        return TokenStanding("client_disabled")
    if row["denied"]:
        return TokenStanding("token_revoked")
    if subject.user_id is not None and row["role"] is None:
        return TokenStanding("user_disabled")
    if not row["family"]:
        return TokenStanding("family_revoked")
    return TokenStanding(None, Role(row["role"]) if row["role"] else None)
