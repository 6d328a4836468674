"""Seeding writes every tenant in one transaction, so it refuses a role that RLS would stop."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_engine, session_factory
from hub.demo import DemoNeedsMaintenanceRole, seed_demo
from hub.embedded import EmbeddedPostgres


@pytest.fixture
async def ordinary_role_engine(
    postgres: EmbeddedPostgres, owner_engine: AsyncEngine
) -> AsyncIterator[AsyncEngine]:
    """A login role with full table rights but neither SUPERUSER nor BYPASSRLS."""
    role = f"plain_{uuid.uuid4().hex[:8]}"
    async with owner_engine.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
        await connection.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"))
    url = make_url(postgres.owner_url).set(username=role)
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    yield engine
    await engine.dispose()
    async with owner_engine.begin() as connection:
        await connection.execute(text(f"DROP OWNED BY {role}"))
        await connection.execute(text(f"DROP ROLE {role}"))


async def test_demo_refuses_a_role_that_row_level_security_binds(
    ordinary_role_engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    async with session_factory(owner_engine)() as session:
        organisations_before = len(
            (await session.scalars(text("SELECT id FROM organisations"))).all()
        )

    async with session_factory(ordinary_role_engine)() as session, session.begin():
        with pytest.raises(DemoNeedsMaintenanceRole, match="BYPASSRLS"):
            await seed_demo(session)

    async with session_factory(owner_engine)() as session:
        organisations_after = len(
            (await session.scalars(text("SELECT id FROM organisations"))).all()
        )
    assert organisations_after == organisations_before
