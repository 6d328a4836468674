"""authlib's authorization server, adapted to Starlette and our async database.

authlib's server core is synchronous and ships no Starlette adapter, so a token request is
processed in a worker thread, and the storage hooks it calls hop back onto the event loop
with `anyio.from_thread` to use the async session.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import anyio.from_thread
import anyio.to_thread
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.access.scopes import ALL_SCOPES
from hub.orgs.clients import ClientForAuthentication
from hub.orgs.credentials import verify_secret

ClientLookup = Callable[[str], Coroutine[Any, Any, ClientForAuthentication | None]]


@dataclass
class RegisteredClient(ClientMixin):
    """authlib's view of one of our API clients."""

    record: ClientForAuthentication

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Requested ∩ allowed; no request means everything the client may have."""
        allowed = set(self.record.allowed_scopes)
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(sorted(word for word in scope.split() if word in allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        # Verify first, so unknown, disabled and live clients cost the same time.
        matches = verify_secret(self.record.secret_hash or None, client_secret)
        return matches and not self.record.disabled

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


def _unknown_client(client_id: str) -> ClientForAuthentication:
    return ClientForAuthentication(
        org_id=uuid.UUID(int=0),
        client_id=client_id,
        secret_hash="",
        allowed_scopes=(),
        disabled=True,
    )


class _FormPayload(OAuth2Payload):
    def __init__(self, form: list[tuple[str, str]]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return dict(self._form)

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._form:
            values[key].append(value)
        return values


class _StarletteOAuth2Request(OAuth2Request):
    """An already-read Starlette request, so the worker thread never touches the event loop."""

    def __init__(self, request: Request, body: bytes) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        form = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        self._query = dict(request.query_params)
        self._form_data = dict(form)
        self.payload = _FormPayload(form)

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form_data


class _HubTokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, issuer: str, audience: str, ttl: int, keys: Callable[[], KeySet]) -> None:
        super().__init__(issuer=issuer, alg="RS256", expires_generator=lambda *_: ttl)
        self._audience = audience
        self._keys = keys

    def get_jwks(self) -> KeySet:
        return self._keys()

    def get_audiences(self, client: RegisteredClient, user: Any, scope: str) -> str:
        return self._audience

    def get_extra_claims(
        self, client: RegisteredClient, grant_type: str, user: Any, scope: str
    ) -> dict[str, str]:
        return {"org": str(client.record.org_id)}


class HubAuthorizationServer(AuthorizationServer):
    """Token endpoint for client credentials; later grants register here too."""

    def __init__(
        self,
        *,
        lookup_client: ClientLookup,
        issuer: str,
        audience: str,
        access_token_ttl: int,
        signing_keys: Callable[[], KeySet],
    ) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self._lookup_client = lookup_client
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator(
            "default", _HubTokenGenerator(issuer, audience, access_token_ttl, signing_keys)
        )

    def query_client(self, client_id: str) -> RegisteredClient:
        """Never None: an unknown client fails like a wrong secret, so ids cannot be probed."""
        record: ClientForAuthentication | None = None
        if client_id and len(client_id) <= 64:
            record = anyio.from_thread.run(self._lookup_client, client_id)
        return RegisteredClient(record or _unknown_client(client_id))

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """JWT access tokens are self-contained; nothing is stored for client credentials."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal receivers yet; the audit ledger will listen here."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = body if isinstance(body, dict) else json.loads(body or "{}")
        return JSONResponse(content, status_code=status, headers=dict(headers))

    async def token_response(self, request: Request) -> Response:
        """POST /oauth/token, processed in a worker thread."""
        oauth_request = _StarletteOAuth2Request(request, await request.body())
        response: Response = await anyio.to_thread.run_sync(
            self.create_token_response, oauth_request
        )
        return response
