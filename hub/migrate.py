"""Apply the alembic migrations as the owner role, then give the application role its password."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations

# `__path__`, not `__file__`: it is set however the package was installed (editable or not).
MIGRATIONS_DIR = Path(next(iter(migrations.__path__)))


def alembic_config(owner_url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", owner_url.replace("%", "%%"))
    return config


def upgrade(owner_url: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(owner_url), "head")


def set_app_role_password(owner_url: str, password: str) -> None:
    """Give the application role a password, for servers that do not trust local logins."""
    import asyncio

    from sqlalchemy import text

    from hub.db import create_engine

    async def run() -> None:
        engine = create_engine(owner_url, pool_size=1)
        async with engine.begin() as connection:
            quoted = password.replace("'", "''")
            await connection.execute(text(f"ALTER ROLE hub_app PASSWORD '{quoted}'"))
        await engine.dispose()

    asyncio.run(run())
