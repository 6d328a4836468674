"""Revocation (RFC 7009) and introspection (RFC 7662), over both kinds of token we issue.

authlib cannot revoke JWT access tokens; we can, with the `jti` deny-list the resource server
reads on every request. A refresh token's revocation ends its whole family, access tokens
included (RFC 7009 §2.1). Introspection answers only for tokens of the caller's organisation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy.ext.asyncio import AsyncSession

from auth.bridge import audit, current, on_loop
from auth.clients import CONFIDENTIAL_METHODS, RegisteredClient
from auth.tokens import AccessClaims, InvalidToken, KeyRing
from hub.audit.record import EventType
from hub.oauth import service as oauth

ACCESS_TOKEN = "access_token"  # noqa: S105 - a token type hint, not a secret
REFRESH_TOKEN = "refresh_token"  # noqa: S105


@dataclass(frozen=True)
class IssuedAccessToken:
    claims: AccessClaims

    def check_client(self, client: RegisteredClient) -> bool:
        return client.get_client_id() == self.claims.client_id

    def is_expired(self) -> bool:
        return self.claims.expires_at <= int(current().now.timestamp())

    def is_revoked(self) -> bool:
        return on_loop(oauth.token_standing, self.claims.standing_subject()).refusal is not None


@dataclass(frozen=True)
class IssuedRefreshToken:
    state: oauth.RefreshTokenState

    def check_client(self, client: RegisteredClient) -> bool:
        return client.get_client_id() == self.state.authorization.client_id

    def is_expired(self) -> bool:
        return self.state.expires_at <= current().now

    def is_revoked(self) -> bool:
        """Spent, its family ended, or its client or user disabled: /oauth/token would refuse it."""
        if self.state.spent or self.state.family_revoked:
            return True
        authorization = self.state.authorization
        subject = oauth.TokenSubject(
            org_id=authorization.org_id,
            client_id=authorization.client_id,
            jti="",
            user_id=authorization.user_id,
            family_id=authorization.family_id,
        )
        return on_loop(oauth.token_standing, subject).refusal is not None


IssuedToken = IssuedAccessToken | IssuedRefreshToken


class _TokenLookup:
    """Finds a token string among ours: an access JWT we signed, or a stored refresh token."""

    keys: Callable[[], KeyRing]
    issuer: str
    audience: str

    def find(self, token: str, hint: str | None) -> IssuedToken | None:
        call = current()
        if call.org_id is None:
            return None
        # The hint only orders the search; it never limits it (RFC 7009 §2.1).
        kinds = [self._refresh_token, self._access_token]
        if hint != REFRESH_TOKEN:
            kinds.reverse()
        for kind in kinds:
            found = kind(token, call.org_id)
            if found is not None:
                return found
        return None

    def _access_token(self, token: str, org_id: uuid.UUID) -> IssuedToken | None:
        keys = self.keys()
        on_loop(keys.learn_key_of, token)
        try:
            claims = keys.verify(token, issuer=self.issuer, audience=self.audience)
        except InvalidToken:
            return None
        return IssuedAccessToken(claims) if claims.org_id == org_id else None

    def _refresh_token(self, token: str, org_id: uuid.UUID) -> IssuedToken | None:
        state = on_loop(oauth.look_up_refresh_token, org_id, token)
        return IssuedRefreshToken(state) if state else None


class HubRevocationEndpoint(_TokenLookup, RevocationEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [*CONFIDENTIAL_METHODS, "none"]

    def __init__(self, keys: Callable[[], KeyRing], issuer: str, audience: str) -> None:
        super().__init__()
        self.keys, self.issuer, self.audience = keys, issuer, audience

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return self.find(token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        if isinstance(token, IssuedRefreshToken):
            authorization = token.state.authorization
            on_loop(_revoke_family, authorization)
            audit(
                EventType.TOKEN_FAMILY_REVOKED,
                user_id=authorization.user_id,
                family_id=str(authorization.family_id),
                reason="refresh_token_revoked",
            )
            return
        claims = token.claims
        expires_at = datetime.fromtimestamp(claims.expires_at, UTC)
        on_loop(oauth.deny_access_token, claims.org_id, claims.jti, expires_at, "revoked")
        audit(EventType.TOKEN_REVOKED, user_id=claims.user_id, jti=claims.jti)


class HubIntrospectionEndpoint(_TokenLookup, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(CONFIDENTIAL_METHODS)

    def __init__(self, keys: Callable[[], KeyRing], issuer: str, audience: str) -> None:
        super().__init__()
        self.keys, self.issuer, self.audience = keys, issuer, audience

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return self.find(token_string, token_type_hint)

    def check_permission(
        self, token: IssuedToken, client: RegisteredClient, request: OAuth2Request
    ) -> bool:
        """Any client of the token's organisation may introspect it; no other may."""
        return current().org_id is not None

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        if isinstance(token, IssuedRefreshToken):
            authorization = token.state.authorization
            return {
                "active": True,
                "token_type": REFRESH_TOKEN,
                "client_id": authorization.client_id,
                "scope": token.state.scope,
                "sub": str(authorization.user_id),
                "exp": int(token.state.expires_at.timestamp()),
            }
        claims = token.claims
        return {
            "active": True,
            "token_type": "Bearer",
            "client_id": claims.client_id,
            "scope": claims.scope,
            "sub": claims.subject,
            "iss": claims.issuer,
            "aud": claims.audience,
            "exp": claims.expires_at,
            "iat": claims.issued_at,
            "jti": claims.jti,
        }


async def _revoke_family(session: AsyncSession, authorization: oauth.Authorization) -> None:
    await oauth.revoke_family(
        session, authorization.org_id, authorization.family_id, "refresh_token_revoked"
    )
