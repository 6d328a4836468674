"""The second wall: as the application role, raw SQL cannot cross an organisation's border."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import Base
from tests.factories import Factory

# Every table whose key starts with `org_id`, read from the models, so a new one cannot be missed.
TENANT_TABLES = tuple(
    sorted(
        table.name
        for table in Base.metadata.tables.values()
        if "org_id" in table.primary_key.columns
    )
)


def test_the_tenant_tables_are_found() -> None:
    assert {"users", "customers", "cases", "refresh_tokens", "audit_events"} <= set(TENANT_TABLES)


async def test_application_role_cannot_bypass_rls(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        owners = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user"
            )
        )
    assert (row.rolsuper, row.rolbypassrls) == (False, False)
    assert owners == 0


async def test_every_tenant_table_forces_rls(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = ANY(:tables)"
                ),
                {"tables": list(TENANT_TABLES)},
            )
        ).all()
    assert {row.relname for row in rows} == set(TENANT_TABLES)
    assert all(row.relrowsecurity and row.relforcerowsecurity for row in rows)


async def test_without_the_setting_no_rows_are_visible(
    app_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("Rls")
    await factory.customer(org)
    async with app_engine.connect() as connection:
        for table in TENANT_TABLES:
            count = await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            assert count == 0, table


async def test_org_a_cannot_read_or_write_org_b(app_engine: AsyncEngine, factory: Factory) -> None:
    org_a = await factory.organisation("RlsA")
    org_b = await factory.organisation("RlsB")
    customer_b = await factory.customer(org_b, "Hidden Ltd")
    await factory.customer(org_a, "Mine Ltd")

    async with app_engine.begin() as connection:
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org_a.id)}
        )
        names = (await connection.scalars(text("SELECT name FROM customers"))).all()
        assert names == ["Mine Ltd"]
        updated = await connection.execute(
            text("UPDATE customers SET name = 'pwned' WHERE id = :id"), {"id": customer_b.id}
        )
        assert updated.rowcount == 0

    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org_a.id)}
            )
            await connection.execute(
                text(
                    "INSERT INTO customers (org_id, id, name, lifecycle_stage) "
                    "VALUES (:org, :id, 'Planted', 'PROSPECT')"
                ),
                {"org": org_b.id, "id": uuid.uuid4()},
            )


async def test_setting_does_not_survive_the_transaction(
    app_engine: AsyncEngine, factory: Factory
) -> None:
    """SET LOCAL: a pooled connection carries no organisation into the next transaction."""
    org = await factory.organisation("RlsLocal")
    await factory.customer(org)
    async with app_engine.connect() as connection:
        async with connection.begin():
            await connection.execute(
                text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
            )
            assert await connection.scalar(text("SELECT count(*) FROM customers")) == 1
        async with connection.begin():
            assert await connection.scalar(text("SELECT count(*) FROM customers")) == 0
