"""OAuth endpoints: /oauth/token and the public key set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def oauth_routes(
    *,
    token: Callable[[Request], Awaitable[Response]],
    jwks: Callable[[], dict[str, Any]],
) -> list[Route]:
    async def token_endpoint(request: Request) -> Response:
        return await token(request)

    async def jwks_endpoint(request: Request) -> Response:
        return JSONResponse(jwks(), headers={"Cache-Control": "public, max-age=300"})

    return [
        Route("/oauth/token", token_endpoint, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks_endpoint, methods=["GET"]),
    ]
