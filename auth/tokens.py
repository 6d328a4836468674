"""RFC 9068 JWT access tokens: the key ring that signs them and the checks that accept them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession

from hub.keys.store import (
    ACCESS_TOKEN_MAX_LIFETIME,
    ALGORITHM,
    CLOCK_SKEW,
    find_key,
    signing_kid,
    verifying_keys,
)
from hub.oauth.service import TokenSubject

ACCEPTED_ALGORITHMS = (ALGORITHM,)
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
CLOCK_SKEW_SECONDS = int(CLOCK_SKEW.total_seconds())
MAX_LIFETIME_SECONDS = int(ACCESS_TOKEN_MAX_LIFETIME.total_seconds())
MAX_KID_LENGTH = 64


class InvalidToken(Exception):
    """The bearer token is not one this hub issued for itself, or no longer valid."""


@dataclass(frozen=True)
class AccessClaims:
    org_id: uuid.UUID
    client_id: str
    subject: str
    scope: str
    jti: str
    user_id: uuid.UUID | None
    issued_at: int = 0
    expires_at: int = 0
    family_id: uuid.UUID | None = None
    audience: str = ""
    issuer: str = ""
    key_id: str = ""
    # Issued by an external identity provider: no hub client or signing key stands behind it.
    external: bool = False

    def standing_subject(self) -> TokenSubject:
        """What the database must confirm is still live before the token is honoured."""
        return TokenSubject(
            org_id=self.org_id,
            client_id=None if self.external else self.client_id,
            jti=self.jti,
            user_id=self.user_id,
            family_id=self.family_id,
            key_id=None if self.external else self.key_id,
        )


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A JWT's header and claims as written, unchecked: only to choose how to verify it."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    if not isinstance(claims, dict):
        return None
    return compact.headers(), claims


async def published_key_set(session: AsyncSession) -> dict[str, Any]:
    """The public halves of every key that verifies, for /.well-known/jwks.json."""
    keys = [RSAKey.import_key(jwk) for jwk in await verifying_keys(session)]
    return {"keys": [key.as_dict(private=False) for key in keys]}


_JUDGED_KEPT = 10_000


class KeyRing:
    """The signing keys this process has read; the database decides which signs and which verify.

    A process learns of a key made elsewhere (`hub keys rotate`) the first time it signs with
    it or meets a token naming it, by one lookup of that `kid`. Keys are only ever added, and
    whether a key still verifies is checked in the database with the rest of the token's
    standing, so nothing held here can keep a retired key alive.
    """

    def __init__(self, private_jwks: list[dict[str, Any]]) -> None:
        self._keys: dict[str, RSAKey] = {}
        for jwk in private_jwks:
            self.add(jwk)
        self._verifying = KeySet(list[Key](self._keys.values()))
        # Tokens judged good, by token, issuer and audience: a client sends the same token for
        # minutes, and the RSA check and the claims' rules are the costliest part of a read.
        # Keys are only ever added, so a signature once good stays good, and the claims of the
        # same text say the same; only the time claims are judged again on each request
        # (`_TIMES`), and the key's standing in the database.
        self._judged: dict[tuple[str, str, str], _Judged] = {}

    def add(self, private_jwk: dict[str, Any]) -> None:
        key = RSAKey.import_key(private_jwk)
        # A new set rather than a change, so a worker thread reading the old one is unaffected.
        self._keys = {**self._keys, str(key.kid): key}
        self._verifying = KeySet(list[Key](self._keys.values()))

    def knows(self, kid: str | None) -> bool:
        return kid in self._keys

    async def signing_key_set(self, session: AsyncSession) -> KeySet:
        """A set holding only the key that signs now, so its `kid` goes into the header."""
        kid = await signing_kid(session)
        await self._learn(session, kid)
        return KeySet([self._keys[kid]])

    async def learn_key_of(self, session: AsyncSession, token: str) -> None:
        """Look up the key a token names if this process has not met it yet."""
        parts = peek(token)
        kid = parts[0].get("kid") if parts else None
        if isinstance(kid, str) and len(kid) <= MAX_KID_LENGTH:
            await self._learn(session, kid)

    async def _learn(self, session: AsyncSession, kid: str) -> None:
        if not self.knows(kid):
            jwk = await find_key(session, kid)
            if jwk is not None:
                self.add(jwk)

    def verify(self, token: str, *, issuer: str, audience: str) -> AccessClaims:
        """Accept only a signed, unexpired `at+jwt` for this issuer and audience (RFC 9068 §4)."""
        key = (token, issuer, audience)
        judged = self._judged.get(key)
        if judged is None:
            judged = _judge(self._decoded(token), issuer=issuer, audience=audience)
            if len(self._judged) >= _JUDGED_KEPT:
                self._judged.clear()  # tokens live 15 minutes at most: start over, rarely
            self._judged[key] = judged
        else:
            try:
                _TIMES.validate(judged.times)
            except JoseError as error:
                raise InvalidToken(str(error)) from error
        return judged.claims

    def _decoded(self, token: str) -> jwt.Token:
        try:
            return jwt.decode(token, self._verifying, algorithms=list(ACCEPTED_ALGORITHMS))
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error


@dataclass(frozen=True)
class _Judged:
    """A token whose signature and claims were found good: its claims, and its time claims as
    it states them, which are judged again on every request."""

    claims: AccessClaims
    times: dict[str, Any]


# The time claims of a token judged before, against the clock of each request.
_TIMES = jwt.JWTClaimsRegistry(
    leeway=CLOCK_SKEW_SECONDS, exp={"essential": True}, iat={"essential": True}
)


def _judge(decoded: jwt.Token, *, issuer: str, audience: str) -> _Judged:
    """Every rule of RFC 9068 §4 the hub holds its tokens to, on a token whose signature
    verified."""
    if decoded.header.get("typ") != TOKEN_TYPE:
        raise InvalidToken("token type is not at+jwt")
    registry = jwt.JWTClaimsRegistry(
        leeway=CLOCK_SKEW_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        sub={"essential": True},
        client_id={"essential": True},
        org={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
        claims = decoded.claims
        if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_SECONDS:
            raise InvalidToken("token lives longer than 15 minutes")
        user, family = claims.get("uid"), claims.get("sid")
        judged = AccessClaims(
            org_id=uuid.UUID(str(claims["org"])),
            client_id=str(claims["client_id"]),
            subject=str(claims["sub"]),
            scope=str(claims.get("scope") or ""),
            jti=str(claims["jti"]),
            user_id=uuid.UUID(str(user)) if user else None,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            family_id=uuid.UUID(str(family)) if family else None,
            audience=audience,
            issuer=issuer,
            key_id=str(decoded.header.get("kid") or ""),
        )
    except (JoseError, ValueError, KeyError) as error:
        raise InvalidToken(str(error)) from error
    times: dict[str, Any] = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
    return _Judged(judged, times)
