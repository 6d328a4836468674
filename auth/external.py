"""Access tokens of an external identity provider (an organisation's own IdP), when configured.

The provider is named by settings: its issuer, the URL of its JWKS, the audience its tokens
must carry for the hub, and which claims name the organisation and the person. Its key set is
fetched over HTTP and cached; a token naming a `kid` we have not seen makes us fetch again (at
most every `REFETCH_AT_MOST_EVERY`, so forged `kid`s cannot make us hammer the provider), and
the set is refreshed after `KEYS_LIVE_FOR` in any case. A provider that publishes a new key
before signing with it (as providers do) is therefore never refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from auth.tokens import CLOCK_SKEW_SECONDS, InvalidToken, peek
from hub.settings import Settings

log = logging.getLogger(__name__)

# Asymmetric algorithms only: a shared-secret algorithm would let anyone holding the public
# key set sign tokens (the HS256-with-public-key confusion).
EXTERNAL_ALGORITHMS = ("RS256", "PS256", "ES256")
REFETCH_AT_MOST_EVERY = 30.0
KEYS_LIVE_FOR = 600.0
FETCH_TIMEOUT = 5.0
MAX_JWKS_BYTES = 256 * 1024


@dataclass(frozen=True)
class IdentityProvider:
    issuer: str
    jwks_url: str
    audience: str
    org_claim: str
    user_claim: str
    token_types: frozenset[str]
    refetch_at_most_every: float = REFETCH_AT_MOST_EVERY
    keys_live_for: float = KEYS_LIVE_FOR


def configured_provider(settings: Settings) -> IdentityProvider | None:
    """The provider the settings name, if any."""
    if not settings.idp_issuer or not settings.idp_jwks_url:
        return None
    return IdentityProvider(
        issuer=settings.idp_issuer,
        jwks_url=settings.idp_jwks_url,
        audience=settings.idp_audience or settings.audience,
        org_claim=settings.idp_org_claim,
        user_claim=settings.idp_user_claim,
        token_types=frozenset(
            _media_type(typ.strip()) for typ in settings.idp_token_types.split(",") if typ.strip()
        ),
    )


@dataclass(frozen=True)
class ExternalClaims:
    """What the provider vouches for, before the hub maps it to an organisation and user."""

    organisation: str
    user: str
    client_id: str
    subject: str
    scope: str
    jti: str
    issued_at: int
    expires_at: int


def _media_type(typ: object) -> str:
    """`at+jwt` and `application/at+jwt` are the same type (RFC 7515 §4.1.9)."""
    text = str(typ or "").lower()
    return text.removeprefix("application/")


class ExternalIssuer:
    """Verifies the provider's tokens against its published keys."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    def issued(self, token: str) -> bool:
        """Whether the token claims to come from this provider (checked properly in `verify`)."""
        parts = peek(token)
        return parts is not None and parts[1].get("iss") == self.provider.issuer

    async def verify(self, token: str) -> ExternalClaims:
        parts = peek(token)
        if parts is None:
            raise InvalidToken("malformed token")
        header, _ = parts
        if _media_type(header.get("typ")) not in self.provider.token_types:
            raise InvalidToken("token type is not accepted from the identity provider")
        keys = await self._key_set(header.get("kid"))
        try:
            decoded = jwt.decode(token, keys, algorithms=list(EXTERNAL_ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_SKEW_SECONDS,
                iss={"essential": True, "value": self.provider.issuer},
                aud={"essential": True, "value": self.provider.audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error
        return self._mapped(decoded.claims)

    def _mapped(self, claims: dict[str, Any]) -> ExternalClaims:
        organisation = claims.get(self.provider.org_claim)
        user = claims.get(self.provider.user_claim)
        if not isinstance(organisation, str) or not isinstance(user, str):
            raise InvalidToken("the token does not name an organisation and a user")
        scope = claims.get("scope", claims.get("scp", ""))
        if isinstance(scope, list):
            scope = " ".join(str(word) for word in scope)
        client = claims.get("client_id") or claims.get("azp") or claims["sub"]
        return ExternalClaims(
            organisation=organisation,
            user=user,
            client_id=str(client)[:64],
            subject=str(claims["sub"]),
            scope=str(scope),
            jti=str(claims.get("jti") or ""),
            issued_at=int(claims.get("iat") or 0),
            expires_at=int(claims["exp"]),
        )

    async def _key_set(self, kid: object) -> KeySet:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._keys is None or age >= self.provider.keys_live_for
            unknown = self._keys is not None and not _has_kid(self._keys, kid)
            if stale or (unknown and age >= self.provider.refetch_at_most_every):
                await self._fetch()
            if self._keys is None:
                raise InvalidToken("the identity provider's keys are unavailable")
            return self._keys

    async def _fetch(self) -> None:
        """Fetch the key set; on failure keep the keys we had, and try again later."""
        self._fetched_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http:
                response = await http.get(self.provider.jwks_url)
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("key set too large")
            self._keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as error:
            log.warning("could not fetch the identity provider's keys: %s", error)


def _has_kid(keys: KeySet, kid: object) -> bool:
    return any(key.kid == kid for key in keys.keys)
