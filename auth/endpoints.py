"""OAuth routes: token, revocation, introspection, server metadata and the public key set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.grants import PKCE_METHOD
from auth.server import HubAuthorizationServer
from auth.tokens import published_key_set
from hub.access.scopes import ALL_SCOPES


def authorization_server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414: what a client library needs to talk to the hub without configuration."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": [PKCE_METHOD],
    }


def oauth_routes(
    *,
    server: Callable[[], HubAuthorizationServer],
    sessions: Callable[[], async_sessionmaker[AsyncSession]],
    metadata: dict[str, Any],
) -> list[Route]:
    async def token_endpoint(request: Request) -> Response:
        return await server().token_response(request)

    async def revocation_endpoint(request: Request) -> Response:
        return await server().revocation_response(request)

    async def introspection_endpoint(request: Request) -> Response:
        return await server().introspection_response(request)

    async def jwks_endpoint(request: Request) -> Response:
        # Read on each request, so a rotation made by any process is published at once;
        # verifiers should still fetch again when they meet an unknown `kid`.
        async with sessions()() as session:
            jwks = await published_key_set(session)
        return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=60"})

    async def metadata_endpoint(request: Request) -> Response:
        return JSONResponse(metadata, headers={"Cache-Control": "public, max-age=3600"})

    return [
        Route("/oauth/token", token_endpoint, methods=["POST"]),
        Route("/oauth/revoke", revocation_endpoint, methods=["POST"]),
        Route("/oauth/introspect", introspection_endpoint, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks_endpoint, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", metadata_endpoint, methods=["GET"]),
    ]
