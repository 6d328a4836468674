"""Starlette application factory: routes, middleware and the lifespan that wires them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.endpoints import oauth_routes
from auth.resource import ResourceServer
from auth.server import HubAuthorizationServer
from auth.tokens import KeyRing
from hub.body_limit import BodySizeLimitMiddleware
from hub.db import create_engine, session_factory
from hub.graphql_http import GraphQLEndpoint
from hub.keys.store import ensure_key, load_keys
from hub.orgs.clients import ClientForAuthentication, find_client_for_authentication
from hub.request_id import RequestIdMiddleware
from hub.settings import Settings
from schema import build_schema

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the running app holds between requests: no tenant state, only plumbing."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyRing
    resource_server: ResourceServer
    authorization_server: HubAuthorizationServer


async def _start_runtime(settings: Settings, app_url: str) -> Runtime:
    engine = create_engine(app_url, pool_size=settings.pool_size)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await ensure_key(session)
    async with sessions() as session:
        keys = KeyRing(await load_keys(session))

    async def lookup_client(client_id: str) -> ClientForAuthentication | None:
        async with sessions() as session, session.begin():
            return await find_client_for_authentication(session, client_id)

    return Runtime(
        engine=engine,
        sessions=sessions,
        keys=keys,
        resource_server=ResourceServer(keys, issuer=settings.issuer, audience=settings.audience),
        authorization_server=HubAuthorizationServer(
            lookup_client=lookup_client,
            issuer=settings.issuer,
            audience=settings.audience,
            access_token_ttl=settings.access_token_ttl_seconds,
            signing_keys=lambda: keys.signing_key_set,
        ),
    )


def create_app(settings: Settings, app_url: str) -> Starlette:
    """The hub as an ASGI app, connecting to PostgreSQL as the application role at `app_url`."""
    runtime: Runtime | None = None

    def current() -> Runtime:
        if runtime is None:
            raise RuntimeError("the hub has not started")
        return runtime

    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        introspection=settings.introspection,
    )
    graphql = GraphQLEndpoint(
        schema,
        sessions=lambda: current().sessions,
        resource_server=lambda: current().resource_server,
        max_page_size=settings.max_page_size,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with current().engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.exception("readiness check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal runtime
        runtime = await _start_runtime(settings, app_url)
        try:
            yield
        finally:
            await runtime.engine.dispose()
            runtime = None

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            *oauth_routes(
                token=lambda request: current().authorization_server.token_response(request),
                jwks=lambda: current().keys.public_jwks(),
            ),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
