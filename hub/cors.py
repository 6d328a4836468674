"""Calls from partner portals' pages on other origins (CORS), for registered origins only.

A page served from another origin may call `/graphql`, `/oauth/token` and `/oauth/revoke` when
an enabled API client registered that origin (`allowedOrigins`). The browser's preflight
carries no token, so the origin alone decides: `hub_origin_allowed` in PostgreSQL (migration
20261208_client_origins), remembered per process for `REMEMBERED_SECONDS`. An origin nobody
registered gets no `Access-Control-Allow-Origin`, so the browser keeps the answer from the page;
its preflight is refused outright. No wildcard is ever sent, nor credentials allowed: the API
takes bearer tokens, never cookies. Every answer to a request with an `Origin` varies by it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The paths a page may call, with the methods each takes.
PATHS: dict[str, frozenset[str]] = {
    "/graphql": frozenset({"GET", "POST"}),
    "/oauth/token": frozenset({"POST"}),
    "/oauth/revoke": frozenset({"POST"}),
}
# The request headers the API reads (CORS-safelisted ones need no mention).
ALLOWED_HEADERS = ("authorization", "content-type", "x-request-id")
# The response headers a page may read besides the safelisted ones.
EXPOSED_HEADERS = b"x-request-id, www-authenticate"
# How long a browser may keep a preflight's answer, and the process an origin's standing.
MAX_AGE_SECONDS = 600
REMEMBERED_SECONDS = 10.0
_REMEMBERED_AT_MOST = 10_000

OriginCheck = Callable[[str], Awaitable[bool]]


class CorsMiddleware:
    def __init__(
        self, app: ASGIApp, allowed: OriginCheck, remembered_seconds: float = REMEMBERED_SECONDS
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.remembered_seconds = remembered_seconds
        self._remembered: dict[str, tuple[bool, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = PATHS.get(scope["path"]) if scope["type"] == "http" else None
        # Most calls come from servers, with no Origin: they pass at the cost of one look.
        sent = b""
        if methods is not None:
            sent = next((value for name, value in scope["headers"] if name == b"origin"), b"")
        if methods is None or not sent:
            await self.app(scope, receive, send)
            return
        origin = sent.decode("latin-1")
        headers = dict(scope["headers"])
        requested = headers.get(b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested is not None:
            asked = headers.get(b"access-control-request-headers", b"").decode("latin-1")
            await self._preflight(send, origin, methods, requested.decode("latin-1"), asked)
            return
        allowed = await self._is_allowed(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                added = message.setdefault("headers", [])
                added.append((b"vary", b"Origin"))
                if allowed:
                    added.append((b"access-control-allow-origin", origin.encode("latin-1")))
                    added.append((b"access-control-expose-headers", EXPOSED_HEADERS))
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, send: Send, origin: str, methods: frozenset[str], method: str, asked: str
    ) -> None:
        """204 with what the page may send, or 403 for an origin, method or header the API
        does not take from pages."""
        headers = {name.strip().lower() for name in asked.split(",") if name.strip()}
        fits = method in methods and headers <= set(ALLOWED_HEADERS)
        answer: list[tuple[bytes, bytes]] = [(b"vary", b"Origin")]
        if fits and await self._is_allowed(origin):
            answer += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", ", ".join(sorted(methods)).encode()),
                (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
                (b"access-control-max-age", str(MAX_AGE_SECONDS).encode()),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": answer})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b"This origin, method or header may not call the hub from a page."
        answer += [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 403, "headers": answer})
        await send({"type": "http.response.body", "body": body})

    async def _is_allowed(self, origin: str) -> bool:
        now = time.monotonic()
        remembered = self._remembered.get(origin)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        allowed = await self.allowed(origin)
        if len(self._remembered) >= _REMEMBERED_AT_MOST:
            self._remembered.clear()
        self._remembered[origin] = (allowed, now + self.remembered_seconds)
        return allowed
