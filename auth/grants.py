"""The grants the hub speaks, as authlib grants with our storage and our stricter rules.

What we add to authlib: PKCE with S256 for every client (authlib lets a request without a
challenge through and accepts `plain`); codes and refresh tokens redeemed with one conditional
UPDATE, so a second use is caught even under concurrency and revokes the family; client
credentials accepted in the body as well as by HTTP Basic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy.ext.asyncio import AsyncSession

from auth.bridge import current, on_loop
from auth.clients import CONFIDENTIAL_METHODS, RegisteredClient
from hub.oauth import service as oauth
from hub.orgs.sign_in import active_user

PKCE_METHOD = "S256"


@dataclass(frozen=True)
class TokenUser:
    """The user a token is issued for, and the approval (family) it belongs to."""

    authorization: oauth.Authorization

    def get_user_id(self) -> str:
        return str(self.authorization.user_id)


@dataclass(frozen=True)
class Approval:
    """What the user approved on the consent page: passed to authlib as the `grant_user`."""

    user_id: uuid.UUID
    scope: str

    def get_user_id(self) -> str:
        return str(self.user_id)


@dataclass(frozen=True)
class _Code:
    pending: oauth.PendingCode

    def get_redirect_uri(self) -> str:
        return self.pending.redirect_uri

    def get_scope(self) -> str:
        return self.pending.authorization.scope


@dataclass(frozen=True)
class _Refresh:
    live: oauth.LiveRefreshToken

    def check_client(self, client: RegisteredClient) -> bool:
        return client.get_client_id() == self.live.authorization.client_id

    def get_scope(self) -> str:
        return self.live.scope


class S256CodeChallenge(CodeChallenge):
    """RFC 7636, required for every client and only with S256 (OAuth 2.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = [PKCE_METHOD]
    DEFAULT_CODE_CHALLENGE_METHOD = PKCE_METHOD

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a 'code_challenge' (S256).")
        if data.get("code_challenge_method") != PKCE_METHOD:
            raise InvalidRequestError("Only the 'S256' code challenge method is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: _Code) -> str:
        return authorization_code.pending.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: _Code) -> str:
        return authorization_code.pending.code_challenge_method


class HubClientCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(CONFIDENTIAL_METHODS)


class HubAuthorizationCodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*CONFIDENTIAL_METHODS, "none"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        approval: Approval = request.user
        client: RegisteredClient = request.client
        data = request.payload.data
        on_loop(
            _save_code,
            client,
            approval,
            code,
            redirect_uri=data["redirect_uri"],
            code_challenge=data["code_challenge"],
        )

    def query_authorization_code(self, code: str, client: RegisteredClient) -> _Code | None:
        found = on_loop(oauth.find_code, client.org_id, client.get_client_id(), code, current().now)
        return _Code(found) if found else None

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Nothing to do: `authenticate_user` redeemed the code already."""

    def authenticate_user(self, authorization_code: _Code) -> TokenUser:
        pending = authorization_code.pending
        if not on_loop(_redeem_code, pending):
            raise InvalidGrantError("The authorization code was already used.")
        return TokenUser(pending.authorization)


class HubRefreshTokenGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*CONFIDENTIAL_METHODS, "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh | None:
        client: RegisteredClient = self.request.client
        found = on_loop(
            oauth.find_refresh_token,
            client.org_id,
            client.get_client_id(),
            refresh_token,
            current().now,
        )
        return _Refresh(found) if found else None

    def authenticate_user(self, refresh_token: _Refresh) -> TokenUser:
        if not on_loop(_rotate_refresh_token, refresh_token.live):
            raise InvalidGrantError("The refresh token was already used.")
        return TokenUser(refresh_token.live.authorization)

    def revoke_old_credential(self, refresh_token: _Refresh) -> None:
        """Nothing to do: `authenticate_user` spent the old token already."""


async def _save_code(
    session: AsyncSession,
    client: RegisteredClient,
    approval: Approval,
    code: str,
    *,
    redirect_uri: str,
    code_challenge: str,
) -> None:
    authorization = await oauth.start_family(
        session, client.org_id, client.get_client_id(), approval.user_id, approval.scope
    )
    await oauth.save_code(
        session,
        authorization,
        code,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        code_challenge_method=PKCE_METHOD,
        now=current().now,
    )


async def _redeem_code(session: AsyncSession, pending: oauth.PendingCode) -> bool:
    """Spend the code, and only for a user who may still sign in."""
    if not await _user_is_active(session, pending.authorization):
        return False
    return await oauth.redeem_code(session, pending)


async def _rotate_refresh_token(session: AsyncSession, live: oauth.LiveRefreshToken) -> bool:
    if not await _user_is_active(session, live.authorization):
        return False
    return await oauth.rotate_refresh_token(session, live)


async def _user_is_active(session: AsyncSession, authorization: oauth.Authorization) -> bool:
    return await active_user(session, authorization.org_id, authorization.user_id) is not None
