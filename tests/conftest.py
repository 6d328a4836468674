"""Test session: one embedded PostgreSQL, migrated once; the app driven over real HTTP (ASGI).

Tests isolate themselves by making fresh organisations, so they never share rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.app import create_app
from hub.db import app_role_url, create_engine, session_factory
from hub.embedded import EmbeddedPostgres
from hub.migrate import upgrade
from hub.settings import Settings
from tests.factories import Factory


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    with tempfile.TemporaryDirectory(prefix="hub-test-") as data_dir:
        server = EmbeddedPostgres(Path(data_dir))
        upgrade(server.owner_url)
        yield server
        server.stop()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(issuer="http://hub.test", audience="partner-hub")


@pytest.fixture(scope="session")
def app_url(postgres: EmbeddedPostgres) -> str:
    return app_role_url(postgres.owner_url, None)


@pytest.fixture(scope="session")
async def owner_engine(postgres: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres.owner_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app_engine(app_url: str) -> AsyncIterator[AsyncEngine]:
    """A connection pool as the application role, for raw-SQL checks of the second wall."""
    engine = create_engine(app_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def owner_sessions(owner_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(owner_engine)


@pytest.fixture(scope="session")
async def app(settings: Settings, app_url: str) -> AsyncIterator[Starlette]:
    application = create_app(settings, app_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


@pytest.fixture
def factory(owner_sessions: async_sessionmaker[AsyncSession]) -> Factory:
    return Factory(owner_sessions)
