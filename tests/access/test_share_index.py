"""The share index answers exactly what the grants' terms decide, after every kind of change.

The partner wall reads the share index (ADR 0017); before it, the wall evaluated each grant's
terms row by row (`hub_shares_opportunity` and its siblings, which stay for writes). Here both
are asked, for every row of an owner and each of its partners, after each of a long random run
of changes made as the database owner (so only the triggers keep the index): records moved in
and out of segments, reassigned, re-parented and deleted; customers changing consent and
segment attributes; grants made, narrowed, revoked, expired; explicit records added and removed;
partnerships suspended and resumed. Any disagreement names the step and the rows.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.factories import Factory

REGIONS = ("EMEA", "AMER", "APAC", None)
INDUSTRIES = ("Retail", "Energy", None)
PURPOSES = ("SALES", "SERVICE", "MARKETING")
STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST")
STATUSES = ("NEW", "OPEN", "PENDING_PARTNER", "ESCALATED", "RESOLVED", "CLOSED")
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
KINDS = ("CUSTOMERS", "OPPORTUNITIES", "CASES")

# What a partner may read of each table, by the terms row by row and by the share index.
_BY_TERMS = {
    "opportunities": "hub_shares_opportunity('READ', org_id, id, customer_id, "
    "assigned_partnership_id, stage)",
    "cases": "hub_shares_case('READ', org_id, id, customer_id, raised_by_org_id, status, priority)",
    "customers": "hub_shares_customer('READ', org_id, id)",
    "contacts": "hub_shares_customer('READ', org_id, customer_id)",
}
_BY_INDEX = {
    "opportunities": ("opportunity_shares", "opportunity_id", "id", "OPPORTUNITIES"),
    "cases": ("case_shares", "case_id", "id", "CASES"),
    "customers": ("customer_shares", "customer_id", "id", "CUSTOMERS"),
    "contacts": ("customer_shares", "customer_id", "customer_id", "CUSTOMERS"),
}


@dataclass
class World:
    owner: uuid.UUID
    partners: list[uuid.UUID]
    partnerships: dict[uuid.UUID, uuid.UUID]  # partner -> partnership
    customers: list[uuid.UUID] = field(default_factory=list)
    opportunities: list[uuid.UUID] = field(default_factory=list)
    cases: list[uuid.UUID] = field(default_factory=list)
    grants: list[tuple[uuid.UUID, uuid.UUID, str]] = field(
        default_factory=list
    )  # id, partner, kind


def _segment(rng: random.Random, kind: str) -> str:
    include: dict[str, list[str]] = {}
    exclude: dict[str, list[str]] = {}
    if rng.random() < 0.6:
        include["region"] = rng.sample([r for r in REGIONS if r], rng.randint(1, 2))
    if rng.random() < 0.3:
        exclude["industry"] = ["Energy"]
    if kind == "OPPORTUNITIES" and rng.random() < 0.6:
        exclude["stage"] = rng.sample(STAGES, 2)
    if kind == "CASES" and rng.random() < 0.6:
        include["priority"] = rng.sample(PRIORITIES, 2)
    return json.dumps({"include": include, "exclude": exclude})


async def _customer(db: AsyncConnection, world: World, rng: random.Random) -> None:
    customer = uuid.uuid4()
    await db.execute(
        text(
            "INSERT INTO customers (org_id, id, name, lifecycle_stage, region, industry, "
            "consent_purposes) VALUES (:org, :id, :name, 'CUSTOMER', :region, :industry, :consent)"
        ),
        {
            "org": world.owner,
            "id": customer,
            "name": f"Customer {len(world.customers)}",
            "region": rng.choice(REGIONS),
            "industry": rng.choice(INDUSTRIES),
            "consent": rng.sample(PURPOSES, rng.randint(0, 3)),
        },
    )
    await db.execute(
        text(
            "INSERT INTO contacts (org_id, id, customer_id, full_name) "
            "VALUES (:org, :id, :customer, 'Ann Example')"
        ),
        {"org": world.owner, "id": uuid.uuid4(), "customer": customer},
    )
    world.customers.append(customer)


async def _opportunity(db: AsyncConnection, world: World, rng: random.Random) -> None:
    opportunity = uuid.uuid4()
    assigned = rng.choice([None, *world.partnerships.values()])
    await db.execute(
        text(
            "INSERT INTO opportunities (org_id, id, customer_id, name, stage, amount, currency, "
            "probability, source, assigned_partnership_id) VALUES (:org, :id, :customer, "
            "'Deal', :stage, 100, 'EUR', 50, 'DIRECT', :assigned)"
        ),
        {
            "org": world.owner,
            "id": opportunity,
            "customer": rng.choice(world.customers),
            "stage": rng.choice(STAGES),
            "assigned": assigned,
        },
    )
    world.opportunities.append(opportunity)


async def _case(db: AsyncConnection, world: World, rng: random.Random) -> None:
    case = uuid.uuid4()
    await db.execute(
        text(
            "INSERT INTO cases (org_id, id, customer_id, subject, description, priority, status, "
            "raised_by_org_id, first_response_due_at, resolution_due_at) VALUES (:org, :id, "
            ":customer, 'Subject', 'Text', :priority, :status, :raised_by, now(), now())"
        ),
        {
            "org": world.owner,
            "id": case,
            "customer": rng.choice(world.customers),
            "priority": rng.choice(PRIORITIES),
            "status": rng.choice(STATUSES),
            "raised_by": rng.choice([world.owner, *world.partners]),
        },
    )
    world.cases.append(case)


async def _grant(db: AsyncConnection, world: World, rng: random.Random) -> None:
    grant = uuid.uuid4()
    partner = rng.choice(world.partners)
    kind = rng.choice(KINDS)
    selection = rng.choice(("ASSIGNED", "SEGMENT", "EXPLICIT"))
    await db.execute(
        text(
            "INSERT INTO grants (org_id, id, partnership_id, partner_org_id, record_type, access, "
            "selection, segment, purpose, field_policy, granted_by, version) VALUES (:org, :id, "
            ":partnership, :partner, :kind, 'READ', :selection, CAST(:segment AS jsonb), "
            ":purpose, '{}', 'test', 1)"
        ),
        {
            "org": world.owner,
            "id": grant,
            "partnership": world.partnerships[partner],
            "partner": partner,
            "kind": kind,
            "selection": selection,
            "segment": _segment(rng, kind) if selection == "SEGMENT" else None,
            "purpose": rng.choice(PURPOSES),
        },
    )
    world.grants.append((grant, partner, kind))
    if selection == "EXPLICIT":
        for _ in range(3):
            await _explicit_record(db, world, rng, grant, kind)


async def _explicit_record(
    db: AsyncConnection, world: World, rng: random.Random, grant: uuid.UUID, kind: str
) -> None:
    pool = {
        "CUSTOMERS": world.customers,
        "OPPORTUNITIES": world.opportunities,
        "CASES": world.cases,
    }[kind]
    if pool:
        await db.execute(
            text(
                "INSERT INTO grant_records (org_id, id, grant_id, record_id) "
                "VALUES (:org, :id, :grant, :record) ON CONFLICT DO NOTHING"
            ),
            {"org": world.owner, "id": uuid.uuid4(), "grant": grant, "record": rng.choice(pool)},
        )


Change = Callable[[AsyncConnection, World, random.Random], Coroutine[Any, Any, str]]


async def _move_opportunity(db: AsyncConnection, world: World, rng: random.Random) -> str:
    await db.execute(
        text("UPDATE opportunities SET stage = :stage WHERE org_id = :org AND id = :id"),
        {"stage": rng.choice(STAGES), "org": world.owner, "id": rng.choice(world.opportunities)},
    )
    return "opportunity stage"


async def _reassign_opportunity(db: AsyncConnection, world: World, rng: random.Random) -> str:
    await db.execute(
        text(
            "UPDATE opportunities SET assigned_partnership_id = :assigned, customer_id = :customer "
            "WHERE org_id = :org AND id = :id"
        ),
        {
            "assigned": rng.choice([None, *world.partnerships.values()]),
            "customer": rng.choice(world.customers),
            "org": world.owner,
            "id": rng.choice(world.opportunities),
        },
    )
    return "opportunity assignment and customer"


async def _move_case(db: AsyncConnection, world: World, rng: random.Random) -> str:
    await db.execute(
        text(
            "UPDATE cases SET status = :status, priority = :priority, raised_by_org_id = :raised "
            "WHERE org_id = :org AND id = :id"
        ),
        {
            "status": rng.choice(STATUSES),
            "priority": rng.choice(PRIORITIES),
            "raised": rng.choice([world.owner, *world.partners]),
            "org": world.owner,
            "id": rng.choice(world.cases),
        },
    )
    return "case status, priority and raiser"


async def _change_customer(db: AsyncConnection, world: World, rng: random.Random) -> str:
    await db.execute(
        text(
            "UPDATE customers SET consent_purposes = :consent, region = :region, "
            "industry = :industry WHERE org_id = :org AND id = :id"
        ),
        {
            "consent": rng.sample(PURPOSES, rng.randint(0, 3)),
            "region": rng.choice(REGIONS),
            "industry": rng.choice(INDUSTRIES),
            "org": world.owner,
            "id": rng.choice(world.customers),
        },
    )
    return "customer consent and segment attributes"


async def _change_grant(db: AsyncConnection, world: World, rng: random.Random) -> str:
    grant, _, kind = rng.choice(world.grants)
    choice = rng.random()
    if choice < 0.3:
        await db.execute(
            text("UPDATE grants SET revoked_at = now(), revoked_by = 'test' WHERE id = :id"),
            {"id": grant},
        )
        return "grant revoked"
    if choice < 0.5:
        await db.execute(
            text(
                "UPDATE grants SET expires_at = CASE WHEN expires_at IS NULL "
                "THEN now() - interval '1 minute' END WHERE id = :id"
            ),
            {"id": grant},
        )
        return "grant expired or renewed"
    if choice < 0.8:
        await db.execute(
            text(
                "UPDATE grants SET segment = CAST(:segment AS jsonb), purpose = :purpose "
                "WHERE id = :id AND selection = 'SEGMENT'"
            ),
            {"segment": _segment(rng, kind), "purpose": rng.choice(PURPOSES), "id": grant},
        )
        return "grant narrowed or widened"
    await _grant(db, world, rng)
    return "grant made"


async def _change_explicit_records(db: AsyncConnection, world: World, rng: random.Random) -> str:
    explicit = [(grant, kind) for grant, _, kind in world.grants]
    grant, kind = rng.choice(explicit)
    if rng.random() < 0.5:
        await db.execute(
            text(
                "DELETE FROM grant_records WHERE id IN "
                "(SELECT id FROM grant_records WHERE grant_id = :grant LIMIT 1)"
            ),
            {"grant": grant},
        )
        return "explicit record removed"
    await _explicit_record(db, world, rng, grant, kind)
    return "explicit record added"


async def _suspend_or_resume(db: AsyncConnection, world: World, rng: random.Random) -> str:
    await db.execute(
        text(
            "UPDATE partnerships SET status = CASE status WHEN 'ACTIVE' THEN 'SUSPENDED' "
            "ELSE 'ACTIVE' END WHERE org_id = :org AND id = :id"
        ),
        {"org": world.owner, "id": rng.choice(list(world.partnerships.values()))},
    )
    return "partnership suspended or resumed"


async def _delete_or_add(db: AsyncConnection, world: World, rng: random.Random) -> str:
    if rng.random() < 0.4 and len(world.opportunities) > 5:
        victim = world.opportunities.pop(rng.randrange(len(world.opportunities)))
        await db.execute(text("DELETE FROM grant_records WHERE record_id = :id"), {"id": victim})
        await db.execute(text("DELETE FROM opportunities WHERE id = :id"), {"id": victim})
        return "opportunity deleted"
    await (_opportunity if rng.random() < 0.6 else _case)(db, world, rng)
    return "record added"


CHANGES: tuple[Change, ...] = (
    _move_opportunity,
    _reassign_opportunity,
    _move_case,
    _change_customer,
    _change_grant,
    _change_explicit_records,
    _suspend_or_resume,
    _delete_or_add,
)


async def _disagreements(db: AsyncConnection, world: World) -> dict[str, Any]:
    """Per partner and table, the rows only one of the two answers admits."""
    found: dict[str, Any] = {}
    for partner in world.partners:
        await db.execute(
            text(
                "SELECT set_config('hub.org_id', :partner, true), "
                "set_config('hub.grant_ids', :grants, true)"
            ),
            {
                "partner": str(partner),
                "grants": ",".join(
                    str(grant) for grant, whose, _ in world.grants if whose == partner
                ),
            },
        )
        for table, terms in _BY_TERMS.items():
            share, column, key, kind = _BY_INDEX[table]
            by_terms = set(
                await db.scalars(
                    text(f"SELECT id FROM {table} WHERE org_id = :org AND {terms}"),  # noqa: S608
                    {"org": world.owner},
                )
            )
            by_index = set(
                await db.scalars(
                    text(
                        f"SELECT t.id FROM {table} t WHERE t.org_id = :org AND EXISTS ("  # noqa: S608
                        f"SELECT FROM {share} s WHERE s.org_id = t.org_id "
                        f"AND s.{column} = t.{key} AND s.partner_org_id = :partner "
                        f"AND s.grant_ids && hub_live_grant_ids('{kind}'))"
                    ),
                    {"org": world.owner, "partner": partner},
                )
            )
            if by_terms != by_index:
                found[f"{partner} {table}"] = {
                    "terms only": by_terms - by_index,
                    "index only": by_index - by_terms,
                }
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_share_index_agrees_with_the_grants_terms_after_every_change(
    owner_engine: AsyncEngine, factory: Factory, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible run, not a secret
    owner = await factory.organisation("ShareOwner")
    partners = [await factory.organisation(f"SharePartner{index}") for index in range(2)]
    world = World(owner.id, [partner.id for partner in partners], {})
    async with owner_engine.connect() as db:
        for partner in partners:
            partnership = uuid.uuid4()
            await db.execute(
                text(
                    "INSERT INTO partnerships (org_id, id, partner_org_id, role, status) "
                    "VALUES (:org, :id, :partner, 'DISTRIBUTOR', 'ACTIVE')"
                ),
                {"org": owner.id, "id": partnership, "partner": partner.id},
            )
            world.partnerships[partner.id] = partnership
        for _ in range(10):
            await _customer(db, world, rng)
        for _ in range(30):
            await _opportunity(db, world, rng)
        for _ in range(12):
            await _case(db, world, rng)
        for _ in range(8):
            await _grant(db, world, rng)
        await db.commit()

        shared_at_all = 0
        assert await _disagreements(db, world) == {}, "after seeding"
        await db.rollback()
        for step in range(60):
            change = rng.choice(CHANGES)
            described = await change(db, world, rng)
            await db.commit()
            assert await _disagreements(db, world) == {}, f"step {step}: {described}"
            shared_at_all += int(
                await db.scalar(
                    text("SELECT count(*) FROM opportunity_shares WHERE org_id = :org"),
                    {"org": owner.id},
                )
                or 0
            )
            await db.rollback()
    # Positive control: the run did share rows, so agreement was not on empty sets alone.
    assert shared_at_all > 0
