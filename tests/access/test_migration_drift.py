"""The alembic migrations and the SQLAlchemy models describe the same schema.

A model change without a migration (or the reverse) would let the code and the database disagree
only at run time; alembic's autogenerate comparison catches it here instead.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_database_matches_the_models(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_the_comparison_sees_a_missing_column(owner_engine: AsyncEngine) -> None:
    """The check can fail: a column the models lack shows up as a difference."""
    async with owner_engine.connect() as connection:
        await connection.exec_driver_sql("ALTER TABLE customers ADD COLUMN drift_probe text")
        try:
            differences = await connection.run_sync(_differences)
        finally:
            await connection.rollback()
    assert [(kind, table, column.name) for kind, _, table, column in differences] == [
        ("remove_column", "customers", "drift_probe")
    ]
