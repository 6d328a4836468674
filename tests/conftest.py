"""Test session: one embedded PostgreSQL, migrated once; the app driven over real HTTP (ASGI).

Tests isolate themselves by making fresh organisations, so they never share rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.app import create_app
from hub.db import app_role_url, create_engine, session_factory
from hub.embedded import EmbeddedPostgres
from hub.migrate import upgrade
from hub.orgs import credentials
from hub.reads.prepared import PREPARED
from hub.settings import Settings
from tests.factories import Factory

# Every compiled read with a known key builds its statement again and checks it is the one
# kept: a key that misses something the construction reads fails here, not in production.
PREPARED.verify = True


@pytest.fixture(scope="session", autouse=True)
def cheap_secret_hashing() -> Iterator[None]:
    """argon2 with the lowest cost the suite can bear: real hashes, a millisecond each.

    Production parameters take ~0.2 s per hash and per check, and nearly every test makes an
    organisation (a client secret) and fetches a token (a check); the cost parameters travel
    inside each hash, so checking works the same. Subprocesses (`hub serve`) keep the real cost.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(credentials, "_hasher", cheap)
        patch.setattr(credentials, "_DUMMY_HASH", cheap.hash("not a secret of anyone"))
        yield


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    with tempfile.TemporaryDirectory(prefix="hub-test-") as data_dir:
        server = EmbeddedPostgres(Path(data_dir))
        upgrade(server.owner_url)
        yield server
        server.stop()


@pytest.fixture(scope="session")
def settings() -> Settings:
    """No background sealing in the shared app: a test seals when it means to (tests/audit/
    test_sealing.py runs an app of its own with the background sealer on)."""
    return Settings(issuer="http://hub.test", audience="partner-hub", seal_interval_seconds=0)


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


@pytest.fixture(scope="session")
async def generic(settings: Settings, app_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The same hub with compiled reads off: every document through the resolvers (ADR 0018),
    to compare the compiled answers with."""
    application = create_app(settings.model_copy(update={"compiled_reads": False}), app_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


@pytest.fixture
def factory(owner_sessions: async_sessionmaker[AsyncSession]) -> Factory:
    return Factory(owner_sessions)
