"""Resource server: a bearer token becomes an Actor, re-checked against the database each time.

The JWT proves who the caller was when the token was issued; the client-active check, made
in the request's own transaction, makes disabling a client bite on the very next request.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth.tokens import AccessClaims, InvalidToken, KeyRing
from hub.access import Actor
from hub.access.rls import enter_organisation
from hub.access.scopes import parse_scopes
from hub.orgs.clients import is_client_active


class MissingToken(Exception):
    """The request carried no bearer token at all."""


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header (RFC 6750 §2.1)."""
    if not authorization:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("malformed Authorization header")
    return token.strip()


class ResourceServer:
    def __init__(self, keys: KeyRing, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    def verify(self, authorization: str | None) -> AccessClaims:
        return self.keys.verify(
            bearer_token(authorization), issuer=self.issuer, audience=self.audience
        )

    async def actor(self, session: AsyncSession, claims: AccessClaims, request_id: str) -> Actor:
        """Enter the token's organisation for this transaction and confirm the client is live."""
        await enter_organisation(session, claims.org_id)
        if not await is_client_active(session, claims.client_id):
            raise InvalidToken("client is disabled or unknown")
        return Actor(
            org_id=claims.org_id,
            scopes=parse_scopes(claims.scope),
            client_id=claims.client_id,
            request_id=request_id,
            user_id=claims.user_id,
        )
