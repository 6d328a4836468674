"""The hub's authorization server: authlib's protocol machinery, adapted to Starlette.

Every OAuth request runs authlib in a worker thread (see `auth.bridge`) inside one database
transaction, committed whatever the answer: a refusal may have revoked a token family or
recorded an audit event, and those must stay.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import InsecureTransportError, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from auth.bridge import OAuthCall, audit, current, on_loop, serving
from auth.clients import RegisteredClient, unknown_client
from auth.grants import (
    HubAuthorizationCodeGrant,
    HubClientCredentialsGrant,
    HubRefreshTokenGrant,
    S256CodeChallenge,
    TokenUser,
)
from auth.token_endpoints import HubIntrospectionEndpoint, HubRevocationEndpoint
from auth.tokens import KeyRing
from hub.access.rls import enter_organisation
from hub.access.scopes import ALL_SCOPES
from hub.audit.record import EventType
from hub.oauth import service as oauth
from hub.orgs.clients import ClientForAuthentication, find_client_for_authentication


class _FormPayload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    @property
    def data(self) -> dict[str, str]:
        return dict(self._pairs)

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._pairs:
            values[key].append(value)
        return values


class StarletteOAuth2Request(OAuth2Request):
    """An already-read Starlette request, so the worker thread never touches the event loop.

    The payload is the query string for GET (the authorization request) and the form body
    for POST.
    """

    def __init__(self, request: Request, body: bytes) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        form = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        query = list(request.query_params.multi_items())
        self._query = dict(query)
        self._form_data = dict(form)
        self.payload = _FormPayload(form if request.method == "POST" else query)

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form_data


# Values that are not OAuth protocol parameters, and may hold any text.
_FREE_TEXT = frozenset({"email", "password", "csrf_token", "action", "state"})


def protocol_parameters_are_clean(request: StarletteOAuth2Request) -> bool:
    """Protocol parameters are printable ASCII without `"` or `\\` (RFC 6749 §5.2 charset).

    authlib echoes some of them into error descriptions and raises ValueError on other
    characters; such a request is malformed, and is refused as such before authlib sees it.
    """
    values = [
        value
        for name, value in [*request.args.items(), *request.form.items()]
        if name not in _FREE_TEXT
    ]
    return all(
        all(0x20 <= ord(char) <= 0x7E and char not in '"\\' for char in value) for value in values
    )


class _TokenGenerator(JWTBearerTokenGenerator):
    """RFC 9068 access tokens with our claims: `org` always; `uid` and `sid` for users."""

    def __init__(self, issuer: str, audience: str, ttl: int, keys: Callable[[], KeySet]) -> None:
        super().__init__(
            issuer=issuer,
            alg="RS256",
            expires_generator=lambda *_: ttl,
            refresh_token_generator=lambda **_: secrets.token_urlsafe(48),
        )
        self._audience = audience
        self._keys = keys

    def get_jwks(self) -> KeySet:
        return self._keys()

    def get_audiences(self, client: RegisteredClient, user: Any, scope: str) -> str:
        return self._audience

    def get_extra_claims(
        self, client: RegisteredClient, grant_type: str, user: Any, scope: str
    ) -> dict[str, str]:
        claims = {"org": str(client.org_id)}
        if isinstance(user, TokenUser):
            claims["uid"] = str(user.authorization.user_id)
            claims["sid"] = str(user.authorization.family_id)
        return claims


class HubAuthorizationServer(AuthorizationServer):
    """Token, authorization, revocation and introspection endpoints over our storage."""

    def __init__(
        self,
        *,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        keys: Callable[[], KeyRing],
        issuer: str,
        audience: str,
        access_token_ttl: int,
    ) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self._sessions = sessions
        self.register_grant(HubClientCredentialsGrant)
        self.register_grant(HubAuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(HubRefreshTokenGrant)
        self.register_endpoint(HubRevocationEndpoint(keys, issuer, audience))
        self.register_endpoint(HubIntrospectionEndpoint(keys, issuer, audience))
        self.register_token_generator(
            "default",
            _TokenGenerator(
                issuer, audience, access_token_ttl, lambda: on_loop(keys().signing_key_set)
            ),
        )

    # --- storage hooks (called in the worker thread) ---------------------------------------

    def query_client(self, client_id: str) -> RegisteredClient:
        """Never None: an unknown client fails like a wrong secret, so ids cannot be probed."""
        call = current()
        if call.client is None or call.client.client_id != client_id:
            found = None
            if client_id and len(client_id) <= 64:
                found = on_loop(_identify_client, client_id)
            call.client = found
        return RegisteredClient(call.client or unknown_client(client_id))

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Store the refresh token (hashed) in its family; audit the issue."""
        claims = _claims_of_our_token(token["access_token"])
        user = request.user if isinstance(request.user, TokenUser) else None
        refresh = token.get("refresh_token")
        if user is not None and refresh:
            on_loop(
                oauth.save_refresh_token, user.authorization, refresh, token["scope"], current().now
            )
        audit(
            EventType.TOKEN_ISSUED,
            user_id=user.authorization.user_id if user else None,
            jti=claims.get("jti"),
            grant_type=request.payload.grant_type,
            scope=token.get("scope"),
        )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Audit events are recorded where the work happens, not through signals."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Response:
        audit(
            EventType.TOKEN_REFUSED,
            error=error.error,
            description=error.description or None,
            grant_type=request.payload.grant_type if request.payload else None,
        )
        response: Response = super().handle_error_response(request, error)
        return response

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        header_map = dict(headers)
        if status == 302 and "Location" in header_map:
            return RedirectResponse(header_map["Location"], status_code=302)
        content = body if isinstance(body, dict) else json.loads(body or "{}")
        return JSONResponse(content, status_code=status, headers=header_map)

    # --- async entry points -------------------------------------------------------------

    async def run(self, request: Request, work: Callable[[StarletteOAuth2Request], Any]) -> Any:
        """Run `work` in a worker thread within one committed transaction."""
        try:
            oauth_request = StarletteOAuth2Request(request, await request.body())
        except InsecureTransportError:
            return _insecure_transport()
        async with self._sessions()() as session:
            call = OAuthCall(
                session=session,
                request_id=getattr(request.state, "request_id", ""),
                source_address=request.client.host if request.client else None,
                now=datetime.now(UTC),
            )
            try:
                with serving(call):
                    result = await anyio.to_thread.run_sync(work, oauth_request)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        return result

    async def token_response(self, request: Request) -> Response:
        """POST /oauth/token."""
        return await self._respond(request, self.create_token_response)

    async def revocation_response(self, request: Request) -> Response:
        """POST /oauth/revoke (RFC 7009)."""
        return await self._respond(
            request, lambda req: self.create_endpoint_response("revocation", req)
        )

    async def introspection_response(self, request: Request) -> Response:
        """POST /oauth/introspect (RFC 7662)."""
        return await self._respond(
            request, lambda req: self.create_endpoint_response("introspection", req)
        )

    async def _respond(
        self, request: Request, work: Callable[[StarletteOAuth2Request], Response]
    ) -> Response:
        def checked(oauth_request: StarletteOAuth2Request) -> Response:
            if not protocol_parameters_are_clean(oauth_request):
                return JSONResponse(
                    {
                        "error": "invalid_request",
                        "error_description": "Parameters must be printable ASCII.",
                    },
                    status_code=400,
                )
            return work(oauth_request)

        response: Response = await self.run(request, checked)
        return response


def _insecure_transport() -> Response:
    """OAuth needs TLS (RFC 6749 §3.1); plain http is allowed on localhost only (authlib's rule).

    Behind a proxy that terminates TLS, the hub must trust its X-Forwarded-Proto header
    (uvicorn's FORWARDED_ALLOW_IPS) to see the request as https.
    """
    return JSONResponse(
        {"error": "invalid_request", "error_description": "OAuth requests must use HTTPS."},
        status_code=400,
        headers={"Cache-Control": "no-store"},
    )


def _claims_of_our_token(access_token: str) -> dict[str, Any]:
    """The claims of a token this request just signed: reading them back needs no verification."""
    payload = access_token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def _identify_client(session: AsyncSession, client_id: str) -> ClientForAuthentication | None:
    """Find the client, then enter its organisation for the rest of the request."""
    client = await find_client_for_authentication(session, client_id)
    if client is not None:
        await enter_organisation(session, client.org_id)
    return client
