"""Starlette application factory: routes, middleware and the lifespan that wires them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.endpoints import authorization_server_metadata, oauth_routes
from auth.external import ExternalIssuer, configured_provider
from auth.invitation import invitation_routes
from auth.resource import ResourceServer
from auth.server import HubAuthorizationServer
from auth.sign_in import sign_in_routes
from auth.tokens import KeyRing
from hub.audit.sealer import run_sealer
from hub.body_limit import BodySizeLimitMiddleware
from hub.cors import CorsMiddleware
from hub.db import create_engine, session_factory
from hub.graphql_http import GraphQLEndpoint
from hub.keys.store import ensure_key, verifying_keys
from hub.orgs.clients import origin_allowed
from hub.request_id import RequestIdMiddleware
from hub.settings import Settings
from schema import build_schema, planner_of

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
    engine = create_engine(app_url, pool_size=settings.pool_size, pre_ping=False)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await ensure_key(session)
    async with sessions() as session:
        keys = KeyRing(await verifying_keys(session))
    provider = configured_provider(settings)
    external = ExternalIssuer(provider) if provider is not None else None
    return Runtime(
        engine=engine,
        sessions=sessions,
        keys=keys,
        resource_server=ResourceServer(
            keys, issuer=settings.issuer, audience=settings.audience, external=external
        ),
        authorization_server=HubAuthorizationServer(
            sessions=lambda: sessions,
            keys=lambda: keys,
            issuer=settings.issuer,
            audience=settings.audience,
            access_token_ttl=settings.access_token_ttl_seconds,
        ),
    )


def _session_secret(settings: Settings) -> str:
    """The key that signs sign-in cookies: configured, or made for this process alone."""
    if settings.session_secret:
        return settings.session_secret
    log.warning(
        "HUB_SESSION_SECRET is not set: sign-in sessions are valid in this process only; "
        "set it when several hub processes serve /oauth/authorize"
    )
    return secrets.token_urlsafe(32)


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
        compiled_reads=settings.compiled_reads,
    )
    graphql = GraphQLEndpoint(
        schema,
        sessions=lambda: current().sessions,
        resource_server=lambda: current().resource_server,
        max_page_size=settings.max_page_size,
        planner=planner_of(schema) if settings.compiled_reads else None,
        engine=lambda: current().engine,
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

    async def origin_registered(origin: str) -> bool:
        async with current().sessions() as session:
            return await origin_allowed(session, origin)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal runtime
        runtime = await _start_runtime(settings, app_url)
        sealing = (
            asyncio.create_task(run_sealer(runtime.sessions, settings.seal_interval_seconds))
            if settings.seal_interval_seconds > 0
            else None
        )
        try:
            yield
        finally:
            if sealing is not None:
                sealing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sealing
            await runtime.engine.dispose()
            runtime = None

    application = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            *sign_in_routes(lambda: current().authorization_server),
            *invitation_routes(lambda: current().sessions),
            *oauth_routes(
                server=lambda: current().authorization_server,
                sessions=lambda: current().sessions,
                metadata=authorization_server_metadata(settings.issuer),
            ),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                CorsMiddleware,
                allowed=origin_registered,
                remembered_seconds=settings.cors_remember_seconds,
            ),
            Middleware(
                SessionMiddleware,
                secret_key=_session_secret(settings),
                session_cookie="hub_session",
                max_age=30 * 60,
                path="/oauth",
                same_site="lax",
                https_only=settings.cookies_are_secure,
            ),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    application.state.schema = schema
    return application
