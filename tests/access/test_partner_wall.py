"""The partner wall in PostgreSQL: raw SQL as the application role, skipping the access layer.

A query with no WHERE clause at all, run with a partner's `hub.org_id` and the ids of its live
grants in `hub.grant_ids` (what the access layer sets), returns exactly the shared rows; a
forged, revoked, expired or suspended grant, or a withdrawn consent, returns nothing more; and
the partner cannot change what it may read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.customers.models import Customer
from hub.grants.models import Grant
from hub.partnerships.models import Partnership, PartnershipStatus
from tests.factories import Factory
from tests.sharing import Sessions, World, build_world, uuid_of

TABLES = ("customers", "contacts", "opportunities", "cases", "case_comments")


async def rows_seen(
    engine: AsyncEngine, org_id: uuid.UUID, grant_ids: Iterable[uuid.UUID]
) -> dict[str, set[uuid.UUID]]:
    """Every row of each shared table the application role returns for this setting."""
    seen: dict[str, set[uuid.UUID]] = {}
    async with engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org_id)}
        )
        await connection.execute(
            text("SELECT set_config('hub.grant_ids', :ids, true)"),
            {"ids": ",".join(str(grant_id) for grant_id in grant_ids)},
        )
        for table in TABLES:
            result = await connection.execute(text(f"SELECT id FROM {table}"))  # noqa: S608
            seen[table] = {row[0] for row in result}
    return seen


def expected(world: World, *names: str) -> dict[str, set[uuid.UUID]]:
    tables = {"c": "customers", "p": "contacts", "o": "opportunities", "k": "cases"}
    result: dict[str, set[uuid.UUID]] = {table: set() for table in TABLES}
    for name in names:
        table = "case_comments" if name.startswith("m") else tables[name[0]]
        result[table].add(world.ids[name])
    return result


def grant_ids(world: World, *names: str) -> list[uuid.UUID]:
    return [uuid_of(world.grants[name]["id"]) for name in names]


async def test_raw_sql_returns_exactly_the_shared_rows(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, app_engine: AsyncEngine
) -> None:
    world = await build_world(client, factory, owner_sessions)
    partner_grants = grant_ids(world, "gOpp", "gCust", "gCase")
    second_grants = grant_ids(world, "hOpp", "hCust")

    shared_with_partner = expected(world, "cEu", "pEu", "oP", "kP", "mShared")
    assert await rows_seen(app_engine, world.partner.id, partner_grants) == shared_with_partner
    assert await rows_seen(app_engine, world.second.id, second_grants) == expected(world, "oQ")

    # Grants not made to the organisation in `hub.org_id` count for nothing: a forged setting
    # can only narrow what a partner sees.
    nothing = expected(world)
    assert await rows_seen(app_engine, world.partner.id, second_grants) == nothing
    assert await rows_seen(app_engine, world.stranger.id, partner_grants) == nothing
    assert await rows_seen(app_engine, world.partner.id, []) == nothing
    assert await rows_seen(app_engine, world.partner.id, [uuid.uuid4()]) == nothing
    # Only the grants named count, even among the partner's own live grants.
    assert await rows_seen(app_engine, world.partner.id, grant_ids(world, "gCase")) == expected(
        world, "kP", "mShared"
    )
    # The owner sees all its rows, grant setting or not.
    owned = await rows_seen(app_engine, world.owner.id, second_grants)
    assert len(owned["opportunities"]) == 5 and len(owned["case_comments"]) == 2


async def test_raw_sql_stops_at_once_when_a_grant_stops_being_live(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, app_engine: AsyncEngine
) -> None:
    world = await build_world(client, factory, owner_sessions)
    partner_grants = grant_ids(world, "gOpp", "gCust", "gCase")
    opportunity_grant, customer_grant, _ = partner_grants

    async def change(statement: object) -> None:
        async with owner_sessions() as session, session.begin():
            await session.execute(statement)  # type: ignore[call-overload]

    async def opportunities_seen() -> set[uuid.UUID]:
        return (await rows_seen(app_engine, world.partner.id, partner_grants))["opportunities"]

    assert await opportunities_seen() == {world.ids["oP"]}
    past = datetime.now(UTC) - timedelta(seconds=1)
    # Expired.
    await change(update(Grant).where(Grant.id == opportunity_grant).values(expires_at=past))
    assert await opportunities_seen() == set()
    await change(update(Grant).where(Grant.id == opportunity_grant).values(expires_at=None))
    assert await opportunities_seen() == {world.ids["oP"]}
    # Consent withdrawn.
    await change(
        update(Customer).where(Customer.id == world.ids["cEu"]).values(consent_purposes=[])
    )
    assert await opportunities_seen() == set()
    assert (await rows_seen(app_engine, world.partner.id, partner_grants))["customers"] == set()
    await change(
        update(Customer)
        .where(Customer.id == world.ids["cEu"])
        .values(consent_purposes=["SALES", "SERVICE"])
    )
    # Partnership suspended.
    partnership = uuid_of(world.partnership["partner"])
    for status, seen in ((PartnershipStatus.SUSPENDED, set()), (PartnershipStatus.ACTIVE, None)):
        await change(update(Partnership).where(Partnership.id == partnership).values(status=status))
        assert await opportunities_seen() == (seen if seen is not None else {world.ids["oP"]})
    # Revoked.
    await change(update(Grant).where(Grant.id == customer_grant).values(revoked_at=func.now()))
    after = await rows_seen(app_engine, world.partner.id, partner_grants)
    assert after["customers"] == set() and after["contacts"] == set()
    assert after["opportunities"] == {world.ids["oP"]}


async def partner_connection_does(
    engine: AsyncEngine, world: World, statement: str, **values: object
) -> int:
    """Run one statement as the partner (its live grants set); the rows it touched."""
    grants = ",".join(str(g) for g in grant_ids(world, "gOpp", "gCust", "gCase"))
    async with engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(world.partner.id)}
        )
        await connection.execute(
            text("SELECT set_config('hub.grant_ids', :ids, true)"), {"ids": grants}
        )
        return (await connection.execute(text(statement), values)).rowcount


async def test_the_partner_changes_only_what_contribute_allows_and_creates_nothing_unwritten(
    client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions, app_engine: AsyncEngine
) -> None:
    world = await build_world(client, factory, owner_sessions)
    ids = world.ids

    # READ (opportunities, customers): no row to change.
    for table, record in (("opportunities", "oP"), ("customers", "cEu")):
        statement = f"UPDATE {table} SET updated_at = now() WHERE id = :id"  # noqa: S608
        assert await partner_connection_does(app_engine, world, statement, id=ids[record]) == 0
    assert (
        await partner_connection_does(
            app_engine, world, "DELETE FROM contacts WHERE id = :id", id=ids["pEu"]
        )
        == 0
    )
    # CONTRIBUTE (its cases): the rating, and nothing else of the row.
    rate = "UPDATE cases SET satisfaction_score = 4 WHERE id = :id"
    assert await partner_connection_does(app_engine, world, rate, id=ids["kP"]) == 1
    assert await partner_connection_does(app_engine, world, rate, id=ids["kQ"]) == 0
    with pytest.raises(DBAPIError, match="a partner may change only"):
        await partner_connection_does(
            app_engine, world, "UPDATE cases SET subject = 'x' WHERE id = :id", id=ids["kP"]
        )
    # A SHARED comment on its case; never an INTERNAL one, never on a case it only reads.
    comment = (
        "INSERT INTO case_comments (org_id, id, case_id, author_org_id, visibility, body) "
        "VALUES (:owner, gen_random_uuid(), :case, :author, :visibility, 'hello')"
    )
    values = {"owner": world.owner.id, "case": ids["kP"], "author": world.partner.id}
    assert (
        await partner_connection_does(app_engine, world, comment, **values, visibility="SHARED")
        == 1
    )
    for changed in ({"visibility": "INTERNAL"}, {"visibility": "SHARED", "author": world.owner.id}):
        with pytest.raises(DBAPIError, match="row-level security"):
            await partner_connection_does(app_engine, world, comment, **{**values, **changed})
    # No WRITE grant: no opportunity and no case for the owner.
    opportunity = (
        "INSERT INTO opportunities (org_id, id, customer_id, name, stage, amount, currency, "
        "probability, assigned_partnership_id, source) VALUES (:owner, gen_random_uuid(), "
        ":customer, 'x', 'PROSPECTING', 1, 'EUR', 10, :partnership, 'PARTNER_REGISTERED')"
    )
    with pytest.raises(DBAPIError, match="row-level security"):
        await partner_connection_does(
            app_engine,
            world,
            opportunity,
            owner=world.owner.id,
            customer=ids["cEu"],
            partnership=uuid_of(world.partnership["partner"]),
        )
