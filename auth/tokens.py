"""RFC 9068 JWT access tokens: the key ring that signs them and the checks that accept them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet, RSAKey

from hub.keys.store import ALGORITHM

ACCEPTED_ALGORITHMS = (ALGORITHM,)
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
CLOCK_SKEW_SECONDS = 60
MAX_LIFETIME_SECONDS = 15 * 60


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


class KeyRing:
    """The signing keys of the hub: the newest signs, all of them verify."""

    def __init__(self, private_jwks: list[dict[str, Any]]) -> None:
        if not private_jwks:
            raise ValueError("the hub has no signing key")
        self._keys = [RSAKey.import_key(jwk) for jwk in private_jwks]
        self._verifying = KeySet(list[Key](self._keys))

    @property
    def signing_key_set(self) -> KeySet:
        """A set holding only the current signing key, so its `kid` goes into the header."""
        return KeySet([self._keys[0]])

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self._keys]}

    def knows(self, kid: str | None) -> bool:
        return any(key.kid == kid for key in self._keys)

    def verify(self, token: str, *, issuer: str, audience: str) -> AccessClaims:
        """Accept only a signed, unexpired `at+jwt` for this issuer and audience (RFC 9068 §4)."""
        try:
            decoded = jwt.decode(token, self._verifying, algorithms=list(ACCEPTED_ALGORITHMS))
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error
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
            return AccessClaims(
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
            )
        except (JoseError, ValueError, KeyError) as error:
            raise InvalidToken(str(error)) from error
